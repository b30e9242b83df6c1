package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * A weight matrix w[out, in] in 8-bit blocks, llama.cpp's Q8_0: each run of 32 inputs of an output
 * row is 32 signed bytes q and one scale d (a float16 value), w ≈ q·d. A quarter of float32's bytes
 * (plus 1/16 for the scales), which is what decoding one token at a time is bound by.
 *
 * <p>Quantization is ggml's {@code quantize_row_q8_0_ref}: d = max|w| / 127 rounded to float16,
 * q = round(w / d) half away from zero (with the reciprocal of the unrounded d, as ggml does), so
 * the weights are bit for bit those of a Q8_0 GGUF file made from the same floats.
 *
 * <p>Laid out like {@link PackedWeights}: panels of NR = 2 vectors of output columns, the bytes
 * interleaved along k ({@code q[p][k][c]}) and the scales per block ({@code d[p][k / 32][c]}), zero
 * past out. The product dequantizes in registers and keeps float32 arithmetic: every output is the
 * chain fma(x[k], q·d, acc) over k = 0, 1, ... from 0, the same whatever the number of rows, and
 * exactly the float32 product with the dequantized weights ({@link #dequantize}). The scalar
 * reference computes the same chain, so the two agree bit for bit.
 */
public final class Q8Weights implements PanelWeights {
    /** Inputs per block. */
    public static final int BLOCK = 32;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Bytes loaded per vector of L floats (at least 8: the smallest byte vector). */
    private static final VectorSpecies<Byte> B = L >= 16 ? ByteVector.SPECIES_128 : ByteVector.SPECIES_64;
    /** Output columns per panel: 2 vectors (8 accumulators, 2 weight and 2 scale vectors in the 4-row kernel: 13 registers). */
    static final int NR = 2 * L;

    final int out, in, block, panels, blocks;
    final byte[] q;     // [panels][in][NR] (+ slack: the narrowest byte load reads 8 bytes)
    final float[] d;    // [panels][blocks][NR]
    final Tensor bias;

    private Q8Weights(int out, int in, int block, byte[] q, float[] d, Tensor bias) {
        this.out = out;
        this.in = in;
        this.block = block;
        this.panels = (out + NR - 1) / NR;
        this.blocks = (in + block - 1) / block;
        this.q = q;
        this.d = d;
        this.bias = bias;
    }

    /** Quantizes w[out, in] (bias[out] kept as float, may be null), on the pool's threads. */
    public static Q8Weights quantize(Parallel pool, Tensor w, Tensor bias) {
        int out = w.dim(0), in = w.dim(1), panels = (out + NR - 1) / NR, blocks = (in + BLOCK - 1) / BLOCK;
        long bytes = (long) panels * in * NR;
        if (bytes > Integer.MAX_VALUE - 64) throw new IllegalArgumentException("weight too large to quantize: " + out + "x" + in);
        byte[] q = new byte[(int) bytes + 8];
        float[] d = new float[panels * blocks * NR];
        float[] W = w.data();
        int wo = w.offset();
        pool.forRange(panels, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int cols = Math.min(NR, out - p * NR), qBase = p * in * NR, dBase = p * blocks * NR;
                for (int c = 0; c < cols; c++) {
                    int row = wo + (p * NR + c) * in;
                    for (int b = 0; b < blocks; b++) {
                        int k0 = b * BLOCK, k1 = Math.min(in, k0 + BLOCK);
                        float amax = 0;
                        for (int k = k0; k < k1; k++) amax = Math.max(amax, Math.abs(W[row + k]));
                        float scale = amax / 127f, inv = scale != 0 ? 1f / scale : 0f;
                        d[dBase + b * NR + c] = Float.float16ToFloat(Float.floatToFloat16(scale));
                        for (int k = k0; k < k1; k++) q[qBase + k * NR + c] = (byte) roundHalfAway(W[row + k] * inv);
                    }
                }
            }
        });
        return new Q8Weights(out, in, BLOCK, q, d, bias);
    }

    /** One output row's quants and block scales, as a source holds them (a GGUF tensor). */
    public interface Rows {
        /** Fills q[in] and d[blocks] for output row o. */
        void row(int o, byte[] q, float[] d);
    }

    /**
     * Packs out rows of in inputs from rows (each read once, on the pool's threads) in blocks of
     * block inputs, w = q·d: Q8_0's blocks of 32, or Q6_K's sub-blocks of 16 with q − 32 and the
     * scale d·sc. bias[out] may be null.
     */
    public static Q8Weights pack(Parallel pool, int out, int in, int block, Rows rows, Tensor bias) {
        int panels = (out + NR - 1) / NR, blocks = (in + block - 1) / block;
        long bytes = (long) panels * in * NR;
        if (bytes > Integer.MAX_VALUE - 64) throw new IllegalArgumentException("weight too large: " + out + "x" + in);
        byte[] q = new byte[(int) bytes + 8];
        float[] d = new float[panels * blocks * NR];
        pool.forRange(panels, (p0, p1) -> {
            byte[] rq = new byte[in];
            float[] rd = new float[blocks];
            for (int p = p0; p < p1; p++) {
                int cols = Math.min(NR, out - p * NR), qBase = p * in * NR, dBase = p * blocks * NR;
                for (int c = 0; c < cols; c++) {
                    rows.row(p * NR + c, rq, rd);
                    for (int k = 0; k < in; k++) q[qBase + k * NR + c] = rq[k];
                    for (int b = 0; b < blocks; b++) d[dBase + b * NR + c] = rd[b];
                }
            }
        });
        return new Q8Weights(out, in, block, q, d, bias);
    }

    /** C's roundf: to the nearest integer, halves away from zero. */
    static int roundHalfAway(float v) {
        return (int) Math.copySign(Math.floor(Math.abs(v) + 0.5f), v);
    }

    @Override public int out() { return out; }
    @Override public int in() { return in; }
    @Override public int panels() { return panels; }
    @Override public int panelWidth() { return NR; }
    @Override public long extraBytes() { return (long) q.length + (long) d.length * Float.BYTES; }

    /** The weights as float32, w[o, k] = q·d: what the product computes with. */
    public Tensor dequantize() {
        Tensor w = Tensor.zeros(out, in);
        dequantizeInto(w.data(), 0);
        return w;
    }

    /** The weights as float32 into dst[off..off + out·in), row-major. */
    @Override
    public void dequantizeInto(float[] dst, int off) {
        for (int o = 0; o < out; o++) {
            int p = o / NR, c = o % NR;
            for (int k = 0; k < in; k++) dst[off + o * in + k] = weight(p, c, k);
        }
    }

    /** The dequantized weight of column c of panel p at input k. */
    float weight(int p, int c, int k) {
        return q[p * in * NR + k * NR + c] * d[p * blocks * NR + (k / block) * NR + c];
    }

    // ---- the product ------------------------------------------------------------------------

    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[4 * NR]);

    /** From this many rows a quantized panel is dequantized once and multiplied by the float kernels. */
    static final int FLOAT_PANEL_ROWS = 6;

    /**
     * Panels [p0, p1) for all rows, on the calling thread. From {@link #FLOAT_PANEL_ROWS} rows
     * (prefill) each panel is dequantized once into float32 and multiplied by the float kernels;
     * fewer rows (decode) dequantize in registers, four rows at a time, then one. The chains, and so
     * the results, are the same either way.
     */
    @Override
    public void range(int n, float[] X, int xOff, int ldx, float[] Y, int yOff, int ldy, int p0, int p1) {
        if (n >= FLOAT_PANEL_ROWS) {
            float[] panel = PackedWeights.panelBuffer(in * NR);
            for (int p = p0; p < p1; p++) {
                dequantizePanel(p, panel);
                PackedWeights.multiplyPanel(n, in, panel, X, xOff, ldx, Y, yOff, ldy, p * NR, Math.min(NR, out - p * NR));
            }
            addBias(n, Y, yOff, ldy, p0, p1);
            return;
        }
        float[] tile = TILE.get();
        for (int p = p0; p < p1; p++) {
            int qb = p * in * NR, db = p * blocks * NR;
            boolean full = (p + 1) * NR <= out;
            int i = 0;
            for (; i + 4 <= n; i += 4) {
                if (full) k4(in, block, X, xOff + i * ldx, ldx, q, qb, d, db, Y, yOff + i * ldy + p * NR, ldy);
                else {
                    k4(in, block, X, xOff + i * ldx, ldx, q, qb, d, db, tile, 0, NR);
                    for (int r = 0; r < 4; r++) store(tile, r * NR, Y, yOff + (i + r) * ldy, p);
                }
            }
            for (; i < n; i++) {
                if (full) k1(in, block, X, xOff + i * ldx, q, qb, d, db, Y, yOff + i * ldy + p * NR);
                else {
                    k1(in, block, X, xOff + i * ldx, q, qb, d, db, tile, 0);
                    store(tile, 0, Y, yOff + i * ldy, p);
                }
            }
        }
        addBias(n, Y, yOff, ldy, p0, p1);
    }

    private void addBias(int n, float[] Y, int yOff, int ldy, int p0, int p1) {
        if (bias == null) return;
        float[] Bv = bias.data();
        int bo = bias.offset(), o0 = p0 * NR, o1 = Math.min(out, p1 * NR);
        for (int i = 0; i < n; i++)
            for (int o = o0; o < o1; o++) Y[yOff + i * ldy + o] += Bv[bo + o];
    }

    /** Panel p's weights as float32 [in][NR], as the kernels dequantize them (q·d). */
    private void dequantizePanel(int p, float[] panel) {
        int qb = p * in * NR;
        for (int k0 = 0, dq = p * blocks * NR; k0 < in; k0 += block, dq += NR) {
            FloatVector d0 = FloatVector.fromArray(S, d, dq), d1 = FloatVector.fromArray(S, d, dq + L);
            for (int k = k0, end = Math.min(in, k0 + block), qk = qb + k0 * NR; k < end; k++, qk += NR) {
                ((FloatVector) ByteVector.fromArray(B, q, qk).convertShape(VectorOperators.B2F, S, 0)).mul(d0).intoArray(panel, k * NR);
                ((FloatVector) ByteVector.fromArray(B, q, qk + L).convertShape(VectorOperators.B2F, S, 0)).mul(d1).intoArray(panel, k * NR + L);
            }
        }
    }

    private void store(float[] tile, int t, float[] Y, int y0, int p) {
        int o = p * NR, cols = Math.min(NR, out - o);
        if (cols > 0) System.arraycopy(tile, t, Y, y0 + o, cols);
    }

    /** One row × a panel: per k two byte loads, widened, scaled and multiplied into 2 accumulators. */
    private static void k1(int in, int block, float[] X, int x0, byte[] Q, int qb, float[] D, int db, float[] Y, int y0) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0;
        for (int k0 = 0, dq = db; k0 < in; k0 += block, dq += NR) {
            FloatVector d0 = FloatVector.fromArray(S, D, dq), d1 = FloatVector.fromArray(S, D, dq + L);
            for (int k = k0, end = Math.min(in, k0 + block), qk = qb + k0 * NR; k < end; k++, qk += NR) {
                FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
                FloatVector w0 = ((FloatVector) ByteVector.fromArray(B, Q, qk).convertShape(VectorOperators.B2F, S, 0)).mul(d0);
                FloatVector w1 = ((FloatVector) ByteVector.fromArray(B, Q, qk + L).convertShape(VectorOperators.B2F, S, 0)).mul(d1);
                c0 = a.fma(w0, c0);
                c1 = a.fma(w1, c1);
            }
        }
        c0.intoArray(Y, y0);
        c1.intoArray(Y, y0 + L);
    }

    /** Four rows × a panel: the widened weights of each k serve four rows (8 accumulators). */
    private static void k4(int in, int block, float[] X, int x0, int ldx, byte[] Q, int qb, float[] D, int db, float[] Y, int y0, int ldy) {
        int x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        for (int k0 = 0, dq = db; k0 < in; k0 += block, dq += NR) {
            FloatVector d0 = FloatVector.fromArray(S, D, dq), d1 = FloatVector.fromArray(S, D, dq + L);
            for (int k = k0, end = Math.min(in, k0 + block), qk = qb + k0 * NR; k < end; k++, qk += NR) {
                FloatVector w0 = ((FloatVector) ByteVector.fromArray(B, Q, qk).convertShape(VectorOperators.B2F, S, 0)).mul(d0);
                FloatVector w1 = ((FloatVector) ByteVector.fromArray(B, Q, qk + L).convertShape(VectorOperators.B2F, S, 0)).mul(d1);
                FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
                c00 = a.fma(w0, c00); c01 = a.fma(w1, c01);
                a = FloatVector.broadcast(S, X[x1 + k]);
                c10 = a.fma(w0, c10); c11 = a.fma(w1, c11);
                a = FloatVector.broadcast(S, X[x2 + k]);
                c20 = a.fma(w0, c20); c21 = a.fma(w1, c21);
                a = FloatVector.broadcast(S, X[x3 + k]);
                c30 = a.fma(w0, c30); c31 = a.fma(w1, c31);
            }
        }
        c00.intoArray(Y, y0); c01.intoArray(Y, y0 + L);
        c10.intoArray(Y, y0 + ldy); c11.intoArray(Y, y0 + ldy + L);
        c20.intoArray(Y, y0 + 2 * ldy); c21.intoArray(Y, y0 + 2 * ldy + L);
        c30.intoArray(Y, y0 + 3 * ldy); c31.intoArray(Y, y0 + 3 * ldy + L);
    }

    /** The scalar reference's product: the same chain per output, one float at a time. */
    static void multiplyScalar(int n, float[] X, int xOff, int ldx, Q8Weights w, float[] Y, int yOff, int ldy, int o0, int o1) {
        for (int i = 0; i < n; i++)
            for (int o = o0; o < o1; o++) {
                int p = o / NR, c = o % NR;
                float acc = 0;
                for (int k = 0; k < w.in; k++) acc = Math.fma(X[xOff + i * ldx + k], w.weight(p, c, k), acc);
                Y[yOff + i * ldy + o] = w.bias == null ? acc : acc + w.bias.get(o);
            }
    }
}
