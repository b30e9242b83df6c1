package dev.lamina.research;

import dev.lamina.data.Dataset;
import dev.lamina.model.ModelConfig;
import dev.lamina.train.TrainConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class MoeExperimentTest {

    @Test
    void sevenVariantsWithTheirBudgetsLoadLogsAndAReport(@TempDir Path dir) throws Exception {
        ModelConfig moe = ModelConfig.builder().vocabSize(257).hiddenSize(32).numHiddenLayers(2).numAttentionHeads(2).intermediateSize(32)
                .maxPositionEmbeddings(32).numExperts(4).expertsPerToken(2).routerAuxLossCoef(0.01).routerZLossCoef(0.001).build();
        assertThat(MoeExperiment.denseTwin(moe).intermediateSize()).isEqualTo(64);
        assertThat(MoeExperiment.denseTwin(moe).activeParameterCount()).isEqualTo(moe.activeParameterCount() - 2 * 4 * 32);   // no routers
        assertThat(MoeExperiment.denseTotal(moe).parameterCount()).isEqualTo(moe.parameterCount() - 2 * 4 * 32);
        TrainConfig tc = TrainConfig.builder(12, 2, 16).lr(1e-3).warmup(2).seed(3).evalEvery(4).evalBatches(1).build();
        List<Figure> drawn = new ArrayList<>();
        try (Dataset data = ResearchData.dataset(Files.createDirectories(dir.resolve("data")))) {
            List<MoeExperiment.Outcome> out = MoeExperiment.run(data, new MoeExperiment.Settings(moe, tc), dir, null, dev.lamina.kernels.Kernels.defaults());
            assertThat(out).extracting(o -> o.variant().name())
                    .containsExactly("moe", "dense", "dense-total", "dense-time", "moe-no-aux", "moe-no-z", "moe-neither");
            MoeExperiment.Outcome sparse = out.get(0), dense = out.get(1), total = out.get(2);
            // equal training FLOPs: the big dense model gets the steps the sparse one's compute buys it
            assertThat(total.variant().steps()).isEqualTo((int) Math.round(12 * sparse.flopsPerToken() / total.flopsPerToken()));
            assertThat(total.variant().steps()).isLessThan(12);
            assertThat(out.get(3).variant().steps()).isEqualTo(Math.max(1, (int) Math.round(12 * sparse.seconds() / dense.seconds())));
            assertThat(sparse.load()).hasNumberOfRows(12);                          // one load per step, per sparse layer
            assertThat(sparse.load()[0]).hasNumberOfRows(2);
            double sum = 0;
            for (double v : sparse.load()[11][1]) sum += v;
            assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-3));
            assertThat(dense.load()).isEmpty();
            assertThat(out.get(4).variant().config().routerAuxLossCoef()).isZero();
            assertThat(out.get(5).variant().config().routerZLossCoef()).isZero();
            assertThat(sparse.aux()[11]).isGreaterThan(0);
            for (MoeExperiment.Outcome o : out) assertThat(o.finalValLoss()).isFinite();

            MoeExperiment.writeReport(new MoeExperiment.Settings(moe, tc), out, dir, "# setup", (d, f) -> drawn.add(f));
            String report = Files.readString(dir.resolve("report.md"));
            assertThat(report).contains("| moe-neither |", "| dense-total |", "effective experts");
            assertThat(drawn).extracting(Figure::name).contains("val_ppl_by_flops", "val_ppl_by_time", "effective_experts", "expert_load_moe");

            // a second run reuses every complete variant
            List<String> reused = new ArrayList<>();
            MoeExperiment.run(data, new MoeExperiment.Settings(moe, tc), dir, new MoeExperiment.Listener() {
                @Override public void variant(int i, int n, MoeExperiment.Variant v, boolean r) { if (r) reused.add(v.name()); }
            }, dev.lamina.kernels.Kernels.defaults());
            assertThat(reused).hasSize(7);
        }
    }

    @Test
    void effectiveExpertsAreEWhenBalancedAndKWhenCollapsed() {
        assertThat(MoeExperiment.effective(new double[] {0.25, 0.25, 0.25, 0.25})).isCloseTo(4, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(MoeExperiment.effective(new double[] {0.5, 0.5, 0, 0})).isCloseTo(2, org.assertj.core.data.Offset.offset(1e-9));
    }
}
