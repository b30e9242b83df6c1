package dev.lamina.tensor;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Half: 16-bit values come back bit for bit, and a buffer holding any value that is not 16-bit is reported. */
class HalfTest {
    @Test
    void sixteenBitValuesRoundTripAndOthersAreReported() {
        SplittableRandom r = new SplittableRandom(3);
        for (Precision p : new Precision[] {Precision.BF16, Precision.FP16})
            for (int n : new int[] {1, 7, 64, 1001}) {
                float[] x = new float[n];
                for (int i = 0; i < n; i++) x[i] = p.round((float) ((r.nextDouble() * 2 - 1) * Math.pow(10, r.nextInt(9) - 6)));
                x[0] = p == Precision.FP16 ? 65504f : Float.MAX_VALUE;    // may round to inf: any 16-bit value will do
                x[0] = p.round(x[0]);
                short[] h = new short[n];
                assertThat(Half.exact(x, p)).isTrue();
                assertThat(Half.pack(x, h, p)).as("%s n %d", p, n).isTrue();
                float[] back = new float[n];
                Half.unpack(h, back, p);
                for (int i = 0; i < n; i++) assertThat(Float.floatToRawIntBits(back[i])).isEqualTo(Float.floatToRawIntBits(x[i]));
                x[n - 1] = 1f + 0x1p-20f;                                  // a float32 value neither format holds
                assertThat(Half.pack(x, h, p)).isFalse();
                assertThat(Half.exact(x, p)).isFalse();
            }
        assertThatThrownBy(() -> Half.pack(new float[1], new short[1], Precision.FP32)).isInstanceOf(IllegalArgumentException.class);
    }
}
