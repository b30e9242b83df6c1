package dev.lamina.kernels;

import dev.lamina.tensor.Precision;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static dev.lamina.kernels.InferenceKernelsTest.random;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * bfloat16 weights: the product is, bit for bit, the float32 product of the weights rounded to
 * bfloat16, on both kernel sets and whatever the batch; the storage is two bytes a weight.
 */
class Bf16WeightsTest {
    private static final KernelSet SCALAR = Kernels.scalar(2), VECTOR = Kernels.vector(2);

    private static Tensor rounded(Tensor w) {
        Tensor r = Tensor.of(w.toArray(), w.shape());
        for (int i = 0; i < r.size(); i++) r.set(i, Precision.bf16(r.get(i)));
        return r;
    }

    @ParameterizedTest
    @CsvSource({"1,64,8", "2,768,36", "3,33,7", "5,100,13", "6,256,64", "7,47,5", "1,1,1", "9,40,130", "13,70,97", "4,64,300", "8,1100,37"})
    void theProductIsTheFloatProductOfTheRoundedWeightsBitForBit(int n, int in, int out) {
        Rng rng = new Rng(n * 7919L + in);
        Tensor x = random(rng, n, in), w1 = random(rng, out, in), w2 = random(rng, out + 5, in), b2 = random(rng, out + 5);
        LinearWeights[] h = {VECTOR.prepare(w1, null, WeightFormat.BF16), VECTOR.prepare(w2, b2, WeightFormat.BF16)};
        assertThat(h[0]).isInstanceOf(Bf16Weights.class);
        long panels = (out + 5 + Bf16Weights.NR - 1) / Bf16Weights.NR;
        assertThat(h[1].extraBytes()).isEqualTo(panels * Bf16Weights.NR * in * 2);

        Tensor y1 = Tensor.zeros(n, out), y2 = Tensor.zeros(n, out + 5);
        VECTOR.project(n, x, h, new Tensor[] {y1, y2});
        Tensor f1 = Tensor.zeros(n, out), f2 = Tensor.zeros(n, out + 5);
        VECTOR.project(n, x, new LinearWeights[] {VECTOR.prepare(rounded(w1), null), VECTOR.prepare(rounded(w2), b2)}, new Tensor[] {f1, f2});
        assertThat(y1.toArray()).isEqualTo(f1.toArray());
        assertThat(y2.toArray()).isEqualTo(f2.toArray());

        // the scalar reference: its float32 product of the rounded weights, bit for bit, and the vector kernels' to rounding
        Tensor s1 = Tensor.zeros(n, out), s2 = Tensor.zeros(n, out + 5), r1 = Tensor.zeros(n, out), r2 = Tensor.zeros(n, out + 5);
        SCALAR.project(n, x, h, new Tensor[] {s1, s2});
        SCALAR.project(n, x, new LinearWeights[] {SCALAR.prepare(rounded(w1), null), SCALAR.prepare(rounded(w2), b2)}, new Tensor[] {r1, r2});
        assertThat(s1.toArray()).isEqualTo(r1.toArray());
        assertThat(s2.toArray()).isEqualTo(r2.toArray());
        for (int i = 0; i < s2.size(); i++) assertThat(s2.get(i)).isCloseTo(y2.get(i), org.assertj.core.data.Offset.offset(1e-5f * (1 + Math.abs(y2.get(i)))));

        float[] d = new float[(out + 5) * in];
        h[1].dequantizeInto(d, 0);
        assertThat(d).isEqualTo(rounded(w2).toArray());
        float[] row = new float[in];
        h[1].dequantizeRow(out + 4, row, 0);
        assertThat(row).isEqualTo(rounded(w2).rows(out + 4, out + 5).toArray());

        for (int i = 0; i < n; i += Math.max(1, n / 3)) {                    // a row alone gives its batch's outputs
            Tensor one = Tensor.zeros(1, out + 5);
            VECTOR.project(1, x.rows(i, i + 1), new LinearWeights[] {h[1]}, new Tensor[] {one});
            assertThat(one.toArray()).isEqualTo(y2.rows(i, i + 1).toArray());
        }
    }

    @Test
    void parsesByName() {
        assertThat(WeightFormat.parse("BF16")).isEqualTo(WeightFormat.BF16);
        assertThat(WeightFormat.BF16.toString()).isEqualTo("bf16");
    }
}
