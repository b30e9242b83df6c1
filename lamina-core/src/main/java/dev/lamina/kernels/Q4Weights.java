package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * A weight matrix w[out, in] in 4-bit blocks of 32 inputs, llama.cpp's Q4_0 and Q4_K kept as they
 * are: a quant q in 0..15 per weight, two per byte, and per block of an output row a scale d and an
 * offset c, w = d·q − c. Q4_0 has d per block and c = 8·d (5 bits a weight); Q4_K has super-blocks
 * of 256 whose 8 blocks take d = d_s·sc and c = m_s·mn from 6-bit multipliers and the super-block's
 * two bases (4.75 bits a weight). {@link #dequantizeInto} gives ggml's (and the gguf package's)
 * dequantized values.
 *
 * <p>The product is computed block by block, as llama.cpp's vec_dot does: per block the quants'
 * dot product with the inputs, s = Σ x[k]·q[k] (a chain of fused multiply-adds over k from 0), then
 * y ← d·s + y; the offsets in a chain of their own, u ← −c·Σx + u with Σx the block's input sum
 * (added in k order), and the output is y + u. So a weight costs
 * one widening and one multiply-add, not a dequantization, and the result is within float rounding
 * of the product with the dequantized weights, not bit-equal to it. Every kernel shape (one row,
 * four rows in registers, six rows on a panel widened once for a prompt) and the scalar reference
 * compute these same chains, so an output does not depend on the rows beside it.
 *
 * <p>Laid out like {@link Q8Weights}: panels of NR = 2 vectors of output columns, k even in the low
 * nibble and k + 1 in the high one ({@code q[p][k / 2][c]}), the scales per block ({@code
 * d[p][k / 32][c]}) or the multipliers per block and bases per super-block, zero past out.
 */
public final class Q4Weights implements PanelWeights {
    /** Inputs per block. */
    public static final int BLOCK = 32;
    /** Inputs per super-block (Q4_K). */
    public static final int SUPER = 256;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final VectorSpecies<Byte> B = L >= 16 ? ByteVector.SPECIES_128 : ByteVector.SPECIES_64;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /**
     * The one-row kernel widens a byte pair's vector to ints once and takes both nibbles from it
     * (one widening where there were two) with 16 lanes: decode 1 × 2048 × 768 on one AVX-512 thread
     * 53 → 68 GFLOP/s. On AVX2 the same code measured 30 → 24, so 8 lanes keep two byte widenings.
     */
    private static final boolean WIDEN_ONCE = L >= 16;
    /** Output columns per panel: 2 vectors. */
    static final int NR = 2 * L;

    /** One output row of Q4_0: w = d·(q − 8). */
    public interface Rows {
        /** Fills q[in] (0..15) and d[blocks] for output row o. */
        void row(int o, byte[] q, float[] d);
    }

    /** One output row of a format with super-blocks: Q4_K. */
    public interface SuperRows {
        /** Fills q[in] (0..15), sc[blocks] and mn[blocks] (0..63), ds[supers] and ms[supers] for output row o. */
        void row(int o, byte[] q, byte[] sc, byte[] mn, float[] ds, float[] ms);
    }

    /** Q4_0's quant offset: c = 8·d. */
    static final float ZERO = 8f;

    final int out, in, panels, blocks, supers, pairs;
    final byte[] q;          // [panels][pairs][NR] (+ slack for the narrowest byte load)
    final float[] d;         // per block [panels][blocks][NR] (Q4_0); null with super-blocks
    final byte[] sc, mn;     // per block multipliers [panels][blocks][NR] (+ slack), super-blocks only
    final float[] ds, ms;    // per super-block bases [panels][supers][NR], super-blocks only
    final Tensor bias;       // [out] or null

    private Q4Weights(int out, int in, byte[] q, float[] d, byte[] sc, byte[] mn, float[] ds, float[] ms, Tensor bias) {
        this.out = out;
        this.in = in;
        this.panels = (out + NR - 1) / NR;
        this.blocks = (in + BLOCK - 1) / BLOCK;
        this.supers = (in + SUPER - 1) / SUPER;
        this.pairs = (in + 1) / 2;
        this.q = q;
        this.d = d;
        this.sc = sc;
        this.mn = mn;
        this.ds = ds;
        this.ms = ms;
        this.bias = bias;
    }

    /**
     * Bytes of each array {@link #pack} (Q4_0) or {@link #packSuper} (Q4_K) allocates for out × in
     * weights, on this machine's vectors: for a memory plan made before loading.
     */
    public static long[] arrays(int out, int in, boolean superBlocks) {
        long panels = (out + NR - 1) / NR, q = panels * ((in + 1) / 2) * NR + 8;
        if (!superBlocks) return new long[] {q, (long) Float.BYTES * panels * ((in + BLOCK - 1) / BLOCK) * NR};
        long perBlock = panels * (in / BLOCK) * NR + 8, perSuper = (long) Float.BYTES * panels * (in / SUPER) * NR;
        return new long[] {q, perBlock, perBlock, perSuper, perSuper};
    }

    /** Packs out rows of in inputs in Q4_0's form from rows (each read once, on the pool's threads); bias[out] may be null (shared). */
    public static Q4Weights pack(Parallel pool, int out, int in, Rows rows, Tensor bias) {
        int panels = (out + NR - 1) / NR, blocks = (in + BLOCK - 1) / BLOCK;
        byte[] q = quants(out, in);
        float[] d = new float[panels * blocks * NR];
        pool.forRange(panels, (p0, p1) -> {
            byte[] rq = new byte[in];
            float[] rd = new float[blocks];
            for (int p = p0; p < p1; p++)
                for (int c = 0, cols = Math.min(NR, out - p * NR); c < cols; c++) {
                    rows.row(p * NR + c, rq, rd);
                    putQuants(q, in, p, c, rq);
                    for (int b = 0, at = p * blocks * NR + c; b < blocks; b++, at += NR) d[at] = rd[b];
                }
        });
        return new Q4Weights(out, in, q, d, null, null, null, null, bias);
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
        return new Q4Weights(out, in, q, null, sc, mn, ds, ms, bias);
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
        return (long) q.length + (long) d.length * Float.BYTES;
    }

    /** Quant q (0..15) of column c of panel p at input k. */
    int quant(int p, int c, int k) {
        int b = q[p * pairs * NR + (k >> 1) * NR + c] & 0xFF;
        return (k & 1) == 0 ? b & 0xF : b >>> 4;
    }

    /** Block b's scale d of column c of panel p. */
    float scaleOf(int p, int c, int b) {
        int s = p * blocks * NR + b * NR + c;
        if (sc == null) return d[s];
        return ds[p * supers * NR + (b * BLOCK / SUPER) * NR + c] * sc[s];
    }

    /** Block b's offset c (Q4_0: 8·d; Q4_K: m_s·mn) of column c of panel p. */
    float offsetOf(int p, int c, int b) {
        int s = p * blocks * NR + b * NR + c;
        if (sc == null) return d[s] * ZERO;
        return ms[p * supers * NR + (b * BLOCK / SUPER) * NR + c] * mn[s];
    }

    /** The dequantized weight of column c of panel p at input k, as ggml computes it: (q − 8)·d, or (d_s·sc)·q − m_s·mn. */
    float weight(int p, int c, int k) {
        int v = quant(p, c, k), b = k / BLOCK;
        return sc == null ? (v - ZERO) * d[p * blocks * NR + b * NR + c] : scaleOf(p, c, b) * v - offsetOf(p, c, b);
    }

    @Override
    public void dequantizeInto(float[] dst, int off) {
        for (int o = 0; o < out; o++)
            for (int k = 0; k < in; k++) dst[off + o * in + k] = weight(o / NR, o % NR, k);
    }

    @Override
    public void dequantizeRow(int o, float[] dst, int off) {
        for (int k = 0; k < in; k++) dst[off + k] = weight(o / NR, o % NR, k);
    }

    // ---- the product ------------------------------------------------------------------------

    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[BlockKernels.ROWS * NR]);
    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[5][0]);

    private static float[] buffer(int which, int size) {
        float[][] b = BUFFERS.get();
        if (b[which].length < size) b[which] = new float[size];
        return b[which];
    }

    /**
     * Panels [p0, p1) for all rows, on the calling thread: from {@link BlockKernels#ROWS} rows (a prompt)
     * each panel's quants are widened to float once and six rows at a time run on it (two panels side
     * by side with 32 vector registers, {@link BlockKernels#WIDE}); the other rows widen the quants
     * in registers, four rows at a time, then one. The chains are the same.
     */
    @Override
    public void range(int n, float[] X, int xOff, int ldx, float[] Y, int yOff, int ldy, int p0, int p1) {
        float[] sx = buffer(0, n * blocks), tile = TILE.get();
        BlockKernels.blockSums(n, in, BLOCK, X, xOff, ldx, sx);
        float[] panel = null, pd = null, pc = null, rowOffsets = n % BlockKernels.ROWS >= 4 ? buffer(4, blocks * NR) : null;
        int six = n >= BlockKernels.ROWS ? n - n % BlockKernels.ROWS : 0, wide = BlockKernels.WIDE ? 2 * NR : NR;
        if (six > 0) {
            panel = buffer(1, in * wide);
            pd = buffer(2, blocks * wide);
            pc = buffer(3, blocks * wide);
        }
        boolean done = false;                     // panel p's prompt rows came with p − 1's, two panels wide
        for (int p = p0; p < p1; p++) {
            boolean full = (p + 1) * NR <= out;
            int i = 0;
            if (six > 0 && done) {
                i = six;
                done = false;
            } else if (six > 0 && BlockKernels.WIDE && p + 1 < p1 && (p + 2) * NR <= out) {
                widenPanel(p, panel, pd, pc, wide, 0);
                widenPanel(p + 1, panel, pd, pc, wide, NR);
                for (; i < six; i += BlockKernels.ROWS) {
                    BlockKernels.k6x4(in, BLOCK, panel, pd, X, xOff + i * ldx, ldx, Y, yOff + i * ldy + p * NR, ldy);
                    BlockKernels.offsets(BlockKernels.ROWS, blocks, pc, 0, wide, sx, i * blocks, Y, yOff + i * ldy + p * NR, ldy);
                    BlockKernels.offsets(BlockKernels.ROWS, blocks, pc, NR, wide, sx, i * blocks, Y, yOff + i * ldy + (p + 1) * NR, ldy);
                }
                done = true;
            } else if (six > 0) {
                widenPanel(p, panel, pd, pc, NR, 0);
                for (; i < six; i += BlockKernels.ROWS) {
                    if (full) {
                        BlockKernels.k6(in, BLOCK, panel, pd, X, xOff + i * ldx, ldx, Y, yOff + i * ldy + p * NR, ldy);
                        BlockKernels.offsets(BlockKernels.ROWS, blocks, pc, 0, NR, sx, i * blocks, Y, yOff + i * ldy + p * NR, ldy);
                    } else {
                        BlockKernels.k6(in, BLOCK, panel, pd, X, xOff + i * ldx, ldx, tile, 0, NR);
                        BlockKernels.offsets(BlockKernels.ROWS, blocks, pc, 0, NR, sx, i * blocks, tile, 0, NR);
                        for (int r = 0; r < BlockKernels.ROWS; r++) store(tile, r * NR, Y, yOff + (i + r) * ldy, p);
                    }
                }
            }
            if (i + 4 <= n) blockTerms(p, null, rowOffsets, NR, 0);
            for (; i + 4 <= n; i += 4) {
                if (full) {
                    k4(p, X, xOff + i * ldx, ldx, Y, yOff + i * ldy + p * NR, ldy);
                    BlockKernels.offsets(4, blocks, rowOffsets, 0, NR, sx, i * blocks, Y, yOff + i * ldy + p * NR, ldy);
                } else {
                    k4(p, X, xOff + i * ldx, ldx, tile, 0, NR);
                    BlockKernels.offsets(4, blocks, rowOffsets, 0, NR, sx, i * blocks, tile, 0, NR);
                    for (int r = 0; r < 4; r++) store(tile, r * NR, Y, yOff + (i + r) * ldy, p);
                }
            }
            for (; i < n; i++) {
                if (full) k1(p, X, xOff + i * ldx, sx, i * blocks, Y, yOff + i * ldy + p * NR);
                else {
                    k1(p, X, xOff + i * ldx, sx, i * blocks, tile, 0);
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

    private void store(float[] tile, int t, float[] Y, int y0, int p) {
        int o = p * NR, cols = Math.min(NR, out - o);
        if (cols > 0) System.arraycopy(tile, t, Y, y0 + o, cols);
    }

    /** The L quants at byte offset at as floats: the low nibbles (k even) or the high ones (k odd). */
    /** L bytes from at, each widened once to an int (sign-extended: the nibbles are masked after). */
    private IntVector bytes(int at) {
        return (IntVector) ByteVector.fromArray(B, q, at).convertShape(VectorOperators.B2I, I, 0);
    }

    /** The low nibbles of widened bytes as floats. */
    private static FloatVector low(IntVector v) {
        return (FloatVector) v.and(0xF).convert(VectorOperators.I2F, 0);
    }

    /** The high nibbles of widened bytes as floats. */
    private static FloatVector high(IntVector v) {
        return (FloatVector) v.lanewise(VectorOperators.LSHR, 4).and(0xF).convert(VectorOperators.I2F, 0);
    }

    private FloatVector quants(int at, boolean high) {
        ByteVector b = ByteVector.fromArray(B, q, at);
        // the high nibble by a 16-bit shift (x86 has no byte shift: C2 widens bytes to shift them)
        b = high ? b.reinterpretAsShorts().lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().and((byte) 0xF) : b.and((byte) 0xF);
        return (FloatVector) b.convertShape(VectorOperators.B2F, S, 0);
    }

    /** Block b's scales for the L columns from c of panel p: loaded (Q4_0), or d_s·sc (Q4_K). */
    private FloatVector scales(int p, int b, int c) {
        int s = p * blocks * NR + b * NR + c;
        if (sc == null) return FloatVector.fromArray(S, d, s);
        FloatVector mult = (FloatVector) ByteVector.fromArray(B, sc, s).convertShape(VectorOperators.B2F, S, 0);
        return FloatVector.fromArray(S, ds, p * supers * NR + (b * BLOCK / SUPER) * NR + c).mul(mult);
    }

    /** Block b's offsets, negated, for the L columns from c: −(d·8) (Q4_0, dv its scales), or −(m_s·mn) (Q4_K). */
    private FloatVector negOffsets(int p, int b, int c, FloatVector dv) {
        if (sc == null) return dv.mul(ZERO).neg();
        int s = p * blocks * NR + b * NR + c;
        FloatVector mult = (FloatVector) ByteVector.fromArray(B, mn, s).convertShape(VectorOperators.B2F, S, 0);
        return FloatVector.fromArray(S, ms, p * supers * NR + (b * BLOCK / SUPER) * NR + c).mul(mult).neg();
    }

    /** Panel p's quants as floats, row k at k·stride + off of panel; its scales and negated offsets likewise (row b). */
    private void widenPanel(int p, float[] panel, float[] pd, float[] pc, int stride, int off) {
        int qb = p * pairs * NR;
        for (int k = 0; k < in; k++) {
            int at = qb + (k >> 1) * NR;
            boolean high = (k & 1) != 0;
            quants(at, high).intoArray(panel, k * stride + off);
            quants(at + L, high).intoArray(panel, k * stride + off + L);
        }
        blockTerms(p, pd, pc, stride, off);
    }

    /** Panel p's scales (into pd, unless null) and negated offsets (into pc), row b at b·stride + off. */
    private void blockTerms(int p, float[] pd, float[] pc, int stride, int off) {
        for (int b = 0; b < blocks; b++) {
            FloatVector d0 = scales(p, b, 0), d1 = scales(p, b, L);
            if (pd != null) {
                d0.intoArray(pd, b * stride + off);
                d1.intoArray(pd, b * stride + off + L);
            }
            negOffsets(p, b, 0, d0).intoArray(pc, b * stride + off);
            negOffsets(p, b, L, d1).intoArray(pc, b * stride + off + L);
        }
    }

    /** One row × panel p: per block the quants' dot product in 2 accumulators, then scaled into the 2 totals; the offsets in 2 more. */
    private void k1(int p, float[] X, int x0, float[] sx, int s0, float[] Y, int y0) {
        FloatVector z = FloatVector.zero(S), t0 = z, t1 = z, u0 = z, u1 = z;
        int qb = p * pairs * NR;
        for (int b = 0, k0 = 0; k0 < in; b++, k0 += BLOCK) {
            FloatVector a0 = z, a1 = z;
            int end = Math.min(in, k0 + BLOCK), k = k0;
            for (; k + 1 < end; k += 2) {                  // a byte holds k (low nibble) and k + 1 (high)
                int at = qb + (k >> 1) * NR;
                if (WIDEN_ONCE) {
                    IntVector v0 = bytes(at), v1 = bytes(at + L);
                    FloatVector x = FloatVector.broadcast(S, X[x0 + k]);
                    a0 = x.fma(low(v0), a0);
                    a1 = x.fma(low(v1), a1);
                    x = FloatVector.broadcast(S, X[x0 + k + 1]);
                    a0 = x.fma(high(v0), a0);
                    a1 = x.fma(high(v1), a1);
                } else {
                    FloatVector x = FloatVector.broadcast(S, X[x0 + k]);
                    a0 = x.fma(quants(at, false), a0);
                    a1 = x.fma(quants(at + L, false), a1);
                    x = FloatVector.broadcast(S, X[x0 + k + 1]);
                    a0 = x.fma(quants(at, true), a0);
                    a1 = x.fma(quants(at + L, true), a1);
                }
            }
            if (k < end) {                                 // an odd input count: the last k alone
                int at = qb + (k >> 1) * NR;
                FloatVector x = FloatVector.broadcast(S, X[x0 + k]);
                a0 = x.fma(quants(at, false), a0);
                a1 = x.fma(quants(at + L, false), a1);
            }
            FloatVector d0 = scales(p, b, 0), d1 = scales(p, b, L), sum = FloatVector.broadcast(S, sx[s0 + b]);
            t0 = d0.fma(a0, t0);
            t1 = d1.fma(a1, t1);
            u0 = negOffsets(p, b, 0, d0).fma(sum, u0);
            u1 = negOffsets(p, b, L, d1).fma(sum, u1);
        }
        t0.add(u0).intoArray(Y, y0);
        t1.add(u1).intoArray(Y, y0 + L);
    }

    /**
     * Four rows × panel p: the widened quants of each k serve four rows (8 block accumulators); the
     * totals live in Y, read and written once per block (d·s + total), so the loop fits 16 vector
     * registers; the offsets follow in a pass of their own ({@link BlockKernels#offsets}).
     * (Written out: a helper taking vectors would box them unless inlined.)
     */
    private void k4(int p, float[] X, int x0, int ldx, float[] Y, int y0, int ldy) {
        int x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx, qb = p * pairs * NR;
        FloatVector z = FloatVector.zero(S);
        for (int r = 0; r < 4; r++) { z.intoArray(Y, y0 + r * ldy); z.intoArray(Y, y0 + r * ldy + L); }
        for (int b = 0, k0 = 0; k0 < in; b++, k0 += BLOCK) {
            FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
            for (int k = k0, end = Math.min(in, k0 + BLOCK); k < end; k++) {
                int at = qb + (k >> 1) * NR;
                boolean high = (k & 1) != 0;             // low nibble for k even, high for k odd
                FloatVector w0 = quants(at, high), w1 = quants(at + L, high);
                FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
                c00 = a.fma(w0, c00); c01 = a.fma(w1, c01);
                a = FloatVector.broadcast(S, X[x1 + k]);
                c10 = a.fma(w0, c10); c11 = a.fma(w1, c11);
                a = FloatVector.broadcast(S, X[x2 + k]);
                c20 = a.fma(w0, c20); c21 = a.fma(w1, c21);
                a = FloatVector.broadcast(S, X[x3 + k]);
                c30 = a.fma(w0, c30); c31 = a.fma(w1, c31);
            }
            FloatVector d0 = scales(p, b, 0), d1 = scales(p, b, L);
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
    static void multiplyScalar(int n, float[] X, int xOff, int ldx, Q4Weights w, float[] Y, int yOff, int ldy, int o0, int o1) {
        for (int i = 0; i < n; i++)
            for (int o = o0; o < o1; o++) {
                int p = o / NR, c = o % NR, x0 = xOff + i * ldx;
                float total = 0, offsets = 0;
                for (int b = 0; b < w.blocks; b++) {
                    int k0 = b * BLOCK, k1 = Math.min(w.in, k0 + BLOCK);
                    float s = 0, sum = 0;
                    for (int k = k0; k < k1; k++) {
                        s = Math.fma(X[x0 + k], (float) w.quant(p, c, k), s);
                        sum += X[x0 + k];
                    }
                    total = Math.fma(w.scaleOf(p, c, b), s, total);
                    offsets = Math.fma(-w.offsetOf(p, c, b), sum, offsets);
                }
                total += offsets;
                Y[yOff + i * ldy + o] = w.bias == null ? total : total + w.bias.get(o);
            }
    }
}
