package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Causal (optionally sliding-window) grouped-query attention over the Vector API.
 * Shapes: q[B,T,H,hd], k/v[B,T,KV,hd], out[B,T,H,hd], att[B,H,T,T]; query head h reads KV head
 * h / (H/KV); row i attends to j in [lo(i), i], lo(i) = max(0, i − window + 1) when window > 0.
 *
 * <p>Score rows are computed against a transposed copy of the head's keys (kT[hd][T]), so a
 * vector covers L key positions and no horizontal reduction is needed; weighted sums of rows
 * (P·V, dS·K, Pᵀ·dout, dSᵀ·Q) are vectorized over the head dimension with four independent
 * accumulators.
 *
 * <p>Forward is parallel over (b, h). Backward is parallel over (b, kv-head): the task owns
 * dk/dv of its KV head and dq of the group's query heads, so nothing is shared between
 * threads. Backward accumulates dk/dv column by column (j outer), reading dS from a per-thread
 * T×T scratch, so every gradient row is summed in registers and written once.
 */
final class VectorAttention {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Below this many multiply-adds in total, attention runs on the calling thread. */
    private static final long PARALLEL_MIN_FMA = 1L << 16;

    private VectorAttention() {}

    /** Per-thread scratch, grown on demand and kept. */
    private static final class Scratch {
        float[] kT = new float[0], ds = new float[0];
        float[] kT(int n) { if (kT.length < n) kT = new float[n]; return kT; }
        float[] ds(int n) { if (ds.length < n) ds = new float[n]; return ds; }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static int lo(int i, int window) { return window > 0 ? Math.max(0, i - window + 1) : 0; }

    static void forward(Tensor out, Tensor att, Tensor q, Tensor k, Tensor v, int B, int T, int H, int KV, int hd,
                        int window) {
        float scale = (float) (1.0 / Math.sqrt(hd));
        int group = H / KV, tasks = B * H;
        float[] Q = q.data(), K = k.data(), Vv = v.data(), O = out.data(), A = att.data();
        int qo = q.offset(), ko = k.offset(), vo = v.offset(), oo = out.offset(), ao = att.offset();
        long fma = (long) tasks * T * T * hd;
        Parallel.forRange(tasks, fma < PARALLEL_MIN_FMA ? tasks : 1, (t0, t1) -> {
            Scratch s = SCRATCH.get();
            float[] kT = s.kT(hd * T);
            for (int task = t0; task < t1; task++) {
                int b = task / H, h = task % H, kh = h / group;
                int kvBase = (b * T * KV + kh) * hd, kvStride = KV * hd;
                transpose(K, ko + kvBase, kvStride, T, hd, kT);
                for (int i = 0; i < T; i++) {
                    int lo = lo(i, window);
                    int ai = ao + ((b * H + h) * T + i) * T;
                    int qi = qo + ((b * T + i) * H + h) * hd;
                    java.util.Arrays.fill(A, ai, ai + lo, 0f);
                    java.util.Arrays.fill(A, ai + i + 1, ai + T, 0f);
                    scores(A, ai, Q, qi, kT, T, hd, lo, i + 1, scale);
                    softmaxInPlace(A, ai, lo, i + 1);
                    weightedRowSum(O, oo + ((b * T + i) * H + h) * hd, false, A, ai, 1,
                            Vv, vo + kvBase, kvStride, lo, i + 1, hd);
                }
            }
        });
    }

