package dev.lamina.data;

import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Parallel;
import dev.lamina.tokenizer.ByteTokenizer;
import dev.lamina.tokenizer.Tokenizer;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Turns text corpora into a prepared data directory:
 * <pre>
 * DIR/train.bin, DIR/val.bin   token files ({@link TokenFile}): each document's ids then eot
 * DIR/tokenizer/               the tokenizer ({@link Tokenizer#save})
 * DIR/data.json                what was done (written last: its presence marks a complete directory)
 * </pre>
 * The split is by whole documents, chosen by a seeded shuffle, so the same inputs and seed give
 * byte-identical files.
 */
public final class DataPrep {
    private DataPrep() {}

    public static final String TRAIN = "train.bin", VAL = "val.bin", TOKENIZER = "tokenizer", INFO = "data.json";

    /** Sizes of one split; tokens include one eot per document, bytes are the UTF-8 text. */
    public record Split(long documents, long tokens, long bytes) {}

    public record Stats(Path dir, String tokenizer, int vocabSize, Split train, Split val, List<String> sources) {}

    public static Stats prepare(List<Path> corpus, Tokenizer tok, Path outDir, double valFraction, long seed) {
        checkFraction(valFraction);  // before reading a possibly large corpus
        if (corpus.isEmpty()) throw new LaminaException("no corpus files given");
        return prepareSources(corpus.stream().map(Corpus::read).toList(), tok, outDir, valFraction, seed);
    }

    /** Encodes documents, in order: ids[i] are document i's tokens (no eot). */
    @FunctionalInterface
    public interface Encoder { int[][] encode(List<String> documents); }

    /** As {@link #prepare} for sources already read (e.g. the bundled corpus). */
    public static Stats prepareSources(List<Corpus.Source> sources, Tokenizer tok, Path outDir, double valFraction, long seed) {
        return prepareSources(sources, tok, outDir, valFraction, seed, docs -> {
            int[][] ids = new int[docs.size()][];          // in parallel (the tokenizer is thread-safe); one thread writes each slot
            Parallel.defaults().forRange(docs.size(), 4, (from, to) -> {
                for (int i = from; i < to; i++) ids[i] = tok.encode(docs.get(i));
            });
            return ids;
        });
    }

    /**
     * As above, the documents encoded by encoder (e.g. across a Spark cluster); everything else, and
     * so the files, is the same.
     */
    public static Stats prepareSources(List<Corpus.Source> sources, Tokenizer tok, Path outDir, double valFraction, long seed, Encoder encoder) {
        checkFraction(valFraction);
        List<String> docs = new ArrayList<>();
        for (Corpus.Source s : sources) docs.addAll(s.documents());
        int n = docs.size();
        if (n < 2)
            throw new LaminaException("the corpus has " + n + " document(s); need at least 2 to split train/val "
                    + "(separate documents by a blank line)");

        // seeded Fisher-Yates: the first nVal indices of the permutation are validation documents
        int nVal = (int) Math.clamp(Math.round(n * valFraction), 1, n - 1);
        int[] perm = new int[n];
        Arrays.setAll(perm, i -> i);
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        boolean[] isVal = new boolean[n];
        for (int k = 0; k < nVal; k++) isVal[perm[k]] = true;

        int eot = tok.eotId();
        int[][] ids = encoder.encode(docs);
        if (ids.length != n) throw new IllegalStateException("the encoder returned " + ids.length + " documents of " + n);
        int[][] enc = new int[n][];
        for (int i = 0; i < n; i++) {
            enc[i] = Arrays.copyOf(ids[i], ids[i].length + 1);
            enc[i][ids[i].length] = eot;
        }

        List<int[]> train = new ArrayList<>(), val = new ArrayList<>();
        long[] bytes = new long[2];
        for (int i = 0; i < n; i++) {
            (isVal[i] ? val : train).add(enc[i]);
            bytes[isVal[i] ? 1 : 0] += docs.get(i).getBytes(StandardCharsets.UTF_8).length;
        }
        int vocab = tok.vocabSize();
        clearPrevious(outDir);
        long trainTokens = TokenFile.write(outDir.resolve(TRAIN), train, vocab);
        long valTokens = TokenFile.write(outDir.resolve(VAL), val, vocab);
        tok.save(outDir.resolve(TOKENIZER));

        Stats stats = new Stats(outDir, tok.describe(), vocab, new Split(train.size(), trainTokens, bytes[0]),
                new Split(val.size(), valTokens, bytes[1]), sources.stream().map(Corpus.Source::name).toList());
        AtomicFiles.writeString(outDir.resolve(INFO), info(stats, sources, eot, valFraction, seed));
        return stats;
    }

    /**
     * Removes what an earlier run may have left: data.json first (so a run that dies midway leaves a
     * directory Dataset.open rejects), and the tokenizer files, since Tokenizers.load would prefer a
     * stale byte-tokenizer marker over a new tokenizer.json.
     */
    private static void clearPrevious(Path outDir) {
        Path tokDir = outDir.resolve(TOKENIZER);
        try {
            Files.deleteIfExists(outDir.resolve(INFO));
            for (String f : List.of(ByteTokenizer.MARKER_FILE, "tokenizer.json", "encoder.json", "vocab.bpe"))
                Files.deleteIfExists(tokDir.resolve(f));
        } catch (IOException e) {
            throw new LaminaException(outDir + ": cannot clear the previous output (" + e.getMessage() + ")", e);
        }
    }

    private static void checkFraction(double f) {
        if (!(f > 0 && f <= 0.5)) throw new LaminaException("validation fraction must be in (0, 0.5], got " + f);
    }

    private static String info(Stats s, List<Corpus.Source> sources, int eot, double valFraction, long seed) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("format", "lamina-data");
        o.put("version", 1);
        o.put("tokenizer", s.tokenizer());
        o.put("vocab_size", s.vocabSize());
        o.put("eot_id", eot);
        o.put("val_fraction", valFraction);
        o.put("seed", seed);
        var src = o.putArray("sources");
        for (Corpus.Source c : sources)
            src.addObject().put("name", c.name()).put("documents", c.documents().size()).put("bytes", c.bytes());
        putSplit(o.putObject("train"), s.train());
        putSplit(o.putObject("val"), s.val());
        return Json.MAPPER.writeValueAsString(o) + "\n";
    }

    private static void putSplit(ObjectNode o, Split s) {
        o.put("documents", s.documents()).put("tokens", s.tokens()).put("bytes", s.bytes());
    }
}
