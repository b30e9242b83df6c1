package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static dev.lamina.kernels.InferenceKernelsTest.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * 4-bit blocks (Q4_0's and Q4_K's form) and 8-bit blocks of 16 (Q6_K's) packed from rows of quants
 * and scales: every product is the float32 product with the dequantized weights, on both kernel
 * sets, at odd sizes and random data, whatever the number of rows.
 */
class Q4WeightsTest {
    private static final KernelSet SCALAR = Kernels.scalar(2), VECTOR = Kernels.vector(2);

    /** Random quants 0..15 and scales per block of 32, as a Q4_0 source would give them. */
    private static Q4Weights.Rows rows(long seed) {
        return (o, q, d) -> {
            Rng r = new Rng(seed * 1_000_003L + o);
            for (int k = 0; k < q.length; k++) q[k] = (byte) r.nextLong(16);
            for (int b = 0; b < d.length; b++) d[b] = (float) (0.01 + 0.05 * r.nextDouble());
        };
    }

    @ParameterizedTest
    @CsvSource({"1,64,8", "2,256,36", "3,33,7", "5,96,13", "4,64,300", "9,40,130", "17,47,5", "1,1,1", "7,512,3", "130,70,97",
                "6,64,40", "13,96,33", "13,800,37", "13,800,100"})
    void q4_0ProductMatchesTheScalarReferenceAndTheDequantizedWeights(int n, int in, int out) {
        Rng rng = new Rng(n * 31L + in);
        Tensor x = random(rng, n, in), b2 = random(rng, out + 5);
        Q4Weights w1 = Q4Weights.pack(Parallel.of(2), out, in, rows(1), null);
        Q4Weights w2 = Q4Weights.pack(Parallel.of(2), out + 5, in, rows(2), b2);
        long panels = (out + 5 + Q4Weights.NR - 1) / Q4Weights.NR, blocks = (in + 31) / 32;   // half a byte per weight, a float per block
        assertThat(w2.extraBytes()).isEqualTo(panels * Q4Weights.NR * ((in + 1) / 2 + 4 * blocks) + 8);
        check(n, in, x, new LinearWeights[] {w1, w2}, b2, false);
    }

    @ParameterizedTest
    @CsvSource({"1,256,8", "3,512,37", "5,256,130", "9,768,3", "7,1024,37", "7,512,130"})
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
        check(n, in, x, new LinearWeights[] {w1, w2}, b2, false);
    }

    @ParameterizedTest
    @CsvSource({"1,256,8", "3,512,37", "6,48,21", "2,16,3", "5,80,130", "8,784,37", "8,784,100"})
    void eightBitBlocksOf16AreTheFloatProductOfTheDequantizedWeights(int n, int in, int out) {
        Rng rng = new Rng(n * 131L + in);
        Tensor x = random(rng, n, in), b2 = random(rng, out + 5);
        Q8Weights.Rows rows = (o, q, d, m) -> {
            Rng r = new Rng(977L * o + in);
            for (int k = 0; k < q.length; k++) q[k] = (byte) ((int) r.nextLong(64) - 32);       // Q6_K's range
            for (int b = 0; b < d.length; b++) d[b] = (float) (0.001 * ((int) r.nextLong(255) - 127));
        };
        Q8Weights w1 = Q8Weights.pack(Parallel.of(2), out, in, 16, false, rows, null), w2 = Q8Weights.pack(Parallel.of(2), out + 5, in, 16, false, rows, b2);
        check(n, in, x, new LinearWeights[] {w1, w2}, b2, false);
    }

    /**
     * 8-bit blocks with a term per block, w = q·d + m (Q5_K, Q4_1, Q5_1 in runs of 32, Q2_K in runs of
     * 16): the block's input sum times m joins each total after d·s, on every kernel shape (one row,
     * four, six on a widened panel, two panels wide) and in the scalar reference alike.
     */
    @ParameterizedTest
    @CsvSource({"1,256,8,32", "3,512,37,32", "6,64,21,32", "7,800,100,32", "13,96,33,32", "2,16,3,16", "5,80,130,16", "8,784,37,16",
                "13,784,100,16", "1,33,5,32", "9,47,70,32"})
    void eightBitBlocksWithMinimumsAreTheFloatProductOfTheDequantizedWeights(int n, int in, int out, int block) {
        Rng rng = new Rng(n * 173L + in + block);
        Tensor x = random(rng, n, in), b2 = random(rng, out + 5);
        Q8Weights.Rows rows = (o, q, d, m) -> {
            Rng r = new Rng(613L * o + in);
            for (int k = 0; k < q.length; k++) q[k] = (byte) r.nextLong(32);                      // Q5_K's range
            for (int b = 0; b < d.length; b++) { d[b] = (float) (0.001 + 0.004 * r.nextDouble()); m[b] = (float) (-0.06 * r.nextDouble()); }
        };
        Q8Weights w1 = Q8Weights.pack(Parallel.of(2), out, in, block, true, rows, null), w2 = Q8Weights.pack(Parallel.of(2), out + 5, in, block, true, rows, b2);
        long panels = (out + 5 + Q8Weights.NR - 1) / Q8Weights.NR, blocks = (in + block - 1) / block;   // a byte a weight, two floats a block
        assertThat(w2.extraBytes()).isEqualTo(panels * Q8Weights.NR * (in + 8 * blocks) + 8);
        check(n, in, x, new LinearWeights[] {w1, w2}, b2, false);
    }

    static void close(Tensor y, Tensor f, Tensor x, Tensor w, int in) {
        float wmax = 0;
        for (float v : w.toArray()) wmax = Math.max(wmax, Math.abs(v));
        int out = y.dim(1);
        for (int i = 0; i < y.dim(0); i++) {
            float ax = 0;
            for (int k = 0; k < in; k++) ax += Math.abs(x.get(i * in + k));
            for (int o = 0; o < out; o++)
                assertThat(y.get(i * out + o)).as("y[%d,%d]", i, o).isCloseTo(f.get(i * out + o), within(4e-5f * ax * wmax + 1e-6f));
        }
    }

    /**
     * ws[1] has bias b2: the vector product equals the scalar reference's bit for bit, and the
     * product of float32 packed weights holding the dequantized values to float rounding (block by
     * block sums; bit for bit when exact); a row alone gives its batch's outputs bit for bit.
     */
    private static void check(int n, int in, Tensor x, LinearWeights[] ws, Tensor b2, boolean exact) {
        int o1 = ws[0].out(), o2 = ws[1].out();
        Tensor y1 = Tensor.zeros(n, o1), y2 = Tensor.zeros(n, o2);
        VECTOR.project(n, x, ws, new Tensor[] {y1, y2});

        Tensor d1 = Tensor.zeros(o1, in), d2 = Tensor.zeros(o2, in);
        ws[0].dequantizeInto(d1.data(), 0);
        ws[1].dequantizeInto(d2.data(), 0);
        Tensor f1 = Tensor.zeros(n, o1), f2 = Tensor.zeros(n, o2);
        VECTOR.project(n, x, new LinearWeights[] {VECTOR.prepare(d1, null), VECTOR.prepare(d2, b2)}, new Tensor[] {f1, f2});
        if (exact) {
            assertThat(y1.toArray()).isEqualTo(f1.toArray());
            assertThat(y2.toArray()).isEqualTo(f2.toArray());
        } else {                                // rounding of sums whose terms reach Σ|x|·4·max|w| (d·q and the offset)
            close(y1, f1, x, d1, in);
            close(y2, f2, x, d2, in);
        }
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
