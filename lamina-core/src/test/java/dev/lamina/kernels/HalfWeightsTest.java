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
 * 16-bit weights (bfloat16 and float16): the product is, bit for bit, the float32 product of the
 * weights rounded to the format, on both kernel sets and whatever the batch; the storage is two
 * bytes a weight; float16's widening is the JDK's conversion for every finite half.
 */
class HalfWeightsTest {
    private static final KernelSet SCALAR = Kernels.scalar(2), VECTOR = Kernels.vector(2);

    private static Tensor rounded(Tensor w, WeightFormat f) {
        Precision p = f == WeightFormat.BF16 ? Precision.BF16 : Precision.FP16;
        Tensor r = Tensor.of(w.toArray(), w.shape());
        for (int i = 0; i < r.size(); i++) r.set(i, p.round(r.get(i)));
        return r;
    }

    @ParameterizedTest
    @CsvSource({"1,64,8,BF16", "2,768,36,BF16", "3,33,7,BF16", "5,100,13,BF16", "6,256,64,BF16", "7,47,5,BF16", "1,1,1,BF16",
            "9,40,130,BF16", "13,70,97,BF16", "4,64,300,BF16", "8,1100,37,BF16",
            "1,64,8,F16", "2,768,36,F16", "3,33,7,F16", "6,256,64,F16", "1,1,1,F16", "9,40,130,F16", "13,70,97,F16", "8,1100,37,F16"})
    void theProductIsTheFloatProductOfTheRoundedWeightsBitForBit(int n, int in, int out, WeightFormat f) {
        Rng rng = new Rng(n * 7919L + in);
        Tensor x = random(rng, n, in), w1 = random(rng, out, in), w2 = random(rng, out + 5, in), b2 = random(rng, out + 5);
        if (f == WeightFormat.F16) for (int i = 0; i < w2.size(); i += 7) w2.set(i, w2.get(i) * 1e-5f);   // float16 subnormals too
        LinearWeights[] h = {VECTOR.prepare(w1, null, f), VECTOR.prepare(w2, b2, f)};
        assertThat(h[0]).isInstanceOf(HalfWeights.class);
        assertThat(((HalfWeights) h[0]).format()).isEqualTo(f == WeightFormat.BF16 ? Precision.BF16 : Precision.FP16);
        long panels = (out + 5 + HalfWeights.NR - 1) / HalfWeights.NR;
        assertThat(h[1].extraBytes()).isEqualTo(panels * HalfWeights.NR * in * 2);

        Tensor y1 = Tensor.zeros(n, out), y2 = Tensor.zeros(n, out + 5);
        VECTOR.project(n, x, h, new Tensor[] {y1, y2});
        Tensor f1 = Tensor.zeros(n, out), f2 = Tensor.zeros(n, out + 5);
        VECTOR.project(n, x, new LinearWeights[] {VECTOR.prepare(rounded(w1, f), null), VECTOR.prepare(rounded(w2, f), b2)}, new Tensor[] {f1, f2});
        assertThat(y1.toArray()).isEqualTo(f1.toArray());
        assertThat(y2.toArray()).isEqualTo(f2.toArray());

        // the scalar reference: its float32 product of the rounded weights, bit for bit, and the vector kernels' to rounding
        Tensor s1 = Tensor.zeros(n, out), s2 = Tensor.zeros(n, out + 5), r1 = Tensor.zeros(n, out), r2 = Tensor.zeros(n, out + 5);
        SCALAR.project(n, x, h, new Tensor[] {s1, s2});
        SCALAR.project(n, x, new LinearWeights[] {SCALAR.prepare(rounded(w1, f), null), SCALAR.prepare(rounded(w2, f), b2)}, new Tensor[] {r1, r2});
        assertThat(s1.toArray()).isEqualTo(r1.toArray());
        assertThat(s2.toArray()).isEqualTo(r2.toArray());
        for (int i = 0; i < s2.size(); i++) assertThat(s2.get(i)).isCloseTo(y2.get(i), org.assertj.core.data.Offset.offset(1e-5f * (1 + Math.abs(y2.get(i)))));

        float[] d = new float[(out + 5) * in];
        h[1].dequantizeInto(d, 0);
        assertThat(d).isEqualTo(rounded(w2, f).toArray());
        float[] row = new float[in];
        h[1].dequantizeRow(out + 4, row, 0);
        assertThat(row).isEqualTo(rounded(w2, f).rows(out + 4, out + 5).toArray());

        for (int i = 0; i < n; i += Math.max(1, n / 3)) {                    // a row alone gives its batch's outputs
            Tensor one = Tensor.zeros(1, out + 5);
            VECTOR.project(1, x.rows(i, i + 1), new LinearWeights[] {h[1]}, new Tensor[] {one});
            assertThat(one.toArray()).isEqualTo(y2.rows(i, i + 1).toArray());
        }
    }

