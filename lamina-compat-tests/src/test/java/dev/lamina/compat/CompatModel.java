package dev.lamina.compat;

import dev.lamina.Lamina;
import dev.lamina.infer.Sampler;
import dev.lamina.model.Decoder;
import dev.lamina.model.Presets;
import dev.lamina.tokenizer.ByteTokenizer;

/** A small random model with the byte tokenizer: clients see the wire format, not the quality of the text. */
final class CompatModel {
    static final String NAME = "lamina-tiny";
    /** A context of 2048 bytes: room for tool definitions in the prompt (RoPE: the weights are those of any context). */
    private static final Lamina.Model MODEL = new Lamina.Model(Decoder.create(Presets.get("tiny").config().apply(257).toBuilder()
            .maxPositionEmbeddings(2048).build(), 42), ByteTokenizer.INSTANCE);

    private CompatModel() {}

    static Lamina.Model load() { return MODEL; }

    static String greedy(String prompt, int maxTokens) { return MODEL.generate(prompt, maxTokens, Sampler.greedy(), null); }
}
