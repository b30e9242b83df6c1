package dev.lamina.kernels;

import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Parallel;
import org.junit.jupiter.api.Test;

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
     * The measurement runs and names itself. How it compares with the matrix product is a speed
     * question, answered by the benchmarks (MFU in docs/BENCHMARKS.md), not by a timed unit test:
     * a loaded machine moves both figures.
     */
    @Test
    void theMeasurementIsAPositiveRateAndSaysWhatItMeasured() {
        Parallel one = Parallel.of(1);
        assertThat(FmaPeak.source(one, null)).contains("FMA loop, 1 thread,");
        double peak = FmaPeak.measure(one);
        assertThat(peak).isPositive().isFinite();
    }

    @Test
    void chainsStayFinite() {
        assertThat(FmaPeak.chains(1 << 20, 3f)).isFinite();
    }
}
