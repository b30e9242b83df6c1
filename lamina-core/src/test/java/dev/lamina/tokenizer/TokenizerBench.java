package dev.lamina.tokenizer;

import dev.lamina.tensor.Parallel;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Tokenizer benchmark (run by bench/tokenizer.sh next to the same measurements with Hugging Face
 * tokenizers): trains on a corpus, then encodes the corpus's lines with the trained tokenizer and
 * with a second one (e.g. GPT-2's) in parallel.
 *
 * <p>Arguments: corpus vocabSize minFrequency threads outDir [encodeTokenizerDir...]. Times exclude
 * JVM start-up; the first run of each step is cold (fresh JIT, empty word cache).
 */
public final class TokenizerBench {
    public static void main(String[] args) throws Exception {
        Path corpus = Path.of(args[0]);
        int vocab = Integer.parseInt(args[1]), minFreq = Integer.parseInt(args[2]), threads = Integer.parseInt(args[3]);
        Path out = Path.of(args[4]);
        Parallel.setThreads(threads);
        List<String> specials = List.of(BpeTokenizer.EOT);

        for (int run = 1; run <= 2; run++) {
            long t0 = System.nanoTime();
            BpeTrainer.Result r = BpeTrainer.train(List.of(corpus), vocab, minFreq, specials, ProgressListener.NONE);
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("lamina train run %d: %.2f s, vocab %d, %.3f bytes/token%n", run, s, r.tokenizer().vocabSize(), r.bytesPerToken());
            if (run == 1) r.tokenizer().save(out);
        }

        byte[] bytes = Files.readAllBytes(corpus);
        List<String> lines = new String(bytes, StandardCharsets.UTF_8).lines().toList();
        double mb = bytes.length / 1e6;
        encodeBench(out, lines, mb);
        for (int i = 5; i < args.length; i++) encodeBench(Path.of(args[i]), lines, mb);
    }

    private static void encodeBench(Path dir, List<String> lines, double mb) {
        for (int run = 1; run <= 3; run++) {
            BpeTokenizer tok = BpeTokenizer.load(dir);   // fresh word cache every run
            long t0 = System.nanoTime();
            int[][] ids = tok.encodeAll(lines);
            double s = (System.nanoTime() - t0) / 1e9;
            long n = 0;
            for (int[] x : ids) n += x.length;
            System.out.printf("lamina encode %s run %d: %.3f s, %.1f MB/s, %d tokens%n", dir, run, s, mb / s, n);
        }
    }
}
