package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Precision;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/** The array sizes a memory plan takes before loading ({@code arrays}) are those the packers allocate, array by array. */
class HeldArraysTest {

    @ParameterizedTest
    @CsvSource({"1,256", "33,256", "70,512", "300,768", "1,32"})
    void plannedArraysAreThePackedOnes(int out, int in) {
        Parallel pool = Parallel.of(1);
        Q8Weights q8 = Q8Weights.pack(pool, out, in, 32, false, (o, q, d, m) -> { }, null);
        assertThat(Q8Weights.arrays(out, in, 32, false)).containsExactly(q8.q.length, 4L * q8.d.length);
        Q8Weights q5 = Q8Weights.pack(pool, out, in, 32, true, (o, q, d, m) -> { }, null);      // with minimums (Q5_K, Q4_1, ...)
        assertThat(Q8Weights.arrays(out, in, 32, true)).containsExactly(q5.q.length, 4L * q5.d.length, 4L * q5.m.length);
        if (in % 16 == 0) {
            Q8Weights q6 = Q8Weights.pack(pool, out, in, 16, false, (o, q, d, m) -> { }, null);
            assertThat(Q8Weights.arrays(out, in, 16, false)).containsExactly(q6.q.length, 4L * q6.d.length);
            Q8Weights q2 = Q8Weights.pack(pool, out, in, 16, true, (o, q, d, m) -> { }, null);
            assertThat(Q8Weights.arrays(out, in, 16, true)).containsExactly(q2.q.length, 4L * q2.d.length, 4L * q2.m.length);
        }
        Q4Weights q4 = Q4Weights.pack(pool, out, in, (o, q, d) -> { }, null);
        assertThat(Q4Weights.arrays(out, in, false)).containsExactly(q4.q.length, 4L * q4.d.length);
        if (in % Q4Weights.SUPER == 0) {
            Q4Weights k = Q4Weights.packSuper(pool, out, in, (o, q, sc, mn, ds, ms) -> { }, null);
            assertThat(Q4Weights.arrays(out, in, true)).containsExactly(k.q.length, k.sc.length, k.mn.length, 4L * k.ds.length, 4L * k.ms.length);
        }
        HalfWeights h = HalfWeights.of(pool, Precision.BF16, out, in, (o, bits) -> { }, null);
        assertThat(HalfWeights.arrays(out, in)).containsExactly(h.extraBytes());
    }
}
