package dev.lamina.infer;

import dev.lamina.kernels.Kernels;
import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The kernels inference needs beyond {@link dev.lamina.kernels.KernelSet}: a dot product and an
 * axpy for attention over cached keys and values, and {@link #gemv}, the plain y = x·wᵀ over
 * unpacked weights (several matrices in one parallel region) that is the scalar reference for
 * {@link PackedWeights}.
 *
 * <p>Every gemv output y[i,o] is one dot product of x row i with weight row o, summed in the same
 * order whatever the number of rows, their position in the batch or the thread count.
 *
 * <p>{@code -Dlamina.kernels=scalar} selects the plain loops ({@link #SCALAR}).
 */
abstract class InferKernels {
    /** The implementation matching {@link Kernels#get()}. */
    static final InferKernels INSTANCE = Kernels.get() == Kernels.scalar() ? new Scalar() : new Vector();
    static final InferKernels SCALAR = new Scalar();
    static final InferKernels VECTOR = new Vector();

    /** Below this many multiply-adds a product runs on the calling thread. */
    static final long PARALLEL_MIN_FMA = 1L << 17;

    /**
     * ys[m][i,o] = Σ_k x[i,k]·ws[m][o,k] (+ biases[m][o]) for rows i < n and each matrix m
     * (all with the same input width in = x.dim(-1)). One parallel region over all outputs.
     */
    final void gemv(int n, Tensor x, Tensor[] ws, Tensor[] biases, Tensor[] ys) {
        int in = ws[0].dim(1);
        int[] blockStart = new int[ws.length + 1];
        for (int m = 0; m < ws.length; m++) {
            if (ws[m].dim(1) != in) throw new IllegalArgumentException("weights differ in input width");
            blockStart[m + 1] = blockStart[m] + (ws[m].dim(0) + 3) / 4;
        }
        int blocks = blockStart[ws.length];
        long fmaPerBlock = 4L * n * in;
        int minChunk = (int) Math.max(1, Math.min(blocks, PARALLEL_MIN_FMA / Math.max(1, fmaPerBlock)));
        float[] X = x.data();
        int xOff = x.offset();
        Parallel.forRange(blocks, minChunk, (b0, b1) -> {
            for (int m = 0; m < ws.length; m++) {
                int lo = Math.max(b0, blockStart[m]), hi = Math.min(b1, blockStart[m + 1]);
                if (lo >= hi) continue;
                Tensor w = ws[m], y = ys[m];
                int out = w.dim(0);
                int o0 = (lo - blockStart[m]) * 4, o1 = Math.min(out, (hi - blockStart[m]) * 4);
                rows(n, in, out, X, xOff, w.data(), w.offset(), y.data(), y.offset(), o0, o1);
                Tensor bias = biases == null ? null : biases[m];
                if (bias != null)
                    for (int i = 0; i < n; i++)
                        for (int o = o0; o < o1; o++) y.data()[y.offset() + i * out + o] += bias.get(o);
            }
        });
    }

    /** Y[i·out + o] = Σ_k X[i·in + k]·W[o·in + k] for i < n, o0 ≤ o < o1 (one thread). */
    abstract void rows(int n, int in, int out, float[] X, int xOff, float[] W, int wOff, float[] Y, int yOff, int o0, int o1);

    /** Σ a[aOff+i]·b[bOff+i], i < len. */
    abstract float dot(float[] a, int aOff, float[] b, int bOff, int len);

    /** y[yOff+i] += s·x[xOff+i], i < len. */
    abstract void axpy(float s, float[] x, int xOff, float[] y, int yOff, int len);

    /** In place: a[off, off+len) = softmax(a[off, off+len)). len >= 1. */
    abstract void softmax(float[] a, int off, int len);

    /**
     * out[oOff, oOff+hd) += Σ_j p[pOff+j] · V[row_j, row_j+hd) for j < count, in j order, where
     * row_j = idx[idxOff+j] + add when idx != null, else add + j·stride.
     */
    abstract void weightedRows(float[] p, int pOff, int count, float[] V, int[] idx, int idxOff, int add, int stride,
                               float[] out, int oOff, int hd);

    /** The plain reference. */
    static final class Scalar extends InferKernels {
        @Override
        void rows(int n, int in, int out, float[] X, int xOff, float[] W, int wOff, float[] Y, int yOff, int o0, int o1) {
            for (int i = 0; i < n; i++)
                for (int o = o0; o < o1; o++)
                    Y[yOff + i * out + o] = dot(X, xOff + i * in, W, wOff + o * in, in);
        }

        @Override
        float dot(float[] a, int aOff, float[] b, int bOff, int len) {
            float s = 0;
            for (int i = 0; i < len; i++) s += a[aOff + i] * b[bOff + i];
            return s;
        }

        @Override
        void axpy(float s, float[] x, int xOff, float[] y, int yOff, int len) {
            for (int i = 0; i < len; i++) y[yOff + i] += s * x[xOff + i];
        }

        @Override
        void weightedRows(float[] p, int pOff, int count, float[] V, int[] idx, int idxOff, int add, int stride,
                          float[] out, int oOff, int hd) {
            for (int j = 0; j < count; j++) {
                int row = idx != null ? idx[idxOff + j] + add : add + j * stride;
                axpy(p[pOff + j], V, row, out, oOff, hd);
            }
        }

        @Override
        void softmax(float[] a, int off, int len) {
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < len; i++) max = Math.max(max, a[off + i]);
            float sum = 0;
            for (int i = 0; i < len; i++) { float e = (float) Math.exp(a[off + i] - max); a[off + i] = e; sum += e; }
            float inv = 1f / sum;
            for (int i = 0; i < len; i++) a[off + i] *= inv;
        }
    }

    /** Vector API dot and axpy (the runner's linear layers use {@link PackedWeights} instead of gemv). */
    static final class Vector extends InferKernels {
        private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
        private static final int L = S.length();

        @Override
        void rows(int n, int in, int out, float[] X, int xOff, float[] W, int wOff, float[] Y, int yOff, int o0, int o1) {
            for (int i = 0; i < n; i++)
                for (int o = o0; o < o1; o++) Y[yOff + i * out + o] = dot(X, xOff + i * in, W, wOff + o * in, in);
        }

        /** FOLDS[k] rotates lanes down by L >> (k + 1). */
        @SuppressWarnings("unchecked")
        private static final VectorShuffle<Float>[] FOLDS = new VectorShuffle[Integer.numberOfTrailingZeros(L)];

        static {
            for (int k = 0; k < FOLDS.length; k++) {
                int w = L >> (k + 1);
                FOLDS[k] = VectorShuffle.fromOp(S, i -> (i + w) & (L - 1));
            }
        }

        /**
         * Σ lanes in one fixed order (a halving tree). Not reduceLanes: its order differs between the
         * interpreter and compiled code, which would make a result depend on JIT timing.
         */
        private static float sum(FloatVector v) {
            for (VectorShuffle<Float> fold : FOLDS) v = v.add(v.rearrange(fold));
            return v.lane(0);
        }

        @Override
        float dot(float[] a, int aOff, float[] b, int bOff, int len) {
            FloatVector acc = FloatVector.zero(S);
            int k = 0, bound = S.loopBound(len);
            for (; k < bound; k += L)
                acc = FloatVector.fromArray(S, a, aOff + k).fma(FloatVector.fromArray(S, b, bOff + k), acc);
            if (k < len) {
                var m = S.indexInRange(k, len);
                acc = FloatVector.fromArray(S, a, aOff + k, m).fma(FloatVector.fromArray(S, b, bOff + k, m), acc);
            }
            return sum(acc);
        }

        /** Up to four vectors of the output stay in registers while the rows stream by. */
        @Override
        void weightedRows(float[] p, int pOff, int count, float[] V, int[] idx, int idxOff, int add, int stride,
                          float[] out, int oOff, int hd) {
            int c = 0;
            for (; c + 4 * L <= hd; c += 4 * L) {
                FloatVector a0 = FloatVector.fromArray(S, out, oOff + c), a1 = FloatVector.fromArray(S, out, oOff + c + L);
                FloatVector a2 = FloatVector.fromArray(S, out, oOff + c + 2 * L), a3 = FloatVector.fromArray(S, out, oOff + c + 3 * L);
                for (int j = 0; j < count; j++) {
                    int row = (idx != null ? idx[idxOff + j] + add : add + j * stride) + c;
                    FloatVector w = FloatVector.broadcast(S, p[pOff + j]);
                    a0 = FloatVector.fromArray(S, V, row).fma(w, a0);
                    a1 = FloatVector.fromArray(S, V, row + L).fma(w, a1);
                    a2 = FloatVector.fromArray(S, V, row + 2 * L).fma(w, a2);
                    a3 = FloatVector.fromArray(S, V, row + 3 * L).fma(w, a3);
                }
                a0.intoArray(out, oOff + c); a1.intoArray(out, oOff + c + L);
                a2.intoArray(out, oOff + c + 2 * L); a3.intoArray(out, oOff + c + 3 * L);
            }
            for (; c + 2 * L <= hd; c += 2 * L) {
                FloatVector a0 = FloatVector.fromArray(S, out, oOff + c), a1 = FloatVector.fromArray(S, out, oOff + c + L);
                for (int j = 0; j < count; j++) {
                    int row = (idx != null ? idx[idxOff + j] + add : add + j * stride) + c;
                    FloatVector w = FloatVector.broadcast(S, p[pOff + j]);
                    a0 = FloatVector.fromArray(S, V, row).fma(w, a0);
                    a1 = FloatVector.fromArray(S, V, row + L).fma(w, a1);
                }
                a0.intoArray(out, oOff + c); a1.intoArray(out, oOff + c + L);
            }
            for (; c + L <= hd; c += L) {
                FloatVector a0 = FloatVector.fromArray(S, out, oOff + c);
                for (int j = 0; j < count; j++) {
                    int row = (idx != null ? idx[idxOff + j] + add : add + j * stride) + c;
                    a0 = FloatVector.fromArray(S, V, row).fma(FloatVector.broadcast(S, p[pOff + j]), a0);
                }
                a0.intoArray(out, oOff + c);
            }
            for (; c < hd; c++) {
                float a = out[oOff + c];
                for (int j = 0; j < count; j++) {
                    int row = (idx != null ? idx[idxOff + j] + add : add + j * stride) + c;
                    a = Math.fma(p[pOff + j], V[row], a);
                }
                out[oOff + c] = a;
            }
        }

        @Override
        void softmax(float[] a, int off, int len) {
            FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (int i = 0; i < len; i += L) {
                var m = S.indexInRange(i, len);
                mv = mv.lanewise(VectorOperators.MAX, FloatVector.fromArray(S, a, off + i, m), m);
            }
            float max = mv.reduceLanes(VectorOperators.MAX);          // max is exact in any order
            FloatVector mx = FloatVector.broadcast(S, max), acc = FloatVector.zero(S);
            for (int i = 0; i < len; i += L) {
                var m = S.indexInRange(i, len);
                FloatVector e = exp(FloatVector.fromArray(S, a, off + i, m).sub(mx));
                e.intoArray(a, off + i, m);
                acc = acc.add(e, m);
            }
            FloatVector inv = FloatVector.broadcast(S, 1f / sum(acc));
            for (int i = 0; i < len; i += L) {
                var m = S.indexInRange(i, len);
                FloatVector.fromArray(S, a, off + i, m).mul(inv).intoArray(a, off + i, m);
            }
        }

        private static final float LOG2E = 1.44269504088896341f;
        private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;  // Cody–Waite split of ln 2
        private static final float ROUND = 12582912f;                                // 1.5·2^23
        private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
                P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f; // Cephes expf

        /** e^x for x <= 0 (softmax after the max shift), below 2·10⁻⁷ relative error; 0 below −104. */
        private static FloatVector exp(FloatVector x) {
            x = x.max(-104f);
            FloatVector n = x.mul(LOG2E).add(ROUND).sub(ROUND);
            FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), x);
            r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
            FloatVector p = r.fma(FloatVector.broadcast(S, P0), FloatVector.broadcast(S, P1));
            p = p.fma(r, FloatVector.broadcast(S, P2));
            p = p.fma(r, FloatVector.broadcast(S, P3));
            p = p.fma(r, FloatVector.broadcast(S, P4));
            p = p.fma(r, FloatVector.broadcast(S, P5));
            FloatVector e = p.mul(r.mul(r)).add(r).add(1f);
            IntVector ni = (IntVector) n.convert(VectorOperators.F2I, 0);
            IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1), n2 = ni.sub(n1);
            FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector s2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            return e.mul(s1).mul(s2);
        }

        @Override
        void axpy(float s, float[] x, int xOff, float[] y, int yOff, int len) {
            FloatVector sv = FloatVector.broadcast(S, s);
            int k = 0, bound = S.loopBound(len);
            for (; k < bound; k += L)
                FloatVector.fromArray(S, x, xOff + k).fma(sv, FloatVector.fromArray(S, y, yOff + k)).intoArray(y, yOff + k);
            for (; k < len; k++) y[yOff + k] += s * x[xOff + k];
        }
    }
}
