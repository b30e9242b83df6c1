package dev.lamina.hf;

import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ModelConfig.Activation;
import dev.lamina.model.ModelConfig.Norm;
import dev.lamina.model.ModelConfig.Position;
import dev.lamina.model.Parameters;
import dev.lamina.tensor.Rng;

import java.util.List;

/** Small Lamina models of every exportable kind, with every parameter random so that a wrong mapping shows. */
final class ExportModels {
    private ExportModels() {}

    record Case(String name, ModelConfig config, HfCheckpoint.DType dtype, HfArch arch) {}

    static ModelConfig llama(int kv, boolean bias, boolean tied, Integer window) {
        return ModelConfig.builder().vocabSize(96).hiddenSize(32).numHiddenLayers(2).numAttentionHeads(4)
                .numKeyValueHeads(kv).intermediateSize(48).maxPositionEmbeddings(32).bias(bias).tieWordEmbeddings(tied)
                .slidingWindow(window).build();
    }

    static ModelConfig gpt2(boolean tied) {
        return ModelConfig.builder().vocabSize(300).hiddenSize(32).numHiddenLayers(2).numAttentionHeads(4)
                .intermediateSize(64).maxPositionEmbeddings(32).norm(Norm.LAYERNORM).position(Position.LEARNED)
                .activation(Activation.GELU).bias(true).tieWordEmbeddings(tied).build();
    }

    static final List<Case> CASES = List.of(
            new Case("llama-gqa-f32", llama(2, false, false, null), HfCheckpoint.DType.F32, HfArch.LLAMA),
            new Case("llama-bias-tied-bf16", llama(4, true, true, null), HfCheckpoint.DType.BF16, HfArch.LLAMA),
            new Case("mistral-mqa-f16", llama(1, false, false, 3), HfCheckpoint.DType.F16, HfArch.MISTRAL),
            new Case("gpt2-f32", gpt2(true), HfCheckpoint.DType.F32, HfArch.GPT2),
            new Case("gpt2-untied-f32", gpt2(false), HfCheckpoint.DType.F32, HfArch.GPT2),
            new Case("mixtral-top2-bf16", llama(2, false, false, null).toBuilder().numExperts(4).expertsPerToken(2)
                    .routerAuxLossCoef(0.01).build(), HfCheckpoint.DType.BF16, HfArch.MIXTRAL),
            new Case("mixtral-top1-window-f32", llama(2, false, false, 4).toBuilder().numExperts(3).expertsPerToken(1).build(),
                    HfCheckpoint.DType.F32, HfArch.MIXTRAL),
            new Case("qwen2-moe-shared-f32", llama(2, false, false, null).toBuilder().numHiddenLayers(4).numExperts(4).expertsPerToken(2)
                    .moeEvery(2).normTopkProb(false).moeIntermediateSize(16).sharedExpertIntermediateSize(24).build(),
                    HfCheckpoint.DType.F32, HfArch.QWEN2_MOE));

    static Decoder random(ModelConfig c, long seed) {
        Parameters p = Decoder.layout(c).build();
        Rng rng = new Rng(seed);
        for (Parameters.Slot s : p.slots().values()) {
            boolean norm = s.name().endsWith("layernorm.weight") || s.name().equals("norm.weight");
            for (int i = 0; i < s.size(); i++)
                p.data()[s.offset() + i] = (float) (norm ? 1 + 0.2 * rng.nextGaussian() : 0.3 * rng.nextGaussian());
        }
        return new Decoder(c, p);
    }

    static int[] ids(int vocab, int n, long seed) {
        Rng rng = new Rng(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = (int) rng.nextLong(vocab);
        return ids;
    }
}
