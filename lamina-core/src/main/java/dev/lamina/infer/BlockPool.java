package dev.lamina.infer;

import dev.lamina.model.ModelConfig;
import dev.lamina.tensor.Precision;

import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Fixed-size KV blocks shared by many sequences (vLLM's PagedAttention design): per layer one key
 * and one value array of numBlocks × blockSize rows (float32 or 16 bits, {@link KvRows}); block b holds rows [b·blockSize, (b+1)·blockSize).
 * Blocks are reference-counted: a sequence holds one reference to each block in its table, forks
 * share blocks (copy-on-write when one of them writes into a shared block), and the optional
 * prefix cache holds one more reference to each full block it has indexed, keyed by the exact
 * tokens of the whole prefix up to the block's end, so a later prompt with the same prefix
 * reuses the blocks instead of recomputing them.
 *
 * <p>Cached blocks that no sequence uses are evicted, least recently used first, when the free
 * list runs dry. Not thread-safe: one engine thread owns the pool.
 */
public final class BlockPool {
    /** vLLM's default block size. */
    public static final int DEFAULT_BLOCK_SIZE = 16;

    private final int blockSize, numBlocks, kvDim;
    private final KvRows rows;
    private final int[] refs;
    private final int[] freeList;
    private int freeCount;
    private final boolean prefixCaching;
    /** Prefix key → block, in access order (eldest = least recently used). */
    private final LinkedHashMap<PrefixKey, Integer> prefixes = new LinkedHashMap<>(16, 0.75f, true);
    private final PrefixKey[] keyOfBlock;
    private long prefixHits;

    public BlockPool(ModelConfig c, int numBlocks, boolean prefixCaching) {
        this(c, numBlocks, DEFAULT_BLOCK_SIZE, prefixCaching);
    }

    public BlockPool(ModelConfig c, int numBlocks, int blockSize, boolean prefixCaching) {
        this(c, numBlocks, blockSize, prefixCaching, Precision.FP32);
    }

    /** numBlocks blocks of blockSize positions, the values in precision (fp32, bf16 or fp16). */
    public BlockPool(ModelConfig c, int numBlocks, int blockSize, boolean prefixCaching, Precision precision) {
        if (numBlocks < 1) throw new IllegalArgumentException("numBlocks must be >= 1, got " + numBlocks);
        if (blockSize < 1) throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.kvDim = c.kvDim();
        rows = new KvRows(c.numHiddenLayers(), (long) numBlocks * blockSize, kvDim, precision);   // refuses a pool too large for one array per layer
        refs = new int[numBlocks];
        freeList = new int[numBlocks];
        for (int i = 0; i < numBlocks; i++) freeList[i] = numBlocks - 1 - i;   // hand out block 0 first
        freeCount = numBlocks;
        this.prefixCaching = prefixCaching;
        keyOfBlock = new PrefixKey[numBlocks];
    }

    /** Bytes of KV storage for one block (all layers, keys and values) in precision. */
    public static long bytesPerBlock(ModelConfig c, int blockSize, Precision precision) {
        return blockSize * KvRows.bytesPerPosition(c.numHiddenLayers(), c.kvDim(), precision);
    }

    public int blockSize() { return blockSize; }
    public int numBlocks() { return numBlocks; }
    public int kvDim() { return kvDim; }
    public boolean prefixCaching() { return prefixCaching; }
    KvRows rows() { return rows; }
    /** What each key and value takes: fp32, bf16 or fp16. */
    public Precision precision() { return rows.precision(); }

    /** Blocks on the free list. */
    public int freeBlocks() { return freeCount; }

    /** Blocks held by the prefix cache and by no sequence (evictable on demand). */
    public int idleCachedBlocks() {
        int n = 0;
        for (int b : prefixes.values()) if (refs[b] == 1) n++;
        return n;
    }

    /** Blocks a new sequence can get: free plus evictable. */
    public int availableBlocks() { return freeCount + idleCachedBlocks(); }

    /** Blocks referenced by some sequence or by the prefix cache. */
    public int usedBlocks() { return numBlocks - freeCount; }

    /** Blocks the prefix cache indexes. */
    public int cachedBlocks() { return prefixes.size(); }

    /** Blocks reused from the prefix cache so far. */
    public long prefixHits() { return prefixHits; }

    public int refCount(int block) { return refs[block]; }

    /** A block with one reference; evicts an idle cached block when none is free. */
    int allocate() {
        if (freeCount == 0 && !evictOne())
            throw new IllegalStateException("out of KV cache blocks (all " + numBlocks + " in use)");
        int b = freeList[--freeCount];
        refs[b] = 1;
        return b;
    }

    void retain(int block) {
        if (refs[block] <= 0) throw new IllegalStateException("block " + block + " is not allocated");
        refs[block]++;
    }

    void release(int block) {
        if (refs[block] <= 0) throw new IllegalStateException("block " + block + " released twice");
        if (--refs[block] == 0) freeList[freeCount++] = block;
    }

    /** Copies the first rows of block src into block dst, in every layer (copy-on-write). */
    void copy(int src, int dst, int rows) {
        this.rows.copy(src * blockSize * kvDim, dst * blockSize * kvDim, rows * kvDim);
    }

    private boolean evictOne() {
        for (Iterator<Map.Entry<PrefixKey, Integer>> it = prefixes.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<PrefixKey, Integer> e = it.next();
            int b = e.getValue();
            if (refs[b] == 1) {
                it.remove();
                keyOfBlock[b] = null;
                release(b);
                return true;
            }
        }
        return false;
    }

    /** Drops every idle cached block (blocks still used by sequences stay with them). */
    public void clearPrefixCache() {
        for (Iterator<Map.Entry<PrefixKey, Integer>> it = prefixes.entrySet().iterator(); it.hasNext(); ) {
            int b = it.next().getValue();
            it.remove();
            keyOfBlock[b] = null;
            release(b);
        }
    }

    // ---- prefix cache ----------------------------------------------------------------------

    /**
     * The tokens of one full block after a given prefix: equal keys mean equal whole prefixes. A
     * chain may start at a space key (no tokens; say a LoRA adapter), equal only to itself.
     */
    static final class PrefixKey {
        final PrefixKey parent;
        final int[] tokens;
        final int hash;
        final Object space;

        PrefixKey(PrefixKey parent, int[] tokens) { this(parent, tokens, null); }

        private PrefixKey(PrefixKey parent, int[] tokens, Object space) {
            this.parent = parent;
            this.tokens = tokens;
            this.space = space;
            this.hash = 31 * (parent == null ? System.identityHashCode(space) : parent.hash) + Arrays.hashCode(tokens);
        }

        /** The root of the prefixes of one space (compared by identity). */
        static PrefixKey space(Object space) { return new PrefixKey(null, new int[0], space); }

        @Override public int hashCode() { return hash; }

        @Override
        public boolean equals(Object o) {
            PrefixKey a = this, b = o instanceof PrefixKey k ? k : null;
            while (a != null && b != null) {
                if (a == b) return true;
                if (a.hash != b.hash || a.space != b.space || !Arrays.equals(a.tokens, b.tokens)) return false;
                a = a.parent;
                b = b.parent;
            }
            return a == b;
        }
    }

    /** The cached block for key, retained for the caller; -1 when absent or caching is off. */
    int lookup(PrefixKey key) {
        if (!prefixCaching) return -1;
        Integer b = prefixes.get(key);
        if (b == null) return -1;
        retain(b);
        prefixHits++;
        return b;
    }

    /** Indexes a full block under key (the cache takes its own reference); no-op if the key is known. */
    void register(PrefixKey key, int block) {
        if (!prefixCaching || prefixes.containsKey(key) || keyOfBlock[block] != null) return;
        prefixes.put(key, block);
        keyOfBlock[block] = key;
        retain(block);
    }

    /** Whether a block is indexed by the prefix cache (it is then never written again). */
    boolean isCached(int block) { return keyOfBlock[block] != null; }
}
