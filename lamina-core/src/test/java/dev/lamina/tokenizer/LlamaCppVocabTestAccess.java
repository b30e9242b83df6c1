package dev.lamina.tokenizer;

import java.nio.file.Path;

/** The llama.cpp models/ folder {@link LlamaCppVocabTest} reads, for tests in other packages. */
public final class LlamaCppVocabTestAccess {
    private LlamaCppVocabTestAccess() {}

    public static Path models() { return LlamaCppVocabTest.llamaCpp().resolve("models"); }
}
