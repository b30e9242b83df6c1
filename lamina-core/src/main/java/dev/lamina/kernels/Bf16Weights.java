package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Precision;
import dev.lamina.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * A weight matrix w[out, in] in bfloat16 (a float32's high half, rounded to nearest even), laid
 * out as {@link PackedWeights}' panels: half the bytes of float32, the form most Hugging Face
 * checkpoints are published in, and what a decoded token has to read.
 *
 * <p>A product widens one panel at a time into float32 (a shift per value, into a per-thread buffer
 * of in × NR floats that stays in cache) and runs {@link PackedWeights}' kernels on it, so every
 * output is the same chain of fused multiply-adds as float32 weights holding the bfloat16 values:
 * the two agree bit for bit, whatever the batch. The scalar reference likewise computes what it
 * computes for float32 weights ({@link ScalarKernels#project}).
 */
public final class Bf16Weights implements PanelWeights {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final VectorSpecies<Short> S16 = VectorSpecies.of(short.class, VectorShape.forBitSize(S.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> SI = VectorSpecies.of(int.class, S.vectorShape());
    static final int NR = PackedWeights.NR;

    final int out, in, panels;
    final short[] data;     // [panels][in][NR]: the high halves, zero past out
    final Tensor bias;

    private Bf16Weights(int out, int in, short[] data, Tensor bias) {
        this.out = out;
        this.in = in;
        this.panels = (out + NR - 1) / NR;
        this.data = data;
        this.bias = bias;
    }

    /** w[out, in] rounded to bfloat16 and packed (a float32 copy of bias[out] kept, may be null), on the pool's threads. */
    public static Bf16Weights pack(Parallel pool, Tensor w, Tensor bias) {
        int out = w.dim(0), in = w.dim(1), panels = (out + NR - 1) / NR;
        long size = (long) panels * in * NR;
        if (size > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("weight too large to pack: " + out + "x" + in);
        short[] d = new short[(int) size];
        float[] W = w.data();
        int wo = w.offset();
        pool.forRange(panels, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int cols = Math.min(NR, out - p * NR), base = p * in * NR;
                for (int c = 0; c < cols; c++) {
                    int src = wo + (p * NR + c) * in;
                    for (int k = 0, dst = base + c; k < in; k++, dst += NR) d[dst] = Precision.bf16Bits(W[src + k]);
                }
            }
        });
        return new Bf16Weights(out, in, d, bias == null ? null : Tensor.of(bias.toArray(), out));
    }

    @Override public int out() { return out; }
    @Override public int in() { return in; }
    @Override public int panels() { return panels; }
    @Override public int panelWidth() { return NR; }
    @Override public long extraBytes() { return (long) data.length * Short.BYTES; }

    private static float widen(short h) { return Float.intBitsToFloat(h << 16); }

    @Override
    public void dequantizeInto(float[] dst, int off) {
        for (int o = 0; o < out; o++) dequantizeRow(o, dst, off + o * in);
    }

    @Override
    public void dequantizeRow(int o, float[] dst, int off) {
        for (int k = 0, src = (o / NR) * in * NR + o % NR; k < in; k++, src += NR) dst[off + k] = widen(data[src]);
    }

    private static final ThreadLocal<float[][]> PANEL = ThreadLocal.withInitial(() -> new float[1][0]);

    @Override
    public void range(int n, float[] X, int xOff, int ldx, float[] Y, int yOff, int ldy, int p0, int p1) {
        float[][] holder = PANEL.get();
        int len = in * NR;
        if (holder[0].length < len) holder[0] = new float[len];
        float[] P = holder[0];
        for (int p = p0; p < p1; p++) {
            if (n == 1 && (p + 1) * NR <= out) {                 // decoding: widen in registers, the weights read once from memory
                if (PackedWeights.VECS == 4) k1x4(in, X, xOff, data, p * len, Y, yOff + p * NR);
                else k1x2(in, X, xOff, data, p * len, Y, yOff + p * NR);
                continue;
            }
            widenPanel(data, p * len, P, len);
            PackedWeights.panel(n, in, out, p, X, xOff, ldx, P, 0, Y, yOff, ldy);
        }
        PackedWeights.addBias(bias, n, out, Y, yOff, ldy, p0, p1);
    }

    private static FloatVector load(short[] P, int i) {
        return ((IntVector) ShortVector.fromArray(S16, P, i).convertShape(VectorOperators.S2I, SI, 0)).lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    /** One row × a 4-vector panel, as PackedWeights' k1x4: y[c] = fma chain over k of x[k]·w[k][c], from 0. */
    private static void k1x4(int in, float[] X, int x0, short[] P, int b, float[] Y, int y0) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
        for (int k = 0, pb = b; k < in; k++, pb += NR) {
            FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
            c0 = a.fma(load(P, pb), c0); c1 = a.fma(load(P, pb + L), c1);
            c2 = a.fma(load(P, pb + 2 * L), c2); c3 = a.fma(load(P, pb + 3 * L), c3);
        }
        c0.intoArray(Y, y0); c1.intoArray(Y, y0 + L); c2.intoArray(Y, y0 + 2 * L); c3.intoArray(Y, y0 + 3 * L);
    }

    /** One row × a 2-vector panel (16 registers). */
    private static void k1x2(int in, float[] X, int x0, short[] P, int b, float[] Y, int y0) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0;
        for (int k = 0, pb = b; k < in; k++, pb += NR) {
            FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
            c0 = a.fma(load(P, pb), c0); c1 = a.fma(load(P, pb + L), c1);
        }
        c0.intoArray(Y, y0); c1.intoArray(Y, y0 + L);
    }

    /** dst[0, len) = the float32 values of src[from, from + len); len is a multiple of NR (a whole number of vectors). */
    private static void widenPanel(short[] src, int from, float[] dst, int len) {
        for (int i = 0; i < len; i += L)
            ((IntVector) ShortVector.fromArray(S16, src, from + i).convertShape(VectorOperators.S2I, SI, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, i);
    }
}
