package dev.lamina.tokenizer;

import dev.lamina.io.LaminaException;

import java.nio.file.Path;

/**
 * A tokenizer that is not there (a model directory or GGUF file without a usable one): the model
 * still loads, and every text operation fails with the reason.
 */
public record MissingTokenizer(String reason) implements Tokenizer {
    private LaminaException fail() { return new LaminaException(reason); }
    @Override public int vocabSize() { throw fail(); }
    @Override public int[] encode(String text) { throw fail(); }
    @Override public String decode(int[] ids) { throw fail(); }
    @Override public int eotId() { throw fail(); }
    @Override public void save(Path dir) { throw fail(); }
    @Override public String describe() { return "missing (" + reason + ")"; }
}
