package dev.lamina.tokenizer;

import dev.lamina.io.LaminaException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loads a tokenizer from a directory or the word {@code bytes}. */
public final class Tokenizers {
    private Tokenizers() {}

    /**
     * spec is "bytes", or a directory holding tokenizer.json, GPT-2's encoder.json + vocab.bpe,
     * or tokenizer.txt (written by {@link ByteTokenizer#save}), looked for in that order.
     */
    public static Tokenizer load(String spec) {
        if (spec.equals("bytes")) return ByteTokenizer.INSTANCE;
        return load(Path.of(spec));
    }

    public static Tokenizer load(Path dir) {
        if (!Files.isDirectory(dir))
            throw new LaminaException(dir + ": tokenizer directory not found (give a directory with tokenizer.json, "
                    + "or encoder.json + vocab.bpe, or the word 'bytes')");
        Path marker = dir.resolve(ByteTokenizer.MARKER_FILE);
        boolean bpe = Files.exists(dir.resolve(BpeTokenizer.FILE)) || Files.exists(dir.resolve(Gpt2Files.ENCODER));
        if (!bpe && Files.exists(marker)) {
            try {
                if (Files.readString(marker).trim().equals(ByteTokenizer.MARKER)) return ByteTokenizer.INSTANCE;
            } catch (IOException e) {
                throw new LaminaException(marker + ": cannot read (" + e.getMessage() + ")");
            }
            throw new LaminaException(marker + ": unknown tokenizer marker; expected the word 'bytes'");
        }
        return BpeTokenizer.load(dir);
    }
}
