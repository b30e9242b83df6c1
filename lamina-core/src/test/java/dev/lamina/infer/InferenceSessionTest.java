package dev.lamina.infer;

import dev.lamina.autograd.Tape;
import dev.lamina.autograd.Var;
import dev.lamina.model.Decoder;
import dev.lamina.model.TestModels;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static org.assertj.core.api.Assertions.assertThat;

/** Incremental decoding with the KV cache gives the logits of a full forward pass at every position. */
class InferenceSessionTest {

    @ParameterizedTest
    @MethodSource("dev.lamina.infer.KvCacheTest#vectors")
    void incrementalMatchesFullForward(String name) {
        Decoder model = TestModels.load(name);
        int T = 14, V = model.config().vocabSize();
        Rng rng = new Rng(7);
        int[] ids = new int[T];
        for (int i = 0; i < T; i++) ids[i] = (int) rng.nextLong(V);
        Var full = model.forward(Tape.inference(), ids, 1, T);

        InferenceSession s = new InferenceSession(model, 32);
        // a 5-token prefill, then one token at a time
        float[] logits = s.forward(java.util.Arrays.copyOf(ids, 5));
        assertClose(logits, full.value().rows(4, 5));
        for (int t = 5; t < T; t++) {
            logits = s.forward(ids[t]);
            assertClose(logits, full.value().rows(t, t + 1));
        }
        assertThat(s.position()).isEqualTo(T);
    }

    /**
     * A model prepared for inference only keeps one copy of its weights: with a tied head, the
     * token table too, whose lookups then read rows of the prepared head; the logits do not move.
     */
    @org.junit.jupiter.api.Test
    void inferenceOnlyModelsDropTheTiedTableAndReadItsRowsFromTheHead() {
        for (Decoder m : java.util.List.of(KvCacheTest.randomGpt2(3), KvCacheTest.randomGemma2(4))) {
            assertThat(m.config().tieWordEmbeddings()).isTrue();
            PreparedModel lean = PreparedModel.of(m).withoutFloatCopies();
            if (lean == null) continue;                                     // the scalar kernels read weights in place
            assertThat(lean.model().params().has("embed_tokens.weight")).isFalse();
            assertThat(lean.model().storedTable()).isNotNull();
            int[] ids = {1, 7, 3, 9, 2, 5};
            try (InferenceSession a = new InferenceSession(PreparedModel.of(m), new ContiguousKvCache(m.config(), 16));
                 InferenceSession b = new InferenceSession(lean, new ContiguousKvCache(m.config(), 16))) {
                assertThat(b.forward(ids)).containsExactly(a.forward(ids));
                assertThat(b.forward(4)).containsExactly(a.forward(4));
            }
        }
    }

    private static void assertClose(float[] got, Tensor want) {
        double diff = 0, ref = 0;
        for (int i = 0; i < got.length; i++) {
            diff += Math.pow(got[i] - want.get(i), 2);
            ref += Math.pow(want.get(i), 2);
        }
        assertThat(Math.sqrt(diff / ref)).isLessThan(1e-5);
    }
}
