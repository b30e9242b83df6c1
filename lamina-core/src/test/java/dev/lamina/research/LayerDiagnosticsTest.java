package dev.lamina.research;

import dev.lamina.autograd.Tape;
import dev.lamina.data.Dataset;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.tensor.Rng;
import dev.lamina.train.AdamW;
import dev.lamina.train.Trainer;
import dev.lamina.train.TrainConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class LayerDiagnosticsTest {

    private static int[][] batch(int B, int T, int V, long seed) {
        Rng r = new Rng(seed);
        int[] ids = new int[B * T], tg = new int[B * T];
        for (int i = 0; i < ids.length; i++) { ids[i] = (int) r.nextLong(V); tg[i] = (int) r.nextLong(V); }
        return new int[][] {ids, tg};
    }

    @Test
    void layerNormsSquaredAddUpToTheGlobalNorm() {
        Decoder m = Decoder.create(ResearchData.tiny(), 7);
        int[][] b = batch(2, 16, 257, 1);
        Tape tape = Tape.training();
        m.loss(tape, b[0], b[1], 2, 16);
        tape.backward();
        double global = AdamW.gradNorm(m.kernels(), m.params());
        LayerGrads g = LayerGrads.of(m.kernels(), m.params(), 4);
        double sum = g.other() * g.other();
        for (int l = 0; l < 4; l++) {
            sum += g.layer()[l] * g.layer()[l];
            double parts = g.attention()[l] * g.attention()[l] + g.mlp()[l] * g.mlp()[l];
            assertThat(parts).isLessThanOrEqualTo(g.layer()[l] * g.layer()[l] * (1 + 1e-12)).isGreaterThan(0);
        }
        // the same squares summed in another order by the vector kernel: equal to float rounding
        assertThat(sum).isCloseTo(global * global, within(1e-7 * global * global));
        assertThat(g.global()).isCloseTo(global, within(1e-7 * global));
    }

    @Test
    void aLayerWithZeroedOutputProjectionsIsTheIdentity(@TempDir Path dir) {
        Dataset data = ResearchData.dataset(dir);
        Decoder m = Decoder.create(ResearchData.tiny(), 11);
        m.params().value("layers.2.self_attn.o_proj.weight").fill(0);
        m.params().value("layers.2.mlp.down_proj.weight").fill(0);
        LayerDiagnostics.Report r = LayerDiagnostics.run(m, data.val(), new LayerDiagnostics.Options(2, 32, 256, 0.9, 2), "zeroed", null);
        assertThat(r.removalCost(2)).isZero();                       // bitwise the same forward pass
        assertThat(r.hidden().angular()[2][1]).isLessThan(1e-6);      // x_3 == x_2
        assertThat(r.removalCost(1)).isNotZero();
        assertThat(r.hidden().angular()[1][1]).isGreaterThan(1e-4);
        assertThat(r.grads().attention()[2]).isGreaterThan(0);       // o_proj itself still gets a gradient
    }

    @Test
    void anglesAreZeroForEqualAndHalfForOppositeStatesAndTheTableIsTriangular() {
        float[] a = {1, 2, 3, -1}, same = {2, 4, 6, -2}, opposite = {-1, -2, -3, 1};
        LayerDiagnostics.Hidden h = LayerDiagnostics.hidden(List.of(a, same, opposite), 4);
        assertThat(h.angular()[0][1]).isCloseTo(0, within(1e-7));
        assertThat(h.angular()[0][2]).isCloseTo(1, within(1e-7));
        assertThat(h.angular()[1][1]).isCloseTo(1, within(1e-7));
        assertThat(h.angular()[1][2]).isNaN();                         // 1 + 2 > L = 2
        assertThat(h.rms()[1]).isCloseTo(2 * h.rms()[0], within(1e-12));
    }

    @Test
    void slidingWindowOfOneGivesIdentityAttentionAndFullRank() {
        ModelConfig c = ResearchData.tiny();
        c = ModelConfig.builder().vocabSize(c.vocabSize()).hiddenSize(c.hiddenSize()).numHiddenLayers(c.numHiddenLayers())
                .numAttentionHeads(c.numAttentionHeads()).numKeyValueHeads(c.numKeyValueHeads()).intermediateSize(c
                .intermediateSize()).maxPositionEmbeddings(c.maxPositionEmbeddings()).norm(c.norm()).normEps(c.normEps())
                .normPlacement(c.normPlacement()).mixAlpha(c.mixAlpha()).position(c.position()).ropeTheta(c.ropeTheta())
                .activation(c.activation()).bias(c.bias()).tieWordEmbeddings(c.tieWordEmbeddings()).slidingWindow(1)
                .layernormScaling(c.layernormScaling()).build();
        Decoder m = Decoder.create(c, 3);
        int T = 20;
        int[][] b = batch(2, T, 257, 5);
        List<float[]> states = new ArrayList<>();
        LayerDiagnostics.Attention a = LayerDiagnostics.attention(m, b[0], 2, T, 0.9, 2, states);
        assertThat(states).hasSize(c.numHiddenLayers() + 1);
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            assertThat(a.rank()[l]).containsOnly(18);                  // ceil(0.9 · 20): all singular values equal
            assertThat(a.lazy()[l]).isFalse();
        }
        LayerDiagnostics.Attention one = LayerDiagnostics.attention(m, b[0], 2, T, 0.9, 18, null);
        assertThat(one.lazy()).containsOnly(true);
    }

    @Test
    void writesReportJsonAndPlots(@TempDir Path dir) throws Exception {
        Dataset data = ResearchData.dataset(dir);
        Path run = dir.resolve("run");
        Trainer t = Trainer.start(Decoder.create(ResearchData.tiny(), 1), data, "test",
                TrainConfig.builder(6, 2, 32).lr(3e-3).warmup(1).seed(42).evalEvery(3).evalBatches(2).build(), run);
        List<Double> norms = new ArrayList<>();
        LayerGradLog.attach(t, 1);
        t.train(6, p -> norms.add(p.gradNorm()));
        List<LayerGradLog.Entry> log = LayerGradLog.read(run);
        assertThat(log).hasSize(6);
        for (int i = 0; i < 6; i++) {
            assertThat(log.get(i).step()).isEqualTo(i + 1);
            assertThat(log.get(i).grads().global()).isCloseTo(norms.get(i), within(1e-6 * norms.get(i)));
        }
        LayerDiagnostics.Report r = LayerDiagnostics.run(t.model(), data.val(), new LayerDiagnostics.Options(2, 32, 128, 0.9, 2), "run", null);
        Path out = dir.resolve("diag");
        List<Figure> drawn = new ArrayList<>();
        LayerDiagnostics.write(r, out, log, (d, f) -> { assertThat(d).isEqualTo(out); drawn.add(f); });
        for (String f : List.of("report.md", "diagnostics.json")) assertThat(out.resolve(f)).isNotEmptyFile();
        String report = Files.readString(out.resolve("report.md"));
        assertThat(report).contains("| 3 | pre |").contains("Lazy layers");
        assertThat(drawn).extracting(Figure::name).containsExactly("grad_norms", "angular_distance", "removal_cost",
                "hidden_norms", "attention_rank", "grad_norms_training");
        for (Figure f : drawn) assertThat(report).contains("(" + f.name() + ".png)"); // every figure the report shows is drawn
        var grads = (Figure.Lines) drawn.getFirst();
        assertThat(grads.series()).hasSize(3);
        assertThat(grads.series().getFirst().y()).containsExactly(r.grads().layer());
        var angular = (Figure.Heatmap) drawn.get(1);
        assertThat(angular.value()).hasDimensions(r.layers(), r.layers());
        assertThat(r.valLoss()).isCloseTo(Trainer.evaluate(t.model(), data.val(), 2, 32, 2), within(1e-6));
    }
}
