package dev.lamina.cli;

import dev.lamina.tokenizer.BpeTokenizer;
import dev.lamina.tokenizer.BpeTrainer;
import dev.lamina.tokenizer.ProgressListener;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** `lamina tokenizer train`: learns a BPE vocabulary and writes DIR/tokenizer.json. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a byte-level BPE tokenizer (GPT-2 style) on text files and write DIR/tokenizer.json.")
final class TokenizerTrainCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(TokenizerTrainCommand.class);

    @Spec CommandSpec spec;

    @Option(names = "--corpus", required = true, arity = "1..*", paramLabel = "FILE", description = "UTF-8 text files to train on.")
    List<Path> corpus;

    @Option(names = "--vocab-size", required = true, paramLabel = "N", description = "Vocabulary size including the 256 bytes and the special tokens.")
    int vocabSize;

    @Option(names = "--min-frequency", defaultValue = "2", paramLabel = "N", description = "Stop when the best pair occurs fewer times (default: ${DEFAULT-VALUE}).")
    int minFrequency;

    @Option(names = "--special", arity = "1..*", paramLabel = "TOKEN", defaultValue = BpeTokenizer.EOT,
            description = "Special tokens, never split (default: ${DEFAULT-VALUE}; giving any replaces the default).")
    List<String> specials;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory to write tokenizer.json into.")
    Path out;

    @Override
    public Integer call() {
        long t0 = System.nanoTime();
        BpeTrainer.Result result;
        try (Progress progress = System.console() != null && System.console().isTerminal() ? new Bars() : new LogLines()) {
            result = BpeTrainer.train(corpus, vocabSize, minFrequency, specials, progress);
        }
        BpeTokenizer tok = result.tokenizer();
        tok.save(out);
        double seconds = (System.nanoTime() - t0) / 1e9;
        spec.commandLine().getOut().printf("vocabulary %d tokens (%d special) in %.1f s; %.3f bytes/token on the training corpus (%,d bytes); wrote %s%n",
                tok.vocabSize(), tok.addedTokens().size(), seconds, result.bytesPerToken(), result.corpusBytes(), out.resolve(BpeTokenizer.FILE));
        if (tok.vocabSize() < vocabSize)
            spec.commandLine().getOut().printf("stopped below the requested %d: no remaining pair occurs %d times (lower --min-frequency or add text)%n",
                    vocabSize, Math.max(1, minFrequency));
        spec.commandLine().getOut().flush();
        return 0;
    }

    private interface Progress extends ProgressListener, AutoCloseable {
        @Override void close();
    }

    /** A progress bar per phase on a terminal. */
    private static final class Bars implements Progress {
        private ProgressBar bar;
        private Phase phase;

        @Override
        public void progress(Phase p, long done, long total) {
            if (p != phase) {
                close();
                phase = p;
                ProgressBarBuilder b = new ProgressBarBuilder().setInitialMax(total).setTaskName(p == Phase.COUNT ? "Counting" : "Merging");
                if (p == Phase.COUNT) b.setUnit(" MB", 1_000_000);
                bar = b.build();
            }
            bar.stepTo(done);
        }

        @Override
        public void close() { if (bar != null) bar.close(); bar = null; }
    }

    /** Plain log lines (every 10%) when output is not a terminal. */
    private static final class LogLines implements Progress {
        private Phase phase;
        private long nextTenth;

        @Override
        public void progress(Phase p, long done, long total) {
            if (p != phase) { phase = p; nextTenth = 0; }
            long tenth = total == 0 ? 10 : done * 10 / total;
            if (tenth < nextTenth) return;
            nextTenth = tenth + 1;
            if (p == Phase.COUNT) log.info("counting words: {} of {} bytes ({}%)", done, total, tenth * 10);
            else log.info("merging: {} of {} tokens ({}%)", done, total, tenth * 10);
        }

        @Override
        public void close() {}
    }
}