    /** Every finite float16 (all 63,488 bit patterns, subnormals and both zeros) widens in the vector kernels as Float.float16ToFloat does. */
    @Test
    void float16WidensExactlyForEveryFiniteHalf() {
        int n = 0;
        float[] col = new float[1 << 16];
        for (int b = 0; b < 1 << 16; b++) {
            short h = (short) b;
            if ((h & 0x7c00) != 0x7c00) col[n++] = Float.float16ToFloat(h);
        }
        var species = jdk.incubator.vector.IntVector.SPECIES_PREFERRED;     // the widening itself, every lane, -0 included
        int[] bits = new int[species.length()];
        float[] got = new float[species.length()];
        for (int b = 0; b < 1 << 16; b += bits.length) {
            for (int j = 0; j < bits.length; j++) bits[j] = (short) (b + j);   // sign-extended, as the kernels widen them
            HalfWeights.fp16(jdk.incubator.vector.IntVector.fromArray(species, bits, 0)).intoArray(got, 0);
            for (int j = 0; j < bits.length; j++) {
                short h = (short) (b + j);
                if ((h & 0x7c00) != 0x7c00)
                    assertThat(Float.floatToRawIntBits(got[j])).as("half %04x", h & 0xffff).isEqualTo(Float.floatToRawIntBits(Float.float16ToFloat(h)));
            }
        }
        // through the product: one input, so each output is 0 + w·1 (a chain from +0, so -0 comes out +0)
        Tensor w = Tensor.of(java.util.Arrays.copyOf(col, n), n, 1);
        Tensor y = Tensor.zeros(1, n), one = Tensor.of(new float[] {1f}, 1, 1);
        VECTOR.project(1, one, new LinearWeights[] {VECTOR.prepare(w, null, WeightFormat.F16)}, new Tensor[] {y});
        for (int i = 0; i < n; i++) assertThat(Float.floatToRawIntBits(y.get(i))).as("half %d", i).isEqualTo(Float.floatToRawIntBits(col[i] + 0f));
        Tensor y6 = Tensor.zeros(6, n), six = Tensor.of(new float[] {1, 1, 1, 1, 1, 1}, 6, 1);   // the prompt path: a panel widened once
        VECTOR.project(6, six, new LinearWeights[] {VECTOR.prepare(w, null, WeightFormat.F16)}, new Tensor[] {y6});
        for (int i = 0; i < n; i++) assertThat(Float.floatToRawIntBits(y6.get(5 * n + i))).as("half %d", i).isEqualTo(Float.floatToRawIntBits(col[i] + 0f));
    }

    /** float16 holds finite values up to 65504: a larger one (or an infinity or NaN) is refused in one line, naming the other formats. */
    @Test
    void float16RefusesWhatItCannotHold() {
        for (float bad : new float[] {70000f, -1e6f, Float.POSITIVE_INFINITY, Float.NaN}) {
            Tensor w = Tensor.of(new float[] {0.5f, bad, 1f, 2f}, 2, 2);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> VECTOR.prepare(w, null, WeightFormat.F16))
                    .isInstanceOf(dev.lamina.io.LaminaException.class).hasMessageContaining("float16's finite range").hasMessageContaining("--weights bf16");
        }
        Tensor fine = Tensor.of(new float[] {65504f, -65519f, 1e-8f, 0f}, 2, 2);   // the largest half, a value rounding to it, one rounding to 0
        float[] back = new float[4];
        VECTOR.prepare(fine, null, WeightFormat.F16).dequantizeInto(back, 0);
        assertThat(back).containsExactly(65504f, -65504f, 0f, 0f);
    }

    @Test
    void parsesByName() {
        assertThat(WeightFormat.parse("BF16")).isEqualTo(WeightFormat.BF16);
        assertThat(WeightFormat.BF16.toString()).isEqualTo("bf16");
        assertThat(WeightFormat.parse("f16")).isEqualTo(WeightFormat.F16);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> WeightFormat.parse("fp8")).hasMessageContaining("stored, f32, bf16, f16, q8_0");
    }

    @Test
    void aFileIsServedIn16BitsOnlyWhenEveryMatrixIsOfOneHalfType() {
        assertThat(WeightFormat.ofMatrices(java.util.stream.Stream.of("BF16", "BF16"))).isEqualTo(WeightFormat.BF16);
        assertThat(WeightFormat.ofMatrices(java.util.stream.Stream.of("F16"))).isEqualTo(WeightFormat.F16);
        assertThat(WeightFormat.ofMatrices(java.util.stream.Stream.of("F16", "Q4_0", "F16"))).isEqualTo(WeightFormat.STORED);
        assertThat(WeightFormat.ofMatrices(java.util.stream.Stream.of("BF16", "F16"))).isEqualTo(WeightFormat.STORED);
        assertThat(WeightFormat.ofMatrices(java.util.stream.Stream.of("F32"))).isEqualTo(WeightFormat.STORED);
        assertThat(WeightFormat.ofMatrices(java.util.stream.Stream.empty())).isEqualTo(WeightFormat.STORED);
    }
}
