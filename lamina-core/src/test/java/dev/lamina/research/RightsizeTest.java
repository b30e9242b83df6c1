package dev.lamina.research;

import dev.lamina.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The width candidate keeps as many parameters as the depth candidate of its size; the Pareto front is what no other beats. */
class RightsizeTest {

    @Test
    void widthPruningKeepsTheLayerPrunedCandidatesParameters() {
        List<ModelConfig> configs = List.of(
                ModelConfig.builder().vocabSize(257).hiddenSize(256).numHiddenLayers(12).numAttentionHeads(8).numKeyValueHeads(4)
                        .intermediateSize(688).maxPositionEmbeddings(128).build(),
                ModelConfig.builder().vocabSize(300).hiddenSize(96).numHiddenLayers(8).numAttentionHeads(6).intermediateSize(384)
                        .maxPositionEmbeddings(64).build(),
                ModelConfig.builder().gpt2Style().vocabSize(300).hiddenSize(64).numHiddenLayers(6).numAttentionHeads(4).intermediateSize(256)
                        .maxPositionEmbeddings(64).build());
        for (ModelConfig c : configs)
            for (double share : new double[] {0.25, 0.5, 0.75}) {
                int L = c.numHiddenLayers(), n = (int) Math.rint(L * share);
                double[] f = Rightsize.widthFractions(c, (double) n / L);
                int H = c.numAttentionHeads(), g = H / c.numKeyValueHeads();
                assertThat(f[0]).as("heads").isGreaterThanOrEqualTo(0.0).isLessThan(1.0);
                assertThat(f[1]).as("mlp").isGreaterThanOrEqualTo(0.0).isLessThan(1.0);
                ModelConfig.Builder b = c.toBuilder();
                int H2 = H - (int) Math.rint(H * f[0]);
                b.numAttentionHeads(H2).numKeyValueHeads(g == 1 ? H2 : c.numKeyValueHeads()).intermediateSize(c.intermediateSize() - (int) Math.rint(c.intermediateSize() * f[1]));
                if (c.hiddenSize() % H2 != 0 || c.hiddenSize() / H2 != c.headDim()) b.headDim(c.headDim());
                long width = b.build().parameterCount(), depth = c.withLayers(n).parameterCount();
                assertThat((double) width / depth).as(c.hiddenSize() + " d, share " + share).isBetween(0.97, 1.03);
            }
    }

    @Test
    void theParetoFrontHoldsTheModelsNoOtherBeatsOnSizeAndLoss() {
        ModelCost big = new ModelCost(1000, 4000, 0, Double.NaN, Double.NaN), mid = new ModelCost(500, 2000, 0, Double.NaN, Double.NaN),
                small = new ModelCost(250, 1000, 0, Double.NaN, Double.NaN);
        var ref = new Rightsize.Outcome("reference", null, 4, "", 2.0, Double.NaN, Double.NaN, big, "");
        var a = new Rightsize.Outcome("a", Rightsize.Family.SCRATCH, 2, "", 2.5, Double.NaN, 1, mid, "");
        var b = new Rightsize.Outcome("b", Rightsize.Family.LAYER_PRUNED, 2, "", 2.2, 3.0, 1, mid, "");
        var c = new Rightsize.Outcome("c", Rightsize.Family.INHERITUNE, 1, "", 2.6, 3.1, 1, small, "");
        var d = new Rightsize.Outcome("d", Rightsize.Family.DISTILLED, 1, "", 2.9, Double.NaN, 1, small, "");
        assertThat(Rightsize.pareto(List.of(a, b, c, d), ref)).extracting(Rightsize.Outcome::name).containsExactly("c", "b", "reference");
    }

    @Test
    void everyBlocksRemovalIsRankedAgainstTheAngularPick() {
        var p = new Rightsize.Prediction(2, new double[] {.3, .1, .2}, new double[] {3.0, 3.5, 2.8}, 1);
        assertThat(p.measuredBest()).isEqualTo(2);
        assertThat(p.pickRank()).isEqualTo(3);
        assertThat(new Rightsize.Prediction(2, new double[] {.3, .1, .2}, new double[] {3.0, 2.5, 2.8}, 1).pickRank()).isEqualTo(1);
    }
}
