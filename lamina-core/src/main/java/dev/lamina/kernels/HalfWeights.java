package dev.lamina.kernels;

import dev.lamina.io.LaminaException;
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
 * A weight matrix w[out, in] in 16 bits, laid out as {@link PackedWeights}' panels: bfloat16 (a
 * float32's high half, rounded to nearest even: the form most Hugging Face checkpoints are published
 * in) or IEEE float16 (the F16 of GGUF files and of older checkpoints). Half the bytes of float32,
 * which is what a decoded token has to read.
 *
 * <p>A product widens one panel at a time into float32 (into a per-thread buffer of in × NR floats
 * that stays in cache) and runs {@link PackedWeights}' kernels on it; a decoded row widens in
 * registers. Either way every output is the same chain of fused multiply-adds as float32 weights
 * holding the 16-bit values: the two agree bit for bit, whatever the batch. The scalar reference
 * likewise computes what it computes for float32 weights ({@link ScalarKernels#project}).
 *
 * <p>Widening is exact integer work: bfloat16 shifts left by 16; float16 moves its sign, exponent
 * and mantissa into float32's places (a shift and a mask) and multiplies by 2^112 to rebias the
 * exponent, which is exact for normal and subnormal halves alike. Infinities and NaNs would come out
 * finite that way, so a float16 matrix must be finite: {@link #pack} refuses one that is not.
 */
public final class HalfWeights implements PanelWeights {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final VectorSpecies<Short> S16 = VectorSpecies.of(short.class, VectorShape.forBitSize(S.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> SI = VectorSpecies.of(int.class, S.vectorShape());
    static final int NR = PackedWeights.NR;
    /** float16 → float32: the sign, exponent and mantissa bits in place after a shift by 13, then × 2^(127 − 15). */
    private static final int FP16_BITS = 0x8fffe000;
    private static final float FP16_REBIAS = 0x1p112f;

    final Precision format;  // BF16 or FP16
    final int out, in, panels;
    final short[] data;      // [panels][in][NR]: the 16-bit values, zero past out
    final Tensor bias;

    private HalfWeights(Precision format, int out, int in, short[] data, Tensor bias) {
        this.format = format;
        this.out = out;
        this.in = in;
        this.panels = (out + NR - 1) / NR;
        this.data = data;
        this.bias = bias;
    }

    /** One output row's 16-bit values. */
    public interface Rows {
        /** Fills bits[in] with output row o's values in the format. */
        void row(int o, short[] bits);
    }

    /**
     * w[out, in] rounded to format (BF16 or FP16, nearest even) and packed, a float32 copy of bias[out]
     * kept (may be null), on the pool's threads. A value beyond float16's range (±65504, or an infinity
     * or NaN) is refused for FP16.
     */
    public static HalfWeights pack(Parallel pool, Tensor w, Tensor bias, Precision format) {
        float[] W = w.data();
        int wo = w.offset(), in = w.dim(1);
        boolean fp16 = format == Precision.FP16;
        return of(pool, format, w.dim(0), in, (o, bits) -> {
            for (int k = 0, src = wo + o * in; k < in; k++)
                bits[k] = fp16 ? Float.floatToFloat16(W[src + k]) : Precision.bf16Bits(W[src + k]);
        }, bias);
    }

    /** Bytes of the one array {@link #of} allocates for out × in weights, on this machine's vectors: for a memory plan made before loading. */
    public static long[] arrays(int out, int in) { return new long[] {(long) Short.BYTES * ((out + NR - 1) / NR) * in * NR}; }

    /**
     * Weights [out, in] from rows already in format (BF16 or FP16, such as a GGUF file's matrices as they
     * are), packed on the pool's threads; bias[out] may be null (copied). A float16 infinity or NaN is refused.
     */
    public static HalfWeights of(Parallel pool, Precision format, int out, int in, Rows rows, Tensor bias) {
        if (format != Precision.BF16 && format != Precision.FP16) throw new IllegalArgumentException("16-bit weights in " + format);
        int panels = (out + NR - 1) / NR;
        long size = (long) panels * in * NR;
        if (size > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("weight too large to pack: " + out + "x" + in);
        short[] d = new short[(int) size];
        int[] refused = {-1};                        // set from any thread: an output row float16 cannot hold finite
        pool.forRange(panels, (p0, p1) -> {
            short[] row = new short[in];
            for (int p = p0; p < p1; p++) {
                int cols = Math.min(NR, out - p * NR), base = p * in * NR;
                for (int c = 0; c < cols; c++) {
                    rows.row(p * NR + c, row);
                    for (int k = 0, dst = base + c; k < in; k++, dst += NR) {
                        short h = row[k];
                        if (format == Precision.FP16 && (h & 0x7c00) == 0x7c00) refused[0] = p * NR + c;
                        d[dst] = h;
                    }
                }
            }
        });
        if (refused[0] >= 0)
            throw new LaminaException("a weight matrix [" + out + ", " + in + "] holds a value outside float16's finite range (±65504) in row "
                    + refused[0] + ": use --weights bf16 or f32");
        return new HalfWeights(format, out, in, d, bias == null ? null : Tensor.of(bias.toArray(), out));
    }

    @Override public int out() { return out; }
    @Override public int in() { return in; }
    @Override public int panels() { return panels; }
    @Override public int panelWidth() { return NR; }
    @Override public long extraBytes() { return (long) data.length * Short.BYTES; }

    /** The 16-bit format, BF16 or FP16. */
    public Precision format() { return format; }

    private float widen(short h) { return format == Precision.FP16 ? Float.float16ToFloat(h) : Float.intBitsToFloat(h << 16); }

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
        boolean fp16 = format == Precision.FP16;
        for (int p = p0; p < p1; p++) {
            if (n == 1 && (p + 1) * NR <= out) {                 // decoding: widen in registers, the weights read once from memory
                if (PackedWeights.VECS == 4) {
                    if (fp16) k1x4Fp16(in, X, xOff, data, p * len, Y, yOff + p * NR);
                    else k1x4Bf16(in, X, xOff, data, p * len, Y, yOff + p * NR);
                } else {
                    if (fp16) k1x2Fp16(in, X, xOff, data, p * len, Y, yOff + p * NR);
                    else k1x2Bf16(in, X, xOff, data, p * len, Y, yOff + p * NR);
                }
                continue;
            }
            widenPanel(fp16, data, p * len, P, len);
            PackedWeights.panel(n, in, out, p, X, xOff, ldx, P, 0, Y, yOff, ldy);
        }
        PackedWeights.addBias(bias, n, out, Y, yOff, ldy, p0, p1);
    }

    /** The L shorts from i, sign-extended to ints. */
    private static IntVector shorts(short[] P, int i) {
        return (IntVector) ShortVector.fromArray(S16, P, i).convertShape(VectorOperators.S2I, SI, 0);
    }

    /** L bfloat16 values from P[i] as float32 (also the 16-bit KV cache's). */
    static FloatVector bf16(short[] P, int i) {
        return shorts(P, i).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** Finite float16 values: the sign-extended bits shifted into float32's places, masked, rebiased by a product. */
    static FloatVector fp16(IntVector h) {
        return h.lanewise(VectorOperators.LSHL, 13).and(FP16_BITS).reinterpretAsFloats().mul(FP16_REBIAS);
    }

    /** L finite float16 values from P[i] as float32 (also the 16-bit KV cache's). */
    static FloatVector fp16(short[] P, int i) { return fp16(shorts(P, i)); }

    // One row × a panel, as PackedWeights' k1x4 and k1x2: y[c] = fma chain over k of x[k]·w[k][c], from 0. One method per
    // format and width (a test of the format inside the loop would rest on the JIT unswitching it).

    private static void k1x4Bf16(int in, float[] X, int x0, short[] P, int b, float[] Y, int y0) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
        for (int k = 0, pb = b; k < in; k++, pb += NR) {
            FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
            c0 = a.fma(bf16(P, pb), c0); c1 = a.fma(bf16(P, pb + L), c1);
            c2 = a.fma(bf16(P, pb + 2 * L), c2); c3 = a.fma(bf16(P, pb + 3 * L), c3);
        }
        c0.intoArray(Y, y0); c1.intoArray(Y, y0 + L); c2.intoArray(Y, y0 + 2 * L); c3.intoArray(Y, y0 + 3 * L);
    }

    private static void k1x4Fp16(int in, float[] X, int x0, short[] P, int b, float[] Y, int y0) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
        for (int k = 0, pb = b; k < in; k++, pb += NR) {
            FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
            c0 = a.fma(fp16(P, pb), c0); c1 = a.fma(fp16(P, pb + L), c1);
            c2 = a.fma(fp16(P, pb + 2 * L), c2); c3 = a.fma(fp16(P, pb + 3 * L), c3);
        }
        c0.intoArray(Y, y0); c1.intoArray(Y, y0 + L); c2.intoArray(Y, y0 + 2 * L); c3.intoArray(Y, y0 + 3 * L);
    }

    private static void k1x2Bf16(int in, float[] X, int x0, short[] P, int b, float[] Y, int y0) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0;
        for (int k = 0, pb = b; k < in; k++, pb += NR) {
            FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
            c0 = a.fma(bf16(P, pb), c0); c1 = a.fma(bf16(P, pb + L), c1);
        }
        c0.intoArray(Y, y0); c1.intoArray(Y, y0 + L);
    }

    private static void k1x2Fp16(int in, float[] X, int x0, short[] P, int b, float[] Y, int y0) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0;
        for (int k = 0, pb = b; k < in; k++, pb += NR) {
            FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
            c0 = a.fma(fp16(P, pb), c0); c1 = a.fma(fp16(P, pb + L), c1);
        }
        c0.intoArray(Y, y0); c1.intoArray(Y, y0 + L);
    }

    /** dst[0, len) = the float32 values of src[from, from + len); len is a multiple of NR (a whole number of vectors). */
    private static void widenPanel(boolean fp16, short[] src, int from, float[] dst, int len) {
        if (fp16) for (int i = 0; i < len; i += L) fp16(src, from + i).intoArray(dst, i);
        else for (int i = 0; i < len; i += L) bf16(src, from + i).intoArray(dst, i);
    }
}
