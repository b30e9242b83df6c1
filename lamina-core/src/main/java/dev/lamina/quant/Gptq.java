package dev.lamina.quant;

import dev.lamina.io.LaminaException;
import dev.lamina.kernels.KernelSet;
import dev.lamina.tensor.Tensor;

import java.util.Arrays;

/**
 * GPTQ (Frantar et al.): quantizes a weight matrix W [out, in] column by column and spreads each
 * column's rounding error over the columns not yet quantized, weighted by the inverse Hessian of the
 * layer's reconstruction loss ‖WX − ŴX‖², H = 2XᵀX over calibration inputs X [n, in]. As the
 * reference code does: dead inputs (H_jj = 0) are zeroed, H is damped by percdamp·mean(diag H),
 * the rows of the upper Cholesky factor U of H⁻¹ drive the updates, in lazy blocks of 128 columns;
 * with act-order the columns go by decreasing H_jj and the group grids are fitted up front on the
 * unchanged W (static groups), else each group's grid is fitted when the group is reached, on the
 * already updated weights.
 */
public final class Gptq {
    private Gptq() {}

    /** Running Σ xxᵀ of a linear map's inputs (the Hessian up to 2/n), accumulated in float32 by the kernels' weight-gradient product. */
    public static final class Hessian {
        final int in;
        final Tensor sum;
        long rows;

        public Hessian(int in) {
            this.in = in;
            this.sum = Tensor.zeros(in, in);
        }

        /** Adds the rows of x [n, in]. */
        public void add(KernelSet kernels, Tensor x) {
            int n = x.size() / in;
            Tensor rowsOf = new Tensor(x.data(), x.offset(), new int[] {n, in});
            kernels.matmulBackwardWeight(sum, null, rowsOf, rowsOf);
            rows += n;
        }

        public long rows() { return rows; }

        /** H = 2/n Σ xxᵀ. */
        double[] matrix() {
            double[] a = new double[in * in];
            double s = rows == 0 ? 0 : 2.0 / rows;
            for (int i = 0; i < a.length; i++) a[i] = s * sum.get(i);
            return a;
        }
    }

