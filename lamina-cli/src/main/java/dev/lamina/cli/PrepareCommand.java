package dev.lamina.cli;

import dev.lamina.data.BundledCorpus;
import dev.lamina.data.Corpus;
import dev.lamina.data.DataPrep;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.tokenizer.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** `lamina prepare`: text corpora to a prepared data directory (train.bin, val.bin, tokenizer, data.json). */
@Command(name = "prepare", mixinStandardHelpOptions = true,
        description = {"Tokenize text corpora into train/val token files.",
                "Documents are separated by blank lines; the split keeps documents whole."})
public final class PrepareCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--corpus", required = true, arity = "1..*", paramLabel = "TEXT",
            description = "UTF-8 text files, or 'brown' for the bundled Brown Corpus.")
    List<String> corpus;

    @Option(names = "--tokenizer", required = true, paramLabel = "T",
            description = "'bytes', or a tokenizer directory (tokenizer.json, or encoder.json + vocab.bpe).")
    String tokenizer;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory.")
    Path out;

    @Option(names = "--val-fraction", defaultValue = "0.05", paramLabel = "F",
            description = "Share of documents held out for validation, in (0, 0.5] (default ${DEFAULT-VALUE}).")
    double valFraction;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "N", description = "Seed of the split (default ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() {
        Tokenizer tok = Tokenizers.load(tokenizer);
        DataPrep.Stats s = DataPrep.prepareSources(sources(corpus), tok, out, valFraction, seed);
        print(spec.commandLine().getOut(), s);
        return 0;
    }

    /** The corpus arguments read: text files, or `brown` for the bundled corpus (a file of that name wins). */
    public static List<Corpus.Source> sources(List<String> corpus) {
        return corpus.stream()
                .map(c -> c.equals(BundledCorpus.NAME) && !Files.exists(Path.of(c)) ? BundledCorpus.source() : Corpus.read(Path.of(c)))
                .toList();
    }

    public static void print(PrintWriter w, DataPrep.Stats s) {
        w.printf("prepared %s: tokenizer %s, vocab %d, from %s%n", s.dir(), s.tokenizer(), s.vocabSize(), String.join(", ", s.sources()));
        w.printf("  train: %,d documents, %,d tokens, %,d bytes%n", s.train().documents(), s.train().tokens(), s.train().bytes());
        w.printf("  val:   %,d documents, %,d tokens, %,d bytes%n", s.val().documents(), s.val().tokens(), s.val().bytes());
        w.flush();
    }
}
