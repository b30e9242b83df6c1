package dev.lamina.infer;

import dev.lamina.kernels.Kernels;
import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
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
