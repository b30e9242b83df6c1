package dev.lamina.kernels;

import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Parallel;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FmaPeakTest {
    @Test
    void theOverrideIsPerThreadAndNamed() {
        assertThat(FmaPeak.flopsPerSecond(Parallel.of(2), "100")).isEqualTo(200e9);
        assertThat(FmaPeak.source(Parallel.of(2), "100")).contains("-Dlamina.peakGflopsPerCore");
    }

    @Test
    void aBadOverrideIsRefusedNamingTheProperty() {
        for (String bad : new String[] {"abc", "0", "-5", "Infinity", "NaN"}) {
            assertThatThrownBy(() -> FmaPeak.flopsPerSecond(Parallel.of(2), bad)).isInstanceOf(LaminaException.class)
                    .hasMessageContaining("-Dlamina.peakGflopsPerCore=" + bad).hasMessageContaining("positive number");
        }
    }

    /**
     * The measured peak bounds what the GEMM reaches on a product that stays in L1 (a bound that a
     * probe left in the interpreter or reading one chain would break), and it is at least one
     * vector FMA per nanosecond.
     */
    @Test
    void theMeasuredPeakBoundsTheMatmulKernel() {
        Parallel one = Parallel.of(1);
        assertThat(FmaPeak.source(one, null)).contains("FMA loop, 1 thread,");

        int M = 48, N = 64, K = 64;
        SplittableRandom r = new SplittableRandom(1);
        float[] a = new float[M * K], b = new float[K * N], c = new float[M * N];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
        for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian();
        double best = 0;
        for (int round = 0; round < 40; round++) {
            int reps = 2000;
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) VectorMatmul.of(GemmTile.system()).gemm(one, M, N, K, a, 0, K, 1, b, 0, N, 1, c, 0, N, false);
            best = Math.max(best, 2.0 * M * N * K * reps / ((System.nanoTime() - t0) / 1e9));
        }
        double peak = FmaPeak.measure(one);                  // afresh, after the GEMM's warm-up (not a cached figure)
        int lanes = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
        assertThat(peak).isGreaterThan(2.0 * lanes * 1e9);
        System.out.printf("FmaPeakTest: peak %.1f GFLOP/s, gemm %dx%dx%d %.1f GFLOP/s%n", peak / 1e9, M, N, K, best / 1e9);
        assertThat(best).isLessThan(peak * 1.05);
        assertThat(c[0]).isFinite();
    }

    @Test
    void chainsStayFinite() {
        assertThat(FmaPeak.chains(1 << 20, 3f)).isFinite();
    }
}
