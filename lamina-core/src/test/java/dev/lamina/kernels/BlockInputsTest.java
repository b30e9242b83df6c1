package dev.lamina.kernels;

import dev.lamina.tensor.Rng;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/** Inputs rounded to 8 bits per block of 32 for the small-quant blocks' products. */
class BlockInputsTest {
    /**
     * The 8-bit rounding of small-quant blocks' inputs, L lanes at a time, equals the rule applied one
     * input at a time, bit for bit (x̃, xq, e, Σx̃), at odd lengths and on zeros, tiny and huge values,
     * NaN and infinities; x̃ = e·xq with |xq| ≤ 127, e of at most 8 significant bits, |x − x̃| ≤ e/2.
     */
    @ParameterizedTest
    @CsvSource({"1,32", "3,33", "2,96", "5,17", "4,256", "1,1", "7,100"})
    void inputsRoundedByVectorsAreTheRulesBits(int n, int in) {
        Rng rng = new Rng(17L * n + in);
        float[] x = new float[n * in + 3];
        for (int i = 0; i < x.length; i++) x[i] = (float) ((rng.nextDouble() - 0.5) * Math.pow(10, rng.nextLong(7) - 3));
        if (in >= 64) {                                  // whole blocks of zeros, tiny values, one NaN, one infinity, a huge value
            for (int k = 0; k < 32; k++) { x[3 + k] = 0; x[3 + 32 + k] *= 1e-33f; }
            if (n > 1) { x[3 + in + 5] = Float.NaN; x[3 + in + 40] = Float.POSITIVE_INFINITY; }
            if (n > 2) x[3 + 2 * in + 7] = 0x1p101f;
        }
        BlockInputs v = new BlockInputs().size(n, in), s = new BlockInputs().size(n, in);
        v.round(x, 3, in, 0, n);
        int blocks = (in + 31) / 32;
        for (int i = 0; i < n; i++)
            for (int b = 0; b < blocks; b++)
                s.roundBlock(x, 3 + i * in + b * 32, Math.min(in, b * 32 + 32) - b * 32, i * in + b * 32, i * blocks + b);
        assertThat(v.xt).isEqualTo(s.xt);
        assertThat(v.xq).isEqualTo(s.xq);
        assertThat(v.e).isEqualTo(s.e);
        assertThat(v.sx).isEqualTo(s.sx);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < in; k++) {
                float e = v.e[i * blocks + k / 32], xv = x[3 + i * in + k];
                int q = v.xq[i * in + k];
                assertThat(Math.abs(q)).isLessThanOrEqualTo(BlockInputs.XQ_MAX);
                if (Float.isNaN(e)) { assertThat(v.xt[i * in + k]).isNaN(); continue; }
                assertThat(Float.floatToRawIntBits(e) & 0xFFFF).as("e's low mantissa bits").isZero();
                assertThat(v.xt[i * in + k]).isEqualTo(e * q);
                assertThat((double) Math.abs(xv - v.xt[i * in + k])).isLessThanOrEqualTo(e > 0 ? e * 0.5000001 : 127 * 0x1p-100);
            }
        if (in >= 64 && n > 2) {
            assertThat(v.e[0]).isZero();                  // all zeros
            assertThat(v.e[1]).isZero();                  // below the smallest scale
            assertThat(v.e[blocks]).isNaN();              // NaN inside
            assertThat(v.e[blocks + 1]).isNaN();          // infinity inside
            assertThat(v.e[2 * blocks]).isNaN();          // beyond 2^100
        }
    }

}
