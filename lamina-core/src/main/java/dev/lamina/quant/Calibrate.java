package dev.lamina.quant;

import dev.lamina.io.LaminaException;

import java.util.Locale;

/**
 * Post-training quantization of one weight matrix [out, in] onto a {@link Grid}: how each group's
 * scale (and offset) is chosen, then every weight rounded to its nearest grid point.
 *
 * <ul>
 *   <li>{@link Method#RTN}: the group's range as it is (min and max; symmetric: the largest magnitude at qmin).</li>
 *   <li>{@link Method#MSE}: OSME (Choukroun et al.): the range shrunk by p = 1, 0.99, ..., 0.20, keeping the p
 *       whose ‖w − ŵ‖² is least (clipping a few outliers buys finer steps for the rest).</li>
 *   <li>{@link Method#ACIQ}: Banner et al.'s analytical clipping: fit a Laplace (b = E|w − μ|) or Gaussian (σ)
 *       to the group and clip to μ ± α*, α* the minimiser of clipping plus rounding noise for the bits.</li>
 *   <li>{@link Method#GPTQ}: Hessian-aware, column by column with error feedback ({@link Gptq}).</li>
 * </ul>
 */
public final class Calibrate {
    private Calibrate() {}

    public enum Method { RTN, MSE, ACIQ, GPTQ;
        public static Method parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw LaminaException.field("method", "--method must be rtn, mse, aciq or gptq, got '" + s + "'");
            }
        }
    }

    /** The distribution ACIQ fits. */
    public enum Fit { LAPLACE, GAUSSIAN }

    /** α* ÷ b (Laplace) and α* ÷ σ (Gaussian) for 1..8 bits: Banner et al.'s minimisers (re-derived; their code truncates). */
    private static final double[] LAPLACE = {0, 1.86, 2.83, 3.90, 5.03, 6.20, 7.41, 8.65, 9.90};
    private static final double[] GAUSSIAN = {0, 1.24, 1.71, 2.15, 2.56, 2.94, 3.29, 3.62, 3.92};

    /** α* per unit of spread for bits with fit. */
    public static double aciqRatio(int bits, Fit fit) { return (fit == Fit.LAPLACE ? LAPLACE : GAUSSIAN)[bits]; }

    /**
     * A quantized matrix: w holds ŵ = d·q + m [out, in] (every value on the grid), d and m one per
     * group [out, in / group].
     */
    public record Quantized(Grid grid, int out, int in, float[] w, float[] d, float[] m) {
        public int group() { return grid.groupOf(in); }

        /** The integer level of weight (r, j). */
        public int level(int r, int j) {
            int g = r * (in / group()) + j / group();
            return grid.level(w[r * in + j], d[g], m[g]);
        }
    }

    /** w [out, in] quantized by method (RTN, MSE or ACIQ) onto grid. */
    public static Quantized quantize(Method method, Grid grid, float[] w, int out, int in, Fit fit) {
        if (method == Method.GPTQ) throw new IllegalArgumentException("GPTQ needs calibration inputs: Gptq.quantize");
        int g = grid.groupOf(in), groups = in / g;
        float[] q = new float[out * in], d = new float[out * groups], m = new float[out * groups];
        for (int r = 0; r < out; r++)
            for (int k = 0; k < groups; k++) {
                int off = r * in + k * g;
                float[] p = params(method, grid, w, off, g, fit);
                d[r * groups + k] = p[0];
                m[r * groups + k] = p[1];
                for (int j = off; j < off + g; j++) q[j] = Grid.value(grid.level(w[j], p[0], p[1]), p[0], p[1]);
            }
        return new Quantized(grid, out, in, q, d, m);
    }

    /** {d, m} of the group x[off, off + n) by method. */
    static float[] params(Method method, Grid grid, float[] x, int off, int n, Fit fit) {
        float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY, signedMax = 0;
        for (int i = off; i < off + n; i++) {
            lo = Math.min(lo, x[i]);
            hi = Math.max(hi, x[i]);
            if (Math.abs(x[i]) > Math.abs(signedMax)) signedMax = x[i];
        }
        return switch (method) {
            case RTN, GPTQ -> grid.fit(lo, hi, signedMax);
            case MSE -> {
                float[] best = grid.fit(lo, hi, signedMax);
                double bestErr = error(grid, x, off, n, best);
                for (int i = 1; i <= 80; i++) {
                    float p = 1 - i / 100f;
                    float[] c = grid.fit(p * lo, p * hi, p * signedMax);
                    double e = error(grid, x, off, n, c);
                    if (e < bestErr) { bestErr = e; best = c; }
                }
                yield best;
            }
            case ACIQ -> {
                double mean = 0;
                for (int i = off; i < off + n; i++) mean += x[i];
                mean /= n;
                double spread = 0;
                for (int i = off; i < off + n; i++) spread += fit == Fit.LAPLACE ? Math.abs(x[i] - mean) : (x[i] - mean) * (x[i] - mean);
                spread = fit == Fit.LAPLACE ? spread / n : Math.sqrt(spread / n);
                double alpha = aciqRatio(Math.min(8, grid.bits()), fit) * spread;
                if (grid.symmetric()) {                     // steps of 2α/(levels − 1) across [−α, α] around zero, as Banner's Δ = 2α/2^M
                    double c = Math.min(Math.abs(signedMax), Math.abs(mean) + alpha);
                    yield new float[] {grid.store((float) (2 * c / (grid.qmax() - grid.qmin()))), 0f};
                }
                yield grid.fit((float) Math.max(lo, mean - alpha), (float) Math.min(hi, mean + alpha), signedMax);
            }
        };
    }

    /** Σ (x − ŵ)² over the group with scale and offset p. */
    static double error(Grid grid, float[] x, int off, int n, float[] p) {
        double e = 0;
        for (int i = off; i < off + n; i++) {
            double r = x[i] - Grid.value(grid.level(x[i], p[0], p[1]), p[0], p[1]);
            e += r * r;
        }
        return e;
    }
}