    static void backward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor att,
                         int B, int T, int H, int KV, int hd, int window) {
        float scale = (float) (1.0 / Math.sqrt(hd));
        int group = H / KV, tasks = B * KV;
        float[] Q = q.data(), K = k.data(), Vv = v.data(), A = att.data(), DO = dout.data();
        float[] DQ = dq.data(), DK = dk.data(), DV = dv.data();
        int qo = q.offset(), ko = k.offset(), vo = v.offset(), ao = att.offset(), doo = dout.offset();
        int dqo = dq.offset(), dko = dk.offset(), dvo = dv.offset();
        long fma = (long) B * H * T * T * hd;
        Parallel.forRange(tasks, fma < PARALLEL_MIN_FMA ? tasks : 1, (t0, t1) -> {
            Scratch s = SCRATCH.get();
            float[] vT = s.kT(hd * T), ds = s.ds(T * T);
            for (int task = t0; task < t1; task++) {
                int b = task / KV, kh = task % KV;
                int kvBase = (b * T * KV + kh) * hd, kvStride = KV * hd, qStride = H * hd;
                transpose(Vv, vo + kvBase, kvStride, T, hd, vT);
                for (int h = kh * group; h < (kh + 1) * group; h++) {
                    int aHead = ao + (b * H + h) * T * T, qHead = (b * T * H + h) * hd;
                    // rows: dP_ij = dout_i·v_j; dS_ij = P_ij (dP_ij − Σ_j P_ij dP_ij)·scale; dq_i += Σ_j dS_ij k_j
                    for (int i = 0; i < T; i++) {
                        int lo = lo(i, window), ai = aHead + i * T, di = i * T;
                        scores(ds, di, DO, doo + qHead + i * qStride, vT, T, hd, lo, i + 1, 1f);
                        float rowDot = dotRange(ds, di, A, ai, lo, i + 1);
                        for (int j = lo; j <= i; j += L) {
                            VectorMask<Float> m = S.indexInRange(j, i + 1);
                            FloatVector p = FloatVector.fromArray(S, A, ai + j, m);
                            FloatVector dp = FloatVector.fromArray(S, ds, di + j, m);
                            p.mul(dp.sub(rowDot)).mul(scale).intoArray(ds, di + j, m);
                        }
                        weightedRowSum(DQ, dqo + qHead + i * qStride, true, ds, di, 1,
                                K, ko + kvBase, kvStride, lo, i + 1, hd);
                    }
                    // columns: dv_j += Σ_i P_ij dout_i; dk_j += Σ_i dS_ij q_i, over the rows i that see j
                    for (int j = 0; j < T; j++) {
                        int hi = window > 0 ? Math.min(T, j + window) : T;
                        int kvj = kvBase + j * kvStride;
                        weightedRowSum(DV, dvo + kvj, true, A, aHead + j, T, DO, doo + qHead, qStride, j, hi, hd);
                        weightedRowSum(DK, dko + kvj, true, ds, j, T, Q, qo + qHead, qStride, j, hi, hd);
                    }
                }
            }
        });
    }

    /** dst[c·T + j] = src[off + j·stride + c] for j < T, c < hd. */
    private static void transpose(float[] src, int off, int stride, int T, int hd, float[] dst) {
        for (int j = 0; j < T; j++) {
            int s = off + j * stride;
            for (int c = 0; c < hd; c++) dst[c * T + j] = src[s + c];
        }
    }

    /** dst[dOff + j] = scale · Σ_c q[qOff + c] · kT[c·T + j] for j in [j0, j1). */
    private static void scores(float[] dst, int dOff, float[] q, int qOff, float[] kT, int T, int hd,
                               int j0, int j1, float scale) {
        int j = j0;
        for (; j + 4 * L <= j1; j += 4 * L) {      // four vectors of key positions in flight
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            for (int c = 0, kc = j; c < hd; c++, kc += T) {
                FloatVector qc = FloatVector.broadcast(S, q[qOff + c]);
                a0 = FloatVector.fromArray(S, kT, kc).fma(qc, a0);
                a1 = FloatVector.fromArray(S, kT, kc + L).fma(qc, a1);
                a2 = FloatVector.fromArray(S, kT, kc + 2 * L).fma(qc, a2);
                a3 = FloatVector.fromArray(S, kT, kc + 3 * L).fma(qc, a3);
            }
            a0.mul(scale).intoArray(dst, dOff + j);
            a1.mul(scale).intoArray(dst, dOff + j + L);
            a2.mul(scale).intoArray(dst, dOff + j + 2 * L);
            a3.mul(scale).intoArray(dst, dOff + j + 3 * L);
        }
        for (; j < j1; j += L) {
            VectorMask<Float> m = S.indexInRange(j, j1);
            FloatVector a = FloatVector.zero(S);
            for (int c = 0, kc = j; c < hd; c++, kc += T)
                a = FloatVector.fromArray(S, kT, kc, m).fma(FloatVector.broadcast(S, q[qOff + c]), a);
            a.mul(scale).intoArray(dst, dOff + j, m);
        }
    }

