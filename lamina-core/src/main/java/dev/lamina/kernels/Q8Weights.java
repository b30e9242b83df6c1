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
 * past out. Blocks of 16 hold Q6_K ({@link #pack}). The other GGUF block types are held in this form
 * too, their quants widened to a byte (5-bit, 3-bit, 2-bit and code-book quants alike), with per
 * block an additive term m beside the scale for the types with minimums (w = q·d + m: Q4_1, Q5_1,
 * Q2_K, Q5_K).
 *
 * <p>The product is summed block by block, as llama.cpp's vec_dot does: per block the quants' dot
 * product with the inputs, s = Σ x[k]·q[k] (a chain of fused multiply-adds over k from 0), then
 * y ← d·s + y; with minimums the terms go in a chain of their own, u ← m·Σx + u (Σx the block's
 * input sum added in k order), added once at the end, y + u, as the 4-bit blocks' offsets are
 * ({@link BlockKernels#offsets}: every shape runs its kernel without terms, then that pass). A weight costs one widening and one multiply-add; the result is within float
 * rounding of the product with the dequantized weights ({@link #dequantize}). Every kernel shape
 * (one row, four rows, six rows on a panel widened once for a prompt) and the scalar reference
 * compute these same chains, so an output does not depend on the rows beside it.
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
    final float[] m;    // [panels][blocks][NR]: the additive term per block, or null (no minimums)
    final Tensor bias;

    private Q8Weights(int out, int in, int block, byte[] q, float[] d, float[] m, Tensor bias) {
        this.out = out;
        this.in = in;
        this.block = block;
        this.panels = (out + NR - 1) / NR;
        this.blocks = (in + block - 1) / block;
        this.q = q;
        this.d = d;
        this.m = m;
        this.bias = bias;
    }

    /** Quantizes w[out, in] (a copy of bias[out] kept as float, may be null), on the pool's threads. */
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
        return new Q8Weights(out, in, BLOCK, q, d, null, bias == null ? null : Tensor.of(bias.toArray(), out));
    }

    /** One output row's quants, block scales and (with minimums) block terms, as a source holds them (a GGUF tensor). */
    public interface Rows {
        /** Fills q[in], d[blocks] and, when not null, m[blocks] for output row o. */
        void row(int o, byte[] q, float[] d, float[] m);
    }

    /**
     * Bytes of each array {@link #pack} allocates for out × in weights in blocks of block (quants,
     * scales, then with minimums the terms), on this machine's vectors: for a memory plan made before loading.
     */
    public static long[] arrays(int out, int in, int block, boolean mins) {
        long panels = (out + NR - 1) / NR, perBlock = (long) Float.BYTES * panels * ((in + block - 1) / block) * NR;
        return mins ? new long[] {panels * in * NR + 8, perBlock, perBlock} : new long[] {panels * in * NR + 8, perBlock};
    }

    /**
     * Packs out rows of in inputs from rows (each read once, on the pool's threads) in blocks of
     * block inputs, w = q·d, or w = q·d + m with mins: Q8_0's blocks of 32, Q6_K's sub-blocks of 16
     * with q − 32 and the scale d·sc, and so on. bias[out] may be null.
     */
    public static Q8Weights pack(Parallel pool, int out, int in, int block, boolean mins, Rows rows, Tensor bias) {
        int panels = (out + NR - 1) / NR, blocks = (in + block - 1) / block;
        long bytes = (long) panels * in * NR;
        if (bytes > Integer.MAX_VALUE - 64) throw new IllegalArgumentException("weight too large: " + out + "x" + in);
        byte[] q = new byte[(int) bytes + 8];
        float[] d = new float[panels * blocks * NR], m = mins ? new float[panels * blocks * NR] : null;
        pool.forRange(panels, (p0, p1) -> {
            byte[] rq = new byte[in];
            float[] rd = new float[blocks], rm = mins ? new float[blocks] : null;
            for (int p = p0; p < p1; p++) {
                int cols = Math.min(NR, out - p * NR), qBase = p * in * NR, dBase = p * blocks * NR;
                for (int c = 0; c < cols; c++) {
                    rows.row(p * NR + c, rq, rd, rm);
                    for (int k = 0; k < in; k++) q[qBase + k * NR + c] = rq[k];
                    for (int b = 0; b < blocks; b++) d[dBase + b * NR + c] = rd[b];
                    if (mins) for (int b = 0; b < blocks; b++) m[dBase + b * NR + c] = rm[b];
                }
            }
        });
        return new Q8Weights(out, in, block, q, d, m, bias);
    }

    /** C's roundf: to the nearest integer, halves away from zero. */
    static int roundHalfAway(float v) {
        return (int) Math.copySign(Math.floor(Math.abs(v) + 0.5f), v);
    }

    @Override public int out() { return out; }
    @Override public int in() { return in; }
    @Override public int panels() { return panels; }
    @Override public int panelWidth() { return NR; }
    @Override public long extraBytes() { return (long) q.length + (long) (d.length + (m == null ? 0 : m.length)) * Float.BYTES; }

    /** The weights as float32, w[o, k] = q·d (+ m): what the product computes with. */
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

    @Override
    public void dequantizeRow(int o, float[] dst, int off) {
        for (int k = 0; k < in; k++) dst[off + k] = weight(o / NR, o % NR, k);
    }

    /** The dequantized weight of column c of panel p at input k: q·d, or q·d + m, as ggml computes it. */
    float weight(int p, int c, int k) {
        int s = p * blocks * NR + (k / block) * NR + c;
        float w = q[p * in * NR + k * NR + c] * d[s];
        return m == null ? w : w + m[s];
    }

    // ---- the product ------------------------------------------------------------------------

    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[BlockKernels.ROWS * NR]);
    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[4][0]);

    private static float[] buffer(int which, int size) {
        float[][] b = BUFFERS.get();
        if (b[which].length < size) b[which] = new float[size];
        return b[which];
    }

    /**
     * Panels [p0, p1) for all rows, on the calling thread: from {@link BlockKernels#ROWS} rows (a
     * prompt) each panel's quants are widened to float once and six rows at a time run on it (two
     * panels side by side with 32 vector registers, {@link BlockKernels#WIDE}); the other rows widen
     * the quants in registers, four rows at a time, then one. The chains are the same.
     */
    @Override
    public void range(int n, float[] X, int xOff, int ldx, float[] Y, int yOff, int ldy, int p0, int p1) {
        float[] tile = TILE.get(), panel = null, pd = null, pm = null, sx = null;
        int six = n >= BlockKernels.ROWS ? n - n % BlockKernels.ROWS : 0, wide = BlockKernels.WIDE ? 2 * NR : NR;
        if (m != null) BlockKernels.blockSums(n, in, block, X, xOff, ldx, sx = buffer(3, n * blocks));
        if (six > 0) {
            panel = buffer(0, in * wide);
            pd = buffer(1, blocks * wide);
            if (m != null) pm = buffer(2, blocks * wide);
        }
        boolean done = false;                     // panel p's prompt rows came with p − 1's, two panels wide
        for (int p = p0; p < p1; p++) {
            int qb = p * in * NR, db = p * blocks * NR;
            boolean full = (p + 1) * NR <= out;
            int i = 0;
            if (six > 0 && done) {
                i = six;
                done = false;
            } else if (six > 0 && BlockKernels.WIDE && p + 1 < p1 && (p + 2) * NR <= out) {
                widenPanel(p, panel, pd, pm, wide, 0);
                widenPanel(p + 1, panel, pd, pm, wide, NR);
                for (; i < six; i += BlockKernels.ROWS) {
                    BlockKernels.k6x4(in, block, panel, pd, X, xOff + i * ldx, ldx, Y, yOff + i * ldy + p * NR, ldy);
                    if (m != null) {
                        BlockKernels.offsets(BlockKernels.ROWS, blocks, pm, 0, wide, sx, i * blocks, Y, yOff + i * ldy + p * NR, ldy);
                        BlockKernels.offsets(BlockKernels.ROWS, blocks, pm, NR, wide, sx, i * blocks, Y, yOff + i * ldy + (p + 1) * NR, ldy);
                    }
                }
                done = true;
            } else if (six > 0) {
                widenPanel(p, panel, pd, pm, NR, 0);
                for (; i < six; i += BlockKernels.ROWS) {
                    if (full) {
                        BlockKernels.k6(in, block, panel, pd, X, xOff + i * ldx, ldx, Y, yOff + i * ldy + p * NR, ldy);
                        if (m != null) BlockKernels.offsets(BlockKernels.ROWS, blocks, pm, 0, NR, sx, i * blocks, Y, yOff + i * ldy + p * NR, ldy);
                    } else {
                        BlockKernels.k6(in, block, panel, pd, X, xOff + i * ldx, ldx, tile, 0, NR);
                        if (m != null) BlockKernels.offsets(BlockKernels.ROWS, blocks, pm, 0, NR, sx, i * blocks, tile, 0, NR);
                        for (int r = 0; r < BlockKernels.ROWS; r++) store(tile, r * NR, Y, yOff + (i + r) * ldy, p);
                    }
                }
            }
            for (; i + 4 <= n; i += 4) {
                if (full) {
                    k4(in, block, X, xOff + i * ldx, ldx, q, qb, d, db, Y, yOff + i * ldy + p * NR, ldy);
                    if (m != null) BlockKernels.offsets(4, blocks, m, db, NR, sx, i * blocks, Y, yOff + i * ldy + p * NR, ldy);
                } else {
                    k4(in, block, X, xOff + i * ldx, ldx, q, qb, d, db, tile, 0, NR);
                    if (m != null) BlockKernels.offsets(4, blocks, m, db, NR, sx, i * blocks, tile, 0, NR);
                    for (int r = 0; r < 4; r++) store(tile, r * NR, Y, yOff + (i + r) * ldy, p);
                }
            }
            for (; i < n; i++) {
                if (full) {
                    k1(in, block, X, xOff + i * ldx, q, qb, d, db, Y, yOff + i * ldy + p * NR);
                    if (m != null) BlockKernels.offsets(1, blocks, m, db, NR, sx, i * blocks, Y, yOff + i * ldy + p * NR, ldy);
                } else {
                    k1(in, block, X, xOff + i * ldx, q, qb, d, db, tile, 0);
                    if (m != null) BlockKernels.offsets(1, blocks, m, db, NR, sx, i * blocks, tile, 0, NR);
                    store(tile, 0, Y, yOff + i * ldy, p);
                }
            }
        }
        if (bias != null) {
            float[] Bv = bias.data();
            int bo = bias.offset(), o0 = p0 * NR, o1 = Math.min(out, p1 * NR);
            for (int i = 0; i < n; i++)
                for (int o = o0; o < o1; o++) Y[yOff + i * ldy + o] += Bv[bo + o];
        }
    }

    /** Panel p's quants as floats, row k at k·stride + off of panel; its scales likewise (row b) into pd, its terms into pm. */
    private void widenPanel(int p, float[] panel, float[] pd, float[] pm, int stride, int off) {
        for (int k = 0, qk = p * in * NR; k < in; k++, qk += NR) {
            ((FloatVector) ByteVector.fromArray(B, q, qk).convertShape(VectorOperators.B2F, S, 0)).intoArray(panel, k * stride + off);
            ((FloatVector) ByteVector.fromArray(B, q, qk + L).convertShape(VectorOperators.B2F, S, 0)).intoArray(panel, k * stride + off + L);
        }
        for (int b = 0; b < blocks; b++) System.arraycopy(d, p * blocks * NR + b * NR, pd, b * stride + off, NR);
        if (m != null) for (int b = 0; b < blocks; b++) System.arraycopy(m, p * blocks * NR + b * NR, pm, b * stride + off, NR);
    }

    private void store(float[] tile, int t, float[] Y, int y0, int p) {
        int o = p * NR, cols = Math.min(NR, out - o);
        if (cols > 0) System.arraycopy(tile, t, Y, y0 + o, cols);
    }

    /** One row × a panel: per block the quants' dot product in 2 accumulators, then scaled into the 2 totals. */
    private static void k1(int in, int block, float[] X, int x0, byte[] Q, int qb, float[] D, int db, float[] Y, int y0) {
        FloatVector z = FloatVector.zero(S), t0 = z, t1 = z;
        for (int k0 = 0, dq = db; k0 < in; k0 += block, dq += NR) {
            FloatVector c0 = z, c1 = z;
            for (int k = k0, end = Math.min(in, k0 + block), qk = qb + k0 * NR; k < end; k++, qk += NR) {
                FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
                c0 = a.fma((FloatVector) ByteVector.fromArray(B, Q, qk).convertShape(VectorOperators.B2F, S, 0), c0);
                c1 = a.fma((FloatVector) ByteVector.fromArray(B, Q, qk + L).convertShape(VectorOperators.B2F, S, 0), c1);
            }
            t0 = FloatVector.fromArray(S, D, dq).fma(c0, t0);
            t1 = FloatVector.fromArray(S, D, dq + L).fma(c1, t1);
        }
        t0.intoArray(Y, y0);
        t1.intoArray(Y, y0 + L);
    }

    /** Four rows × a panel: the widened quants of each k serve four rows (8 block accumulators; totals in Y). */
    private static void k4(int in, int block, float[] X, int x0, int ldx, byte[] Q, int qb, float[] D, int db, float[] Y, int y0, int ldy) {
        int x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx;
        FloatVector z = FloatVector.zero(S);
        for (int r = 0; r < 4; r++) { z.intoArray(Y, y0 + r * ldy); z.intoArray(Y, y0 + r * ldy + L); }
        for (int k0 = 0, dq = db; k0 < in; k0 += block, dq += NR) {
            FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
            for (int k = k0, end = Math.min(in, k0 + block), qk = qb + k0 * NR; k < end; k++, qk += NR) {
                FloatVector w0 = (FloatVector) ByteVector.fromArray(B, Q, qk).convertShape(VectorOperators.B2F, S, 0);
                FloatVector w1 = (FloatVector) ByteVector.fromArray(B, Q, qk + L).convertShape(VectorOperators.B2F, S, 0);
                FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
                c00 = a.fma(w0, c00); c01 = a.fma(w1, c01);
                a = FloatVector.broadcast(S, X[x1 + k]);
                c10 = a.fma(w0, c10); c11 = a.fma(w1, c11);
                a = FloatVector.broadcast(S, X[x2 + k]);
                c20 = a.fma(w0, c20); c21 = a.fma(w1, c21);
                a = FloatVector.broadcast(S, X[x3 + k]);
                c30 = a.fma(w0, c30); c31 = a.fma(w1, c31);
            }
            FloatVector d0 = FloatVector.fromArray(S, D, dq), d1 = FloatVector.fromArray(S, D, dq + L);
            d0.fma(c00, FloatVector.fromArray(S, Y, y0)).intoArray(Y, y0);
            d1.fma(c01, FloatVector.fromArray(S, Y, y0 + L)).intoArray(Y, y0 + L);
            d0.fma(c10, FloatVector.fromArray(S, Y, y0 + ldy)).intoArray(Y, y0 + ldy);
            d1.fma(c11, FloatVector.fromArray(S, Y, y0 + ldy + L)).intoArray(Y, y0 + ldy + L);
            d0.fma(c20, FloatVector.fromArray(S, Y, y0 + 2 * ldy)).intoArray(Y, y0 + 2 * ldy);
            d1.fma(c21, FloatVector.fromArray(S, Y, y0 + 2 * ldy + L)).intoArray(Y, y0 + 2 * ldy + L);
            d0.fma(c30, FloatVector.fromArray(S, Y, y0 + 3 * ldy)).intoArray(Y, y0 + 3 * ldy);
            d1.fma(c31, FloatVector.fromArray(S, Y, y0 + 3 * ldy + L)).intoArray(Y, y0 + 3 * ldy + L);
        }
    }

    /** The scalar reference's product: the same chains per output, one float at a time. */
    static void multiplyScalar(int n, float[] X, int xOff, int ldx, Q8Weights w, float[] Y, int yOff, int ldy, int o0, int o1) {
        for (int i = 0; i < n; i++)
            for (int o = o0; o < o1; o++) {
                int p = o / NR, c = o % NR, x0 = xOff + i * ldx;
                float total = 0, terms = 0;
                for (int b = 0; b < w.blocks; b++) {
                    float s = 0, sum = 0;
                    for (int k = b * w.block, end = Math.min(w.in, k + w.block); k < end; k++) {
                        s = Math.fma(X[x0 + k], (float) w.q[p * w.in * NR + k * NR + c], s);
                        sum += X[x0 + k];
                    }
                    int at = p * w.blocks * NR + b * NR + c;
                    total = Math.fma(w.d[at], s, total);
                    if (w.m != null) terms = Math.fma(w.m[at], sum, terms);
                }
                if (w.m != null) total += terms;
                Y[yOff + i * ldy + o] = w.bias == null ? total : total + w.bias.get(o);
            }
    }
}
