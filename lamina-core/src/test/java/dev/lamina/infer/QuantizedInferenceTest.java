package dev.lamina.infer;

import dev.lamina.kernels.Kernels;
import dev.lamina.kernels.LinearWeights;
import dev.lamina.kernels.Q8Weights;
import dev.lamina.kernels.WeightFormat;
import dev.lamina.model.Decoder;
import dev.lamina.model.Parameters;
import dev.lamina.model.TestModels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** A model run with 8-bit weights: every test-vector config, through the inference executor. */
class QuantizedInferenceTest {

    static List<String> names() { return TestModels.names(); }

    @ParameterizedTest
    @MethodSource("names")
    void q8LogitsAreCloseToTheFloatLogitsOfTheDequantizedWeights(String name) {
        Decoder model = TestModels.load(name);
        int[] ids = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5};
        PreparedModel q8 = PreparedModel.of(model, WeightFormat.Q8_0), f32 = PreparedModel.of(model);
        assertThat(q8.format()).isEqualTo(WeightFormat.Q8_0);
        float[] lq = logits(q8, ids), lf = logits(f32, ids);
        assertThat(relativeError(lq, lf)).as("8-bit logits against float32").isLessThan(0.05).isGreaterThan(0);
        assertThat(q8.weightBytesPerToken()).isLessThan(f32.weightBytesPerToken());

        if (model.config().tieWordEmbeddings()) return;      // the head's table is also the embedding: no float twin
        // the float32 model holding the dequantized weights computes the same logits, to float rounding
        Parameters twin = Decoder.layout(model.config()).build();
        System.arraycopy(model.params().data(), 0, twin.data(), 0, twin.count());
        Decoder deq = new Decoder(model.config(), twin, model.kernels());
        for (Decoder.Linear lin : model.linears()) {
            LinearWeights w = q8.single(lin)[0];
            twin.value(lin.key().name()).copyFrom(((Q8Weights) w).dequantize());
        }
        float[] ld = logits(PreparedModel.of(deq), ids);
        assertThat(relativeError(lq, ld)).isLessThan(1e-5);      // 8-bit products are summed block by block
    }

    static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> namesAndHalves() {
        return names().stream().flatMap(n -> java.util.stream.Stream.of(WeightFormat.BF16, WeightFormat.F16)
                .map(f -> org.junit.jupiter.params.provider.Arguments.of(n, f)));
    }

    /** bf16 and f16 weights: the logits are, bit for bit, those of the float32 model whose linear maps hold the rounded weights. */
    @ParameterizedTest
    @MethodSource("namesAndHalves")
    void halfLogitsAreTheFloatLogitsOfTheRoundedWeights(String name, WeightFormat f) {
        Decoder model = TestModels.load(name);
        int[] ids = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5};
        dev.lamina.tensor.Precision p = f == WeightFormat.BF16 ? dev.lamina.tensor.Precision.BF16 : dev.lamina.tensor.Precision.FP16;
        PreparedModel bf16 = PreparedModel.of(model, f), f32 = PreparedModel.of(model);
        assertThat(bf16.format()).isEqualTo(f);
        if (!(model.kernels() instanceof dev.lamina.kernels.ScalarKernels))   // (the scalar kernels read float32 in place, unpadded: tiny maps pack larger)
            assertThat(bf16.weightBytesPerToken()).isLessThan(f32.weightBytesPerToken());
        float[] lh = logits(bf16, ids);
        assertThat(relativeError(lh, logits(f32, ids))).as(f + " logits against float32").isLessThan(0.02).isGreaterThan(0);
        if (model.config().tieWordEmbeddings()) return;      // the head's table is also the embedding, read in float32: no float twin

        Parameters twin = Decoder.layout(model.config()).build();
        System.arraycopy(model.params().data(), 0, twin.data(), 0, twin.count());
        for (Decoder.Linear lin : model.linears()) {
            dev.lamina.tensor.Tensor w = twin.value(lin.key().name());
            for (int i = 0; i < w.size(); i++) w.set(i, p.round(w.get(i)));
        }
        float[] lr = logits(PreparedModel.of(new Decoder(model.config(), twin, model.kernels())), ids);
        for (int i = 0; i < lh.length; i++) assertThat(Float.floatToRawIntBits(lh[i])).as("logit %d", i).isEqualTo(Float.floatToRawIntBits(lr[i]));
    }

    private static float[] logits(PreparedModel m, int[] ids) {
        try (InferenceSession s = new InferenceSession(m, new ContiguousKvCache(m.model().config(), ids.length + 1))) {
            float[] all = null;
            for (int id : ids) all = s.forward(new int[] {id});                     // one token at a time, over the cache
            return all;
        }
    }

    private static double relativeError(float[] a, float[] b) {
        double diff = 0, ref = 0;
        for (int i = 0; i < a.length; i++) { diff += (a[i] - b[i]) * (double) (a[i] - b[i]); ref += b[i] * (double) b[i]; }
        return Math.sqrt(diff / ref);
    }
}
