package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Causal (optionally sliding-window, optionally soft-capped) grouped-query attention over the Vector API.
 * Shapes: q[B,T,H,hd], k/v[B,T,KV,hd], out[B,T,H,hd], att[B,H,T,T]; query head h reads KV head
 * h / (H/KV); row i attends to j in [lo(i), i], lo(i) = {@link KernelSet#firstVisible} (max(0, i − window + 1) when window > 0).
 *
 * <p>The products run on the packed GEMM ({@link VectorMatmul#gemmSerial}), one block of R query
 * rows at a time against the key columns that block can see, [lo(first row), last row]: the
 * causal and window masks then waste at most the triangle inside a block. Scores land in att,
 * are masked, scaled and softmaxed row by row, and the same rows multiply V. (A row-at-a-time
 * formulation, vectorized over keys or over hd, reached 10-13 GFLOP/s here: it streams K and V
 * from L2 once per query row; the GEMM reuses each packed panel across a block of rows.)
 *
 * <p>Forward is parallel over (b, h). Backward is parallel over (b, kv-head): the task owns
 * dk/dv of its KV head and dq of the group's query heads, so nothing is shared between
 * threads, and it visits heads and row blocks in a fixed order.
 */
final class VectorAttention {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Query rows per block. */
    private static final int R = 64;
    /** Below this many multiply-adds in total, attention runs on the calling thread. */
    private static final long PARALLEL_MIN_FMA = 1L << 16;

    private VectorAttention() {}

    /** Per-thread R×T blocks for dP/dS, the masked copy of P and a soft cap's recomputed scores, grown on demand and kept. */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[3][0]);

    private static float[][] scratch(int n) {
        float[][] s = SCRATCH.get();
        for (int i = 0; i < s.length; i++) if (s[i].length < n) s[i] = new float[n];
        return s;
    }


    static void forward(Parallel pool, VectorMatmul mm, Tensor out, Tensor att, Tensor q, Tensor k, Tensor v, int B, int T, int H, int KV, int hd,
                        AttentionScores scores) {
        float scale = scores.scale(), cap = scores.softcap();
        int window = scores.window();
        int group = H / KV, tasks = B * H;
        float[] Q = q.data(), K = k.data(), Vv = v.data(), O = out.data(), A = att.data();
        int qo = q.offset(), ko = k.offset(), vo = v.offset(), oo = out.offset(), ao = att.offset();
        int qStride = H * hd, kvStride = KV * hd;
        long fma = (long) tasks * T * T * hd;
        pool.forRange(tasks, fma < PARALLEL_MIN_FMA ? tasks : 1, (t0, t1) -> {
            for (int task = t0; task < t1; task++) {
                int b = task / H, h = task % H, kh = h / group;
                int qHead = qo + (b * T * H + h) * hd, kvHead = (b * T * KV + kh) * hd, aHead = ao + (b * H + h) * T * T;
                for (int i0 = 0; i0 < T; i0 += R) {
                    int i1 = Math.min(T, i0 + R), c0 = KernelSet.firstVisible(i0, window), cols = i1 - c0;
                    // S[i0:i1, c0:i1] = Q·Kᵀ
                    mm.gemmSerial(i1 - i0, cols, hd, Q, qHead + i0 * qStride, qStride, 1,
                            K, ko + kvHead + c0 * kvStride, 1, kvStride, A, aHead + i0 * T + c0, T, false);
                    for (int i = i0; i < i1; i++) {
                        int ai = aHead + i * T, lo = KernelSet.firstVisible(i, window);
                        if (cap > 0) {
                            scaleRow(A, ai, lo, i + 1, scale);
                            softcap(A, ai, lo, i + 1, cap);
                            softmaxInPlace(A, ai, lo, i + 1, 1f);
                        } else softmaxInPlace(A, ai, lo, i + 1, scale);
                        java.util.Arrays.fill(A, ai, ai + lo, 0f);
                        java.util.Arrays.fill(A, ai + i + 1, ai + T, 0f);
                    }
                    // O[i0:i1] = P[i0:i1, c0:i1] · V[c0:i1]
                    mm.gemmSerial(i1 - i0, hd, cols, A, aHead + i0 * T + c0, T, 1,
                            Vv, vo + kvHead + c0 * kvStride, kvStride, 1, O, oo + (b * T * H + h) * hd + i0 * qStride,
                            qStride, false);
                }
            }
        });
    }

    static void backward(Parallel pool, VectorMatmul mm, Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor att,
                         int B, int T, int H, int KV, int hd, AttentionScores scores) {
        float scale = scores.scale(), cap = scores.softcap();
        int window = scores.window();
        int group = H / KV, tasks = B * KV;
        float[] Q = q.data(), K = k.data(), Vv = v.data(), A = att.data(), DO = dout.data();
        float[] DQ = dq.data(), DK = dk.data(), DV = dv.data();
        int qo = q.offset(), ko = k.offset(), vo = v.offset(), ao = att.offset(), doo = dout.offset();
        int dqo = dq.offset(), dko = dk.offset(), dvo = dv.offset();
        int qStride = H * hd, kvStride = KV * hd;
        long fma = (long) B * H * T * T * hd;
        pool.forRange(tasks, fma < PARALLEL_MIN_FMA ? tasks : 1, (t0, t1) -> {
            float[][] buffers = scratch(R * T);
            float[] ds = buffers[0], p = buffers[1], raw = cap > 0 ? buffers[2] : null;
            for (int task = t0; task < t1; task++) {
                int b = task / KV, kh = task % KV, kvHead = (b * T * KV + kh) * hd;
                for (int h = kh * group; h < (kh + 1) * group; h++) {
                    int aHead = ao + (b * H + h) * T * T, qHead = (b * T * H + h) * hd;
                    for (int i0 = 0; i0 < T; i0 += R) {
                        int i1 = Math.min(T, i0 + R), rows = i1 - i0, c0 = KernelSet.firstVisible(i0, window), cols = i1 - c0;
                        int qRows = qHead + i0 * qStride, kvCols = kvHead + c0 * kvStride, aBlock = aHead + i0 * T + c0;
                        // dP[rows, cols] = dO·Vᵀ into ds (row r at r·T)
                        mm.gemmSerial(rows, cols, hd, DO, doo + qRows, qStride, 1,
                                Vv, vo + kvCols, 1, kvStride, ds, 0, T, false);
                        if (raw != null)        // the scores Q·Kᵀ again, for the soft cap's derivative
                            mm.gemmSerial(rows, cols, hd, Q, qo + qRows, qStride, 1,
                                    K, ko + kvCols, 1, kvStride, raw, 0, T, false);
                        // P block copied with exact zeros outside [lo(i), i] (att is only read there);
                        // dS = P ⊙ (dP − Σ_j P dP)·scale on [lo(i), i], zero elsewhere in the block
                        for (int r = 0; r < rows; r++) {
                            int i = i0 + r, lo = KernelSet.firstVisible(i, window), di = r * T - c0;
                            java.util.Arrays.fill(p, di + c0, di + i1, 0f);
                            System.arraycopy(A, aBlock + r * T - c0 + lo, p, di + lo, i + 1 - lo);
                            dsRow(ds, di, p, di, lo, i + 1, scale);
                            if (raw != null) softcapGradRow(ds, di, raw, di, lo, i + 1, scale, cap);
                            java.util.Arrays.fill(ds, di + c0, di + lo, 0f);
                            java.util.Arrays.fill(ds, di + i + 1, di + i1, 0f);
                        }
                        // dq[rows] += dS·K[cols]
                        mm.gemmSerial(rows, hd, cols, ds, 0, T, 1, K, ko + kvCols, kvStride, 1,
                                DQ, dqo + qRows, qStride, true);
                        // dk[cols] += dSᵀ·Q[rows]; dv[cols] += Pᵀ·dO[rows]
                        mm.gemmSerial(cols, hd, rows, ds, 0, 1, T, Q, qo + qRows, qStride, 1,
                                DK, dko + kvCols, kvStride, true);
                        mm.gemmSerial(cols, hd, rows, p, 0, 1, T, DO, doo + qRows, qStride, 1,
                                DV, dvo + kvCols, kvStride, true);
                    }
                }
            }
        });
    }

    /**
     * a[off + j] = softmax(scale·a[off + j]) over j in [j0, j1). The max and the exp-sum loops are
     * methods of their own with scalar arguments: when C2 compiled all three loops as one method it
     * hit NodeCountInliningCutoff, left VectorMath.exp out of line and boxed a vector per call
     * (most of a step's steady allocation).
     */
    private static void softmaxInPlace(float[] a, int off, int j0, int j1, float scale) {
        float max = scaleAndMax(a, off, j0, j1, scale);
        float inv = 1f / VectorMath.expSum(a, off + j0, a, off + j0, j1 - j0, max);
        for (int j = j0; j < j1; j += L) {
            VectorMask<Float> m = S.indexInRange(j, j1);
            FloatVector.fromArray(S, a, off + j, m).mul(inv).intoArray(a, off + j, m);
        }
    }

    /** a[off + j] *= scale for j in [j0, j1). */
    private static void scaleRow(float[] a, int off, int j0, int j1, float scale) {
        for (int j = j0; j < j1; j += L) {
            VectorMask<Float> m = S.indexInRange(j, j1);
            FloatVector.fromArray(S, a, off + j, m).mul(scale).intoArray(a, off + j, m);
        }
    }

    /** a[off + j] = cap·tanh(a[off + j]/cap) for j in [j0, j1). */
    static void softcap(float[] a, int off, int j0, int j1, float cap) {
        for (int j = j0; j < j1; j += L) {
            VectorMask<Float> m = S.indexInRange(j, j1);
            VectorMath.tanh(FloatVector.fromArray(S, a, off + j, m).div(cap)).mul(cap).intoArray(a, off + j, m);
        }
    }

    /** ds[dOff + j] *= 1 − tanh²(scale·raw[rOff + j]/cap) for j in [j0, j1): the soft cap's derivative at the forward's score. */
    private static void softcapGradRow(float[] ds, int dOff, float[] raw, int rOff, int j0, int j1, float scale, float cap) {
        for (int j = j0; j < j1; j += L) {
            VectorMask<Float> m = S.indexInRange(j, j1);
            FloatVector t = VectorMath.tanh(FloatVector.fromArray(S, raw, rOff + j, m).mul(scale).div(cap));
            FloatVector.fromArray(S, ds, dOff + j, m).mul(FloatVector.broadcast(S, 1f).sub(t.mul(t))).intoArray(ds, dOff + j, m);
        }
    }

    /** a[off + j] *= scale; returns the largest result. */
    private static float scaleAndMax(float[] a, int off, int j0, int j1, float scale) {
        FloatVector mx = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (int j = j0; j < j1; j += L) {
            VectorMask<Float> m = S.indexInRange(j, j1);
            FloatVector s = FloatVector.fromArray(S, a, off + j, m).mul(scale);
            s.intoArray(a, off + j, m);
            mx = mx.lanewise(VectorOperators.MAX, s, m);
        }
        return mx.reduceLanes(VectorOperators.MAX);
    }

    /** ds[dOff + j] = p[pOff + j]·(ds[dOff + j] − Σ_j p·ds)·scale for j in [j0, j1). */
    private static void dsRow(float[] ds, int dOff, float[] p, int pOff, int j0, int j1, float scale) {
        FloatVector acc = FloatVector.zero(S);
        for (int j = j0; j < j1; j += L) {
            VectorMask<Float> m = S.indexInRange(j, j1);
            acc = FloatVector.fromArray(S, ds, dOff + j, m).fma(FloatVector.fromArray(S, p, pOff + j, m), acc);
        }
        float rowDot = VectorMath.sum(acc);
        for (int j = j0; j < j1; j += L) {
            VectorMask<Float> m = S.indexInRange(j, j1);
            FloatVector pv = FloatVector.fromArray(S, p, pOff + j, m);
            pv.mul(FloatVector.fromArray(S, ds, dOff + j, m).sub(rowDot)).mul(scale).intoArray(ds, dOff + j, m);
        }
    }
}
