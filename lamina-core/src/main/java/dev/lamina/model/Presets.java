package dev.lamina.model;

import dev.lamina.io.LaminaException;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Named model sizes. The vocabulary comes from the data's tokenizer, so a preset is a function of it.
 * llama-s, gpt2-s and llama-m are exactly the configurations of the PyTorch peer benchmark.
 */
public final class Presets {
    /** A model shape with the batch and sequence length it is usually trained with. */
    public record Preset(String name, String description, int batch, int seq, java.util.function.IntFunction<ModelConfig> config) {}

    private static final Map<String, Preset> ALL = new LinkedHashMap<>();

    static {
        add("tiny", "Llama-style, d 64, 4 layers (~0.1M + embeddings): for tests", 4, 64,
                v -> llama(v, 64, 4, 4, 176, 256).numKeyValueHeads(2).build());
        add("small", "Llama-style, d 256, 6 layers, GQA 8/4 heads (~8.5M with an 8k vocabulary): the quickstart model", 16, 128,
                v -> llama(v, 256, 6, 8, 688, 512).numKeyValueHeads(4).build());
        add("llama-s", "benchmark: Llama-style, d 384, 6 layers, 6 heads, ff 1024, T 256", 8, 256,
                v -> llama(v, 384, 6, 6, 1024, 256).build());
        add("gpt2-s", "benchmark: GPT-2-style, d 384, 6 layers, 6 heads, ff 1536, T 256", 8, 256,
                v -> ModelConfig.builder().gpt2Style().tieWordEmbeddings(false).vocabSize(v).hiddenSize(384).numHiddenLayers(6)
                        .numAttentionHeads(6).intermediateSize(1536).maxPositionEmbeddings(256).build());
        add("moe-s", "benchmark: llama-s with 8 SwiGLU experts per layer, top 2 (6 layers, d 384, ff 1024 per expert, T 256)", 8, 256,
                v -> llama(v, 384, 6, 6, 1024, 256).numExperts(8).expertsPerToken(2).routerAuxLossCoef(0.01).build());
        add("moe-s-dense", "benchmark: moe-s's dense twin of the same active size (llama-s with ff 2048: two experts' width)", 8, 256,
                v -> llama(v, 384, 6, 6, 2048, 256).build());
        add("llama-m", "benchmark: Llama-style, d 768, 12 layers, 12 heads, ff 2048, T 256 (~110M with 16k vocabulary)", 4, 256,
                v -> llama(v, 768, 12, 12, 2048, 256).build());
    }

    private static void add(String name, String description, int batch, int seq, java.util.function.IntFunction<ModelConfig> f) {
        ALL.put(name, new Preset(name, description, batch, seq, f));
    }

    /** A Llama-style shape: vocabulary, hidden size, layers, heads, MLP width and context, in that order. */
    private static ModelConfig.Builder llama(int v, int d, int layers, int heads, int ff, int maxPos) {
        return ModelConfig.builder().vocabSize(v).hiddenSize(d).numHiddenLayers(layers).numAttentionHeads(heads)
                .intermediateSize(ff).maxPositionEmbeddings(maxPos);
    }

    public static Map<String, Preset> all() { return ALL; }

    public static Preset get(String name) {
        Preset p = ALL.get(name);
        if (p == null) throw new LaminaException("unknown preset '" + name + "'; choose one of " + ALL.keySet());
        return p;
    }
}
