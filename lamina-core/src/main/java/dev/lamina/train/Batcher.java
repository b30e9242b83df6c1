package dev.lamina.train;

import dev.lamina.data.TokenFile;
import dev.lamina.tensor.Rng;

/**
 * Random windows of T+1 tokens from a token file: inputs are the first T, targets the last T.
 * Its only state is the RNG, so saving that state saves the data position exactly.
 */
public final class Batcher {
    private final TokenFile tokens;
    private final int B, T;
    private final Rng rng;
    private final int[] window;

    public Batcher(TokenFile tokens, int B, int T, long seed) {
        if (tokens.size() < T + 2)
            throw dev.lamina.io.LaminaException.field("seq", "training data has " + tokens.size() + " tokens, fewer than seq + 2 = "
                    + (T + 2) + "; use a shorter sequence or more text");
        this.tokens = tokens;
        this.B = B;
        this.T = T;
        this.rng = new Rng(seed);
        this.window = new int[T + 1];
    }

    public Rng rng() { return rng; }

    /** Fills ids[B·T] and targets[B·T] with the next batch. */
    public void next(int[] ids, int[] targets) {
        for (int b = 0; b < B; b++) fill(tokens, rng.nextLong(tokens.size() - T), ids, targets, b, T, window);
    }

    /** Draws the next batch without reading it (another worker's share of a data-parallel step). */
    public void skip() {
        for (int b = 0; b < B; b++) rng.nextLong(tokens.size() - T);
    }

    /** The k-th of `count` evenly spaced windows (the fixed evaluation sample). */
    public static void fixed(TokenFile tokens, int k, int count, int B, int T, int[] ids, int[] targets) {
        long span = tokens.size() - T - 1;
        int[] w = new int[T + 1];
        for (int b = 0; b < B; b++) {
            long i = (long) k * B + b, n = (long) count * B;
            fill(tokens, Math.max(0, span * i / Math.max(1, n)), ids, targets, b, T, w);
        }
    }

    private static void fill(TokenFile tokens, long start, int[] ids, int[] targets, int b, int T, int[] w) {
        tokens.read(start, w, 0, T + 1);
        System.arraycopy(w, 0, ids, b * T, T);
        System.arraycopy(w, 1, targets, b * T, T);
    }
}
