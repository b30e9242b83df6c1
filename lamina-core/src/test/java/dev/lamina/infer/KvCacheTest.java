package dev.lamina.infer;

import dev.lamina.autograd.Tape;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Presets;
import dev.lamina.model.TestModels;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Every KV cache gives, at every position, the logits of a full forward pass over the whole sequence. */
class KvCacheTest {

    static Stream<String> vectors() { return TestModels.names().stream(); }

    /** A random Llama-style model with grouped-query heads and a sliding window (RoPE). */
    static Decoder randomSwa(int maxPos, long seed) {
        return Decoder.create(ModelConfig.builder().vocabSize(50).hiddenSize(32).numHiddenLayers(2).numAttentionHeads(4)
                .numKeyValueHeads(2).intermediateSize(64).maxPositionEmbeddings(maxPos).slidingWindow(6).build(), seed);
    }

    /** Gemma 2's shape: sandwich norms, layers alternating window 6 and global, soft-capped scores and logits, its own score scale. */
    static Decoder randomGemma2(long seed) {
        return Decoder.create(ModelConfig.builder().vocabSize(50).hiddenSize(32).numHiddenLayers(3).numAttentionHeads(4)
                .numKeyValueHeads(2).headDim(16).intermediateSize(64).maxPositionEmbeddings(48).activation(ModelConfig.Activation.GEGLU)
                .scaleEmbeddings(true).tieWordEmbeddings(true).sandwichNorms(true).slidingWindow(6).slidingWindowPattern(2)
                .queryPreAttnScalar(24.0).attnLogitSoftcapping(2.0).finalLogitSoftcapping(1.5).build(), seed);
    }

    /** Gemma 3's shape: q/k norms, one global layer in three with a scaled RoPE of its own base, the windowed layers' plain RoPE. */
    static Decoder randomGemma3(long seed) {
        return Decoder.create(randomGemma2(seed).config().toBuilder().numHiddenLayers(4).qkNorm(true).slidingWindowPattern(3)
                .attnLogitSoftcapping(null).finalLogitSoftcapping(null).ropeTheta(1e6).ropeLocalBaseFreq(1e4)
                .ropeScaling(dev.lamina.model.RopeScaling.linear(2)).build(), seed);
    }

    static Decoder randomGpt2(long seed) {
        return Decoder.create(ModelConfig.builder().gpt2Style().vocabSize(40).hiddenSize(32).numHiddenLayers(2)
                .numAttentionHeads(4).intermediateSize(64).maxPositionEmbeddings(48).build(), seed);
    }

    static Decoder randomTiny(long seed) { return Decoder.create(Presets.get("tiny").config().apply(61), seed); }

    static int[] tokens(int T, int V, long seed) {
        Rng rng = new Rng(seed);
        int[] ids = new int[T];
        for (int i = 0; i < T; i++) ids[i] = (int) rng.nextLong(V);
        return ids;
    }

    static Tensor full(Decoder model, int[] ids) { return model.forward(Tape.inference(), ids, 1, ids.length).value(); }

    static void assertClose(float[] got, Tensor want, int row, String what) {
        int V = got.length;
        double diff = 0, ref = 0;
        for (int i = 0; i < V; i++) {
            double w = want.get(row * V + i);
            diff += (got[i] - w) * (got[i] - w);
            ref += w * w;
        }
        assertThat(Math.sqrt(diff / ref)).as(what + " at position " + row).isLessThan(2e-5);
    }

    /** Feeds ids in the given chunk sizes (the last repeats), checking the logits after each token fed one by one. */
    static void check(Decoder model, KvCache cache, int[] ids, int[] chunks, String what) {
        Tensor want = full(model, ids);
        try (InferenceSession s = new InferenceSession(new ModelRunner(model, 64, 4), cache)) {
            int at = 0, c = 0;
            while (at < ids.length) {
                int n = Math.min(chunks[Math.min(c++, chunks.length - 1)], ids.length - at);
                float[] logits = s.forward(Arrays.copyOfRange(ids, at, at + n));
                at += n;
                assertClose(logits, want, at - 1, what);
            }
            assertThat(s.position()).isEqualTo(ids.length);
        }
    }

