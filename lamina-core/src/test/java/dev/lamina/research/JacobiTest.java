package dev.lamina.research;

import dev.lamina.tensor.Rng;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class JacobiTest {

    @Test
    void twoByTwo() {
        assertThat(Jacobi.eigenvalues(new double[][] {{2, 1}, {1, 2}})).containsExactly(new double[] {3, 1}, within(1e-12));
    }

    @Test
    void diagonalIsSortedLargestFirst() {
        assertThat(Jacobi.eigenvalues(new double[][] {{1, 0, 0}, {0, -2, 0}, {0, 0, 5}})).containsExactly(5, 1, -2);
    }

    @Test
    void randomSymmetricKeepsTraceAndFrobeniusNormAndSolvesTheCharacteristicEquation() {
        Rng r = new Rng(3);
        int n = 40;
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) for (int j = i; j < n; j++) a[i][j] = a[j][i] = r.nextGaussian();
        double[] ev = Jacobi.eigenvalues(a);
        double trace = 0, fro = 0, sum = 0, sq = 0;
        for (int i = 0; i < n; i++) { trace += a[i][i]; for (int j = 0; j < n; j++) fro += a[i][j] * a[i][j]; }
        for (double v : ev) { sum += v; sq += v * v; }
        assertThat(sum).isCloseTo(trace, within(1e-9));
        assertThat(sq).isCloseTo(fro, within(1e-8));
        // each eigenvalue makes a − λI singular: its smallest |eigenvalue| is ~0
        for (double lambda : new double[] {ev[0], ev[n / 2], ev[n - 1]}) {
            double[][] shifted = new double[n][];
            for (int i = 0; i < n; i++) { shifted[i] = a[i].clone(); shifted[i][i] -= lambda; }
            double min = Double.MAX_VALUE;
            for (double v : Jacobi.eigenvalues(shifted)) min = Math.min(min, Math.abs(v));
            assertThat(min).isLessThan(1e-9);
        }
    }

    @Test
    void uniformAttentionHasRankOne() {
        int T = 64;
        double[][] a = new double[T][T];
        for (double[] row : a) java.util.Arrays.fill(row, 1.0 / T);
        assertThat(Jacobi.energyRank(Jacobi.squaredSingularValues(a), 0.9)).isEqualTo(1);
    }

    @Test
    void everyQueryOnTheFirstTokenHasRankOne() {
        int T = 32;
        double[][] a = new double[T][T];
        for (double[] row : a) row[0] = 1;
        assertThat(Jacobi.energyRank(Jacobi.squaredSingularValues(a), 0.9)).isEqualTo(1);
    }

    @Test
    void identityAttentionHasFullRank() {
        int T = 50;
        double[][] a = new double[T][T];
        for (int i = 0; i < T; i++) a[i][i] = 1;
        double[] s2 = Jacobi.squaredSingularValues(a);
        assertThat(Jacobi.energyRank(s2, 1.0)).isEqualTo(T);
        // all singular values are equal, so 90% of the energy needs 90% of them: the most any T×T matrix needs
        assertThat(Jacobi.energyRank(s2, 0.9)).isEqualTo(45);
    }

    @Test
    void zeroMatrixHasRankZero() {
        assertThat(Jacobi.energyRank(Jacobi.squaredSingularValues(new double[4][4]), 0.9)).isZero();
    }
}
