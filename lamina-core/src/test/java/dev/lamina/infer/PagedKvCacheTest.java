package dev.lamina.infer;

import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Block accounting, copy-on-write for forks, and prefix reuse of the paged KV cache. */
class PagedKvCacheTest {
    final Decoder model = KvCacheTest.randomTiny(17);
    final ModelConfig c = model.config();

    @Test
    void blocksAreAllocatedOnDemandAndFreedOnClose() {
        BlockPool pool = new BlockPool(c, 10, 16, false);
        PagedKvCache cache = new PagedKvCache(pool, c, 1000);
        try (InferenceSession s = new InferenceSession(model, cache)) {
            s.forward(KvCacheTest.tokens(16, 61, 1));
            assertThat(pool.usedBlocks()).isEqualTo(1);              // 16 tokens: exactly one block
            s.forward(3);
            assertThat(pool.usedBlocks()).isEqualTo(2);              // the 17th opens a second
            s.forward(KvCacheTest.tokens(15, 61, 2));
            assertThat(pool.usedBlocks()).isEqualTo(2);              // 32 tokens still fit in two
            s.forward(4);
            assertThat(pool.usedBlocks()).isEqualTo(3);
            assertThat(cache.heldBlocks()).isEqualTo(3);
            assertThat(pool.freeBlocks()).isEqualTo(7);
        }
        assertThat(pool.usedBlocks()).isZero();
        assertThat(pool.freeBlocks()).isEqualTo(10);
    }

    @Test
    void runningOutOfBlocksFailsAndLeavesAccountsStraight() {
        BlockPool pool = new BlockPool(c, 2, 16, false);
        PagedKvCache cache = new PagedKvCache(pool, c, 1000);
        InferenceSession s = new InferenceSession(model, cache);
        s.forward(KvCacheTest.tokens(32, 61, 1));
        assertThatThrownBy(() -> s.forward(1)).isInstanceOf(IllegalStateException.class).hasMessageContaining("out of KV cache blocks");
        s.close();
        assertThat(pool.freeBlocks()).isEqualTo(2);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(dev.lamina.tensor.Precision.class)
    void forkSharesBlocksAndCopiesOnWrite(dev.lamina.tensor.Precision p) {
        BlockPool pool = new BlockPool(c, 10, 16, false, p);
        PagedKvCache a = new PagedKvCache(pool, c, 1000);
        int[] prompt = KvCacheTest.tokens(20, 61, 5);               // one full block and 4 rows of a second
        InferenceSession sa = new InferenceSession(model, a);
        sa.forward(prompt);
        PagedKvCache b = a.fork();
        assertThat(pool.usedBlocks()).isEqualTo(2);                // shared, not copied
        assertThat(pool.refCount(a.block(0))).isEqualTo(2);
        assertThat(pool.refCount(a.block(1))).isEqualTo(2);
        InferenceSession sb = new InferenceSession(model, b);

        float[] la = sa.forward(7);                                // a writes into the shared partial block: copies it
        assertThat(a.block(1)).isNotEqualTo(b.block(1));
        assertThat(a.block(0)).isEqualTo(b.block(0));              // the full block stays shared
        assertThat(pool.usedBlocks()).isEqualTo(3);
        float[] lb = sb.forward(9);                                // b now owns the old block alone: writes in place
        assertThat(pool.usedBlocks()).isEqualTo(3);

        // each continuation equals the same tokens decoded without any sharing
        try (InferenceSession ref = new InferenceSession(model, new ContiguousKvCache(c, 64, p))) {
            ref.forward(prompt);
            assertThat(ref.forward(7)).isEqualTo(la);
        }
        try (InferenceSession ref = new InferenceSession(model, new ContiguousKvCache(c, 64, p))) {
            ref.forward(prompt);
            assertThat(ref.forward(9)).isEqualTo(lb);
        }
        sa.close();
        assertThat(pool.usedBlocks()).isEqualTo(2);                // b still holds block 0 and its block 1
        sb.close();
        assertThat(pool.freeBlocks()).isEqualTo(10);
    }

    @Test
    void aSharedPromptPrefixReusesCachedBlocks() {
        BlockPool pool = new BlockPool(c, 12, 16, true);
        int[] system = KvCacheTest.tokens(40, 61, 8);              // two full blocks + 8 tokens
        int[] p1 = concat(system, new int[]{1, 2, 3});
        int[] p2 = concat(system, new int[]{4, 5});

        PagedKvCache first = new PagedKvCache(pool, c, 1000);
        assertThat(first.reusePrefix(p1)).isZero();
        try (InferenceSession s = new InferenceSession(model, first)) { s.forward(p1); }
        assertThat(pool.cachedBlocks()).isEqualTo(2);              // the two full blocks stay indexed
        assertThat(pool.usedBlocks()).isEqualTo(2);                // the partial block went back to the free list
        assertThat(pool.idleCachedBlocks()).isEqualTo(2);

        PagedKvCache second = new PagedKvCache(pool, c, 1000);
        int reused = second.reusePrefix(p2);
        assertThat(reused).isEqualTo(32);
        assertThat(pool.prefixHits()).isEqualTo(2);
        float[] logits;
        try (InferenceSession s = new InferenceSession(model, second)) {
            logits = s.forward(Arrays.copyOfRange(p2, reused, p2.length));
            assertThat(pool.idleCachedBlocks()).isZero();          // in use by the second sequence
        }
        try (InferenceSession ref = new InferenceSession(model, 64)) {
            float[] want = ref.forward(p2);
            assertThat(maxRelDiff(logits, want)).isLessThan(1e-5);
        }

        // a different prefix misses
        PagedKvCache third = new PagedKvCache(pool, c, 1000);
        int[] other = KvCacheTest.tokens(40, 61, 99);
        assertThat(third.reusePrefix(other)).isZero();
        third.close();

        // idle cached blocks are evicted when the free list runs dry
        PagedKvCache big = new PagedKvCache(pool, c, 1000);
        try (InferenceSession s = new InferenceSession(model, big)) {
            s.forward(KvCacheTest.tokens(12 * 16 - 1, 61, 3));
            assertThat(pool.freeBlocks()).isZero();
        }
        pool.clearPrefixCache();
        assertThat(pool.freeBlocks()).isEqualTo(12);
    }

    @Test
    void aPromptThatIsAllCachedStillComputesItsLastToken() {
        BlockPool pool = new BlockPool(c, 8, 16, true);
        int[] p = KvCacheTest.tokens(32, 61, 4);
        try (InferenceSession s = new InferenceSession(model, new PagedKvCache(pool, c, 1000))) { s.forward(p); }
        PagedKvCache again = new PagedKvCache(pool, c, 1000);
        assertThat(again.reusePrefix(p)).isEqualTo(16);            // block 1 is cached too, but one token must remain
        again.close();
    }

    static int[] concat(int[] a, int[] b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    static double maxRelDiff(float[] a, float[] b) {
        double diff = 0, ref = 0;
        for (int i = 0; i < a.length; i++) { diff += (a[i] - b[i]) * (a[i] - b[i]); ref += b[i] * b[i]; }
        return Math.sqrt(diff / ref);
    }
}
