package dev.lamina.quant;

import dev.lamina.gguf.GgmlType;
import dev.lamina.kernels.Kernels;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every method puts every weight on its grid; MSE never loses to round-to-nearest and ACIQ's clipping
 * pays on heavy tails; GPTQ equals a plain column-by-column OBQ reference, beats RTN on the layer's
 * output when inputs are correlated, and is RTN exactly when they are not.
 */
class CalibrateTest {

    /** Laplace-distributed weights with a few outliers, [out, in]. */
    static float[] heavyTailed(int out, int in, long seed) { return heavyTailed(out, in, seed, true); }

    static float[] heavyTailed(int out, int in, long seed, boolean outliers) {
        Random r = new Random(seed);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            double u = r.nextDouble() - 0.5;
            w[i] = (float) (-0.02 * Math.signum(u) * Math.log(1 - 2 * Math.abs(u)));
            if (outliers && r.nextInt(200) == 0) w[i] *= 8;
        }
        return w;
    }

    static void onGrid(Calibrate.Quantized z) {
        Grid g = z.grid();
        int gs = z.group(), groups = z.in() / gs;
        for (int r = 0; r < z.out(); r++)
            for (int j = 0; j < z.in(); j++) {
                int k = r * groups + j / gs;
                float d = z.d()[k], m = z.m()[k];
                if (g.f16Scales()) {
                    assertThat(g.store(d)).isEqualTo(d);
                    assertThat(g.store(m)).isEqualTo(m);
                }
                int q = g.level(z.w()[r * z.in() + j], d, m);
                assertThat(q).isBetween(g.qmin(), g.qmax());
                assertThat(Grid.value(q, d, m)).isEqualTo(z.w()[r * z.in() + j]);
            }
    }

    @Test
    void everyMethodPutsEveryWeightOnItsGrid() {
        float[] w = heavyTailed(24, 128, 1);
        for (Grid g : new Grid[] {Grid.of(GgmlType.Q8_0), Grid.of(GgmlType.Q4_0), Grid.of(GgmlType.Q4_1), Grid.of(GgmlType.Q5_0), Grid.of(GgmlType.Q5_1),
                Grid.of(3, 64, false), Grid.of(2, 0, true), Grid.of(4, 128, true)})
            for (Calibrate.Method m : new Calibrate.Method[] {Calibrate.Method.RTN, Calibrate.Method.MSE, Calibrate.Method.ACIQ})
                for (Calibrate.Fit f : Calibrate.Fit.values()) onGrid(Calibrate.quantize(m, g, w, 24, 128, f));
        assertThatThrownBy(() -> Calibrate.quantize(Calibrate.Method.RTN, Grid.of(4, 48, true), w, 24, 128, Calibrate.Fit.LAPLACE))
                .hasMessageContaining("does not divide rows of 128");
        assertThatThrownBy(() -> Grid.of(5, 32, true)).hasMessageContaining("bits must be 2, 3, 4 or 8");
    }

    static double error(float[] a, float[] b) {
        double e = 0;
        for (int i = 0; i < a.length; i++) e += (a[i] - b[i]) * (double) (a[i] - b[i]);
        return e;
    }

    @Test
    void mseNeverLosesToRoundToNearestAndClippingPaysOnHeavyTails() {
        float[] w = heavyTailed(32, 256, 2);
        for (int bits : new int[] {2, 3, 4, 8})
            for (int group : new int[] {32, 128, 0}) {
                Grid g = Grid.of(bits, group, false);
                double rtn = error(w, Calibrate.quantize(Calibrate.Method.RTN, g, w, 32, 256, null).w());
                double mse = error(w, Calibrate.quantize(Calibrate.Method.MSE, g, w, 32, 256, null).w());
                assertThat(mse).as(bits + " bits, group " + group).isLessThanOrEqualTo(rtn);
                if (bits <= 4 && group == 0) assertThat(mse).as(bits + " bits per channel").isLessThan((bits == 4 ? 0.9 : 0.8) * rtn);
            }
        // per channel on Laplace weights (what ACIQ assumes), the fitted clipping beats the full range, on either grid
        float[] laplace = heavyTailed(16, 2048, 12, false);
        for (int bits : new int[] {2, 3, 4})
            for (boolean sym : new boolean[] {true, false}) {
                Grid g = Grid.of(bits, 0, sym);
                double rtn = error(laplace, Calibrate.quantize(Calibrate.Method.RTN, g, laplace, 16, 2048, null).w());
                double aciq = error(laplace, Calibrate.quantize(Calibrate.Method.ACIQ, g, laplace, 16, 2048, Calibrate.Fit.LAPLACE).w());
                assertThat(aciq).as(bits + " bits" + (sym ? " symmetric" : "")).isLessThan(0.9 * rtn);
            }
        assertThat(Calibrate.aciqRatio(4, Calibrate.Fit.LAPLACE)).isEqualTo(5.03);
        assertThat(Calibrate.aciqRatio(2, Calibrate.Fit.GAUSSIAN)).isEqualTo(1.71);
    }

    /** Inputs [n, in] whose features are strongly correlated (a few shared factors), so H is far from diagonal. */
    static float[] correlatedInputs(int n, int in, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n * in];
        double[][] mix = new double[4][in];
        for (double[] row : mix) for (int j = 0; j < in; j++) row[j] = r.nextGaussian();
        for (int t = 0; t < n; t++) {
            double[] f = {r.nextGaussian(), r.nextGaussian(), r.nextGaussian(), r.nextGaussian()};
            for (int j = 0; j < in; j++) {
                double v = 0.3 * r.nextGaussian() * (1 + j % 5);
                for (int k = 0; k < 4; k++) v += f[k] * mix[k][j];
                x[t * in + j] = (float) v;
            }
        }
        return x;
    }

    static Gptq.Hessian hessian(float[] x, int n, int in) {
        Gptq.Hessian h = new Gptq.Hessian(in);
        h.add(Kernels.scalar(1), Tensor.of(x, n, in));
        return h;
    }

    /** ‖(W − Ŵ)Xᵀ‖²: what GPTQ minimises. */
    static double outputError(float[] w, float[] q, float[] x, int out, int in, int n) {
        double e = 0;
        for (int r = 0; r < out; r++)
            for (int t = 0; t < n; t++) {
                double s = 0;
                for (int j = 0; j < in; j++) s += (w[r * in + j] - q[r * in + j]) * (double) x[t * in + j];
                e += s * s;
            }
        return e;
    }

    @Test
    void gptqBeatsRoundToNearestOnTheLayersOutput() {
        int out = 16, in = 256, n = 600;
        float[] w = heavyTailed(out, in, 3), x = correlatedInputs(n, in, 4);
        Gptq.Hessian h = hessian(x, n, in);
        for (Grid g : new Grid[] {Grid.of(GgmlType.Q4_0), Grid.of(3, 64, false), Grid.of(4, 0, false), Grid.of(2, 32, false)})
            for (boolean actOrder : new boolean[] {false, true}) {
                Calibrate.Quantized z = Gptq.quantize(g, w, out, in, h, 0.01, actOrder, Calibrate.Method.RTN);
                onGrid(z);
                double rtn = outputError(w, Calibrate.quantize(Calibrate.Method.RTN, g, w, out, in, null).w(), x, out, in, n);
                double gptq = outputError(w, z.w(), x, out, in, n);
                assertThat(gptq).as(g + (actOrder ? " act-order" : "")).isLessThan(0.7 * rtn);
            }
    }

    @Test
    void gptqIsRoundToNearestWhenTheInputsAreUncorrelated() {
        int out = 8, in = 96;
        float[] w = heavyTailed(out, in, 5), x = new float[in * in];
        for (int j = 0; j < in; j++) x[j * in + j] = 3f;                 // XᵀX = 9·I: nothing to feed the error to
        Grid g = Grid.of(4, 32, false);
        float[] rtn = Calibrate.quantize(Calibrate.Method.RTN, g, w, out, in, null).w();
        assertThat(Gptq.quantize(g, w, out, in, hessian(x, in, in), 0.01, false, Calibrate.Method.RTN).w()).isEqualTo(rtn);
    }

    @Test
    void gptqMatchesAPlainColumnByColumnReference() {
        int out = 12, in = 160, n = 400;
        float[] w = heavyTailed(out, in, 6), x = correlatedInputs(n, in, 7);
        Gptq.Hessian h = hessian(x, n, in);
        Grid g = Grid.of(3, 32, false);
        float[] got = Gptq.quantize(g, w, out, in, h, 0.01, false, Calibrate.Method.RTN).w();
        float[] want = obq(g, w, out, in, h.matrix(), 0.01);
        int same = 0;
        for (int i = 0; i < got.length; i++) if (Math.abs(got[i] - want[i]) <= 1e-4 * Math.abs(want[i]) + 1e-9) same++;   // the same level (scales agree to float rounding)
        assertThat((double) same / got.length).isGreaterThan(0.98);
        double eg = outputError(w, got, x, out, in, n), ew = outputError(w, want, x, out, in, n);
        assertThat(eg / ew).isBetween(0.98, 1.02);
    }

    /** GPTQ as the paper first states it: one column at a time, the inverse Hessian updated by removing each quantized column. */
    static float[] obq(Grid g, float[] w0, int out, int in, double[] H, double percdamp) {
        double[] Hd = H.clone();
        double mean = 0;
        for (int j = 0; j < in; j++) mean += Hd[j * in + j];
        for (int j = 0; j < in; j++) Hd[j * in + j] += percdamp * mean / in;
        double[] inv = invert(Hd, in);
        double[] W = new double[w0.length];
        for (int i = 0; i < W.length; i++) W[i] = w0[i];
        float[] Q = new float[w0.length];
        int gs = g.groupOf(in);
        float[][] p = new float[out][];
        for (int j = 0; j < in; j++) {
            for (int r = 0; r < out; r++) {
                if (j % gs == 0) {
                    float[] row = new float[gs];
                    for (int t = 0; t < gs; t++) row[t] = (float) W[r * in + j + t];
                    p[r] = Calibrate.params(Calibrate.Method.RTN, g, row, 0, gs, null);
                }
                float wv = (float) W[r * in + j];
                float q = Grid.value(g.level(wv, p[r][0], p[r][1]), p[r][0], p[r][1]);
                Q[r * in + j] = q;
                double e = (wv - q) / inv[j * in + j];
                for (int t = j + 1; t < in; t++) W[r * in + t] -= e * inv[j * in + t];
            }
            double djj = inv[j * in + j];
            double[] col = new double[in];
            for (int a = 0; a < in; a++) col[a] = inv[a * in + j];
            for (int a = 0; a < in; a++) for (int b = 0; b < in; b++) inv[a * in + b] -= col[a] * col[b] / djj;
        }
        return Q;
    }

    static double[] invert(double[] A, int n) {
        double[] a = A.clone(), inv = new double[n * n];
        for (int i = 0; i < n; i++) inv[i * n + i] = 1;
        for (int c = 0; c < n; c++) {
            double piv = a[c * n + c];
            for (int k = 0; k < n; k++) { a[c * n + k] /= piv; inv[c * n + k] /= piv; }
            for (int r = 0; r < n; r++) {
                if (r == c) continue;
                double f = a[r * n + c];
                for (int k = 0; k < n; k++) { a[r * n + k] -= f * a[c * n + k]; inv[r * n + k] -= f * inv[c * n + k]; }
            }
        }
        return inv;
    }
}
