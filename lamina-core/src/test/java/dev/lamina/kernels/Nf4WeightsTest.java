package dev.lamina.kernels;

import dev.lamina.io.SafeTensors;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** NF4 as bitsandbytes stores it (fixture: make_nf4_fixture.py), and its two decoders against each other. */
class Nf4WeightsTest {
    private static final Path FIXTURE = Path.of("src/test/resources/qlora/nf4.safetensors");

    @Test
    void quantizesAsBitsandbytesCodesConstantsAndAll() {
        try (SafeTensors f = SafeTensors.open(FIXTURE)) {
            float[] w = f.floats("weight");
            float[] dynamic = f.floats("dynamic_map");
            assertThat(Nf4Weights.DYNAMIC).containsExactly(dynamic);              // bitsandbytes' signed dynamic map, bit for bit
            float mean = f.floats("mean")[0];
            // the mean of the absmax constants: torch sums in float32, Lamina in double: the same to within an ulp
            assertThat(Nf4Weights.quantize(Tensor.of(w, 130, 131)).mean()).isCloseTo(mean, org.assertj.core.data.Offset.offset(2 * Math.ulp(mean)));
            Nf4Weights q = Nf4Weights.quantize(Tensor.of(w, 130, 131), mean);     // given the reference's mean, every code matches
            assertThat(q.absmax2()).containsExactly(f.floats("absmax2"));
            assertThat(unsigned(q.absmaxCodes())).containsExactly(f.longs("absmax_codes"));
            assertThat(unsigned(q.codes())).containsExactly(f.longs("codes"));
            assertThat(q.blocks()).isEqualTo(267);                                // the last block partial; two second-level blocks
        }
    }

    private static long[] unsigned(byte[] b) {
        long[] out = new long[b.length];
        for (int i = 0; i < b.length; i++) out[i] = b[i] & 0xff;
        return out;
    }

    @ParameterizedTest
    @CsvSource({"1, 1", "3, 5", "7, 64", "33, 65", "130, 131", "64, 1024"})
    void vectorAndScalarDecodeAlikeAndStayWithinHalfALevelGap(int rows, int cols) {
        Rng rng = new Rng(rows * 1000L + cols);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rng.nextGaussian() * (i % 97 == 0 ? 1 : 0.02));
        Nf4Weights q = Nf4Weights.quantize(Tensor.of(w, rows, cols));
        float[] scalar = new float[w.length + 3], vector = new float[w.length + 3];
        q.dequantizeScalar(scalar, 3, 0, q.blocks());
        q.dequantizeVector(vector, 3, 0, q.blocks());
        assertThat(vector).containsExactly(scalar);
        Tensor out = Tensor.zeros(rows, cols);
        Kernels.vector(2).nf4Dequantize(q, out);
        assertThat(out.toArray()).containsExactly(java.util.Arrays.copyOfRange(scalar, 3, scalar.length));
        Kernels.scalar(1).nf4Dequantize(q, out);
        assertThat(out.toArray()).containsExactly(java.util.Arrays.copyOfRange(scalar, 3, scalar.length));
        for (int b = 0; b < q.blocks(); b++) {
            float absmax = 0;
            for (int i = b * 64; i < Math.min(w.length, b * 64 + 64); i++) absmax = Math.max(absmax, Math.abs(w[i]));
            // the widest gap between NF4 levels is 1 − 0.6962 = 0.304, so a level is at most 0.152·absmax off;
            // the decoded absmax is off by at most half a step of its 8-bit code
            float absmaxError = Math.abs(q.absmax(b) - absmax);
            for (int i = b * 64; i < Math.min(w.length, b * 64 + 64); i++)
                assertThat(Math.abs(scalar[3 + i] - w[i])).as("value %d", i).isLessThanOrEqualTo(0.152f * absmax + absmaxError + 1e-6f);
        }
    }

    @Test
    void aLargeMatrixTakesFourPointOneTwoSevenBitsAWeight() {
        int rows = 1024, cols = 1024;
        float[] w = new float[rows * cols];
        Rng rng = new Rng(1);
        for (int i = 0; i < w.length; i++) w[i] = (float) rng.nextGaussian();
        Nf4Weights q = Nf4Weights.quantize(Tensor.of(w, rows, cols));
        assertThat(8.0 * q.bytes() / w.length).isCloseTo(4.127, org.assertj.core.data.Offset.offset(0.001));
    }
}
