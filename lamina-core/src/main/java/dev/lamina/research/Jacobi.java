package dev.lamina.research;

import java.util.Arrays;

/**
 * Eigenvalues of a small symmetric matrix by the cyclic Jacobi method, in double. Each rotation
 * zeroes one off-diagonal pair; sweeps repeat until the off-diagonal mass is negligible. O(n³) per
 * sweep and usually under ten sweeps, fine for the n ≤ 256 attention matrices of the rank test.
 */
public final class Jacobi {
    private Jacobi() {}

    /** Eigenvalues of the symmetric matrix a[n][n] (not modified), largest first. */
    public static double[] eigenvalues(double[][] a) {
        int n = a.length;
        double[][] m = new double[n][];
        for (int i = 0; i < n; i++) {
            if (a[i].length != n) throw new IllegalArgumentException("matrix is not square: row " + i + " has " + a[i].length);
            m[i] = a[i].clone();
        }
        double total = 0;
        for (double[] row : m) for (double v : row) total += v * v;
        for (int sweep = 0; sweep < 100; sweep++) {
            double off = 0;
            for (int p = 0; p < n; p++) for (int q = p + 1; q < n; q++) off += m[p][q] * m[p][q];
            if (off <= 1e-30 * total || off == 0) break;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++) {
                    double apq = m[p][q];
                    if (apq == 0) continue;
                    // rotation angle from Numerical Recipes §11.1: t = tan(phi), the smaller root
                    double theta = (m[q][q] - m[p][p]) / (2 * apq);
                    double t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
                    double c = 1 / Math.sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++) {             // columns p, q: M·P
                        double kp = m[k][p], kq = m[k][q];
                        m[k][p] = c * kp - s * kq;
                        m[k][q] = s * kp + c * kq;
                    }
                    double[] rp = m[p], rq = m[q];
                    for (int k = 0; k < n; k++) {             // rows p, q: Pᵀ·(M·P)
                        double pk = rp[k], qk = rq[k];
                        rp[k] = c * pk - s * qk;
                        rq[k] = s * pk + c * qk;
                    }
                    m[p][q] = m[q][p] = 0;                     // exact zero rather than rounding residue
                }
        }
        double[] ev = new double[n];
        for (int i = 0; i < n; i++) ev[i] = m[i][i];
        Arrays.sort(ev);
        for (int i = 0; i < n / 2; i++) { double t = ev[i]; ev[i] = ev[n - 1 - i]; ev[n - 1 - i] = t; }
        return ev;
    }

    /** Squared singular values of a[rows][cols] (the eigenvalues of aᵀa), largest first, negatives clamped to 0. */
    public static double[] squaredSingularValues(double[][] a) {
        int rows = a.length, cols = a[0].length;
        double[][] g = new double[cols][cols];
        for (int i = 0; i < cols; i++)
            for (int j = i; j < cols; j++) {
                double s = 0;
                for (int r = 0; r < rows; r++) s += a[r][i] * a[r][j];
                g[i][j] = g[j][i] = s;
            }
        double[] ev = eigenvalues(g);
        for (int i = 0; i < ev.length; i++) ev[i] = Math.max(0, ev[i]);
        return ev;
    }

    /**
     * The smallest r such that the r largest squared singular values hold at least `energy` of the
     * total (Inheritune's approximate rank at 90% energy). 0 for an all-zero matrix.
     */
    public static int energyRank(double[] squaredSingularValues, double energy) {
        double total = 0;
        for (double v : squaredSingularValues) total += v;
        if (total == 0) return 0;
        double cum = 0;
        for (int r = 0; r < squaredSingularValues.length; r++) {
            cum += squaredSingularValues[r];
            if (cum >= energy * total * (1 - 1e-12)) return r + 1;   // tolerance: exact shares like 9/10 must count
        }
        return squaredSingularValues.length;
    }
}