    /**
     * W [out, in] quantized onto grid with error feedback through H. groupFit chooses each group's
     * grid (RTN's min/max, or MSE's clipped range); percdamp is the relative damping (0.01 in the paper).
     */
    public static Calibrate.Quantized quantize(Grid grid, float[] weights, int out, int in, Hessian hessian, double percdamp, boolean actOrder,
                                               Calibrate.Method groupFit) {
        if (hessian.in != in) throw new IllegalArgumentException("Hessian of " + hessian.in + " inputs for rows of " + in);
        if (hessian.rows == 0) throw LaminaException.field("calib", "no calibration inputs reached this layer; give a longer --calib");
        if (!(percdamp > 0)) throw LaminaException.field("damp", "--damp must be positive (0.01 is the paper's), got " + percdamp);
        int g = grid.groupOf(in), groups = in / g;
        double[] H = hessian.matrix();
        float[] W = weights.clone();
        for (int j = 0; j < in; j++)
            if (H[j * in + j] == 0) {                               // an input that never fires: its weights do nothing
                H[j * in + j] = 1;
                for (int r = 0; r < out; r++) W[r * in + j] = 0;
            }
        int[] perm = new int[in];
        for (int j = 0; j < in; j++) perm[j] = j;
        if (actOrder) {
            Integer[] o = new Integer[in];
            for (int j = 0; j < in; j++) o[j] = j;
            double[] diag = new double[in];
            for (int j = 0; j < in; j++) diag[j] = H[j * in + j];
            Arrays.sort(o, (a, b) -> Double.compare(diag[b], diag[a]));
            for (int j = 0; j < in; j++) perm[j] = o[j];
        }
        float[] d = new float[out * groups], m = new float[out * groups];
        boolean[] fitted = new boolean[out * groups];
        if (actOrder || g == in) {                                 // static groups, on the weights as they are
            for (int r = 0; r < out; r++)
                for (int k = 0; k < groups; k++) {
                    float[] p = Calibrate.params(groupFit, grid, W, r * in + k * g, g, null);
                    d[r * groups + k] = p[0];
                    m[r * groups + k] = p[1];
                    fitted[r * groups + k] = true;
                }
        }
        // permuted copies: column c of Wp is input perm[c]
        float[] Wp = new float[out * in];
        double[] Hp = new double[in * in];
        for (int r = 0; r < out; r++) for (int c = 0; c < in; c++) Wp[r * in + c] = W[r * in + perm[c]];
        for (int a = 0; a < in; a++) for (int b = 0; b < in; b++) Hp[a * in + b] = H[perm[a] * in + perm[b]];
        double damp = 0;
        for (int j = 0; j < in; j++) damp += Hp[j * in + j];
        damp = percdamp * damp / in;
        for (int j = 0; j < in; j++) Hp[j * in + j] += damp;
        double[] U = upperCholeskyOfInverse(Hp, in);

        float[] Q = new float[out * in];
        int block = Math.max(128, g) / g * g;
        double[] err = new double[out * block];
        for (int i1 = 0; i1 < in; i1 += block) {
            int i2 = Math.min(in, i1 + block), count = i2 - i1;
            Arrays.fill(err, 0);
            for (int i = 0; i < count; i++) {
                int c = i1 + i, j = perm[c], k = j / g;
                double ujj = U[c * in + c];
                for (int r = 0; r < out; r++) {
                    int gi = r * groups + k;
                    if (!fitted[gi]) {                             // the group starts here (no act-order): fit it on the updated weights
                        float[] row = new float[g];
                        for (int t = 0; t < g; t++) row[t] = Wp[r * in + c + t];
                        float[] p = Calibrate.params(groupFit, grid, row, 0, g, null);
                        d[gi] = p[0];
                        m[gi] = p[1];
                        fitted[gi] = true;
                    }
                    float w = Wp[r * in + c];
                    float q = Grid.value(grid.level(w, d[gi], m[gi]), d[gi], m[gi]);
                    Q[r * in + j] = q;
                    double e = (w - q) / ujj;
                    err[r * block + i] = e;
                    for (int t = c + 1; t < i2; t++) Wp[r * in + t] -= (float) (e * U[c * in + t]);
                }
            }
            if (i2 < in)                                           // the block's errors, onto every later column at once
                for (int r = 0; r < out; r++)
                    for (int i = 0; i < count; i++) {
                        double e = err[r * block + i];
                        if (e == 0) continue;
                        int ur = (i1 + i) * in;
                        for (int t = i2; t < in; t++) Wp[r * in + t] -= (float) (e * U[ur + t]);
                    }
        }
        return new Calibrate.Quantized(grid, out, in, Q, d, m);
    }

    /** U upper triangular with UᵀU = A⁻¹ (A symmetric positive definite, n x n). */
    static double[] upperCholeskyOfInverse(double[] A, int n) {
        double[] L = cholesky(A, n);
        // A⁻¹ = L⁻ᵀ L⁻¹: invert L (lower), then form the product
        double[] Li = new double[n * n];
        for (int i = 0; i < n; i++) {
            Li[i * n + i] = 1 / L[i * n + i];
            for (int j = 0; j < i; j++) {
                double s = 0;
                for (int k = j; k < i; k++) s += L[i * n + k] * Li[k * n + j];
                Li[i * n + j] = -s / L[i * n + i];
            }
        }
        double[] inv = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int k = i; k < n; k++) s += Li[k * n + i] * Li[k * n + j];
                inv[i * n + j] = inv[j * n + i] = s;
            }
        // the upper factor of inv: inv = UᵀU, U = (chol(inv))ᵀ with chol lower
        double[] C = cholesky(inv, n);
        double[] U = new double[n * n];
        for (int i = 0; i < n; i++) for (int j = 0; j <= i; j++) U[j * n + i] = C[i * n + j];
        return U;
    }

    /** Lower L with LLᵀ = A; refuses a matrix that is not positive definite. */
    static double[] cholesky(double[] A, int n) {
        double[] L = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) {
                double s = A[i * n + j];
                for (int k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
                if (i == j) {
                    if (!(s > 0)) throw new LaminaException("GPTQ: the damped Hessian is not positive definite at column " + i
                            + "; raise --damp (e.g. 0.1) or give more calibration tokens");
                    L[i * n + i] = Math.sqrt(s);
                } else L[i * n + j] = s / L[j * n + j];
            }
        return L;
    }
}
