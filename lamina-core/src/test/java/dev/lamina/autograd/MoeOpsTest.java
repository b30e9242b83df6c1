package dev.lamina.autograd;

import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The router's backward against finite differences of its forward, for what the Mixtral vectors
 * do not pin: unnormalised weights (Grok-1), top 1, and the aux and z losses' gradients alone.
 * f(z) = Σ w·c + auxCoef·aux + zCoef·z with fixed random c, central differences in double.
 */
class MoeOpsTest {

    /** f at z, and the experts chosen (a step across a tie changes them: f jumps there, so such steps are skipped). */
    private record Value(double f, String chosen) {}

    private static Value f(float[] z, int n, int E, int k, boolean renorm, float[] c, double aux, double zc) {
        Tape tape = Tape.inference();
        MoeOps.RouterLosses losses = new MoeOps.RouterLosses(E, 1, aux, zc);
        MoeOps.Route r = MoeOps.route(tape, new Var(Tensor.of(z.clone(), n, E), (Tensor) null), k, renorm, 0, losses, 0);
        double s = 0;
        for (int i = 0; i < n * k; i++) s += (double) r.weights.value().get(i) * c[i];
        return new Value(s + losses.weighted(), java.util.Arrays.toString(java.util.Arrays.copyOf(r.expert, n * k)));
    }

    @ParameterizedTest
    @CsvSource({"2, true, 0.02, 0.001", "2, false, 0.02, 0.001", "1, true, 0.5, 0.05", "1, false, 0, 0", "3, false, 0.1, 0.01"})
    void routerGradientsEqualFiniteDifferences(int k, boolean renorm, double aux, double zc) {
        int n = 6, E = 5;
        Rng rng = new Rng(k * 31L + (renorm ? 1 : 0));
        float[] z = new float[n * E], c = new float[n * k];
        for (int i = 0; i < z.length; i++) z[i] = (float) rng.nextGaussian();
        for (int i = 0; i < c.length; i++) c[i] = (float) rng.nextGaussian();

        Tape tape = Tape.training();
        MoeOps.RouterLosses losses = new MoeOps.RouterLosses(E, 1, aux, zc);
        Var logits = new Var(Tensor.of(z.clone(), n, E), Tensor.zeros(n, E));
        MoeOps.Route r = MoeOps.route(tape, logits, k, renorm, 0, losses, 0);
        Tensor g = r.weights.grad();
        for (int i = 0; i < c.length; i++) g.set(i, c[i]);
        tape.backward();

        double eps = 1e-2, worst = 0, norm = 0;
        int checked = 0;
        for (int i = 0; i < z.length; i++) {
            float[] up = z.clone(), down = z.clone();
            up[i] += (float) eps;
            down[i] -= (float) eps;
            Value a = f(up, n, E, k, renorm, c, aux, zc), b = f(down, n, E, k, renorm, c, aux, zc);
            if (!a.chosen().equals(b.chosen())) continue;
            double fd = (a.f() - b.f()) / (2 * eps);
            worst = Math.max(worst, Math.abs(fd - logits.grad().get(i)));
            norm = Math.max(norm, Math.abs(fd));
            checked++;
        }
        assertThat(checked).as("coordinates away from a tie").isGreaterThan(z.length * 3 / 4);
        assertThat(norm).as("a gradient to check").isGreaterThan(1e-3);
        assertThat(worst).isLessThan(2e-3 * Math.max(1, norm));
    }
}
