package dev.lamina.gguf;

import dev.lamina.io.LaminaException;

import java.nio.file.Path;

/** The llama.cpp architectures Lamina reads and writes, by their general.architecture name. */
enum GgufArch {
    LLAMA("llama"), GPT2("gpt2"),
    /** Qwen2/Qwen2.5: llama's names and keys, q/k/v biases, and q/k rows as Hugging Face stores them (NeoX rotary order). */
    QWEN2("qwen2");

    final String name;

    GgufArch(String name) { this.name = name; }

    static GgufArch of(String name, Path file) {
        for (GgufArch a : values()) if (a.name.equals(name)) return a;
        throw new LaminaException(file + ": metadata 'general.architecture' is '" + GgufFile.shown(name) + "', which Lamina does not run (it reads llama, qwen2 and gpt2)");
    }

    /** The metadata key of an architecture hyper-parameter, e.g. llama.block_count. */
    String key(String field) { return name + "." + field; }

    @Override public String toString() { return name; }
}
