package dev.lamina.research;

import dev.lamina.autograd.Tape;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.TapeExecutor;
import dev.lamina.model.TestModels;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Dropping layers gives a normal smaller model that computes exactly what the full model computes
 * with those layers skipped, on every parity config whose layers do not depend on their index (the
 * others are refused); the choice rules pick what they say.
 */
class PruningTest {

    @Test
    void aPrunedModelIsTheFullModelWithThoseLayersSkipped() {
        int checked = 0, refused = 0;
        for (String name : TestModels.names()) {
            Decoder m = TestModels.load(name);
            ModelConfig c = m.config();
            int B = 2, T = Math.min(7, c.maxPositionEmbeddings());
            int[] ids = new int[B * T];
            for (int i = 0; i < ids.length; i++) ids[i] = (i * 13 + 5) % c.vocabSize();
            int[] drop = {1};
            Decoder p;
            try {
                p = Pruning.dropLayers(m, drop);
            } catch (LaminaException e) {
                boolean indexed = c.postLayers() % c.numHiddenLayers() != 0 || c.layernormScaling() || c.slidingWindowPattern() != null || c.moeEvery() > 1;
                assertThat(indexed).as(name + ": " + e.getMessage()).isTrue();
                refused++;
                continue;
            }
            assertThat(p.config().numHiddenLayers()).isEqualTo(c.numHiddenLayers() - 1);
            assertThat(p.parameterCount()).isLessThan(m.parameterCount());
            float[] skipped = m.forward(new TapeExecutor(m, Tape.inference(m.kernels()), ids, B, T).probes(l -> l == 1, null, null)).value().toArray();
            float[] pruned = p.forward(Tape.inference(p.kernels()), ids, B, T).value().toArray();
            assertThat(pruned).as(name).isEqualTo(skipped);
            checked++;
        }
        assertThat(checked).isGreaterThanOrEqualTo(12);
        assertThat(refused).isGreaterThanOrEqualTo(3);
    }

    @Test
    void theRulesPickTheLeastChangingBlockAndTheCheapestLayers() {
        double N = Double.NaN;
        double[][] angular = {            // d(l, n) for l = 0..4, n = 0..5
                {N, .30, .50, .60, .70, .80},
                {N, .20, .25, .45, .60, N},
                {N, .10, .15, .40, N, N},
                {N, .05, .35, N, N, N},
                {N, .40, N, N, N, N}};
        assertThat(Pruning.blockByAngle(angular, 2)).containsExactly(2, 3);
        assertThat(Pruning.blockByAngle(angular, 1)).containsExactly(3);
        assertThat(Pruning.blockByAngle(angular, 3)).containsExactly(2, 3, 4);
        assertThat(Pruning.byRemovalCost(new double[] {5, 0.5, 3, 0.1, 0.5}, 3)).containsExactly(1, 3, 4);
        assertThatThrownBy(() -> Pruning.blockByAngle(angular, 5)).hasMessageContaining("drop-layers must be between 1 and 4");
        assertThatThrownBy(() -> Pruning.byRemovalCost(new double[] {1, 2}, 0)).hasMessageContaining("drop-layers must be between 1 and 1");
    }
}
