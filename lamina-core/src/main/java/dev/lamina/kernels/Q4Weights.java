package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * A weight matrix w[out, in] in 4-bit blocks of 32 inputs: a quant q in 0..15 per weight and, per
 * block of an output row, a scale d and an offset m, w = (q − zero)·d − m. That one form holds
 * llama.cpp's Q4_0 (zero 8, no offset: d·(q − 8), d per block: 5 bits a weight) and Q4_K (zero 0,
 * super-blocks of 256 whose 8 blocks have d = d_s·sc and m = m_s·mn from 6-bit multipliers sc, mn
 * and the super-block's d_s, m_s: 4.75 bits a weight), so a GGUF file's 4-bit tensors are used as
 * they are rather than as float32's 32 bits.
 *
 * <p>Laid out like {@link Q8Weights}: panels of NR = 2 vectors of output columns, two inputs per
 * byte (k even in the low nibble, k + 1 in the high one: {@code q[p][k / 2][c]}), the scales per
 * block ({@code d[p][k / 32][c]}) or their multipliers per block and bases per super-block, zero
 * past out. The product dequantizes in registers with the float32 operations of ggml's (and the
 * gguf package's) dequantize (d_s·sc, then (q − zero)·d, then − m) and keeps the chain
 * fma(x[k], w, acc) over k = 0, 1, ... from 0: every output is exactly the float32 product with the
 * dequantized weights ({@link #dequantizeInto}), whatever the number of rows, and the scalar
 * reference computes the same chain.
 */
public final class Q4Weights implements PanelWeights {
    /** Inputs per block. */
    public static final int BLOCK = 32;
    /** Inputs per super-block (Q4_K). */
    public static final int SUPER = 256;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final VectorSpecies<Byte> B = L >= 16 ? ByteVector.SPECIES_128 : ByteVector.SPECIES_64;
    /** Output columns per panel: 2 vectors (4-row kernel: 8 accumulators, 2 weights, 4 scales, 1 input: 15 registers). */
    static final int NR = 2 * L;

    /** One output row of a format with a scale (and, with offsets, an offset) per block: Q4_0. */
    public interface Rows {
        /** Fills q[in] (0..15), d[blocks] and m[blocks] for output row o. */
        void row(int o, byte[] q, float[] d, float[] m);
    }

    /** One output row of a format with super-blocks: Q4_K. */
    public interface SuperRows {
        /** Fills q[in] (0..15), sc[blocks] and mn[blocks] (0..63), ds[supers] and ms[supers] for output row o. */
        void row(int o, byte[] q, byte[] sc, byte[] mn, float[] ds, float[] ms);
    }

    final int out, in, panels, blocks, supers, pairs;
    final float zero;
    final byte[] q;          // [panels][pairs][NR] (+ slack for the narrowest byte load)
    final float[] d, m;      // per block [panels][blocks][NR]; m null without offsets; both null with super-blocks
    final byte[] sc, mn;     // per block multipliers [panels][blocks][NR] (+ slack), super-blocks only
    final float[] ds, ms;    // per super-block bases [panels][supers][NR], super-blocks only
    final Tensor bias;       // [out] or null

    private Q4Weights(int out, int in, float zero, byte[] q, float[] d, float[] m, byte[] sc, byte[] mn, float[] ds, float[] ms, Tensor bias) {
        this.out = out;
        this.in = in;
        this.zero = zero;
        this.panels = (out + NR - 1) / NR;
        this.blocks = (in + BLOCK - 1) / BLOCK;
        this.supers = (in + SUPER - 1) / SUPER;
        this.pairs = (in + 1) / 2;
        this.q = q;
        this.d = d;
        this.m = m;
        this.sc = sc;
        this.mn = mn;
        this.ds = ds;
        this.ms = ms;
        this.bias = bias;
    }

    /**
     * Packs out rows of in inputs from rows (read on the pool's threads, each row once) with the quant
     * offset zero (8 for Q4_0), offsets per block when offsets, and bias[out] (may be null; shared).
     */
    public static Q4Weights pack(Parallel pool, int out, int in, float zero, boolean offsets, Rows rows, Tensor bias) {
        int panels = (out + NR - 1) / NR, blocks = (in + BLOCK - 1) / BLOCK;
        byte[] q = quants(out, in);
        float[] d = new float[panels * blocks * NR], m = offsets ? new float[panels * blocks * NR] : null;
        pool.forRange(panels, (p0, p1) -> {
            byte[] rq = new byte[in];
            float[] rd = new float[blocks], rm = new float[blocks];
            for (int p = p0; p < p1; p++)
                for (int c = 0, cols = Math.min(NR, out - p * NR); c < cols; c++) {
                    rows.row(p * NR + c, rq, rd, rm);
                    putQuants(q, in, p, c, rq);
                    for (int b = 0, at = p * blocks * NR + c; b < blocks; b++, at += NR) {
                        d[at] = rd[b];
                        if (m != null) m[at] = rm[b];
                    }
                }
        });
        return new Q4Weights(out, in, zero, q, d, m, null, null, null, null, bias);
    }

    /** Packs out rows of in inputs (a multiple of 256) in Q4_K's super-blocks: w = (d_s·sc)·q − m_s·mn. */
    public static Q4Weights packSuper(Parallel pool, int out, int in, SuperRows rows, Tensor bias) {
        if (in % SUPER != 0) throw new IllegalArgumentException(in + " inputs are not whole super-blocks of " + SUPER);
        int panels = (out + NR - 1) / NR, blocks = in / BLOCK, supers = in / SUPER;
        byte[] q = quants(out, in), sc = new byte[panels * blocks * NR + 8], mn = new byte[panels * blocks * NR + 8];
        float[] ds = new float[panels * supers * NR], ms = new float[panels * supers * NR];
        pool.forRange(panels, (p0, p1) -> {
            byte[] rq = new byte[in], rsc = new byte[blocks], rmn = new byte[blocks];
            float[] rds = new float[supers], rms = new float[supers];
            for (int p = p0; p < p1; p++)
                for (int c = 0, cols = Math.min(NR, out - p * NR); c < cols; c++) {
                    rows.row(p * NR + c, rq, rsc, rmn, rds, rms);
                    putQuants(q, in, p, c, rq);
                    for (int b = 0, at = p * blocks * NR + c; b < blocks; b++, at += NR) {
                        sc[at] = rsc[b];
                        mn[at] = rmn[b];
                    }
                    for (int j = 0, at = p * supers * NR + c; j < supers; j++, at += NR) {
                        ds[at] = rds[j];
                        ms[at] = rms[j];
                    }
                }
        });
        return new Q4Weights(out, in, 0f, q, null, null, sc, mn, ds, ms, bias);
    }

    private static byte[] quants(int out, int in) {
        long bytes = (long) ((out + NR - 1) / NR) * ((in + 1) / 2) * NR;
        if (bytes > Integer.MAX_VALUE - 64) throw new IllegalArgumentException("weight too large: " + out + "x" + in);
        return new byte[(int) bytes + 8];
    }

    private static void putQuants(byte[] q, int in, int p, int c, byte[] rq) {
        int base = p * ((in + 1) / 2) * NR + c;
        for (int k = 0; k < in; k++) {
            int v = rq[k] & 0xF;
            q[base + (k >> 1) * NR] |= (byte) ((k & 1) == 0 ? v : v << 4);
        }
    }

    @Override public int out() { return out; }
    @Override public int in() { return in; }
    @Override public int panels() { return panels; }
    @Override public int panelWidth() { return NR; }
    @Override public long extraBytes() {
        if (sc != null) return (long) q.length + sc.length + mn.length + (long) (ds.length + ms.length) * Float.BYTES;
        return (long) q.length + (long) (d.length + (m == null ? 0 : m.length)) * Float.BYTES;
    }

    /** The dequantized weight of column c of panel p at input k: (q − zero)·d − m, as ggml computes it. */
    float weight(int p, int c, int k) {
        int b = q[p * pairs * NR + (k >> 1) * NR + c] & 0xFF;
        int v = (k & 1) == 0 ? b & 0xF : b >>> 4;
        int s = p * blocks * NR + (k / BLOCK) * NR + c;
        if (sc != null) {
            int su = p * supers * NR + (k / SUPER) * NR + c;
            float dk = ds[su] * sc[s], mk = ms[su] * mn[s];
            return v * dk - mk;
        }
        float w = zero != 0 ? (v - zero) * d[s] : v * d[s];
        return m == null ? w : w - m[s];
    }

    /** The weights as float32 into dst[off..off + out·in), row-major: what the product computes with. */
    @Override
    public void dequantizeInto(float[] dst, int off) {
        for (int o = 0; o < out; o++)
            for (int k = 0; k < in; k++) dst[off + o * in + k] = weight(o / NR, o % NR, k);
    }

    // ---- the product ------------------------------------------------------------------------

    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[4 * NR]);

    /**
     * Panels [p0, p1) for all rows, on the calling thread. From {@link Q8Weights#FLOAT_PANEL_ROWS} rows
     * (prefill) each panel is dequantized once into float32 and multiplied by the float kernels;
     * fewer rows (decode) dequantize in registers, four rows at a time, then one. The chains, and so
     * the results, are the same either way.
     */
    @Override
    public void range(int n, float[] X, int xOff, int ldx, float[] Y, int yOff, int ldy, int p0, int p1) {
        if (n >= Q8Weights.FLOAT_PANEL_ROWS) {
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
            boolean full = (p + 1) * NR <= out;
            int i = 0;
            for (; i + 4 <= n; i += 4) {
                if (full) k4(p, X, xOff + i * ldx, ldx, Y, yOff + i * ldy + p * NR, ldy);
                else {
                    k4(p, X, xOff + i * ldx, ldx, tile, 0, NR);
                    for (int r = 0; r < 4; r++) store(tile, r * NR, Y, yOff + (i + r) * ldy, p);
                }
            }
            for (; i < n; i++) {
                if (full) k1(p, X, xOff + i * ldx, Y, yOff + i * ldy + p * NR);
                else {
                    k1(p, X, xOff + i * ldx, tile, 0);
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

    /** Panel p's weights as float32 [in][NR], as the kernels dequantize them. */
    private void dequantizePanel(int p, float[] panel) {
        int qb = p * pairs * NR;
        for (int k0 = 0; k0 < in; k0 += BLOCK) {
            FloatVector d0 = scale(p, k0, 0, false), d1 = scale(p, k0, L, false);
            FloatVector m0 = scale(p, k0, 0, true), m1 = scale(p, k0, L, true);
            for (int k = k0, end = Math.min(in, k0 + BLOCK); k < end; k++) {
                int at = qb + (k >> 1) * NR;
                boolean high = (k & 1) != 0;
                w(at, high, d0, m0).intoArray(panel, k * NR);
                w(at + L, high, d1, m1).intoArray(panel, k * NR + L);
            }
        }
    }

    private void store(float[] tile, int t, float[] Y, int y0, int p) {
        int o = p * NR, cols = Math.min(NR, out - o);
        if (cols > 0) System.arraycopy(tile, t, Y, y0 + o, cols);
    }

    /** The L weights at byte offset at, low (k even) or high (k odd) nibble: (q − zero)·d − m (m null: no offset). */
    private FloatVector w(int at, boolean high, FloatVector dv, FloatVector mv) {
        ByteVector b = ByteVector.fromArray(B, q, at);
        b = high ? b.lanewise(VectorOperators.LSHR, 4) : b.and((byte) 0xF);
        FloatVector f = (FloatVector) b.convertShape(VectorOperators.B2F, S, 0);
        if (zero != 0) f = f.sub(zero);
        f = f.mul(dv);
        return mv == null ? f : f.sub(mv);
    }

    /** Block k0's scales (i = 0) or offsets (i = 1) for the columns from c: loaded, or d_s·sc from a super-block. */
    private FloatVector scale(int p, int k0, int c, boolean offset) {
        int s = p * blocks * NR + (k0 / BLOCK) * NR + c;
        if (sc == null) return offset ? (m == null ? null : FloatVector.fromArray(S, m, s)) : FloatVector.fromArray(S, d, s);
        int su = p * supers * NR + (k0 / SUPER) * NR + c;
        FloatVector mult = (FloatVector) ByteVector.fromArray(B, offset ? mn : sc, s).convertShape(VectorOperators.B2F, S, 0);
        return FloatVector.fromArray(S, offset ? ms : ds, su).mul(mult);
    }

    /** One row × panel p: per k one byte load per vector of columns, dequantized, into 2 accumulators. */
    private void k1(int p, float[] X, int x0, float[] Y, int y0) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0;
        int qb = p * pairs * NR;
        for (int k0 = 0; k0 < in; k0 += BLOCK) {
            FloatVector d0 = scale(p, k0, 0, false), d1 = scale(p, k0, L, false);
            FloatVector m0 = scale(p, k0, 0, true), m1 = scale(p, k0, L, true);
            int end = Math.min(in, k0 + BLOCK), k = k0;
            for (; k + 1 < end; k += 2) {                  // a byte holds k (low nibble) and k + 1 (high)
                int at = qb + (k >> 1) * NR;
                FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
                c0 = a.fma(w(at, false, d0, m0), c0);
                c1 = a.fma(w(at + L, false, d1, m1), c1);
                a = FloatVector.broadcast(S, X[x0 + k + 1]);
                c0 = a.fma(w(at, true, d0, m0), c0);
                c1 = a.fma(w(at + L, true, d1, m1), c1);
            }
            if (k < end) {                                 // an odd input count: the last k alone
                int at = qb + (k >> 1) * NR;
                FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
                c0 = a.fma(w(at, false, d0, m0), c0);
                c1 = a.fma(w(at + L, false, d1, m1), c1);
            }
        }
        c0.intoArray(Y, y0);
        c1.intoArray(Y, y0 + L);
    }

    /** Four rows × panel p: the dequantized weights of each k serve four rows (8 accumulators). */
    private void k4(int p, float[] X, int x0, int ldx, float[] Y, int y0, int ldy) {
        int x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx, qb = p * pairs * NR;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        for (int k0 = 0; k0 < in; k0 += BLOCK) {
            FloatVector d0 = scale(p, k0, 0, false), d1 = scale(p, k0, L, false);
            FloatVector m0 = scale(p, k0, 0, true), m1 = scale(p, k0, L, true);
            for (int k = k0, end = Math.min(in, k0 + BLOCK); k < end; k++) {
                int at = qb + (k >> 1) * NR;
                boolean high = (k & 1) != 0;             // low nibble for k even, high for k odd
                FloatVector w0 = w(at, high, d0, m0), w1 = w(at + L, high, d1, m1);
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
    static void multiplyScalar(int n, float[] X, int xOff, int ldx, Q4Weights w, float[] Y, int yOff, int ldy, int o0, int o1) {
        for (int i = 0; i < n; i++)
            for (int o = o0; o < o1; o++) {
                int p = o / NR, c = o % NR;
                float acc = 0;
                for (int k = 0; k < w.in; k++) acc = Math.fma(X[xOff + i * ldx + k], w.weight(p, c, k), acc);
                Y[yOff + i * ldy + o] = w.bias == null ? acc : acc + w.bias.get(o);
            }
    }
}
