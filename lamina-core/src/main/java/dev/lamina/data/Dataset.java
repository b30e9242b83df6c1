package dev.lamina.data;

import dev.lamina.tokenizer.Tokenizer;

/** Placeholder: a prepared data directory. */
public record Dataset(TokenFile train, TokenFile val, Tokenizer tokenizer) {
    public static Dataset open(java.nio.file.Path dir) { throw new UnsupportedOperationException("pending"); }
}
