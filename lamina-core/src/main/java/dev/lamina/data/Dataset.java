package dev.lamina.data;

import dev.lamina.io.LaminaException;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.tokenizer.Tokenizers;

import java.nio.file.Files;
import java.nio.file.Path;

/** A prepared data directory (see {@link DataPrep}): the train and val token files and the tokenizer. */
public record Dataset(Path dir, TokenFile train, TokenFile val, Tokenizer tokenizer) implements AutoCloseable {

    public static Dataset open(Path dir) {
        String hint = "; prepare it first (DataPrep, or the `lamina prepare` command)";
        if (!Files.isDirectory(dir)) throw new LaminaException(dir + ": data directory not found" + hint);
        if (!Files.isRegularFile(dir.resolve(DataPrep.INFO)))
            throw new LaminaException(dir + ": not a prepared data directory (no " + DataPrep.INFO + ")" + hint);
        Tokenizer tok = Tokenizers.load(dir.resolve(DataPrep.TOKENIZER));
        TokenFile train = TokenFile.open(dir.resolve(DataPrep.TRAIN));
        TokenFile val;
        try {
            val = TokenFile.open(dir.resolve(DataPrep.VAL));
        } catch (RuntimeException e) {
            train.close();
            throw e;
        }
        for (TokenFile f : new TokenFile[] {train, val}) {
            if (f.vocabSize() != tok.vocabSize()) {
                train.close();
                val.close();
                throw new LaminaException(f.file() + ": vocabulary size " + f.vocabSize() + " does not match the tokenizer's "
                        + tok.vocabSize() + " (" + tok.describe() + ")" + hint);
            }
        }
        return new Dataset(dir, train, val, tok);
    }

    @Override public void close() {
        train.close();
        val.close();
    }
}
