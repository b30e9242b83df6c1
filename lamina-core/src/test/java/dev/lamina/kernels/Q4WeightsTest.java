package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static dev.lamina.kernels.InferenceKernelsTest.random;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * 4-bit blocks (Q4_0's and Q4_K's form) and 8-bit blocks of 16 (Q6_K's) packed from rows of quants
 * and scales: every product is the float32 product with the dequantized weights, on both kernel
 * sets, at odd sizes and random data, whatever the number of rows.
 */
class Q4WeightsTest {
    private static final KernelSet SCALAR = Kernels.scalar(2), VECTOR = Kernels.vector(2);

    /** Random quants 0..15, scales and (with offsets) minimums per block of 32, as a source would give them. */
    private static Q4Weights.Rows rows(long seed, boolean offsets) {
        return (o, q, d, m) -> {
            Rng r = new Rng(seed * 1_000_003L + o);
            for (int k = 0; k < q.length; k++) q[k] = (byte) ((int) r.nextLong(16));
            for (int b = 0; b < d.length; b++) {
                d[b] = (float) (0.01 + 0.05 * r.nextDouble());
                m[b] = offsets ? (float) (0.2 * r.nextDouble()) : 0f;
            }
        };
    }

    @ParameterizedTest
    @CsvSource({"1,64,8,true", "2,256,36,false", "3,33,7,true", "5,96,13,false", "4,64,300,true", "9,40,130,false",
                "17,47,5,true", "1,1,1,false", "7,512,3,true", "130,70,97,false"})
    void q4ProductIsTheFloatProductOfTheDequantizedWeights(int n, int in, int out, boolean offsets) {
        Rng rng = new Rng(n * 31L + in);
        float zero = offsets ? 0f : 8f;
        Tensor x = random(rng, n, in), b2 = random(rng, out + 5);
        Q4Weights w1 = Q4Weights.pack(Parallel.of(2), out, in, zero, offsets, rows(1, offsets), null);
        Q4Weights w2 = Q4Weights.pack(Parallel.of(2), out + 5, in, zero, offsets, rows(2, offsets), b2);
        long panels = (out + 5 + Q4Weights.NR - 1) / Q4Weights.NR, blocks = (in + 31) / 32;   // half a byte per weight, 4 or 8 per block
        assertThat(w2.extraBytes()).isEqualTo(panels * Q4Weights.NR * ((in + 1) / 2 + (offsets ? 8 : 4) * blocks) + 8);
        checkAgainstDequantized(n, in, x, new LinearWeights[] {w1, w2}, b2);
    }

    @ParameterizedTest
    @CsvSource({"1,256,8", "3,512,37", "5,256,130", "9,768,3"})
    void superBlockProductIsTheFloatProductOfTheDequantizedWeights(int n, int in, int out) {
        Rng rng = new Rng(n * 71L + in);
        Tensor x = random(rng, n, in), b2 = random(rng, out + 5);
        Q4Weights.SuperRows rows = (o, q, sc, mn, ds, ms) -> {
            Rng r = new Rng(31L * o + in);
            for (int k = 0; k < q.length; k++) q[k] = (byte) r.nextLong(16);
            for (int b = 0; b < sc.length; b++) { sc[b] = (byte) r.nextLong(64); mn[b] = (byte) r.nextLong(64); }
            for (int j = 0; j < ds.length; j++) { ds[j] = (float) (0.001 + 0.002 * r.nextDouble()); ms[j] = (float) (0.003 * r.nextDouble()); }
        };
        Q4Weights w1 = Q4Weights.packSuper(Parallel.of(2), out, in, rows, null), w2 = Q4Weights.packSuper(Parallel.of(2), out + 5, in, rows, b2);
        long panels = (out + 5 + Q4Weights.NR - 1) / Q4Weights.NR;         // 4.75 bits a weight (+ slack)
        assertThat(w2.extraBytes()).isEqualTo(panels * Q4Weights.NR * (in / 2 + 2 * (in / 32) + 8 * (in / 256)) + 24);
        checkAgainstDequantized(n, in, x, new LinearWeights[] {w1, w2}, b2);
    }

    @ParameterizedTest
    @CsvSource({"1,256,8", "3,512,37", "6,48,21", "2,16,3", "5,80,130"})
    void eightBitBlocksOf16AreTheFloatProductOfTheDequantizedWeights(int n, int in, int out) {
        Rng rng = new Rng(n * 131L + in);
        Tensor x = random(rng, n, in), b2 = random(rng, out + 5);
        Q8Weights.Rows rows = (o, q, d) -> {
            Rng r = new Rng(977L * o + in);
            for (int k = 0; k < q.length; k++) q[k] = (byte) ((int) r.nextLong(64) - 32);       // Q6_K's range
            for (int b = 0; b < d.length; b++) d[b] = (float) (0.001 * ((int) r.nextLong(255) - 127));
        };
        Q8Weights w1 = Q8Weights.pack(Parallel.of(2), out, in, 16, rows, null), w2 = Q8Weights.pack(Parallel.of(2), out + 5, in, 16, rows, b2);
        checkAgainstDequantized(n, in, x, new LinearWeights[] {w1, w2}, b2);
    }

    /** ws[1] has bias b2: the vector and scalar products equal float32 packed weights holding the dequantized values. */
    private static void checkAgainstDequantized(int n, int in, Tensor x, LinearWeights[] ws, Tensor b2) {
        int o1 = ws[0].out(), o2 = ws[1].out();
        Tensor y1 = Tensor.zeros(n, o1), y2 = Tensor.zeros(n, o2);
        VECTOR.project(n, x, ws, new Tensor[] {y1, y2});

        Tensor d1 = Tensor.zeros(o1, in), d2 = Tensor.zeros(o2, in);
        ws[0].dequantizeInto(d1.data(), 0);
        ws[1].dequantizeInto(d2.data(), 0);
        Tensor f1 = Tensor.zeros(n, o1), f2 = Tensor.zeros(n, o2);
        VECTOR.project(n, x, new LinearWeights[] {VECTOR.prepare(d1, null), VECTOR.prepare(d2, b2)}, new Tensor[] {f1, f2});
        assertThat(y1.toArray()).isEqualTo(f1.toArray());
        assertThat(y2.toArray()).isEqualTo(f2.toArray());
        assertThat(y1.toArray()).isNotEqualTo(new float[n * o1]);

        Tensor s1 = Tensor.zeros(n, o1), s2 = Tensor.zeros(n, o2);
        SCALAR.project(n, x, ws, new Tensor[] {s1, s2});
        assertThat(s1.toArray()).isEqualTo(y1.toArray());
        assertThat(s2.toArray()).isEqualTo(y2.toArray());

        for (int i = 0; i < n; i += Math.max(1, n / 4)) {               // a row alone gives its batch's outputs bit for bit
            Tensor one = Tensor.zeros(1, o2);
            VECTOR.project(1, x.rows(i, i + 1), new LinearWeights[] {ws[1]}, new Tensor[] {one});
            assertThat(one.toArray()).isEqualTo(y2.rows(i, i + 1).toArray());
        }
    }
}
