package dev.lamina.infer;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class InferenceBenchmarkTest {
    static InferenceBenchmark.Report report(double machineBandwidth) {
        return new InferenceBenchmark.Report("m", 10, 10, 400_000_000L, 100, 50, 20e9, List.of(), 110, 55,
                machineBandwidth, "0 0 0", "0 0 0");
    }

    @Test
    void decodeIsReportedAsAShareOfTheMeasuredBandwidth() {
        assertThat(report(40e9).format()).contains("= 20.0 GB/s of weights, 50% of the 40.0 GB/s this machine reads\n");
        assertThat(report(40e9).bandwidthShare()).isEqualTo(0.5);
    }

    @Test
    void withoutABandwidthFigureTheShareIsLeftOut() {
        String s = report(Double.NaN).format();
        assertThat(s).contains("= 20.0 GB/s of weights\n").doesNotContain("NaN");
    }
}
