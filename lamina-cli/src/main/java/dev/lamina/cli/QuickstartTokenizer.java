package dev.lamina.cli;

import dev.lamina.tokenizer.BpeTokenizer;
import dev.lamina.tokenizer.BpeTrainer;
import dev.lamina.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.List;

/** The quickstart's tokenizer step: byte-level BPE trained on the corpus, saved as tokenizer.json. */
final class QuickstartTokenizer {
    private QuickstartTokenizer() {}

    static Tokenizer train(List<Path> corpus, int vocabSize, Path dir) {
        long t0 = System.nanoTime();
        BpeTrainer.Result r = BpeTrainer.train(corpus, vocabSize, 2, List.of(BpeTokenizer.EOT), (phase, done, total) -> {});
        r.tokenizer().save(dir);
        System.err.printf("byte-level BPE, %,d tokens, trained in %.1f s: %.2f bytes per token on the corpus%n",
                r.tokenizer().vocabSize(), (System.nanoTime() - t0) / 1e9, (double) r.corpusBytes() / r.corpusTokens());
        return r.tokenizer();
    }
}
