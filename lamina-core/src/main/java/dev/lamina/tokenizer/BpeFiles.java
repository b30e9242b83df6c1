package dev.lamina.tokenizer;

import dev.lamina.io.LaminaException;

import java.nio.file.Path;

/** Reads byte-level BPE tokenizers from tokenizer.json or GPT-2's encoder.json + vocab.bpe. */
final class BpeFiles {
    private BpeFiles() {}

    static Tokenizer load(Path dir) {
        throw new LaminaException(dir + ": no tokenizer found (BPE loading is not available yet; use 'bytes')");
    }
}
