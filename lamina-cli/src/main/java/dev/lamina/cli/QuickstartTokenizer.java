package dev.lamina.cli;

import dev.lamina.tokenizer.ByteTokenizer;
import dev.lamina.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.List;

/** The quickstart's tokenizer step. */
final class QuickstartTokenizer {
    private QuickstartTokenizer() {}

    static Tokenizer train(List<Path> corpus, int vocabSize, Path dir) {
        System.err.println("byte tokenizer (BPE training not wired in yet)");
        return ByteTokenizer.INSTANCE;
    }
}
