package dev.lamina.train;

import dev.lamina.data.TokenFile;

/** Reference points a trained model must beat. */
public final class Baselines {
    private Baselines() {}

    /**
     * Cross-entropy of a unigram model (token frequencies of train, add-one smoothed) on exactly the
     * targets of the fixed validation sample that {@link Trainer#evaluate} uses.
     */
    public static double unigramLoss(TokenFile train, TokenFile val, int vocab, int B, int T, int batches) {
        long[] counts = new long[vocab];
        int[] chunk = new int[1 << 16];
        for (long i = 0; i < train.size(); i += chunk.length) {
            int n = (int) Math.min(chunk.length, train.size() - i);
            train.read(i, chunk, 0, n);
            for (int j = 0; j < n; j++) counts[chunk[j]]++;
        }
        double total = train.size() + vocab;
        int[] ids = new int[B * T], targets = new int[B * T];
        double sum = 0;
        for (int k = 0; k < batches; k++) {
            Batcher.fixed(val, k, batches, B, T, ids, targets);
            for (int t : targets) sum -= Math.log((counts[t] + 1) / total);
        }
        return sum / ((double) batches * B * T);
    }
}
