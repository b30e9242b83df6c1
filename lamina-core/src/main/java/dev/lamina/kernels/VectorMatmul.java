package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Precision;
import dev.lamina.tensor.Tuning;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Packed-panel float32 GEMM over the Vector API: C[M,N] (+)= A[M,K] · B[K,N], with A and B read
 * through (row stride, column stride) pairs so one routine serves the three training layouts
 * (x·wᵀ, dy·w, dyᵀ·x) without transposing anything in memory.
 *
 * <p>Goto/BLIS loop order: for each KC slice of K, B is packed into NR-column panels
 * (Bp[k][NR], NR = NV vectors); for each MC block of rows, A is read in place when column-major
 * (dyᵀ in the weight gradient) or row-major with rows not a multiple of 4 KB apart, and packed
 * row-major otherwise; a register tile of MR
 * rows × NV vectors accumulates Σ_k a(i,k)·b(k,·) in local FloatVector variables, broadcasting one
 * A element per row. The tile's shape ({@link GemmTile}) fits the vector register file. With 32
 * registers it is 12 rows × 2 vectors: 24 accumulators, and per k two vector loads of B, which
 * streams from L2, against four for a 6×4 tile. At 16 lanes it beat 6×4 by 2-11% on most of the
 * benchmark presets' products (JMH, two threads) and by 1-3% in whole training steps; attention's
 * small products lost 5-10%. (6×4 had beaten 8×2, with 16 accumulators, by 15-20% alone in L1.)
 * With 16 registers (AVX2) 24 accumulators spill on every k; the tile there has 12.
 * Edge tiles are computed on zero-padded panels into a scratch tile,
 * so every C element is summed in the same order (KC slices, then k) whatever its position or
 * the thread count.
 *
 * <p>Work is split over row panels (or column panels when there are few rows) with
 * {@link Parallel#forRange}; each thread packs into its own scratch buffers (thread-local,
 * allocated once per thread and tile). One instance per tile ({@link #of}).
 */
final class VectorMatmul {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final java.util.Map<GemmTile, VectorMatmul> BY_TILE = new java.util.concurrent.ConcurrentHashMap<>();

    final GemmTile tile;
    /** Register tile: MR rows × NV vectors (NR columns). */
    private final int MR, NV, NR;
    /**
     * K slice; A block rows; B block columns. Every K slice is one more pass over C, and a register
     * tile whose C rows are not in cache costs up to ~1,000 cycles more (the 6x4 tile alone: 92% of
     * peak at kc 192 with C hot, 75% with C in memory; 94% and 83% at kc 384). Slices of 384
     * rather than 256 made whole llama-s and gpt2-s steps 2-3% faster; 512 rather than 384 made
     * llama-s 2% faster again (six alternating pairs, all faster) and left gpt2-s and the 8-lane
     * path level; 768 was no faster. The A block (MC × 512) and a B panel (512 × NR) still fit in
     * a 1 MB L2.
     */
    static final int KC = Tuning.system().kc();
    private final int MC, NC;
    /** Below this many multiply-adds a call runs on the calling thread. */
    private static final long PARALLEL_MIN_FMA = 1L << 18;

    private VectorMatmul(GemmTile tile) {
        this.tile = tile;
        MR = tile.rows();
        NV = tile.vectors();
        NR = NV * L;
        MC = MR * Tuning.system().mcPanels();
        NC = Math.max(NR, Tuning.system().nc() / NR * NR);  // whole panels (a 3-vector tile's are not a power of two)
        scratch = ThreadLocal.withInitial(() -> new Scratch(MC, NC, NR, MR));
    }

    /** The product with register tile t. */
    static VectorMatmul of(GemmTile t) { return BY_TILE.computeIfAbsent(t, VectorMatmul::new); }

    private record Scratch(float[] ap, float[] bp, float[] tile) {
        Scratch(int mc, int nc, int nr, int mr) {
            this(new float[Math.max(mc * KC + L, GEMV_NN_MAX_ROWS * NB)],  // A block, row-major, when A is not (or gemvNN's rows); + L: packAStrips' last vector
                 new float[KC * nc], new float[mr * nr]);
        }
    }

    private final ThreadLocal<Scratch> scratch;

    /**
     * C[i·ldc + j] (+)= Σ_k A[aOff + i·rsA + k·csA] · B[bOff + k·rsB + j·csB] for i < M, j < N.
     * accumulate = false overwrites C.
     */
    void gemm(Parallel pool, int M, int N, int K,
                     float[] A, int aOff, int rsA, int csA,
                     float[] B, int bOff, int rsB, int csB,
                     float[] C, int cOff, int ldc, boolean accumulate) {
        gemm(pool, M, N, K, A, aOff, rsA, csA, B, bOff, rsB, csB, C, cOff, ldc, accumulate, Precision.FP32);
    }

    /**
     * As above with B read rounded to bAs (16-bit training's master weights): the same bits as the
     * product with a rounded copy of B, without the copy. Each packed panel is rounded once packed;
     * the streaming path rounds the rows of B it reads into a scratch first.
     */
    void gemm(Parallel pool, int M, int N, int K,
                     float[] A, int aOff, int rsA, int csA,
                     float[] B, int bOff, int rsB, int csB,
                     float[] C, int cOff, int ldc, boolean accumulate, Precision bAs) {
        if (M <= 0 || N <= 0) return;
        if (K <= 0) {
            if (!accumulate) for (int i = 0; i < M; i++) java.util.Arrays.fill(C, cOff + i * ldc, cOff + i * ldc + N, 0f);
            return;
        }
        if (M <= GEMV_NN_MAX_ROWS && csB == 1) {
            gemvNN(pool, M, N, K, A, aOff, rsA, csA, B, bOff, rsB, C, cOff, ldc, accumulate, bAs);
            return;
        }
        int mPanels = (M + MR - 1) / MR, nPanels = (N + NR - 1) / NR;
        long fma = (long) M * N * K;
        int threads = fma < PARALLEL_MIN_FMA ? 1 : pool.threads();
        if (threads <= 1) {
            block(0, M, 0, N, K, A, aOff, rsA, csA, B, bOff, rsB, csB, C, cOff, ldc, accumulate, bAs);
        } else if (splitRows(mPanels, nPanels, threads)) {
            pool.forRange(mPanels, 1, (p0, p1) -> block(p0 * MR, Math.min(M, p1 * MR), 0, N, K,
                    A, aOff, rsA, csA, B, bOff, rsB, csB, C, cOff, ldc, accumulate, bAs));
        } else {
            pool.forRange(nPanels, 1, (p0, p1) -> block(0, M, p0 * NR, Math.min(N, p1 * NR), K,
                    A, aOff, rsA, csA, B, bOff, rsB, csB, C, cOff, ldc, accumulate, bAs));
        }
    }

    /** {@link #gemm} on the calling thread only (for callers that are already one task of a parallel loop). */
    void gemmSerial(int M, int N, int K,
                           float[] A, int aOff, int rsA, int csA,
                           float[] B, int bOff, int rsB, int csB,
                           float[] C, int cOff, int ldc, boolean accumulate) {
        if (M <= 0 || N <= 0) return;
        if (K <= 0) {
            if (!accumulate) for (int i = 0; i < M; i++) java.util.Arrays.fill(C, cOff + i * ldc, cOff + i * ldc + N, 0f);
            return;
        }
        block(0, M, 0, N, K, A, aOff, rsA, csA, B, bOff, rsB, csB, C, cOff, ldc, accumulate, Precision.FP32);
    }

    /**
     * Which dimension the threads share. Splitting rows makes every thread pack all of B, but each
     * packed panel then feeds M/threads rows straight from L2, and A (read in place or packed per
     * thread) is read by one thread only: measured 10-30% faster at 2 threads on every training
     * layout and llama-s shape (256 rows and up). With few row panels, split the larger dimension.
     */
    private static boolean splitRows(int mPanels, int nPanels, int threads) {
        return mPanels >= 4 * threads || mPanels >= nPanels;
    }

    /** y = x·wᵀ with at most this many rows takes the streaming path ({@link #gemvNT}). */
    static final int GEMV_MAX_ROWS = 16;

    /**
     * y[n,out] = x[n,in] · w[out,in]ᵀ for few rows (decode): w is read once, straight from its
     * rows, four rows of w against two rows of x at a time (8 accumulators); x stays in cache.
     * Parallel over out. With w read rounded to wAs (16-bit training), each run of four rows (a
     * task's last rows one at a time) is rounded into a scratch first: the same dot products as on a
     * rounded copy of w.
     */
    void gemvNT(Parallel pool, int n, int in, int out, float[] X, int xOff, float[] W, int wOff, float[] Y, int yOff, Precision wAs) {
        if (n <= 0 || out <= 0) return;
        boolean round = wAs != Precision.FP32;
        int minChunk = (int) Math.max(4, Math.min(out, PARALLEL_MIN_FMA / Math.max(1L, (long) n * in)));
        pool.forRange(out, minChunk, (o0, o1) -> {
            float[] r = round ? roundedRows(4 * in) : null;
            for (int o = o0, rows; o < o1; o += rows) {
                rows = o + 4 <= o1 ? 4 : 1;                 // four rows of w at a time, the task's last ones alone
                float[] w = W;
                int w0 = wOff + o * in;
                if (round) {
                    copyRounded(W, w0, in, rows, in, r, wAs);
                    w = r;
                    w0 = 0;
                }
                if (rows == 4) {
                    int i = 0;
                    for (; i + 2 <= n; i += 2) gemv4x2(in, X, xOff + i * in, w, w0, Y, yOff + i * out + o, out);
                    if (i < n) gemv4x1(in, X, xOff + i * in, w, w0, Y, yOff + i * out + o);
                } else {
                    for (int i = 0; i < n; i++) Y[yOff + i * out + o] = VectorKernels.vdot(X, xOff + i * in, w, w0, in);
                }
            }
        });
    }

    /** dst[q·cols + j] = src[off + q·rs + j] rounded to p, for rows q and cols j: rows of a weight read rounded, packed together. */
    private static void copyRounded(float[] src, int off, int rs, int rows, int cols, float[] dst, Precision p) {
        for (int q = 0; q < rows; q++) System.arraycopy(src, off + q * rs, dst, q * cols, cols);
        VectorMath.round(dst, 0, rows * cols, p);
    }

    /** This thread's scratch for rows of a weight read rounded, at least floats long. */
    private float[] roundedRows(int floats) {
        float[] r = rounded.get();
        if (r.length < floats) rounded.set(r = new float[floats]);
        return r;
    }

    private final ThreadLocal<float[]> rounded = ThreadLocal.withInitial(() -> new float[0]);

    /** C = A·B with at most this many rows and a row-major B takes the streaming path ({@link #gemvNN}). */
    static final int GEMV_NN_MAX_ROWS = 4;
    /**
     * Columns per block of {@link #gemvNN}: B is read in runs of up to 16 KB per row (shorter runs
     * starve the prefetcher: 1,024 columns ran at half the speed) and the partial rows (4 × 16 KB)
     * stay in L2.
     */
    private static final int NB = 4096;

    /**
     * C[M,N] (+)= A[M,K]·B[K,N] for few rows and a row-major B (e.g. one row times a weight
     * matrix): B is streamed eight rows at a time, fused into the M partial rows (axpy), instead of
     * being packed for a handful of rows. Same arithmetic as the packed path: per K slice of
     * kcMax, a chain of fused multiply-adds from zero in k order, then added to C; parallel over
     * columns. About 3x the packed path at one row and 1.4x at four (1 x 4096 x 4096, one thread).
     */
    private void gemvNN(Parallel pool, int M, int N, int K, float[] A, int aOff, int rsA, int csA,
                               float[] B, int bOff, int rsB, float[] C, int cOff, int ldc, boolean accumulate, Precision bAs) {
        boolean round = bAs != Precision.FP32;     // B's rows read rounded: each run of eight (or one) rounded into a scratch first
        int kcMax = kSlice(K);
        int panels = (N + NR - 1) / NR;
        int minChunk = (int) Math.max(1, Math.min(panels, PARALLEL_MIN_FMA / Math.max(1L, (long) M * K * NR)));
        pool.forRange(panels, minChunk, (p0, p1) -> {
            float[] t = scratch.get().ap();                       // M partial rows of NB floats
            float[] rb = round ? roundedRows(8 * NB) : null;       // eight rows of B's block, rounded
            for (int jb = p0 * NR, end = Math.min(N, p1 * NR); jb < end; jb += NB) {
                int nb = Math.min(NB, end - jb);
                for (int pc = 0; pc < K; pc += kcMax) {
                    int kc = Math.min(kcMax, K - pc);
                    java.util.Arrays.fill(t, 0, M * NB, 0f);
                    int k = pc;
                    for (; k + 8 <= pc + kc; k += 8) {                 // eight B rows per pass over the partial rows
                        float[] src = B;
                        int b = bOff + k * rsB + jb, rs = rsB;
                        if (round) {
                            copyRounded(B, b, rsB, 8, nb, rb, bAs);
                            src = rb;
                            b = 0;
                            rs = nb;
                        }
                        for (int i = 0; i < M; i++) {
                            int a = aOff + i * rsA + k * csA;
                            axpy8(nb, A, a, csA, src, b, rs, t, i * NB);
                        }
                    }
                    for (; k < pc + kc; k++) {
                        float[] src = B;
                        int b = bOff + k * rsB + jb;
                        if (round) {
                            copyRounded(B, b, rsB, 1, nb, rb, bAs);
                            src = rb;
                            b = 0;
                        }
                        for (int i = 0; i < M; i++) axpy(nb, A[aOff + i * rsA + k * csA], src, b, t, i * NB);
                    }
                    boolean add = accumulate || pc > 0;
                    for (int i = 0; i < M; i++) {
                        int c = cOff + i * ldc + jb, r = i * NB;
                        if (add) for (int j = 0; j < nb; j++) C[c + j] = t[r + j] + C[c + j];
                        else System.arraycopy(t, r, C, c, nb);
                    }
                }
            }
        });
    }

    /**
     * Eight axpy steps in k order (B rows rs apart, A's eight values cs apart), t loaded and stored
     * once: the same chain of fused multiply-adds as eight single steps, an eighth of the t traffic
     * and eight read streams for the prefetcher (+15% over four at one row).
     */
    private static void axpy8(int n, float[] A, int a, int cs, float[] B, int b, int rs, float[] t, int to) {
        FloatVector v0 = FloatVector.broadcast(S, A[a]), v1 = FloatVector.broadcast(S, A[a + cs]);
        FloatVector v2 = FloatVector.broadcast(S, A[a + 2 * cs]), v3 = FloatVector.broadcast(S, A[a + 3 * cs]);
        FloatVector v4 = FloatVector.broadcast(S, A[a + 4 * cs]), v5 = FloatVector.broadcast(S, A[a + 5 * cs]);
        FloatVector v6 = FloatVector.broadcast(S, A[a + 6 * cs]), v7 = FloatVector.broadcast(S, A[a + 7 * cs]);
        int b1 = b + rs, b2 = b1 + rs, b3 = b2 + rs, b4 = b3 + rs, b5 = b4 + rs, b6 = b5 + rs, b7 = b6 + rs, j = 0;
        for (; j + L <= n; j += L) {
            FloatVector acc = FloatVector.fromArray(S, t, to + j);
            acc = v0.fma(FloatVector.fromArray(S, B, b + j), acc);
            acc = v1.fma(FloatVector.fromArray(S, B, b1 + j), acc);
            acc = v2.fma(FloatVector.fromArray(S, B, b2 + j), acc);
            acc = v3.fma(FloatVector.fromArray(S, B, b3 + j), acc);
            acc = v4.fma(FloatVector.fromArray(S, B, b4 + j), acc);
            acc = v5.fma(FloatVector.fromArray(S, B, b5 + j), acc);
            acc = v6.fma(FloatVector.fromArray(S, B, b6 + j), acc);
            acc = v7.fma(FloatVector.fromArray(S, B, b7 + j), acc);
            acc.intoArray(t, to + j);
        }
        for (; j < n; j++) {
            float acc = t[to + j];
            for (int q = 0; q < 8; q++) acc = Math.fma(A[a + q * cs], B[b + q * rs + j], acc);
            t[to + j] = acc;
        }
    }

    /** t[to + j] = fma(a, B[b + j], t[to + j]) for j < n. */
    private static void axpy(int n, float a, float[] B, int b, float[] t, int to) {
        FloatVector av = FloatVector.broadcast(S, a);
        int j = 0;
        for (; j + L <= n; j += L)
            av.fma(FloatVector.fromArray(S, B, b + j), FloatVector.fromArray(S, t, to + j)).intoArray(t, to + j);
        if (j < n) {
            VectorMask<Float> m = S.indexInRange(j, n);
            av.fma(FloatVector.fromArray(S, B, b + j, m), FloatVector.fromArray(S, t, to + j, m)).intoArray(t, to + j, m);
        }
    }

    /** Four dot products of rows w0..w3 (consecutive, length in) with two x rows; y rows ldy apart. */
    private static void gemv4x2(int in, float[] X, int x0, float[] W, int w0, float[] Y, int y0, int ldy) {
        int x1 = x0 + in, w1 = w0 + in, w2 = w1 + in, w3 = w2 + in;
        FloatVector z = FloatVector.zero(S);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        for (int k = 0; k < in; k += L) {
            var m = S.indexInRange(k, in);
            FloatVector u = FloatVector.fromArray(S, X, x0 + k, m), v = FloatVector.fromArray(S, X, x1 + k, m);
            FloatVector b = FloatVector.fromArray(S, W, w0 + k, m);
            a00 = u.fma(b, a00); a10 = v.fma(b, a10);
            b = FloatVector.fromArray(S, W, w1 + k, m);
            a01 = u.fma(b, a01); a11 = v.fma(b, a11);
            b = FloatVector.fromArray(S, W, w2 + k, m);
            a02 = u.fma(b, a02); a12 = v.fma(b, a12);
            b = FloatVector.fromArray(S, W, w3 + k, m);
            a03 = u.fma(b, a03); a13 = v.fma(b, a13);
        }
        Y[y0] = VectorMath.sum(a00); Y[y0 + 1] = VectorMath.sum(a01);
        Y[y0 + 2] = VectorMath.sum(a02); Y[y0 + 3] = VectorMath.sum(a03);
        Y[y0 + ldy] = VectorMath.sum(a10); Y[y0 + ldy + 1] = VectorMath.sum(a11);
        Y[y0 + ldy + 2] = VectorMath.sum(a12); Y[y0 + ldy + 3] = VectorMath.sum(a13);
    }

    private static void gemv4x1(int in, float[] X, int x0, float[] W, int w0, float[] Y, int y0) {
        int w1 = w0 + in, w2 = w1 + in, w3 = w2 + in;
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        for (int k = 0; k < in; k += L) {
            var m = S.indexInRange(k, in);
            FloatVector u = FloatVector.fromArray(S, X, x0 + k, m);
            a0 = u.fma(FloatVector.fromArray(S, W, w0 + k, m), a0);
            a1 = u.fma(FloatVector.fromArray(S, W, w1 + k, m), a1);
            a2 = u.fma(FloatVector.fromArray(S, W, w2 + k, m), a2);
            a3 = u.fma(FloatVector.fromArray(S, W, w3 + k, m), a3);
        }
        Y[y0] = VectorMath.sum(a0); Y[y0 + 1] = VectorMath.sum(a1);
        Y[y0 + 2] = VectorMath.sum(a2); Y[y0 + 3] = VectorMath.sum(a3);
    }

    /** Length of the K slices: K in equal slices of at most KC (every path sums C in these slices). */
    private static int kSlice(int K) {
        int slices = (K + KC - 1) / KC;
        return (K + slices - 1) / slices;
    }

    /** The blocked loop nest over rows [m0, m1) and columns [n0, n1), on one thread. */
    private void block(int m0, int m1, int n0, int n1, int K,
                              float[] A, int aOff, int rsA, int csA,
                              float[] B, int bOff, int rsB, int csB,
                              float[] C, int cOff, int ldc, boolean accumulate, Precision bAs) {
        Scratch s = scratch.get();
        float[] ap = s.ap(), bp = s.bp(), tile = s.tile();
        // A is read in place when column-major (dyᵀ in dw = dyᵀ·x: the kernel's twelve values per
        // k are then adjacent, and a pack per thread is saved: +5-10% on the weight-gradient
        // shapes) or row-major (x in x·wᵀ) with rows not a multiple of 4 KB apart: twelve such rows
        // map to one 8-way L1 set and evict each other (K = 1024 ran 8-9% slower in place, level
        // with 6×4 once copied). Other strides are packed.
        boolean stripA = rsA == 1 && PACK_TN;
        boolean directA = !stripA && (rsA == 1 || (csA == 1 && rsA % ALIASING_ROW_STRIDE != 0));
        int kcMax = kSlice(K);
        for (int jc = n0; jc < n1; jc += NC) {
            int nc = Math.min(NC, n1 - jc);
            for (int pc = 0; pc < K; pc += kcMax) {
                int kc = Math.min(kcMax, K - pc);
                boolean add = accumulate || pc > 0;
                packB(bp, B, bOff + pc * rsB + jc * csB, rsB, csB, kc, nc);
                VectorMath.round(bp, 0, (nc + NR - 1) / NR * NR * kc, bAs);   // B read rounded (16-bit training): the panels, once packed
                for (int ic = m0; ic < m1; ic += MC) {
                    int mc = Math.min(MC, m1 - ic);
                    float[] a = directA ? A : ap;
                    // the strip of rows ir.. starts at aBase + ir·step; A(r, k) within it at r·lda + k·aks:
                    // A's own strides, the packed block's (row-major), or its MR-row strips (k-major)
                    int aBase = directA ? aOff + ic * rsA + pc * csA : 0;
                    int step = directA ? rsA : kc, lda = directA ? rsA : stripA ? 1 : kc;
                    int aks = directA ? csA : stripA ? MR : 1;
                    if (stripA) packAStrips(ap, A, aOff + ic * rsA + pc * csA, csA, mc, kc, MR);
                    else if (!directA) packA(ap, A, aOff + ic * rsA + pc * csA, rsA, csA, mc, kc);
                    for (int jr = 0; jr < nc; jr += NR) {
                        int nr = Math.min(NR, nc - jr);
                        int bpOff = jr * kc;
                        for (int ir = 0; ir < mc; ir += MR) {
                            int mr = Math.min(MR, mc - ir);
                            switch (NV == 3 ? 3 : MR) {   // the tile's register kernel
                                case 12 -> kernel12x2(kc, a, aBase + ir * step, lda, aks, mr, bp, bpOff, tile);
                                case 6 -> kernel6x2(kc, a, aBase + ir * step, lda, aks, mr, bp, bpOff, tile);
                                default -> kernel4x3(kc, a, aBase + ir * step, lda, aks, mr, bp, bpOff, tile);
                            }
                            flush(tile, C, cOff + (ic + ir) * ldc + jc + jr, ldc, mr, nr, add);
                        }
                    }
                }
            }
        }
    }

    /**
     * C tile (+)= the register tile parked in tile[MR][NR]. The kernels end by storing their
     * accumulators to this L1-resident buffer rather than to C: that keeps their compiled graph
     * small enough for C2 to inline every vector operation (with C loads and two store paths in
     * the kernel, the inliner hit NodeCountInliningCutoff and boxed the accumulators: 5x slower).
     */
    private void flush(float[] tile, float[] C, int c0, int ldc, int mr, int nr, boolean add) {
        if (nr == NR) {
            for (int r = 0; r < mr; r++) {
                int t = r * NR, c = c0 + r * ldc;
                for (int v = 0; v < NR; v += L) {
                    FloatVector x = FloatVector.fromArray(S, tile, t + v);
                    if (add) x.add(FloatVector.fromArray(S, C, c + v)).intoArray(C, c + v);   // (two store paths
                    else x.intoArray(C, c + v);                                               //  rather than a phi)
                }
            }
            return;
        }
        for (int r = 0; r < mr; r++) {
            int t = r * NR, c = c0 + r * ldc;
            for (int v = 0; v < nr; v += L) {
                VectorMask<Float> m = S.indexInRange(v, nr);
                FloatVector x = FloatVector.fromArray(S, tile, t + v);
                if (add) x.add(FloatVector.fromArray(S, C, c + v, m)).intoArray(C, c + v, m);
                else x.intoArray(C, c + v, m);
            }
        }
    }

    /**
     * Copies A(0..mc, 0..kc) into ap row-major (row r at r·kc): row by row when A's rows are
     * contiguous, else in blocks of 16 k so reads and writes both stay within a few cache lines.
     */
    static void packA(float[] ap, float[] A, int off, int rs, int cs, int mc, int kc) {
        if (cs == 1) {
            for (int r = 0; r < mc; r++) System.arraycopy(A, off + r * rs, ap, r * kc, kc);
            return;
        }
        for (int k0 = 0; k0 < kc; k0 += 16) {
            int k1 = Math.min(kc, k0 + 16);
            for (int r = 0; r < mc; r++) {
                int src = off + r * rs, dst = r * kc;
                for (int k = k0; k < k1; k++) ap[dst + k] = A[src + k * cs];
            }
        }
    }

    /**
     * Column-major A (dyᵀ in dw = dyᵀ·x) is packed into MR-row strips rather than read in place: by
     * default with 16 vector registers, where JMH measured it 3-40% faster than reading in place (the
     * AVX2 path, docs/BENCHMARKS.md); with 32 it measured level. -Dlamina.packTn=true|false overrides.
     */
    static final boolean PACK_TN = packTn(System.getProperty("lamina.packTn"),
            GemmTile.registers(System.getProperty("os.arch"), GemmTile.useAvx()));

    static boolean packTn(String override, int registers) {
        return override != null && !override.isBlank() ? Boolean.parseBoolean(override.trim()) : registers < 32;
    }

    /**
     * Copies column-major A(0..mc, 0..kc) (A(r, k) at off + r + k·cs) into strips of mr rows:
     * strip s holds A(s·mr + i, k) at s·mr·kc + k·mr + i, so the kernel reads mr adjacent floats
     * per k from one contiguous stream instead of striding cs floats through memory.
     * <p>When A's columns are a 4 KB page or more apart (cs ≥ 1024: dyᵀ of 1,024+ output features), k by k:
     * each k's mc floats are one contiguous read, a vector per strip (its lanes past mr land in the strip's
     * next k's, stored over after, or in rows the kernel ignores; a strip's last k's are copied exactly).
     * Strip by strip, a call per mr floats, reads a new page on every k: 2.5-4x slower there (a
     * 2048-column A of 384 k: 0.6-0.8 ms against 0.23-0.27, about 6% of its product). Closer columns
     * keep the copy: k by k did not measure faster there in the product (256x3072x768, within the
     * noise; docs/BENCHMARKS.md). Strips wider than a vector are copied.
     */
    static void packAStrips(float[] ap, float[] A, int off, int cs, int mc, int kc, int mr) {
        if (mr > L || cs < PAGE_FLOATS) {
            for (int s = 0; s < mc; s += mr) {
                int rows = Math.min(mr, mc - s), dst = s * kc;
                for (int k = 0, src = off + s; k < kc; k++, src += cs, dst += mr) System.arraycopy(A, src, ap, dst, rows);
            }
            return;
        }
        for (int k = 0, col = off; k < kc; k++, col += cs) {
            boolean within = k * mr + L <= kc * mr;    // the vector ends inside the strip
            for (int s = 0, dst = k * mr; s < mc; s += mr, dst += mr * kc) {
                if (within && col + s + L <= A.length) FloatVector.fromArray(S, A, col + s).intoArray(ap, dst);
                else System.arraycopy(A, col + s, ap, dst, Math.min(mr, mc - s));
            }
        }
    }

    /** Floats in a 4 KB page. */
    private static final int PAGE_FLOATS = 1024;

    /** Row strides (floats) of A that are packed rather than read in place: multiples of 4 KB. */
    private static final int ALIASING_ROW_STRIDE = 1024;
    static final boolean GATHER = Tuning.system().gather();
    private static final ThreadLocal<int[]> GATHER_INDEX = ThreadLocal.withInitial(() -> new int[L + 1]);

    /** {0, s, 2s, ...}: lane offsets of L columns s floats apart (cached per thread; slot L holds s). */
    private static int[] gatherIndex(int s) {
        int[] idx = GATHER_INDEX.get();
        if (idx[L] != s || idx[1] != s) {
            for (int c = 0; c < L; c++) idx[c] = c * s;
            idx[L] = s;
        }
        return idx;
    }

    /** Rows of B packed per block: one block's rows are read left to right across every panel. */
    private static final int PACK_B_ROWS = 8;

    /**
     * {@link #packB} of a row-major B (x in dw = dyᵀ·x, w in dx = dy·w): NR consecutive floats per k and
     * panel, k in blocks of {@link #PACK_B_ROWS} across all panels. Panel by panel, every k read a new row
     * (a new page once rows are 4 KB or more); by blocks each row is read in order: 27-42% faster in a
     * probe alternating the two on rows of 1,024-8,192 floats, level on 384 (docs/BENCHMARKS.md).
     */
    private void packRowMajorB(float[] bp, float[] B, int off, int rs, int kc, int nc) {
        int full = nc / NR * NR;
        for (int k0 = 0; k0 < kc; k0 += PACK_B_ROWS) {
            int k1 = Math.min(kc, k0 + PACK_B_ROWS);
            for (int q = 0; q < full; q += NR)
                for (int k = k0, src = off + k0 * rs + q, dst = q * kc + k0 * NR; k < k1; k++, src += rs, dst += NR)
                    for (int v = 0; v < NR; v += L) FloatVector.fromArray(S, B, src + v).intoArray(bp, dst + v);
        }
        if (full < nc) {                  // the last panel, zero-padded past nc
            int cols = nc - full;
            for (int k = 0, src = off + full, dst = full * kc; k < kc; k++, src += rs, dst += NR) {
                System.arraycopy(B, src, bp, dst, cols);
                java.util.Arrays.fill(bp, dst + cols, dst + NR, 0f);
            }
        }
    }

    /** Bp[q][k][c] = B(k, q·NR + c), zero columns past nc. Panels are kc·NR floats apart. */
    void packB(float[] bp, float[] B, int off, int rs, int cs, int kc, int nc) {
        if (cs == 1) {
            packRowMajorB(bp, B, off, rs, kc, nc);
            return;
        }
        for (int q = 0; q < nc; q += NR) {
            int cols = Math.min(NR, nc - q), base = q * kc;
            if (cols == NR && rs == 1 && GATHER && cs % 256 != 0) {
                // transposed source, full panel: gather L columns per vector. Not when the columns
                // are a multiple of 1 KB apart: their lines then share a few L1 sets and evict each
                // other before the next k reads them (w2's 4 KB rows: the walk below is 10% faster).
                int[] idx = gatherIndex(cs);
                for (int k = 0; k < kc; k++) {
                    int src = off + q * cs + k, dst = base + k * NR;
                    for (int v = 0; v < NV; v++) FloatVector.fromArray(S, B, src + v * L * cs, idx, 0).intoArray(bp, dst + v * L);
                }
            } else {                // transposed source (w in x·wᵀ): walk each column along k
                for (int c = 0; c < cols; c++) {
                    int src = off + (q + c) * cs;
                    for (int k = 0, dst = base + c; k < kc; k++, dst += NR) bp[dst] = B[src + k * rs];
                }
                for (int c = cols; c < NR; c++)
                    for (int k = 0, dst = base + c; k < kc; k++, dst += NR) bp[dst] = 0f;
            }
        }
    }

    /**
     * t[12][2L] = A[12, kc] · Bp[kc][2L]: 24 accumulators. A(r, k) is a[aOff + r·lda + k·aks]
     * (rows ≥ rows repeat the last row; their results are discarded by the caller).
     */
    private static void kernel12x2(int kc, float[] a, int aOff, int lda, int aks, int rows, float[] bp, int bOff,
                               float[] t) {
        int last = rows - 1;
        int a0 = aOff + Math.min(0, last) * lda;
        int a1 = aOff + Math.min(1, last) * lda;
        int a2 = aOff + Math.min(2, last) * lda;
        int a3 = aOff + Math.min(3, last) * lda;
        int a4 = aOff + Math.min(4, last) * lda;
        int a5 = aOff + Math.min(5, last) * lda;
        int a6 = aOff + Math.min(6, last) * lda;
        int a7 = aOff + Math.min(7, last) * lda;
        int a8 = aOff + Math.min(8, last) * lda;
        int a9 = aOff + Math.min(9, last) * lda;
        int aa = aOff + Math.min(10, last) * lda;
        int ab = aOff + Math.min(11, last) * lda;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        FloatVector c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        FloatVector c80 = z, c81 = z, c90 = z, c91 = z, ca0 = z, ca1 = z, cb0 = z, cb1 = z;
        for (int k = 0, ka = 0, ib = bOff; k < kc; k++, ka += aks, ib += 2 * L) {
            FloatVector b0 = FloatVector.fromArray(S, bp, ib), b1 = FloatVector.fromArray(S, bp, ib + L);
            FloatVector v;
            v = FloatVector.broadcast(S, a[a0 + ka]);
            c00 = v.fma(b0, c00); c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, a[a1 + ka]);
            c10 = v.fma(b0, c10); c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, a[a2 + ka]);
            c20 = v.fma(b0, c20); c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, a[a3 + ka]);
            c30 = v.fma(b0, c30); c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, a[a4 + ka]);
            c40 = v.fma(b0, c40); c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, a[a5 + ka]);
            c50 = v.fma(b0, c50); c51 = v.fma(b1, c51);
            v = FloatVector.broadcast(S, a[a6 + ka]);
            c60 = v.fma(b0, c60); c61 = v.fma(b1, c61);
            v = FloatVector.broadcast(S, a[a7 + ka]);
            c70 = v.fma(b0, c70); c71 = v.fma(b1, c71);
            v = FloatVector.broadcast(S, a[a8 + ka]);
            c80 = v.fma(b0, c80); c81 = v.fma(b1, c81);
            v = FloatVector.broadcast(S, a[a9 + ka]);
            c90 = v.fma(b0, c90); c91 = v.fma(b1, c91);
            v = FloatVector.broadcast(S, a[aa + ka]);
            ca0 = v.fma(b0, ca0); ca1 = v.fma(b1, ca1);
            v = FloatVector.broadcast(S, a[ab + ka]);
            cb0 = v.fma(b0, cb0); cb1 = v.fma(b1, cb1);
        }
        c00.intoArray(t, 0 * 2 * L); c01.intoArray(t, 0 * 2 * L + L);
        c10.intoArray(t, 1 * 2 * L); c11.intoArray(t, 1 * 2 * L + L);
        c20.intoArray(t, 2 * 2 * L); c21.intoArray(t, 2 * 2 * L + L);
        c30.intoArray(t, 3 * 2 * L); c31.intoArray(t, 3 * 2 * L + L);
        c40.intoArray(t, 4 * 2 * L); c41.intoArray(t, 4 * 2 * L + L);
        c50.intoArray(t, 5 * 2 * L); c51.intoArray(t, 5 * 2 * L + L);
        c60.intoArray(t, 6 * 2 * L); c61.intoArray(t, 6 * 2 * L + L);
        c70.intoArray(t, 7 * 2 * L); c71.intoArray(t, 7 * 2 * L + L);
        c80.intoArray(t, 8 * 2 * L); c81.intoArray(t, 8 * 2 * L + L);
        c90.intoArray(t, 9 * 2 * L); c91.intoArray(t, 9 * 2 * L + L);
        ca0.intoArray(t, 10 * 2 * L); ca1.intoArray(t, 10 * 2 * L + L);
        cb0.intoArray(t, 11 * 2 * L); cb1.intoArray(t, 11 * 2 * L + L);
    }

    /** t[6][2L] = A[6, kc] · Bp[kc][2L]: 12 accumulators, for 16 vector registers (as {@link #kernel12x2}). */
    private static void kernel6x2(int kc, float[] a, int aOff, int lda, int aks, int rows, float[] bp, int bOff,
                                  float[] t) {
        int last = rows - 1;
        int a0 = aOff + Math.min(0, last) * lda;
        int a1 = aOff + Math.min(1, last) * lda;
        int a2 = aOff + Math.min(2, last) * lda;
        int a3 = aOff + Math.min(3, last) * lda;
        int a4 = aOff + Math.min(4, last) * lda;
        int a5 = aOff + Math.min(5, last) * lda;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
        for (int k = 0, ka = 0, ib = bOff; k < kc; k++, ka += aks, ib += 2 * L) {
            FloatVector b0 = FloatVector.fromArray(S, bp, ib), b1 = FloatVector.fromArray(S, bp, ib + L);
            FloatVector v;
            v = FloatVector.broadcast(S, a[a0 + ka]);
            c00 = v.fma(b0, c00); c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, a[a1 + ka]);
            c10 = v.fma(b0, c10); c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, a[a2 + ka]);
            c20 = v.fma(b0, c20); c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, a[a3 + ka]);
            c30 = v.fma(b0, c30); c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, a[a4 + ka]);
            c40 = v.fma(b0, c40); c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, a[a5 + ka]);
            c50 = v.fma(b0, c50); c51 = v.fma(b1, c51);
        }
        int r = 2 * L;
        c00.intoArray(t, 0); c01.intoArray(t, L);
        c10.intoArray(t, r); c11.intoArray(t, r + L);
        c20.intoArray(t, 2 * r); c21.intoArray(t, 2 * r + L);
        c30.intoArray(t, 3 * r); c31.intoArray(t, 3 * r + L);
        c40.intoArray(t, 4 * r); c41.intoArray(t, 4 * r + L);
        c50.intoArray(t, 5 * r); c51.intoArray(t, 5 * r + L);
    }

    /** t[4][3L] = A[4, kc] · Bp[kc][3L]: 12 accumulators and three B loads per k, for 16 vector registers. */
    private static void kernel4x3(int kc, float[] a, int aOff, int lda, int aks, int rows, float[] bp, int bOff,
                                  float[] t) {
        int last = rows - 1;
        int a0 = aOff + Math.min(0, last) * lda;
        int a1 = aOff + Math.min(1, last) * lda;
        int a2 = aOff + Math.min(2, last) * lda;
        int a3 = aOff + Math.min(3, last) * lda;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
        for (int k = 0, ka = 0, ib = bOff; k < kc; k++, ka += aks, ib += 3 * L) {
            FloatVector b0 = FloatVector.fromArray(S, bp, ib), b1 = FloatVector.fromArray(S, bp, ib + L),
                    b2 = FloatVector.fromArray(S, bp, ib + 2 * L);
            FloatVector v;
            v = FloatVector.broadcast(S, a[a0 + ka]);
            c00 = v.fma(b0, c00); c01 = v.fma(b1, c01); c02 = v.fma(b2, c02);
            v = FloatVector.broadcast(S, a[a1 + ka]);
            c10 = v.fma(b0, c10); c11 = v.fma(b1, c11); c12 = v.fma(b2, c12);
            v = FloatVector.broadcast(S, a[a2 + ka]);
            c20 = v.fma(b0, c20); c21 = v.fma(b1, c21); c22 = v.fma(b2, c22);
            v = FloatVector.broadcast(S, a[a3 + ka]);
            c30 = v.fma(b0, c30); c31 = v.fma(b1, c31); c32 = v.fma(b2, c32);
        }
        int r = 3 * L;
        c00.intoArray(t, 0); c01.intoArray(t, L); c02.intoArray(t, 2 * L);
        c10.intoArray(t, r); c11.intoArray(t, r + L); c12.intoArray(t, r + 2 * L);
        c20.intoArray(t, 2 * r); c21.intoArray(t, 2 * r + L); c22.intoArray(t, 2 * r + 2 * L);
        c30.intoArray(t, 3 * r); c31.intoArray(t, 3 * r + L); c32.intoArray(t, 3 * r + 2 * L);
    }
}
