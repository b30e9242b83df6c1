package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The inference kernels (prepared linear weights, softmax and weighted rows over a KV cache) against
 * the scalar reference, and the batch invariance the engine relies on.
 */
class InferenceKernelsTest {
    private static final KernelSet SCALAR = Kernels.scalar(2), VECTOR = Kernels.vector(2);

    static Tensor random(Rng rng, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.size(); i++) t.set(i, (float) rng.nextGaussian());
        return t;
    }

    @ParameterizedTest
    @CsvSource({"1,64,8", "2,768,36", "3,33,7", "5,100,13", "16,256,64", "17,47,5", "1,1,1", "9,40,130", "130,70,97", "4,64,300", "1,2048,520", "3,2048,520"})
    void packedWeightsMatchTheScalarReferenceAndAreTheSameRowByRow(int n, int in, int out) {
        Rng rng = new Rng(n * 1000L + in);
        Tensor x = random(rng, n, in), w1 = random(rng, out, in), w2 = random(rng, out + 3, in), b2 = random(rng, out + 3);
        LinearWeights[] packed = {VECTOR.prepare(w1, null), VECTOR.prepare(w2, b2)};
        LinearWeights[] plain = {SCALAR.prepare(w1, null), SCALAR.prepare(w2, b2)};
        assertThat(packed[0]).isInstanceOf(PackedWeights.class);
        assertThat(plain[1]).isEqualTo(new DenseWeights(w2, b2));
        assertThat(plain[1].extraBytes()).isZero();
        Tensor y1 = Tensor.zeros(n, out), y2 = Tensor.zeros(n, out + 3), r1 = Tensor.zeros(n, out), r2 = Tensor.zeros(n, out + 3);
        VECTOR.project(n, x, packed, new Tensor[]{y1, y2});
        SCALAR.project(n, x, plain, new Tensor[]{r1, r2});
        for (int i = 0; i < y1.size(); i++) assertThat(y1.get(i)).isCloseTo(r1.get(i), org.assertj.core.api.Assertions.within(1e-4f * in));
        for (int i = 0; i < y2.size(); i++) assertThat(y2.get(i)).isCloseTo(r2.get(i), org.assertj.core.api.Assertions.within(1e-4f * in));
        // every row alone, and every split of the rows, gives bit-for-bit the outputs of the whole batch
        for (int i = 0; i < n; i++) {
            Tensor[] one = {Tensor.zeros(1, out), Tensor.zeros(1, out + 3)};
            VECTOR.project(1, x.rows(i, i + 1), packed, one);
            assertThat(one[0].toArray()).isEqualTo(y1.rows(i, i + 1).toArray());
            assertThat(one[1].toArray()).isEqualTo(y2.rows(i, i + 1).toArray());
            Tensor[] one2 = {Tensor.zeros(1, out), Tensor.zeros(1, out + 3)};
            SCALAR.project(1, x.rows(i, i + 1), plain, one2);
            assertThat(one2[0].toArray()).isEqualTo(r1.rows(i, i + 1).toArray());
        }
        if (n >= 3) {
            int cut = n / 3;
            Tensor tail = Tensor.zeros(n - cut, out + 3);
            ((PackedWeights) packed[1]).multiply(Parallel.of(1), n - cut, x.data(), x.offset() + cut * in, in, tail.data(), 0, out + 3);
            assertThat(tail.toArray()).isEqualTo(y2.rows(cut, n).toArray());
        }
    }

    @ParameterizedTest
    @CsvSource({"1", "7", "16", "33", "64"})
    void dotMatchesTheScalarReference(int len) {
        Rng rng = new Rng(len);
        float[] a = random(rng, len + 3).data(), b = random(rng, len + 5).data();
        assertThat(VECTOR.dot(a, 3, b, 5, len))
                .isCloseTo(SCALAR.dot(a, 3, b, 5, len), org.assertj.core.api.Assertions.within(1e-4f * len));
    }

    @org.junit.jupiter.api.Test
    void projectRefusesWeightsPreparedByTheOtherKernels() {
        Rng rng = new Rng(3);
        Tensor x = random(rng, 2, 8), w = random(rng, 4, 8);
        Tensor[] y = {Tensor.zeros(2, 4)};
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> VECTOR.project(2, x, new LinearWeights[]{SCALAR.prepare(w, null)}, y))
                .isInstanceOf(IllegalArgumentException.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> SCALAR.project(2, x, new LinearWeights[]{VECTOR.prepare(w, null)}, y))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest
    @CsvSource({"1,16", "5,32", "17,64", "40,24", "3,128", "70,200", "2,7"})
    void softmaxAndWeightedRowsMatchTheScalarReference(int count, int hd) {
        Rng rng = new Rng(count * 31L + hd);
        float[] p1 = random(rng, count + 2).data(), p2 = p1.clone();
        for (int i = 0; i < p1.length; i++) { p1[i] *= 8; p2[i] = p1[i]; }
        VECTOR.softmax(p1, 2, count);
        SCALAR.softmax(p2, 2, count);
        double total = 0;
        for (int i = 2; i < count + 2; i++) {
            assertThat(p1[i]).isCloseTo(p2[i], org.assertj.core.api.Assertions.within(1e-6f));
            total += p1[i];
        }
        assertThat(total).isCloseTo(1.0, org.assertj.core.api.Assertions.within(1e-5));
        int rowLen = hd + 9;
        float[] V = random(rng, count * rowLen + 5).data();
        int[] idx = new int[count + 1];
        for (int j = 0; j < count; j++) idx[j + 1] = ((j * 7) % count) * rowLen;
        for (int mode = 0; mode < 2; mode++) {
            float[] o1 = random(rng, hd + 4).data(), o2 = o1.clone();
            int[] ix = mode == 0 ? idx : null;
            VECTOR.weightedRows(p1, 2, count, V, ix, 1, 3, rowLen, o1, 4, hd);
            SCALAR.weightedRows(p1, 2, count, V, ix, 1, 3, rowLen, o2, 4, hd);
            for (int i = 0; i < o1.length; i++) assertThat(o1[i]).isCloseTo(o2[i], org.assertj.core.api.Assertions.within(1e-4f));
        }
    }

    /**
     * 16-bit KV rows (bfloat16, float16): each kernel set's dot and weighted rows over them give, bit for bit, what it gives over
     * the same values in float32, and the vector kernels agree with the scalar reference; odd lengths, offsets and tails.
     */
    @ParameterizedTest
    @CsvSource({"1,1", "3,7", "5,16", "17,33", "40,64", "9,100", "64,128", "2,67"})
    void halfKvRowsGiveTheFloat32Sums(int count, int hd) {
        for (dev.lamina.tensor.Precision f : new dev.lamina.tensor.Precision[] {dev.lamina.tensor.Precision.BF16, dev.lamina.tensor.Precision.FP16}) {
            Rng rng = new Rng(count * 131L + hd + f.ordinal());
            int rowLen = hd + 5;
            short[] bits = new short[count * rowLen + 3];
            float[] wide = new float[bits.length];
            for (int i = 0; i < bits.length; i++) {
                float v = (float) rng.nextGaussian() * 3;
                bits[i] = f == dev.lamina.tensor.Precision.FP16 ? Float.floatToFloat16(v) : dev.lamina.tensor.Precision.bf16Bits(v);
                wide[i] = f == dev.lamina.tensor.Precision.FP16 ? Float.float16ToFloat(bits[i]) : Float.intBitsToFloat(bits[i] << 16);
            }
            float[] q = random(rng, hd + 6).data();
            for (KernelSet k : new KernelSet[] {VECTOR, SCALAR})
                for (int j = 0; j < count; j++) {
                    float want = k.dot(q, 3, wide, 2 + j * rowLen, hd);
                    assertThat(k.dot(q, 3, bits, 2 + j * rowLen, hd, f)).as(f + " dot, row " + j).isEqualTo(want);
                }
            for (int j = 0; j < count; j++)
                assertThat(VECTOR.dot(q, 3, bits, 2 + j * rowLen, hd, f))
                        .isCloseTo(SCALAR.dot(q, 3, bits, 2 + j * rowLen, hd, f), org.assertj.core.api.Assertions.within(1e-4f * hd * 9));
            float[] p = random(rng, count + 2).data();
            int[] idx = new int[count + 1];
            for (int j = 0; j < count; j++) idx[j + 1] = ((j * 7) % count) * rowLen;
            float[] start = random(rng, hd + 4).data(), byVector = null;
            for (KernelSet k : new KernelSet[] {VECTOR, SCALAR}) {
                float[] o16 = start.clone(), o32 = start.clone();
                k.weightedRows(p, 2, count, bits, f, idx, 1, 2, o16, 4, hd);
                k.weightedRows(p, 2, count, wide, idx, 1, 2, 0, o32, 4, hd);
                assertThat(o16).as(f + " weighted rows").isEqualTo(o32);
                assertThat(o16).isNotEqualTo(start);
                if (byVector == null) byVector = o16;
                else for (int i = 0; i < o16.length; i++) assertThat(byVector[i]).isCloseTo(o16[i], org.assertj.core.api.Assertions.within(1e-3f));
            }
        }
    }

    /** Scores of one query over many keys, several at a time, are each key's dot (times the scale) bit for bit: float32 and 16-bit rows. */
    @ParameterizedTest
    @CsvSource({"1,64", "3,64", "4,32", "7,128", "9,80", "13,16", "5,7", "33,64", "6,48"})
    void scoresAreEachKeysDot(int count, int hd) {
        Rng rng = new Rng(count * 17L + hd);
        int rowLen = hd + 3;
        float[] K = random(rng, (count + 2) * rowLen).data(), q = random(rng, hd + 5).data();
        short[] bits = new short[K.length];
        for (int i = 0; i < K.length; i++) bits[i] = Float.floatToFloat16(K[i]);
        int[] idx = new int[count + 2];
        for (int j = 0; j < count; j++) idx[j + 2] = ((j * 5) % count) * rowLen;
        float scale = 0.125f;
        for (KernelSet k : new KernelSet[] {VECTOR, SCALAR}) {
            float[] byIdx = new float[count + 3], byStride = new float[count + 3], half = new float[count + 3];
            k.scores(q, 5, K, idx, 2, 1, 0, count, scale, byIdx, 3, hd);
            k.scores(q, 5, K, null, 0, 2, rowLen, count, scale, byStride, 3, hd);
            k.scores(q, 5, bits, dev.lamina.tensor.Precision.FP16, idx, 2, 1, count, scale, half, 3, hd);
            for (int j = 0; j < count; j++) {
                assertThat(byIdx[3 + j]).as("key " + j).isEqualTo(k.dot(q, 5, K, idx[j + 2] + 1, hd) * scale);
                assertThat(byStride[3 + j]).as("key " + j).isEqualTo(k.dot(q, 5, K, 2 + j * rowLen, hd) * scale);
                assertThat(half[3 + j]).as("16-bit key " + j).isEqualTo(k.dot(q, 5, bits, idx[j + 2] + 1, hd, dev.lamina.tensor.Precision.FP16) * scale);
            }
            assertThat(byIdx[0]).isZero();                   // nothing written before oOff
        }
    }
}
