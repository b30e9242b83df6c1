package dev.lamina.infer;

/**
 * The keys and values of one sequence, for every layer, after RoPE. Each position's key (and
 * value) is one row of kvDim = KV·hd values at offset {@link #slot(int)} of its layer's keys (and
 * values) in {@link #rows()}, float32 or 16 bits; the offset is the same in every layer, so attention looks it up
 * once per step. Query heads read their shared KV head straight from these rows (grouped-query
 * attention without copying).
 *
 * <p>The {@link ModelRunner} drives a cache in three steps per forward call: {@link #reserve(int)}
 * room for n new positions, write their rows at {@code slot(length() + i)} after each layer's
 * attention, then {@link #advance(int[], int, int)}. Implementations:
 * {@link ContiguousKvCache} (the default), {@link RollingKvCache} (sliding-window models: slot =
 * position mod W) and {@link PagedKvCache} (blocks of 16 positions from a shared {@link BlockPool}).
 */
public interface KvCache extends AutoCloseable {

    /** Positions stored so far; the next token goes to position length(). */
    int length();

    /** The most positions this cache can ever hold (Integer.MAX_VALUE: unbounded). */
    int maxLength();

    /** The key and value rows of every layer (storage shared with other caches for a paged cache). */
    KvRows rows();

    /**
     * Value offset of position pos's row in each layer's keys and values. Valid for positions still held:
     * pos < length() + reserved, and, for a window W, pos > length() − W.
     */
    int slot(int pos);

    /** Makes room for positions [length(), length() + n); throws if the cache is full. */
    void reserve(int n);

    /** Records that the rows of tokens[from, to) were written at positions length() onwards. */
    void advance(int[] tokens, int from, int to);

    /** Releases the storage (paged blocks return to their pool). The cache is unusable after. */
    @Override void close();
}
