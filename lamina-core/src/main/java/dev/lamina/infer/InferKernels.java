package dev.lamina.infer;

import dev.lamina.kernels.Kernels;
import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The kernels decoding needs beyond {@link dev.lamina.kernels.KernelSet}: a matrix-vector product
 * for a few rows that streams each weight once (and several weight matrices in one parallel
 * region, e.g. q, k and v), a dot product and an axpy for attention over cached keys and values.
 *
 * <p>Every output y[i,o] is one dot product of x row i with weight row o, summed in the same
 * order whatever the number of rows, their position in the batch or the thread count; so a
 * sequence decoded in a batch gets bit-for-bit the logits it gets alone.
 *
 * <p>{@code -Dlamina.kernels=scalar} selects the plain loops ({@link #SCALAR}), which are also the
 * reference the vector path is tested against.
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
    }

    /**
     * Vector API: four weight rows at a time against two x rows (eight accumulators), or one x
     * row when a single one is left. Each accumulator sums one (x row, weight row) pair in k
     * order, then its lanes are added: the same arithmetic in every tile shape.
     */
    static final class Vector extends InferKernels {
        private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
        private static final int L = S.length();

        @Override
        void rows(int n, int in, int out, float[] X, int xOff, float[] W, int wOff, float[] Y, int yOff, int o0, int o1) {
            int o = o0;
            for (; o + 4 <= o1; o += 4) {
                int w0 = wOff + o * in;
                int i = 0;
                for (; i + 2 <= n; i += 2) tile4x2(in, X, xOff + i * in, W, w0, Y, yOff + i * out + o, out);
                if (i < n) tile4x1(in, X, xOff + i * in, W, w0, Y, yOff + i * out + o);
            }
            for (; o < o1; o++)
                for (int i = 0; i < n; i++) Y[yOff + i * out + o] = dot(X, xOff + i * in, W, wOff + o * in, in);
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
         * interpreter and compiled code, which would make a row's result depend on JIT timing.
         */
        private static float sum(FloatVector v) {
            for (VectorShuffle<Float> fold : FOLDS) v = v.add(v.rearrange(fold));
            return v.lane(0);
        }

        private static void tile4x2(int in, float[] X, int x0, float[] W, int w0, float[] Y, int y0, int ldy) {
            int x1 = x0 + in, w1 = w0 + in, w2 = w1 + in, w3 = w2 + in;
            FloatVector z = FloatVector.zero(S);
            FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
            int k = 0, bound = S.loopBound(in);
            for (; k < bound; k += L) {
                FloatVector u = FloatVector.fromArray(S, X, x0 + k), v = FloatVector.fromArray(S, X, x1 + k);
                FloatVector b = FloatVector.fromArray(S, W, w0 + k);
                a00 = u.fma(b, a00); a10 = v.fma(b, a10);
                b = FloatVector.fromArray(S, W, w1 + k);
                a01 = u.fma(b, a01); a11 = v.fma(b, a11);
                b = FloatVector.fromArray(S, W, w2 + k);
                a02 = u.fma(b, a02); a12 = v.fma(b, a12);
                b = FloatVector.fromArray(S, W, w3 + k);
                a03 = u.fma(b, a03); a13 = v.fma(b, a13);
            }
            if (k < in) {
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
            Y[y0] = sum(a00); Y[y0 + 1] = sum(a01); Y[y0 + 2] = sum(a02); Y[y0 + 3] = sum(a03);
            Y[y0 + ldy] = sum(a10); Y[y0 + ldy + 1] = sum(a11); Y[y0 + ldy + 2] = sum(a12); Y[y0 + ldy + 3] = sum(a13);
        }

        private static void tile4x1(int in, float[] X, int x0, float[] W, int w0, float[] Y, int y0) {
            int w1 = w0 + in, w2 = w1 + in, w3 = w2 + in;
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            int k = 0, bound = S.loopBound(in);
            for (; k < bound; k += L) {
                FloatVector u = FloatVector.fromArray(S, X, x0 + k);
                a0 = u.fma(FloatVector.fromArray(S, W, w0 + k), a0);
                a1 = u.fma(FloatVector.fromArray(S, W, w1 + k), a1);
                a2 = u.fma(FloatVector.fromArray(S, W, w2 + k), a2);
                a3 = u.fma(FloatVector.fromArray(S, W, w3 + k), a3);
            }
            if (k < in) {
                var m = S.indexInRange(k, in);
                FloatVector u = FloatVector.fromArray(S, X, x0 + k, m);
                a0 = u.fma(FloatVector.fromArray(S, W, w0 + k, m), a0);
                a1 = u.fma(FloatVector.fromArray(S, W, w1 + k, m), a1);
                a2 = u.fma(FloatVector.fromArray(S, W, w2 + k, m), a2);
                a3 = u.fma(FloatVector.fromArray(S, W, w3 + k, m), a3);
            }
            Y[y0] = sum(a0); Y[y0 + 1] = sum(a1); Y[y0 + 2] = sum(a2); Y[y0 + 3] = sum(a3);
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
