package dev.lamina.infer;

import dev.lamina.io.LaminaException;
import dev.lamina.kernels.Kernels;
import dev.lamina.model.Decoder;
import dev.lamina.tensor.Precision;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

import static dev.lamina.infer.KvCacheTest.tokens;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * KV caches in 16 bits: every cache kind and every way of feeding a sequence give the same logits, bit
 * for bit (the new rows are rounded before their own chunk reads them), close to a float32 cache's.
 */
class HalfKvCacheTest {

    static List<Function<Decoder, KvCache>> caches(Precision p, boolean rolling) {
        List<Function<Decoder, KvCache>> list = new ArrayList<>();
        list.add(m -> new ContiguousKvCache(m.config(), m.config().maxPositionEmbeddings(), p));
        list.add(m -> new PagedKvCache(new BlockPool(m.config(), 40, 4, false, p), m.config(), Integer.MAX_VALUE));
        list.add(m -> new PagedKvCache(new BlockPool(m.config(), 40, 16, true, p), m.config(), Integer.MAX_VALUE));
        if (rolling) list.add(m -> new RollingKvCache(m.config(), p));
        return list;
    }

    /** The logits after each chunk (the chunk sizes in turn, the last repeating), by the position they follow. */
    static float[][] feed(Decoder model, KvCache cache, int[] ids, int... chunks) {
        float[][] out = new float[ids.length][];
        try (InferenceSession s = new InferenceSession(new ModelRunner(model, 64, 4), cache)) {
            int at = 0, c = 0;
            while (at < ids.length) {
                int n = Math.min(chunks[Math.min(c++, chunks.length - 1)], ids.length - at);
                out[at + n - 1] = s.forward(Arrays.copyOfRange(ids, at, at + n));
                at += n;
            }
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(value = Precision.class, names = {"BF16", "FP16"})
    void everyCacheAndChunkingGiveTheSameLogitsNearFloat32(Precision p) {
        for (Decoder model : List.of(KvCacheTest.randomTiny(3), KvCacheTest.randomGpt2(4), KvCacheTest.randomSwa(40, 5),
                KvCacheTest.randomGemma2(6))) {
            int[] ids = tokens(Math.min(40, model.config().maxPositionEmbeddings()), model.config().vocabSize(), 11);
            boolean rolling = model.config().cacheWindow() > 0;
            float[][] want = feed(model, new ContiguousKvCache(model.config(), ids.length, p), ids, 1);
            assertThat(new ContiguousKvCache(model.config(), 4, p).rows().keys(0)).isNull();
            for (Function<Decoder, KvCache> cache : caches(p, rolling))
                for (int[] chunks : new int[][] {{1}, {9, 1}, {17, 2, 1}, {ids.length}}) {
                    KvCache kv = cache.apply(model);
                    assertThat(kv.rows().precision()).isEqualTo(p);
                    assertThat(kv.rows().keyBits(0)).isNotNull();
                    float[][] got = feed(model, kv, ids, chunks);
                    for (int t = 0; t < ids.length; t++)
                        if (got[t] != null)
                            assertThat(got[t]).as(p + " " + kv.getClass().getSimpleName() + " chunks " + Arrays.toString(chunks) + " at " + t)
                                    .isEqualTo(want[t]);
                }
            float[][] f32 = feed(model, new ContiguousKvCache(model.config(), ids.length), ids, 1);
            double diff = 0, ref = 0;
            for (int t = 0; t < ids.length; t++)
                for (int v = 0; v < f32[t].length; v++) {
                    diff += (double) (want[t][v] - f32[t][v]) * (want[t][v] - f32[t][v]);
                    ref += (double) f32[t][v] * f32[t][v];
                }
            double rel = Math.sqrt(diff / ref);
            assertThat(rel).as(p + " against float32").isGreaterThan(0).isLessThan(p == Precision.BF16 ? 2e-2 : 3e-3);
        }
    }

    @Test
    void preparedModelCarriesItsCachePrecisionToSessionsAndTheEngine() throws Exception {
        Decoder model = BatchEngineTest.MODEL;
        PreparedModel prepared = PreparedModel.of(model), half = prepared.withKvCache(Precision.FP16);
        assertThat(prepared.kvCache()).isEqualTo(Precision.FP32);
        assertThat(half.kvCache()).isEqualTo(Precision.FP16);
        assertThat(half.withKvCache(Precision.FP16)).isSameAs(half);
        try (InferenceSession s = InferenceSession.forModel(half)) {
            assertThat(s.cache().rows().precision()).isEqualTo(Precision.FP16);
            assertThat(s.cache().rows().keyBits(0)).hasSize(model.config().contextLimit() * model.config().kvDim());
        }
        int[] prompt = tokens(12, model.config().vocabSize(), 2);
        float[][] session = feed(model, new ContiguousKvCache(model.config(), 40, Precision.FP16), prompt, 12);
        try (BatchEngine e = new BatchEngine(half, BatchEngineTest.TOK, BatchEngine.Options.defaults(2))) {
            assertThat(e.pool().precision()).isEqualTo(Precision.FP16);
            int[] greedy = e.submit(new BatchEngine.Request(prompt, 6, SamplingParams.GREEDY, 1, List.of(), -1, true), null)
                    .result().get(30, java.util.concurrent.TimeUnit.SECONDS).choices().getFirst().tokens();
            // the engine's paged 16-bit cache decodes what a contiguous 16-bit session does
            try (InferenceSession s = new InferenceSession(new ModelRunner(half, 64, 1), new ContiguousKvCache(model.config(), 40, Precision.FP16))) {
                float[] logits = s.forward(prompt);
                assertThat(logits).isEqualTo(session[11]);
                for (int t : greedy) {
                    assertThat(t).isEqualTo(argmax(logits));
                    logits = s.forward(t);
                }
            }
        }
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }

    @Test
    void float16SaturatesAndBadNamesAreRefused() {
        KvRows rows = new KvRows(1, 2, 3, Precision.FP16);
        Tensor x = Tensor.of(new float[] {1e6f, -7e4f, 1.0001f, 65504f, -3f, 0.1f}, 2, 3);
        rows.round(Kernels.vector(1), x);
        assertThat(x.toArray()).containsExactly(65504f, -65504f, Precision.FP16.round(1.0001f), 65504f, -3f, Precision.FP16.round(0.1f));
        rows.put(0, 3, x.data(), 0, x.data(), 3, 3);
        assertThat(Float.float16ToFloat(rows.keyBits(0)[3])).isEqualTo(65504f);
        assertThat(Float.float16ToFloat(rows.valueBits(0)[5])).isEqualTo(Precision.FP16.round(0.1f));
        assertThat(KvRows.parse("F16")).isEqualTo(Precision.FP16);
        assertThat(KvRows.parse("bf16")).isEqualTo(Precision.BF16);
        assertThat(KvRows.parse("f32")).isEqualTo(Precision.FP32);
        assertThatThrownBy(() -> KvRows.parse("q8_0")).isInstanceOf(LaminaException.class)
                .hasMessage("--kv-cache-dtype must be f32, bf16 or f16, got 'q8_0'");
        assertThat(KvRows.bytesPerPosition(12, 768, Precision.BF16)).isEqualTo(KvRows.bytesPerPosition(12, 768, Precision.FP32) / 2);
    }
}
