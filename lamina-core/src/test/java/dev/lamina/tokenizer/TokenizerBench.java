package dev.lamina.tokenizer;

import dev.lamina.tensor.Parallel;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Lamina's side of bench/tokenizer.sh (which runs the same steps with Hugging Face tokenizers):
 * trains on a corpus twice (first run cold), writes OUT/lamina/tokenizer.json and GPT-2's files
 * as OUT/gpt2/tokenizer.json, then encodes the corpus's lines ('\n'-separated) with both,
 * three runs each, every run with a freshly loaded tokenizer (empty word cache). Also times the
 * pre-tokenizer scanner against java.util.regex.
 *
 * <p>Arguments: CORPUS VOCAB MIN_FREQ THREADS OUT GPT2_DIR. Times are in-process wall times and
 * exclude JVM start-up and file loading.
 */
public final class TokenizerBench {
    public static void main(String[] args) throws Exception {
        Path corpus = Path.of(args[0]);
        int vocab = Integer.parseInt(args[1]), minFreq = Integer.parseInt(args[2]), threads = Integer.parseInt(args[3]);
        Path out = Path.of(args[4]), gpt2 = Path.of(args[5]);
        Parallel pool = Parallel.of(threads);
        System.out.printf("lamina: %d threads, %s%n", pool.threads(), Runtime.version());

        for (int run = 1; run <= 2; run++) {
            long t0 = System.nanoTime();
            BpeTrainer.Result r = BpeTrainer.train(pool, List.of(corpus), vocab, minFreq, List.of(BpeTokenizer.EOT), ProgressListener.NONE);
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("lamina train run %d: %.2f s, vocab %d, %.3f bytes/token%n", run, s, r.tokenizer().vocabSize(), r.bytesPerToken());
            if (run == 1) r.tokenizer().save(out.resolve("lamina"));
        }
        BpeTokenizer.load(gpt2).save(out.resolve("gpt2"));

        byte[] bytes = Files.readAllBytes(corpus);
        List<String> lines = List.of(new String(bytes, StandardCharsets.UTF_8).split("\n", -1));
        double mb = bytes.length / 1e6;
        for (int run = 1; run <= 3; run++) splitSpeed(lines, mb, run);
        for (String name : List.of("lamina", "gpt2")) {
            for (int run = 1; run <= 3; run++) {
                BpeTokenizer tok = BpeTokenizer.load(out.resolve(name));
                long t0 = System.nanoTime();
                int[][] ids = tok.encodeAll(pool, lines);
                double s = (System.nanoTime() - t0) / 1e9;
                long n = 0;
                for (int[] x : ids) n += x.length;
                System.out.printf("lamina encode %s run %d: %.3f s, %.1f MB/s, %d tokens%n", name, run, s, mb / s, n);
            }
        }
    }

    /** The hand-written pre-tokenizer against GPT-2's regex in java.util.regex, one thread. */
    private static void splitSpeed(List<String> lines, double mb, int run) {
        long t0 = System.nanoTime(), b = 0;
        long[] chars = {0};
        for (String l : lines) Gpt2Pattern.split(l, 0, l.length(), (x, y) -> chars[0] += y - x);
        double scan = (System.nanoTime() - t0) / 1e9;
        t0 = System.nanoTime();
        for (String l : lines) for (var m = Gpt2Pattern.REGEX.matcher(l); m.find(); ) b += m.end() - m.start();
        double regex = (System.nanoTime() - t0) / 1e9;
        if (chars[0] != b) throw new AssertionError("scanner and regex disagree");
        System.out.printf("lamina pre-tokenize run %d (1 thread): scanner %.3f s (%.0f MB/s), java.util.regex %.3f s (%.0f MB/s)%n",
                run, scan, mb / scan, regex, mb / regex);
    }
}
