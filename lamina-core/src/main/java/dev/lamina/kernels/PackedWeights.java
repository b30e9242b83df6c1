package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * A weight matrix w[out, in] repacked once for inference: panels of NR output columns (4 vectors
 * at 16 lanes, 2 at 8), each panel holding w's NR rows interleaved along k
 * ({@code data[p][k][c] = w[p·NR + c][k]}, zero past out), so y = x·wᵀ reads every panel front to
 * back and broadcasts x.
 *
 * <p>One arithmetic for every batch size: each output y[i,o] is a single chain of fused
 * multiply-adds over k = 0, 1, ..., in−1 starting from 0 (then + bias), in one vector lane. The
 * kernels differ only in how many rows they carry through a panel at once (6, 2 or 1: 24, 8 or 4
 * accumulators at 16 lanes), so a row's result never depends on the batch it is in, the thread
 * count or how a prompt is split into chunks. Decoding one row streams one panel at a time: two
 * panels side by side (two read streams, 8 accumulators) read 12-20% slower on one thread on a
 * Zen 4 and no faster on two, and with 2-3 rows the 2-row kernel reads each panel once instead of
 * once per row.
 *
 * <p>Work is split over panels with {@link Parallel#forRange}: each thread streams its share of
 * the weights once per call, whatever the number of rows. The vector kernels' form of
 * {@link LinearWeights} ({@link VectorKernels#prepare}).
 */
public final class PackedWeights implements PanelWeights {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Vectors per panel: 4 with 32 vector registers (AVX-512), 2 with 16 (AVX2). */
    static final int VECS = L >= 16 ? 4 : 2;
    static final int NR = VECS * L;
    /** Rows per prompt tile: 6 × VECS accumulators (24 of 32 registers at 16 lanes, 12 of 16 at 8). */
    static final int MR = 6;

    final int out, in, panels;
    final float[] data;
    final Tensor bias;

    private PackedWeights(int out, int in, float[] data, Tensor bias) {
        this.out = out;
        this.in = in;
        this.panels = (out + NR - 1) / NR;
        this.data = data;
        this.bias = bias;
    }

    /** Packs w[out, in] (and a copy of bias[out], may be null: nothing refers back to w's buffer), on the pool's threads. */
    static PackedWeights pack(Parallel pool, Tensor w, Tensor bias) {
        int out = w.dim(0), in = w.dim(1), panels = (out + NR - 1) / NR;
        long size = (long) panels * in * NR;
        if (size > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("weight too large to pack: " + out + "x" + in);
        float[] d = new float[(int) size];
        float[] W = w.data();
        int wo = w.offset();
        pool.forRange(panels, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int cols = Math.min(NR, out - p * NR), base = p * in * NR;
                for (int c = 0; c < cols; c++) {
                    int src = wo + (p * NR + c) * in;
                    for (int k = 0, dst = base + c; k < in; k++, dst += NR) d[dst] = W[src + k];
                }
            }
        });
        return new PackedWeights(out, in, d, bias == null ? null : Tensor.of(bias.toArray(), out));
    }

    @Override public int out() { return out; }
    @Override public int in() { return in; }
    @Override public int panels() { return panels; }
    @Override public int panelWidth() { return NR; }

    @Override
    public void dequantizeInto(float[] dst, int off) {
        for (int o = 0; o < out; o++)
            for (int k = 0, src = (o / NR) * in * NR + o % NR; k < in; k++, src += NR) dst[off + o * in + k] = data[src];
    }
    @Override
    public void dequantizeRow(int o, float[] dst, int off) {
        for (int k = 0, src = (o / NR) * in * NR + o % NR; k < in; k++, src += NR) dst[off + k] = data[src];
    }

    @Override public long extraBytes() { return (long) data.length * Float.BYTES; }

    /**
     * y[i, o] = Σ_k x[i, k]·w[o, k] (+ bias[o]) for i < n: x rows at xOff + i·ldx, y rows at
     * yOff + i·ldy.
     */
    void multiply(Parallel pool, int n, float[] X, int xOff, int ldx, float[] Y, int yOff, int ldy) {
        long fma = (long) n * in * NR;
        int minChunk = (int) Math.max(1, Math.min(panels, PARALLEL_MIN_FMA / Math.max(1, fma)));
        pool.forRange(panels, minChunk, (p0, p1) -> range(n, X, xOff, ldx, Y, yOff, ldy, p0, p1));
    }

    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NR]);

    @Override
    public void range(int n, float[] X, int xOff, int ldx, float[] Y, int yOff, int ldy, int p0, int p1) {
        int p = p0;
        if (n == 1 && VECS == 2)             // one row on 16 registers: two panels at a time (k1x4)
            for (; p + 1 < p1 && (p + 2) * NR <= out; p += 2) k1x4(in, X, xOff, data, p * in * NR, (p + 1) * in * NR, Y, yOff + p * NR);
        for (; p < p1; p++) panel(n, in, out, p, X, xOff, ldx, data, p * in * NR, Y, yOff, ldy);
        addBias(bias, n, out, Y, yOff, ldy, p0, p1);
    }

    /** Panel p of a matrix [out, in] whose panel floats start at P[b], for all n rows (shared with {@link HalfWeights}, which widens a panel first). */
    static void panel(int n, int in, int out, int p, float[] X, int xOff, int ldx, float[] P, int b, float[] Y, int yOff, int ldy) {
        float[] tile = TILE.get();
        boolean full = (p + 1) * NR <= out;
        int i = 0;
        for (; i + MR <= n; i += MR) {
            if (full) k6(in, X, xOff + i * ldx, ldx, P, b, Y, yOff + i * ldy + p * NR, ldy);
            else {
                k6(in, X, xOff + i * ldx, ldx, P, b, tile, 0, NR);
                for (int r = 0; r < MR; r++) store(tile, r * NR, out, Y, yOff + (i + r) * ldy, p);
            }
        }
        for (; i + 2 <= n; i += 2) {
            if (full) k2(in, X, xOff + i * ldx, ldx, P, b, Y, yOff + i * ldy + p * NR, ldy);
            else {
                k2(in, X, xOff + i * ldx, ldx, P, b, tile, 0, NR);
                for (int r = 0; r < 2; r++) store(tile, r * NR, out, Y, yOff + (i + r) * ldy, p);
            }
        }
        if (i < n) {
            if (full) k1(in, X, xOff + i * ldx, P, b, Y, yOff + i * ldy + p * NR);
            else {
                k1(in, X, xOff + i * ldx, P, b, tile, 0);
                store(tile, 0, out, Y, yOff + i * ldy, p);
            }
        }
    }

    /** y[i, o] += bias[o] for the outputs of panels [p0, p1). */
    static void addBias(Tensor bias, int n, int out, float[] Y, int yOff, int ldy, int p0, int p1) {
        if (bias == null) return;
        float[] B = bias.data();
        int bo = bias.offset(), o0 = p0 * NR, o1 = Math.min(out, p1 * NR);
        for (int i = 0; i < n; i++)
            for (int o = o0; o < o1; o++) Y[yOff + i * ldy + o] += B[bo + o];
    }

    /** Copies the valid columns (of out) of the tile's row at t (panel p) into row y0 of Y. */
    private static void store(float[] tile, int t, int out, float[] Y, int y0, int p) {
        int o = p * NR, cols = Math.min(NR, out - o);
        if (cols > 0) System.arraycopy(tile, t, Y, y0 + o, cols);
    }

    // ---- kernels: every output is fma(x[k], w[k], acc) for k = 0.. in order, from acc = 0 ----

    private static void k6(int in, float[] X, int x0, int ldx, float[] P, int b, float[] Y, int y0, int ldy) {
        if (VECS == 4) k6x4(in, X, x0, ldx, P, b, Y, y0, ldy);
        else k6x2(in, X, x0, ldx, P, b, Y, y0, ldy);
    }

    private static void k2(int in, float[] X, int x0, int ldx, float[] P, int b, float[] Y, int y0, int ldy) {
        if (VECS == 4) k2x4(in, X, x0, ldx, P, b, Y, y0, ldy);
        else k2x2(in, X, x0, ldx, P, b, Y, y0, ldy);
    }

    private static void k1(int in, float[] X, int x0, float[] P, int b, float[] Y, int y0) {
        if (VECS == 4) k1x4(in, X, x0, P, b, b + 2 * L, Y, y0);
        else k1x2(in, X, x0, P, b, Y, y0);
    }

    /** 6 rows × a 4-vector panel: 24 accumulators, 4 loads and 6 broadcasts per 24 multiply-adds. */
    private static void k6x4(int in, float[] X, int x0, int ldx, float[] P, int b, float[] Y, int y0, int ldy) {
        int x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx, x4 = x3 + ldx, x5 = x4 + ldx;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z, c20 = z, c21 = z, c22 = z, c23 = z;
        FloatVector c30 = z, c31 = z, c32 = z, c33 = z, c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
        for (int k = 0, pb = b; k < in; k++, pb += NR) {
            FloatVector b0 = FloatVector.fromArray(S, P, pb), b1 = FloatVector.fromArray(S, P, pb + L);
            FloatVector b2 = FloatVector.fromArray(S, P, pb + 2 * L), b3 = FloatVector.fromArray(S, P, pb + 3 * L);
            FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01); c02 = a.fma(b2, c02); c03 = a.fma(b3, c03);
            a = FloatVector.broadcast(S, X[x1 + k]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11); c12 = a.fma(b2, c12); c13 = a.fma(b3, c13);
            a = FloatVector.broadcast(S, X[x2 + k]);
            c20 = a.fma(b0, c20); c21 = a.fma(b1, c21); c22 = a.fma(b2, c22); c23 = a.fma(b3, c23);
            a = FloatVector.broadcast(S, X[x3 + k]);
            c30 = a.fma(b0, c30); c31 = a.fma(b1, c31); c32 = a.fma(b2, c32); c33 = a.fma(b3, c33);
            a = FloatVector.broadcast(S, X[x4 + k]);
            c40 = a.fma(b0, c40); c41 = a.fma(b1, c41); c42 = a.fma(b2, c42); c43 = a.fma(b3, c43);
            a = FloatVector.broadcast(S, X[x5 + k]);
            c50 = a.fma(b0, c50); c51 = a.fma(b1, c51); c52 = a.fma(b2, c52); c53 = a.fma(b3, c53);
        }
        int o = y0;
        c00.intoArray(Y, o); c01.intoArray(Y, o + L); c02.intoArray(Y, o + 2 * L); c03.intoArray(Y, o + 3 * L); o += ldy;
        c10.intoArray(Y, o); c11.intoArray(Y, o + L); c12.intoArray(Y, o + 2 * L); c13.intoArray(Y, o + 3 * L); o += ldy;
        c20.intoArray(Y, o); c21.intoArray(Y, o + L); c22.intoArray(Y, o + 2 * L); c23.intoArray(Y, o + 3 * L); o += ldy;
        c30.intoArray(Y, o); c31.intoArray(Y, o + L); c32.intoArray(Y, o + 2 * L); c33.intoArray(Y, o + 3 * L); o += ldy;
        c40.intoArray(Y, o); c41.intoArray(Y, o + L); c42.intoArray(Y, o + 2 * L); c43.intoArray(Y, o + 3 * L); o += ldy;
        c50.intoArray(Y, o); c51.intoArray(Y, o + L); c52.intoArray(Y, o + 2 * L); c53.intoArray(Y, o + 3 * L);
    }

    private static void k2x4(int in, float[] X, int x0, int ldx, float[] P, int b, float[] Y, int y0, int ldy) {
        int x1 = x0 + ldx;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        for (int k = 0, pb = b; k < in; k++, pb += NR) {
            FloatVector b0 = FloatVector.fromArray(S, P, pb), b1 = FloatVector.fromArray(S, P, pb + L);
            FloatVector b2 = FloatVector.fromArray(S, P, pb + 2 * L), b3 = FloatVector.fromArray(S, P, pb + 3 * L);
            FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01); c02 = a.fma(b2, c02); c03 = a.fma(b3, c03);
            a = FloatVector.broadcast(S, X[x1 + k]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11); c12 = a.fma(b2, c12); c13 = a.fma(b3, c13);
        }
        c00.intoArray(Y, y0); c01.intoArray(Y, y0 + L); c02.intoArray(Y, y0 + 2 * L); c03.intoArray(Y, y0 + 3 * L);
        y0 += ldy;
        c10.intoArray(Y, y0); c11.intoArray(Y, y0 + L); c12.intoArray(Y, y0 + 2 * L); c13.intoArray(Y, y0 + 3 * L);
    }

    /**
     * One row × four vectors of output columns: two from b and two from b2 (one 4-vector panel,
     * b2 = b + 2L; or two adjacent 2-vector panels at 8 lanes, four accumulator chains and two
     * weight streams instead of two and one: llama-m decode on the AVX2 path, six alternating rounds,
     * median 104 against 96 tok/s, docs/BENCHMARKS.md 2026-12-05). Each output is the chain k1x2 computes.
     */
    private static void k1x4(int in, float[] X, int x0, float[] P, int b, int b2, float[] Y, int y0) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c0 = z, c1 = z, c2 = z, c3 = z;
        for (int k = 0, pb = b, pc = b2; k < in; k++, pb += NR, pc += NR) {
            FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
            c0 = a.fma(FloatVector.fromArray(S, P, pb), c0);
            c1 = a.fma(FloatVector.fromArray(S, P, pb + L), c1);
            c2 = a.fma(FloatVector.fromArray(S, P, pc), c2);
            c3 = a.fma(FloatVector.fromArray(S, P, pc + L), c3);
        }
        c0.intoArray(Y, y0); c1.intoArray(Y, y0 + L); c2.intoArray(Y, y0 + 2 * L); c3.intoArray(Y, y0 + 3 * L);
    }

    /** 6 rows × a 2-vector panel (8 lanes: 12 accumulators of 16 registers). */
    private static void k6x2(int in, float[] X, int x0, int ldx, float[] P, int b, float[] Y, int y0, int ldy) {
        int x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx, x4 = x3 + ldx, x5 = x4 + ldx;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
        for (int k = 0, pb = b; k < in; k++, pb += NR) {
            FloatVector b0 = FloatVector.fromArray(S, P, pb), b1 = FloatVector.fromArray(S, P, pb + L);
            FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01);
            a = FloatVector.broadcast(S, X[x1 + k]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11);
            a = FloatVector.broadcast(S, X[x2 + k]);
            c20 = a.fma(b0, c20); c21 = a.fma(b1, c21);
            a = FloatVector.broadcast(S, X[x3 + k]);
            c30 = a.fma(b0, c30); c31 = a.fma(b1, c31);
            a = FloatVector.broadcast(S, X[x4 + k]);
            c40 = a.fma(b0, c40); c41 = a.fma(b1, c41);
            a = FloatVector.broadcast(S, X[x5 + k]);
            c50 = a.fma(b0, c50); c51 = a.fma(b1, c51);
        }
        int o = y0;
        c00.intoArray(Y, o); c01.intoArray(Y, o + L); o += ldy;
        c10.intoArray(Y, o); c11.intoArray(Y, o + L); o += ldy;
        c20.intoArray(Y, o); c21.intoArray(Y, o + L); o += ldy;
        c30.intoArray(Y, o); c31.intoArray(Y, o + L); o += ldy;
        c40.intoArray(Y, o); c41.intoArray(Y, o + L); o += ldy;
        c50.intoArray(Y, o); c51.intoArray(Y, o + L);
    }

    private static void k2x2(int in, float[] X, int x0, int ldx, float[] P, int b, float[] Y, int y0, int ldy) {
        int x1 = x0 + ldx;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z;
        for (int k = 0, pb = b; k < in; k++, pb += NR) {
            FloatVector b0 = FloatVector.fromArray(S, P, pb), b1 = FloatVector.fromArray(S, P, pb + L);
            FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01);
            a = FloatVector.broadcast(S, X[x1 + k]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11);
        }
        c00.intoArray(Y, y0); c01.intoArray(Y, y0 + L);
        c10.intoArray(Y, y0 + ldy); c11.intoArray(Y, y0 + ldy + L);
    }

    private static void k1x2(int in, float[] X, int x0, float[] P, int b, float[] Y, int y0) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0;
        for (int k = 0, pb = b; k < in; k++, pb += NR) {
            FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
            c0 = a.fma(FloatVector.fromArray(S, P, pb), c0);
            c1 = a.fma(FloatVector.fromArray(S, P, pb + L), c1);
        }
        c0.intoArray(Y, y0);
        c1.intoArray(Y, y0 + L);
    }
}
