package dev.lamina.tokenizer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Lamina's side of bench/tokenizer_families.sh: encodes the lines of a corpus on one thread with
 * each family's tokenizer.json (src/test/resources/tokenizers/FAMILY), REPS runs with a freshly
 * loaded tokenizer each (empty piece cache), and prints the best run in MB/s.
 *
 * <p>Arguments: FAMILIES_DIR CORPUS REPS FAMILY...
 */
public final class FamilyEncodeBench {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        byte[] bytes = Files.readAllBytes(Path.of(args[1]));
        int reps = Integer.parseInt(args[2]);
        List<String> lines = List.of(new String(bytes, StandardCharsets.UTF_8).split("\n", -1));
        double mb = bytes.length / 1e6;
        for (int f = 3; f < args.length; f++) {
            double best = Double.MAX_VALUE;
            long tokens = 0;
            for (int run = 0; run < reps; run++) {
                Tokenizer tok = Tokenizers.load(dir.resolve(args[f]));
                long t0 = System.nanoTime();
                tokens = 0;
                for (String l : lines) tokens += tok.encode(l).length;
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
            System.out.printf("lamina %-12s %8.2f MB/s  (%d tokens, best of %d)%n", args[f], mb / best, tokens, reps);
        }
    }
}