    /** Softmax of a[off + j], j in [j0, j1), in place. */
    private static void softmaxInPlace(float[] a, int off, int j0, int j1) {
        FloatVector mx = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (int j = j0; j < j1; j += L) {
            VectorMask<Float> m = S.indexInRange(j, j1);
            mx = mx.lanewise(VectorOperators.MAX, FloatVector.fromArray(S, a, off + j, m), m);
        }
        FloatVector max = FloatVector.broadcast(S, mx.reduceLanes(VectorOperators.MAX));
        FloatVector sum = FloatVector.zero(S);
        for (int j = j0; j < j1; j += L) {
            VectorMask<Float> m = S.indexInRange(j, j1);
            FloatVector e = VectorMath.exp(FloatVector.fromArray(S, a, off + j, m).sub(max));
            e.intoArray(a, off + j, m);
            sum = sum.add(e, m);
        }
        float inv = 1f / VectorMath.sum(sum);
        for (int j = j0; j < j1; j += L) {
            VectorMask<Float> m = S.indexInRange(j, j1);
            FloatVector.fromArray(S, a, off + j, m).mul(inv).intoArray(a, off + j, m);
        }
    }

    /** Σ x[xOff + j]·y[yOff + j] for j in [j0, j1). */
    private static float dotRange(float[] x, int xOff, float[] y, int yOff, int j0, int j1) {
        FloatVector acc = FloatVector.zero(S);
        for (int j = j0; j < j1; j += L) {
            VectorMask<Float> m = S.indexInRange(j, j1);
            acc = FloatVector.fromArray(S, x, xOff + j, m).fma(FloatVector.fromArray(S, y, yOff + j, m), acc);
        }
        return VectorMath.sum(acc);
    }

    /**
     * dst[dOff + c] (+)= Σ_{t in [t0, t1)} w[wOff + t·wStride] · src[sOff + t·sStride + c] for c < len:
     * a weighted sum of rows, vectorized over c, four rows in flight.
     */
    private static void weightedRowSum(float[] dst, int dOff, boolean add, float[] w, int wOff, int wStride,
                                       float[] src, int sOff, int sStride, int t0, int t1, int len) {
        for (int c = 0; c < len; c += L) {
            VectorMask<Float> m = S.indexInRange(c, len);
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            int t = t0;
            for (; t + 4 <= t1; t += 4) {
                int si = sOff + t * sStride + c, wi = wOff + t * wStride;
                a0 = FloatVector.fromArray(S, src, si, m).fma(FloatVector.broadcast(S, w[wi]), a0);
                a1 = FloatVector.fromArray(S, src, si + sStride, m).fma(FloatVector.broadcast(S, w[wi + wStride]), a1);
                a2 = FloatVector.fromArray(S, src, si + 2 * sStride, m).fma(FloatVector.broadcast(S, w[wi + 2 * wStride]), a2);
                a3 = FloatVector.fromArray(S, src, si + 3 * sStride, m).fma(FloatVector.broadcast(S, w[wi + 3 * wStride]), a3);
            }
            for (; t < t1; t++)
                a0 = FloatVector.fromArray(S, src, sOff + t * sStride + c, m).fma(FloatVector.broadcast(S, w[wOff + t * wStride]), a0);
            FloatVector r = a0.add(a1).add(a2.add(a3));
            if (add) r.add(FloatVector.fromArray(S, dst, dOff + c, m)).intoArray(dst, dOff + c, m);
            else r.intoArray(dst, dOff + c, m);
        }
    }
}