    static List<Function<Decoder, KvCache>> caches(boolean rolling) {
        List<Function<Decoder, KvCache>> list = new ArrayList<>();
        list.add(m -> new ContiguousKvCache(m.config(), m.config().maxPositionEmbeddings()));
        list.add(m -> new PagedKvCache(new BlockPool(m.config(), 40, 4, false), m.config(), Integer.MAX_VALUE));
        list.add(m -> new PagedKvCache(new BlockPool(m.config(), 40, 16, true), m.config(), Integer.MAX_VALUE));
        if (rolling) list.add(m -> new RollingKvCache(m.config()));
        return list;
    }

    @ParameterizedTest
    @MethodSource("vectors")
    void everyCacheMatchesFullForwardOnTestVectors(String name) {
        Decoder model = TestModels.load(name);
        int T = Math.min(20, model.config().maxPositionEmbeddings());
        int[] ids = tokens(T, model.config().vocabSize(), 7);
        for (Function<Decoder, KvCache> cache : caches(model.config().cacheWindow() > 0)) {
            check(model, cache.apply(model), ids, new int[]{5, 1}, name + " prefill 5");
            check(model, cache.apply(model), ids, new int[]{1}, name + " token by token");
            check(model, cache.apply(model), ids, new int[]{7, 3, 1}, name + " chunks 7, 3");
        }
    }

    @Test
    void everyCacheMatchesFullForwardOnRandomModels() {
        for (Decoder model : List.of(randomTiny(3), randomGpt2(4), randomSwa(40, 5), randomGemma2(6), randomGemma3(7))) {
            int[] ids = tokens(Math.min(40, model.config().maxPositionEmbeddings()), model.config().vocabSize(), 11);
            for (Function<Decoder, KvCache> cache : caches(model.config().cacheWindow() > 0)) {
                check(model, cache.apply(model), ids, new int[]{9, 1}, model.config().toJsonString());
                check(model, cache.apply(model), ids, new int[]{17, 2, 1}, model.config().toJsonString());
            }
        }
    }

    @Test
    void rollingBufferHoldsOnlyTheWindowAndMatchesFullForwardPastIt() {
        Decoder model = TestModels.load("llama_gqa_swa");               // window 5, max positions 32
        assertThat(model.config().cacheWindow()).isEqualTo(5);
        int[] ids = tokens(30, model.config().vocabSize(), 13);          // six times the window
        RollingKvCache cache = new RollingKvCache(model.config());
        assertThat(cache.slots()).isEqualTo(5);
        assertThat(cache.rows().size()).isEqualTo(5 * model.config().kvDim());
        check(model, cache, ids, new int[]{12, 1}, "prefill longer than the window");
        check(model, new RollingKvCache(model.config()), ids, new int[]{1}, "token by token");
    }

    @Test
    void rollingBufferGoesPastMaxPositionsWithRope() {
        Decoder small = randomSwa(16, 21);
        // the same weights with a longer position limit give the reference (RoPE has no position parameters)
        ModelConfig longer = ModelConfig.builder().vocabSize(50).hiddenSize(32).numHiddenLayers(2).numAttentionHeads(4)
                .numKeyValueHeads(2).intermediateSize(64).maxPositionEmbeddings(64).slidingWindow(6).build();
        Decoder reference = new Decoder(longer, small.params());
        int[] ids = tokens(50, 50, 23);
        Tensor want = full(reference, ids);
        try (InferenceSession s = InferenceSession.forModel(small)) {
            assertThat(s.capacity()).isEqualTo(Integer.MAX_VALUE);
            float[] logits = s.forward(Arrays.copyOf(ids, 10));
            assertClose(logits, want, 9, "prefill");
            for (int t = 10; t < ids.length; t++) assertClose(s.forward(ids[t]), want, t, "decode past max positions");
        }
        // a paged cache does the same, holding only the blocks inside the window
        BlockPool pool = new BlockPool(small.config(), 8, 4, false);
        PagedKvCache paged = new PagedKvCache(pool, small.config(), Integer.MAX_VALUE);
        try (InferenceSession s = new InferenceSession(small, paged)) {
            s.forward(Arrays.copyOf(ids, 10));
            for (int t = 10; t < ids.length; t++) {
                assertClose(s.forward(ids[t]), want, t, "paged past max positions");
                assertThat(paged.heldBlocks()).isLessThanOrEqualTo(6 / 4 + 2);
            }
        }
        assertThat(pool.freeBlocks()).isEqualTo(8);
    }

