package dev.lamina.infer;

import dev.lamina.kernels.KernelSet;
import dev.lamina.model.ModelConfig;

import java.util.Arrays;

/**
 * A sequence's view of a {@link BlockPool}: a block table mapping logical block j (positions
 * [j·B, (j+1)·B)) to a physical block, filled on demand as the sequence grows and released when
 * it is closed. {@link #fork()} shares every block with a new sequence (parallel sampling of one
 * prompt); whichever writes first into a shared, partly filled block copies it (copy-on-write).
 * {@link #reusePrefix(int[])} starts a new sequence on the pool's cached blocks of the longest
 * matching prompt prefix.
 *
 * <p>For sliding-window models the blocks that fall wholly out of the window are released as the
 * sequence advances, so a sequence holds at most about W/B + 2 blocks however long it runs.
 */
public final class PagedKvCache implements KvCache {
    private final BlockPool pool;
    private final int B, kvDim, window, maxLength;
    private int[] table;          // physical block per logical block; -1 once dropped out of the window
    private int blocks;           // logical blocks in the table
    private int length;
    private int dropped;          // logical blocks [0, dropped) are released (window)
    private int[] pending = new int[BlockPool.DEFAULT_BLOCK_SIZE];  // tokens of the current partial block
    private final BlockPool.PrefixKey root;                           // the prefix space (null: the base model's)
    private BlockPool.PrefixKey lastKey;                              // key of the last full block
    private boolean closed;

    /** An empty sequence for model c, at most maxLength positions. */
    public PagedKvCache(BlockPool pool, ModelConfig c, int maxLength) { this(pool, c, maxLength, null); }

    /**
     * An empty sequence whose cached prefixes are shared only with sequences of the same space
     * (compared by identity; null is the base model's): the keys and values of a prompt depend on
     * the LoRA adapter it runs with, so each adapter is its own space.
     */
    public PagedKvCache(BlockPool pool, ModelConfig c, int maxLength, Object prefixSpace) {
        if (pool.kvDim() != c.kvDim()) throw new IllegalArgumentException("pool and model differ in KV width");
        this.pool = pool;
        this.B = pool.blockSize();
        this.kvDim = c.kvDim();
        this.window = c.cacheWindow();
        int limit = c.contextLimit();
        this.maxLength = Math.min(maxLength, limit);
        this.table = new int[8];
        this.pending = new int[B];
        this.root = prefixSpace == null ? null : BlockPool.PrefixKey.space(prefixSpace);
        this.lastKey = root;
    }

    private PagedKvCache(PagedKvCache src) {
        this.pool = src.pool;
        this.B = src.B;
        this.kvDim = src.kvDim;
        this.window = src.window;
        this.maxLength = src.maxLength;
        this.table = src.table.clone();
        this.blocks = src.blocks;
        this.length = src.length;
        this.dropped = src.dropped;
        this.pending = src.pending.clone();
        this.lastKey = src.lastKey;
        this.root = src.root;
        for (int j = 0; j < blocks; j++) if (table[j] >= 0) pool.retain(table[j]);
    }

    /** A second sequence with the same contents, sharing every block until one of them writes. */
    public PagedKvCache fork() {
        check();
        return new PagedKvCache(this);
    }

    @Override public int length() { return length; }
    @Override public int maxLength() { return maxLength; }
    @Override public KvRows rows() { return pool.rows(); }

    @Override
    public int slot(int pos) {
        int b = table[pos / B];
        if (b < 0) throw new IllegalStateException("position " + pos + " fell out of the window");
        return (b * B + pos % B) * kvDim;
    }

    /** Physical blocks this sequence holds. */
    public int heldBlocks() {
        int n = 0;
        for (int j = 0; j < blocks; j++) if (table[j] >= 0) n++;
        return n;
    }

    /** The physical block of logical block j (-1 if released), for tests and diagnostics. */
    public int block(int j) { return table[j]; }

    /** Blocks a sequence of n positions needs at most (before window release). */
    public static int blocksFor(int positions, int blockSize) { return (positions + blockSize - 1) / blockSize; }

    @Override
    public void reserve(int n) {
        check();
        if ((long) length + n > maxLength)
            throw new IllegalArgumentException("context full: " + ((long) length + n) + " tokens exceed the limit " + maxLength);
        if (n <= 0) return;
        int first = length / B, last = (length + n - 1) / B;
        if (length % B != 0 && first < blocks) {           // writing into a partly filled block
            int b = table[first];
            if (pool.refCount(b) > 1 || pool.isCached(b)) { // shared: copy-on-write
                int copy = pool.allocate();
                pool.copy(b, copy, length % B);
                pool.release(b);
                table[first] = copy;
            }
        }
        for (int j = blocks; j <= last; j++) {
            if (j >= table.length) table = Arrays.copyOf(table, Math.max(table.length * 2, j + 1));
            table[j] = pool.allocate();
            blocks = j + 1;
        }
    }

    @Override
    public void advance(int[] tokens, int from, int to) {
        check();
        for (int i = from; i < to; i++) {
            pending[length % B] = tokens[i];
            length++;
            if (length % B == 0) {                          // a block just filled up: index it
                lastKey = new BlockPool.PrefixKey(lastKey, pending.clone());
                pool.register(lastKey, table[length / B - 1]);
            }
        }
        if (window > 0) {                                   // release blocks no future query can see
            int oldestVisible = KernelSet.firstVisible(length, window);   // the next query is at position length
            for (; (dropped + 1) * B <= oldestVisible && dropped < blocks; dropped++)
                if (table[dropped] >= 0) { pool.release(table[dropped]); table[dropped] = -1; }
        }
    }

    /**
     * On an empty sequence: takes the pool's cached blocks for the longest prefix of prompt made
     * of whole blocks, leaving at least one prompt token to compute. Returns the positions reused.
     */
    public int reusePrefix(int[] prompt) {
        check();
        if (length != 0) throw new IllegalStateException("reusePrefix needs an empty sequence");
        if (!pool.prefixCaching()) return 0;
        int full = (prompt.length - 1) / B;
        BlockPool.PrefixKey key = root;
        for (int j = 0; j < full; j++) {
            BlockPool.PrefixKey k = new BlockPool.PrefixKey(key, Arrays.copyOfRange(prompt, j * B, (j + 1) * B));
            int b = pool.lookup(k);
            if (b < 0) break;
            if (j >= table.length) table = Arrays.copyOf(table, table.length * 2);
            table[j] = b;
            blocks = j + 1;
            length = (j + 1) * B;
            key = k;
        }
        lastKey = key;
        return length;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (int j = 0; j < blocks; j++) if (table[j] >= 0) pool.release(table[j]);
        blocks = 0;
    }

    private void check() { if (closed) throw new IllegalStateException("KV cache already closed"); }
}
