package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;

/**
 * Weights stored as panels of output columns ({@link PackedWeights} in float32, {@link HalfWeights} in 16 bits, {@link Q8Weights}
 * and {@link Q4Weights} in 8- and 4-bit blocks): a product is a loop over panels, each computed for every row, so the
 * schedule over threads is the same whatever the storage.
 */
sealed interface PanelWeights extends LinearWeights permits PackedWeights, HalfWeights, Q8Weights, Q4Weights {
    /** Below this many multiply-adds per task a product stays on fewer threads. */
    long PARALLEL_MIN_FMA = 1L << 17;

    int panels();

    /** Output columns per panel. */
    int panelWidth();

    /** Panels [p0, p1) for all n rows, on the calling thread: x rows at xOff + i·ldx, y rows at yOff + i·ldy. */
    void range(int n, float[] X, int xOff, int ldx, float[] Y, int yOff, int ldy, int p0, int p1);

    /**
     * ys[m] = x·ws[m]ᵀ (+ bias) for matrices with x's input width (e.g. q, k and v), in one parallel
     * region over all their panels. x is [n, in] from its offset; each y is [n, out_m] from its offset.
     */
    static void multiply(Parallel pool, int n, Tensor x, PanelWeights[] ws, Tensor[] ys) {
        int[] start = new int[ws.length + 1];
        for (int m = 0; m < ws.length; m++) start[m + 1] = start[m] + ws[m].panels();
        int total = start[ws.length], in = ws[0].in();
        long fma = (long) n * in * ws[0].panelWidth();
        int minChunk = (int) Math.max(1, Math.min(total, PARALLEL_MIN_FMA / Math.max(1, fma)));
        pool.forRange(total, minChunk, (g0, g1) -> {
            for (int m = 0; m < ws.length; m++) {
                int lo = Math.max(g0, start[m]), hi = Math.min(g1, start[m + 1]);
                if (lo < hi)
                    ws[m].range(n, x.data(), x.offset(), in, ys[m].data(), ys[m].offset(), ws[m].out(), lo - start[m], hi - start[m]);
            }
        });
    }

    /**
     * ys[m] = xs[m]·ws[m]ᵀ (+ bias) for n[m] rows of each map's own input, in one parallel region over
     * all their panels (the experts of a sparse layer: one handoff to the workers, not one per expert).
     */
    static void multiplyEach(Parallel pool, int[] n, Tensor[] xs, PanelWeights[] ws, Tensor[] ys) {
        int[] start = new int[ws.length + 1];
        long fma = 0;
        for (int m = 0; m < ws.length; m++) {
            start[m + 1] = start[m] + (n[m] > 0 ? ws[m].panels() : 0);
            fma += (long) n[m] * ws[m].in() * ws[m].panelWidth() * (n[m] > 0 ? ws[m].panels() : 0);
        }
        int total = start[ws.length];
        if (total == 0) return;
        int minChunk = (int) Math.max(1, Math.min(total, PARALLEL_MIN_FMA * total / Math.max(1, fma)));
        pool.forRange(total, minChunk, (g0, g1) -> {
            for (int m = 0; m < ws.length; m++) {
                int lo = Math.max(g0, start[m]), hi = Math.min(g1, start[m + 1]);
                if (lo < hi)
                    ws[m].range(n[m], xs[m].data(), xs[m].offset(), ws[m].in(), ys[m].data(), ys[m].offset(), ws[m].out(),
                            lo - start[m], hi - start[m]);
            }
        });
    }
}