    @Test
    void learnedPositionsCapTheContext() {
        Decoder model = randomGpt2(9);
        try (InferenceSession s = InferenceSession.forModel(model)) {
            assertThat(s.capacity()).isEqualTo(48);
            s.forward(tokens(48, 40, 1));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> s.forward(1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("context full");
        }
    }

    @Test
    void howAPromptIsChunkedDoesNotChangeASingleBit() {
        for (Decoder model : List.of(randomTiny(31), TestModels.load("llama_gqa_swa"), TestModels.load("gpt2_mix"))) {
            int[] ids = tokens(30, model.config().vocabSize(), 5);
            float[] whole, pieces;
            try (InferenceSession s = new InferenceSession(model, 32)) { whole = s.forward(ids); }
            try (InferenceSession s = new InferenceSession(model, 32)) {
                s.forward(Arrays.copyOfRange(ids, 0, 7));
                s.forward(Arrays.copyOfRange(ids, 7, 8));
                s.forward(Arrays.copyOfRange(ids, 8, 25));
                pieces = s.forward(Arrays.copyOfRange(ids, 25, 30));
            }
            assertThat(pieces).isEqualTo(whole);
        }
    }

    @ParameterizedTest
    @MethodSource("vectors")
    void batchedSequencesGetExactlyTheirAloneLogits(String name) {
        Decoder model = TestModels.load(name);
        int V = model.config().vocabSize();
        int[][] seqs = {tokens(20, V, 1), tokens(3, V, 2), tokens(26, V, 3), tokens(1, V, 4)};
        // alone: each sequence prefilled in one chunk, then two decode tokens
        float[][][] alone = new float[seqs.length][3][];
        for (int i = 0; i < seqs.length; i++) {
            try (InferenceSession s = new InferenceSession(model, 32)) {
                alone[i][0] = s.forward(seqs[i]);
                alone[i][1] = s.forward(5);
                alone[i][2] = s.forward(6);
            }
        }
        // together: all prefills in one call, then the decodes of all in one call each
        ModelRunner runner = new ModelRunner(model, 64, 8);
        List<KvCache> caches = new ArrayList<>();
        for (int[] ignored : seqs) caches.add(new ContiguousKvCache(model.config(), 32));
        List<ModelRunner.Chunk> chunks = new ArrayList<>();
        for (int i = 0; i < seqs.length; i++) chunks.add(new ModelRunner.Chunk(caches.get(i), seqs[i], 0, seqs[i].length, true));
        Tensor logits = runner.forward(chunks);
        for (int i = 0; i < seqs.length; i++) assertThat(logits.rows(i, i + 1).toArray()).as("prefill " + i).isEqualTo(alone[i][0]);
        for (int step = 1; step <= 2; step++) {
            chunks.clear();
            for (int i = 0; i < seqs.length; i++) chunks.add(new ModelRunner.Chunk(caches.get(i), new int[]{4 + step}, 0, 1, true));
            logits = runner.forward(chunks);
            for (int i = 0; i < seqs.length; i++)
                assertThat(logits.rows(i, i + 1).toArray()).as("decode " + step + " of " + i).isEqualTo(alone[i][step]);
        }
    }
}
