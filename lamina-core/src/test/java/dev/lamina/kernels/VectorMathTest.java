package dev.lamina.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Accuracy of the reproducible exp, tanh and lane sum against java.lang.Math. */
class VectorMathTest {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private static float[] apply(float[] x, java.util.function.UnaryOperator<FloatVector> f) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i += S.length())
            f.apply(FloatVector.fromArray(S, x, i, S.indexInRange(i, x.length))).intoArray(y, i, S.indexInRange(i, x.length));
        return y;
    }

    @Test
    void expMatchesMathExpToTwoTenthsOfAMillionth() {
        SplittableRandom r = new SplittableRandom(7);
        float[] x = new float[200_000];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 175 - 87);     // normal results
        float[] y = apply(x, VectorMath::exp);
        double worst = 0;
        for (int i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(y[i] - Math.exp(x[i])) / Math.exp(x[i]));
        assertThat(worst).isLessThan(2e-7);
    }

    @Test
    void expSpecialValues() {
        float[] x = {Float.NEGATIVE_INFINITY, -200f, -104f, 0f, -0f, 88.7f, 88.8f, 1000f, Float.POSITIVE_INFINITY, Float.NaN, 1f};
        float[] y = apply(x, VectorMath::exp);
        assertThat(y[0]).isEqualTo(0f);
        assertThat(y[1]).isEqualTo(0f);
        assertThat(y[2]).isLessThan(1e-44f);
        assertThat(y[3]).isEqualTo(1f);
        assertThat(y[4]).isEqualTo(1f);
        assertThat((double) y[5]).isCloseTo(Math.exp(88.7f), org.assertj.core.data.Percentage.withPercentage(1e-4));
        assertThat(y[6]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(y[7]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(y[8]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(y[9]).isNaN();
        assertThat((double) y[10]).isCloseTo(Math.E, org.assertj.core.data.Offset.offset(1e-6));
    }

    @Test
    void tanhMatchesMathTanhOnEitherSideOfItsSwitchAndSaturates() {
        SplittableRandom r = new SplittableRandom(8);
        float[] x = new float[200_000];
        for (int i = 0; i < x.length; i++) x[i] = (float) ((r.nextDouble() * 2 - 1) * (i % 2 == 0 ? 1.5 : 20));
        x[0] = 0f; x[1] = 0.625f; x[2] = -0.625f; x[3] = 1e-30f; x[4] = 100f; x[5] = -1000f; x[6] = Math.nextDown(0.625f);
        float[] y = apply(x, VectorMath::tanh);
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            double t = Math.tanh(x[i]);
            worst = Math.max(worst, Math.abs(y[i] - t) / Math.max(Math.abs(t), 1e-30));
        }
        assertThat(worst).isLessThan(5e-7);
        assertThat(y[0]).isEqualTo(0f);
        assertThat(y[3]).isEqualTo(1e-30f);
        assertThat(y[4]).isEqualTo(1f);
        assertThat(y[5]).isEqualTo(-1f);
    }

    @Test
    void sumIsTheLaneSum() {
        float[] x = new float[S.length()];
        for (int i = 0; i < x.length; i++) x[i] = i + 1;
        assertThat(VectorMath.sum(FloatVector.fromArray(S, x, 0))).isEqualTo(x.length * (x.length + 1) / 2f);
    }
}
