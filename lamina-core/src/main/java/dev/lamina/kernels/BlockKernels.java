package dev.lamina.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The prompt kernel of the block-quantized weights ({@link Q8Weights}, {@link Q4Weights}): their
 * quants widened to float once per panel, six rows at a time, each output summed block by block
 * (the quants' dot product with the inputs, then scaled into the total) as their one-row and
 * four-row kernels and scalar references sum it.
 */
final class BlockKernels {
    private BlockKernels() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Panel width: two vectors, as both quantized kinds lay their panels out. */
    static final int NR = 2 * L;
    /** Rows per call of {@link #k6}; from this many rows a panel is widened once. */
    static final int ROWS = 6;

    /** Each row's input sum per block (for the blocks' offsets), sx[i·blocks + b] = ((x[k0] + x[k0 + 1]) + ...) from 0. */
    static void blockSums(int n, int in, int block, float[] X, int xOff, int ldx, float[] sx) {
        int blocks = (in + block - 1) / block;
        for (int i = 0; i < n; i++)
            for (int b = 0; b < blocks; b++) {
                float t = 0;
                for (int k = b * block, end = Math.min(in, k + block); k < end; k++) t += X[xOff + i * ldx + k];
                sx[i * blocks + b] = t;
            }
    }

    /**
     * Six rows × a panel of quants widened to float ([in][NR], two vectors): 12 block accumulators
     * (two loads per k), then per block each total ← d·s + total. The totals live in Y; a format's
     * offsets are added after, by {@link #offsets}.
     *
     * <p>The loop is written two k per pass: with 8-lane vectors (AVX2) C2 ran it written one k per
     * pass at about half the rate of the float32 tile of the same shape without blocks (53-57
     * against 110 GFLOP/s, one thread, 128 × 768 × 2048), and two k per pass at 90-94. With 32
     * registers most panels go through {@link #k6x4}.
     */
    static void k6(int in, int block, float[] P, float[] pd, float[] X, int x0, int ldx, float[] Y, int y0, int ldy) {
        int x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx, x4 = x3 + ldx, x5 = x4 + ldx;
        FloatVector z = FloatVector.zero(S);
        for (int r = 0; r < ROWS; r++) { z.intoArray(Y, y0 + r * ldy); z.intoArray(Y, y0 + r * ldy + L); }
        for (int b = 0, k0 = 0; k0 < in; b++, k0 += block) {
            FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
            int k = k0, end = Math.min(in, k0 + block), pb = k0 * NR;
            for (; k + 1 < end; k += 2, pb += 2 * NR) {
                FloatVector w0 = FloatVector.fromArray(S, P, pb), w1 = FloatVector.fromArray(S, P, pb + L);
                FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
                c00 = a.fma(w0, c00); c01 = a.fma(w1, c01);
                a = FloatVector.broadcast(S, X[x1 + k]);
                c10 = a.fma(w0, c10); c11 = a.fma(w1, c11);
                a = FloatVector.broadcast(S, X[x2 + k]);
                c20 = a.fma(w0, c20); c21 = a.fma(w1, c21);
                a = FloatVector.broadcast(S, X[x3 + k]);
                c30 = a.fma(w0, c30); c31 = a.fma(w1, c31);
                a = FloatVector.broadcast(S, X[x4 + k]);
                c40 = a.fma(w0, c40); c41 = a.fma(w1, c41);
                a = FloatVector.broadcast(S, X[x5 + k]);
                c50 = a.fma(w0, c50); c51 = a.fma(w1, c51);
                w0 = FloatVector.fromArray(S, P, pb + NR);
                w1 = FloatVector.fromArray(S, P, pb + NR + L);
                a = FloatVector.broadcast(S, X[x0 + k + 1]);
                c00 = a.fma(w0, c00); c01 = a.fma(w1, c01);
                a = FloatVector.broadcast(S, X[x1 + k + 1]);
                c10 = a.fma(w0, c10); c11 = a.fma(w1, c11);
                a = FloatVector.broadcast(S, X[x2 + k + 1]);
                c20 = a.fma(w0, c20); c21 = a.fma(w1, c21);
                a = FloatVector.broadcast(S, X[x3 + k + 1]);
                c30 = a.fma(w0, c30); c31 = a.fma(w1, c31);
                a = FloatVector.broadcast(S, X[x4 + k + 1]);
                c40 = a.fma(w0, c40); c41 = a.fma(w1, c41);
                a = FloatVector.broadcast(S, X[x5 + k + 1]);
                c50 = a.fma(w0, c50); c51 = a.fma(w1, c51);
            }
            if (k < end) {
                FloatVector w0 = FloatVector.fromArray(S, P, pb), w1 = FloatVector.fromArray(S, P, pb + L);
                FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
                c00 = a.fma(w0, c00); c01 = a.fma(w1, c01);
                a = FloatVector.broadcast(S, X[x1 + k]);
                c10 = a.fma(w0, c10); c11 = a.fma(w1, c11);
                a = FloatVector.broadcast(S, X[x2 + k]);
                c20 = a.fma(w0, c20); c21 = a.fma(w1, c21);
                a = FloatVector.broadcast(S, X[x3 + k]);
                c30 = a.fma(w0, c30); c31 = a.fma(w1, c31);
                a = FloatVector.broadcast(S, X[x4 + k]);
                c40 = a.fma(w0, c40); c41 = a.fma(w1, c41);
                a = FloatVector.broadcast(S, X[x5 + k]);
                c50 = a.fma(w0, c50); c51 = a.fma(w1, c51);
            }
            FloatVector d0 = FloatVector.fromArray(S, pd, b * NR), d1 = FloatVector.fromArray(S, pd, b * NR + L);
            d0.fma(c00, FloatVector.fromArray(S, Y, y0)).intoArray(Y, y0);
            d1.fma(c01, FloatVector.fromArray(S, Y, y0 + L)).intoArray(Y, y0 + L);
            d0.fma(c10, FloatVector.fromArray(S, Y, y0 + ldy)).intoArray(Y, y0 + ldy);
            d1.fma(c11, FloatVector.fromArray(S, Y, y0 + ldy + L)).intoArray(Y, y0 + ldy + L);
            d0.fma(c20, FloatVector.fromArray(S, Y, y0 + 2 * ldy)).intoArray(Y, y0 + 2 * ldy);
            d1.fma(c21, FloatVector.fromArray(S, Y, y0 + 2 * ldy + L)).intoArray(Y, y0 + 2 * ldy + L);
            d0.fma(c30, FloatVector.fromArray(S, Y, y0 + 3 * ldy)).intoArray(Y, y0 + 3 * ldy);
            d1.fma(c31, FloatVector.fromArray(S, Y, y0 + 3 * ldy + L)).intoArray(Y, y0 + 3 * ldy + L);
            d0.fma(c40, FloatVector.fromArray(S, Y, y0 + 4 * ldy)).intoArray(Y, y0 + 4 * ldy);
            d1.fma(c41, FloatVector.fromArray(S, Y, y0 + 4 * ldy + L)).intoArray(Y, y0 + 4 * ldy + L);
            d0.fma(c50, FloatVector.fromArray(S, Y, y0 + 5 * ldy)).intoArray(Y, y0 + 5 * ldy);
            d1.fma(c51, FloatVector.fromArray(S, Y, y0 + 5 * ldy + L)).intoArray(Y, y0 + 5 * ldy + L);
        }
    }

    /**
     * With 32 vector registers ({@link #WIDE}), a prompt runs on two adjacent panels at once,
     * widened side by side ([in][2·NR]: 4 vectors per k): 24 block accumulators, four loads and six
     * broadcasts per 24 multiply-adds, as the float32 tile on that machine. Each output's chain is
     * that of {@link #k6} (the same blocks, FMAs and order); 155-160 GFLOP/s became 208-210 on one
     * AVX-512 thread (128 × 768, block 32).
     */
    static final boolean WIDE = L >= 16;

    /** Six rows × two panels widened side by side (P [in][2·NR], pd [blocks][2·NR]): {@link #k6}'s chains, 4 vectors wide. */
    static void k6x4(int in, int block, float[] P, float[] pd, float[] X, int x0, int ldx, float[] Y, int y0, int ldy) {
        int x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx, x4 = x3 + ldx, x5 = x4 + ldx, w = 2 * NR;
        FloatVector z = FloatVector.zero(S);
        for (int r = 0; r < ROWS; r++) for (int v = 0; v < 4; v++) z.intoArray(Y, y0 + r * ldy + v * L);
        for (int b = 0, k0 = 0; k0 < in; b++, k0 += block) {
            FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z, c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z, c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
            for (int k = k0, end = Math.min(in, k0 + block), pb = k0 * w; k < end; k++, pb += w) {
                FloatVector w0 = FloatVector.fromArray(S, P, pb), w1 = FloatVector.fromArray(S, P, pb + L);
                FloatVector w2 = FloatVector.fromArray(S, P, pb + 2 * L), w3 = FloatVector.fromArray(S, P, pb + 3 * L);
                FloatVector a = FloatVector.broadcast(S, X[x0 + k]);
                c00 = a.fma(w0, c00); c01 = a.fma(w1, c01); c02 = a.fma(w2, c02); c03 = a.fma(w3, c03);
                a = FloatVector.broadcast(S, X[x1 + k]);
                c10 = a.fma(w0, c10); c11 = a.fma(w1, c11); c12 = a.fma(w2, c12); c13 = a.fma(w3, c13);
                a = FloatVector.broadcast(S, X[x2 + k]);
                c20 = a.fma(w0, c20); c21 = a.fma(w1, c21); c22 = a.fma(w2, c22); c23 = a.fma(w3, c23);
                a = FloatVector.broadcast(S, X[x3 + k]);
                c30 = a.fma(w0, c30); c31 = a.fma(w1, c31); c32 = a.fma(w2, c32); c33 = a.fma(w3, c33);
                a = FloatVector.broadcast(S, X[x4 + k]);
                c40 = a.fma(w0, c40); c41 = a.fma(w1, c41); c42 = a.fma(w2, c42); c43 = a.fma(w3, c43);
                a = FloatVector.broadcast(S, X[x5 + k]);
                c50 = a.fma(w0, c50); c51 = a.fma(w1, c51); c52 = a.fma(w2, c52); c53 = a.fma(w3, c53);
            }
            int db = b * w;
            FloatVector d0 = FloatVector.fromArray(S, pd, db), d1 = FloatVector.fromArray(S, pd, db + L);
            FloatVector d2 = FloatVector.fromArray(S, pd, db + 2 * L), d3 = FloatVector.fromArray(S, pd, db + 3 * L);
            d0.fma(c00, FloatVector.fromArray(S, Y, y0)).intoArray(Y, y0);
            d1.fma(c01, FloatVector.fromArray(S, Y, y0 + L)).intoArray(Y, y0 + L);
            d2.fma(c02, FloatVector.fromArray(S, Y, y0 + 2 * L)).intoArray(Y, y0 + 2 * L);
            d3.fma(c03, FloatVector.fromArray(S, Y, y0 + 3 * L)).intoArray(Y, y0 + 3 * L);
            d0.fma(c10, FloatVector.fromArray(S, Y, y0 + ldy)).intoArray(Y, y0 + ldy);
            d1.fma(c11, FloatVector.fromArray(S, Y, y0 + ldy + L)).intoArray(Y, y0 + ldy + L);
            d2.fma(c12, FloatVector.fromArray(S, Y, y0 + ldy + 2 * L)).intoArray(Y, y0 + ldy + 2 * L);
            d3.fma(c13, FloatVector.fromArray(S, Y, y0 + ldy + 3 * L)).intoArray(Y, y0 + ldy + 3 * L);
            d0.fma(c20, FloatVector.fromArray(S, Y, y0 + 2 * ldy)).intoArray(Y, y0 + 2 * ldy);
            d1.fma(c21, FloatVector.fromArray(S, Y, y0 + 2 * ldy + L)).intoArray(Y, y0 + 2 * ldy + L);
            d2.fma(c22, FloatVector.fromArray(S, Y, y0 + 2 * ldy + 2 * L)).intoArray(Y, y0 + 2 * ldy + 2 * L);
            d3.fma(c23, FloatVector.fromArray(S, Y, y0 + 2 * ldy + 3 * L)).intoArray(Y, y0 + 2 * ldy + 3 * L);
            d0.fma(c30, FloatVector.fromArray(S, Y, y0 + 3 * ldy)).intoArray(Y, y0 + 3 * ldy);
            d1.fma(c31, FloatVector.fromArray(S, Y, y0 + 3 * ldy + L)).intoArray(Y, y0 + 3 * ldy + L);
            d2.fma(c32, FloatVector.fromArray(S, Y, y0 + 3 * ldy + 2 * L)).intoArray(Y, y0 + 3 * ldy + 2 * L);
            d3.fma(c33, FloatVector.fromArray(S, Y, y0 + 3 * ldy + 3 * L)).intoArray(Y, y0 + 3 * ldy + 3 * L);
            d0.fma(c40, FloatVector.fromArray(S, Y, y0 + 4 * ldy)).intoArray(Y, y0 + 4 * ldy);
            d1.fma(c41, FloatVector.fromArray(S, Y, y0 + 4 * ldy + L)).intoArray(Y, y0 + 4 * ldy + L);
            d2.fma(c42, FloatVector.fromArray(S, Y, y0 + 4 * ldy + 2 * L)).intoArray(Y, y0 + 4 * ldy + 2 * L);
            d3.fma(c43, FloatVector.fromArray(S, Y, y0 + 4 * ldy + 3 * L)).intoArray(Y, y0 + 4 * ldy + 3 * L);
            d0.fma(c50, FloatVector.fromArray(S, Y, y0 + 5 * ldy)).intoArray(Y, y0 + 5 * ldy);
            d1.fma(c51, FloatVector.fromArray(S, Y, y0 + 5 * ldy + L)).intoArray(Y, y0 + 5 * ldy + L);
            d2.fma(c52, FloatVector.fromArray(S, Y, y0 + 5 * ldy + 2 * L)).intoArray(Y, y0 + 5 * ldy + 2 * L);
            d3.fma(c53, FloatVector.fromArray(S, Y, y0 + 5 * ldy + 3 * L)).intoArray(Y, y0 + 5 * ldy + 3 * L);
        }
    }

    /**
     * Adds the offsets of up to six rows to their totals over one panel (NR outputs): Y[r] ← Y[r] + u
     * with u = Σ_b T[b]·sx[r][b] summed in block order from 0 (T[b], NR values at t0 + b·tStride: the
     * blocks' negated offsets or additive terms; sx[s0 + r·blocks + b] the row's input sum of block
     * b). Every kernel shape and the scalar references sum the offsets in this chain of their own and
     * add it to the blocks' total once, at the end. Kept out of the blocks' epilogue, the prompt
     * kernels keep their registers for their accumulators (one thread, 128 × 2048 × 768, Q4_0:
     * AVX-512 115-122 GFLOP/s with the offsets in the epilogue, 153 with this pass; AVX2 75-76, 82).
     * The rows' chains are interleaved (12 accumulators): one row's chain after another's, AVX2
     * prompts ran at 67-69, each chain waiting on its own latency.
     */
    static void offsets(int rows, int blocks, float[] T, int t0, int tStride, float[] sx, int s0, float[] Y, int y0, int ldy) {
        FloatVector z = FloatVector.zero(S), u00 = z, u01 = z, u10 = z, u11 = z, u20 = z, u21 = z, u30 = z, u31 = z, u40 = z, u41 = z, u50 = z, u51 = z;
        for (int b = 0, t = t0; b < blocks; b++, t += tStride) {
            FloatVector n0 = FloatVector.fromArray(S, T, t), n1 = FloatVector.fromArray(S, T, t + L);
            FloatVector m = FloatVector.broadcast(S, sx[s0 + b]);
            u00 = n0.fma(m, u00); u01 = n1.fma(m, u01);
            if (rows > 1) { m = FloatVector.broadcast(S, sx[s0 + blocks + b]); u10 = n0.fma(m, u10); u11 = n1.fma(m, u11); }
            if (rows > 2) { m = FloatVector.broadcast(S, sx[s0 + 2 * blocks + b]); u20 = n0.fma(m, u20); u21 = n1.fma(m, u21); }
            if (rows > 3) { m = FloatVector.broadcast(S, sx[s0 + 3 * blocks + b]); u30 = n0.fma(m, u30); u31 = n1.fma(m, u31); }
            if (rows > 4) { m = FloatVector.broadcast(S, sx[s0 + 4 * blocks + b]); u40 = n0.fma(m, u40); u41 = n1.fma(m, u41); }
            if (rows > 5) { m = FloatVector.broadcast(S, sx[s0 + 5 * blocks + b]); u50 = n0.fma(m, u50); u51 = n1.fma(m, u51); }
        }
        add(Y, y0, u00, u01);
        if (rows > 1) add(Y, y0 + ldy, u10, u11);
        if (rows > 2) add(Y, y0 + 2 * ldy, u20, u21);
        if (rows > 3) add(Y, y0 + 3 * ldy, u30, u31);
        if (rows > 4) add(Y, y0 + 4 * ldy, u40, u41);
        if (rows > 5) add(Y, y0 + 5 * ldy, u50, u51);
    }

    private static void add(float[] Y, int y, FloatVector u0, FloatVector u1) {
        FloatVector.fromArray(S, Y, y).add(u0).intoArray(Y, y);
        FloatVector.fromArray(S, Y, y + L).add(u1).intoArray(Y, y + L);
    }
}
