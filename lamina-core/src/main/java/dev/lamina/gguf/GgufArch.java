package dev.lamina.gguf;

import dev.lamina.io.LaminaException;

import java.nio.file.Path;

/** The llama.cpp architectures Lamina reads and writes, by their general.architecture name. */
enum GgufArch {
    LLAMA("llama"), GPT2("gpt2"),
    /** Qwen2/Qwen2.5: llama's names and keys, q/k/v biases, and q/k rows as Hugging Face stores them (NeoX rotary order). */
    QWEN2("qwen2"),
    /** Qwen3: qwen2's layout with an RMSNorm over each q and k head (attn_q_norm, attn_k_norm) and its own head size (key_length). */
    QWEN3("qwen3"),
    /**
     * Gemma: GeGLU, embeddings times sqrt(d), a tied head, NeoX rotary order (q/k unpermuted); the
     * converter stores the norms' gains (1 + w), so they read as Lamina's directly.
     */
    GEMMA("gemma"),
    /** Gemma 2: gemma plus post_attention_norm/post_ffw_norm, soft caps and alternating windows (pattern 2). */
    GEMMA2("gemma2"),
    /** Gemma 3: gemma2's layers with q/k norms, one global layer in six, the windowed layers' own RoPE base (freq_base_swa). */
    GEMMA3("gemma3");

    final String name;

    GgufArch(String name) { this.name = name; }

    static GgufArch of(String name, Path file) {
        for (GgufArch a : values()) if (a.name.equals(name)) return a;
        throw new LaminaException(file + ": metadata 'general.architecture' is '" + GgufFile.shown(name) + "', which Lamina does not run (it reads llama, qwen2, qwen3, gemma, gemma2, gemma3 and gpt2)");
    }

    /** Whether this is one of the Gemma family (GeGLU, scaled embeddings, tied head). */
    boolean gemma() { return this == GEMMA || this == GEMMA2 || this == GEMMA3; }

    /** The metadata key of an architecture hyper-parameter, e.g. llama.block_count. */
    String key(String field) { return name + "." + field; }

    @Override public String toString() { return name; }
}
