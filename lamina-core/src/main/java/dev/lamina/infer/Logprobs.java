package dev.lamina.infer;

import java.util.Arrays;

/**
 * Log-probabilities of the model's distribution (log-softmax of the raw logits, before penalties,
 * temperature and filtering, as vLLM reports them) for a chosen token and its top alternatives.
 */
public final class Logprobs {
    private Logprobs() {}

    /** One token and its log-probability. */
    public record Entry(int token, double logprob) {}

    /** The chosen token with the top alternatives, most likely first (may include the chosen one). */
    public record Choice(Entry chosen, Entry[] top) {}

    /** Log-probability of token and of the top most likely tokens under softmax(logits[off, off+V)). */
    public static Choice of(float[] logits, int off, int V, int token, int top) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < V; i++) max = Math.max(max, logits[off + i]);
        double sum = 0;
        for (int i = 0; i < V; i++) sum += Math.exp(logits[off + i] - max);
        double lse = max + Math.log(sum);
        int k = Math.max(0, Math.min(top, V));
        int[] best = new int[k];
        int size = 0;
        for (int i = 0; i < V && k > 0; i++) {        // insertion into a short sorted list (k <= 20)
            float li = logits[off + i];
            if (size == k && !(li > logits[off + best[k - 1]])) continue;
            int j = size < k ? size++ : k - 1;
            while (j > 0 && li > logits[off + best[j - 1]]) { best[j] = best[j - 1]; j--; }
            best[j] = i;
        }
        Entry[] entries = new Entry[size];
        for (int i = 0; i < size; i++) entries[i] = new Entry(best[i], logits[off + best[i]] - lse);
        return new Choice(new Entry(token, logits[off + token] - lse), Arrays.copyOf(entries, size));
    }
}
