package dev.lamina.infer;

import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Rng;

import java.util.Arrays;

/**
 * Picks the next token from logits: greedy when temperature is 0, else softmax(logits/temperature)
 * restricted to the top-k tokens and the smallest top-p nucleus. Same seed, same choices.
 */
public final class Sampler {
    private final double temperature, topP;
    private final int topK;
    private final Rng rng;

    public Sampler(double temperature, int topK, double topP, long seed) {
        if (!(temperature >= 0)) throw new LaminaException("--temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new LaminaException("--top-k must be >= 0 (0: off), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new LaminaException("--top-p must be in (0, 1], got " + topP);
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.rng = new Rng(seed);
    }

    public static Sampler greedy() { return new Sampler(0, 0, 1, 0); }

    public int sample(float[] logits) {
        int V = logits.length;
        if (temperature == 0) {
            int best = 0;
            for (int i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
            return best;
        }
        Integer[] order = new Integer[V];
        for (int i = 0; i < V; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
        int keep = topK > 0 ? Math.min(topK, V) : V;
        double max = logits[order[0]];
        double[] prob = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) { prob[i] = Math.exp((logits[order[i]] - max) / temperature); sum += prob[i]; }
        double cum = 0;
        int nucleus = keep;
        for (int i = 0; i < keep; i++) {
            cum += prob[i] / sum;
            if (cum >= topP) { nucleus = i + 1; break; }
        }
        double total = 0;
        for (int i = 0; i < nucleus; i++) total += prob[i];
        double r = rng.nextDouble() * total;
        for (int i = 0; i < nucleus; i++) {
            r -= prob[i];
            if (r <= 0) return order[i];
        }
        return order[nucleus - 1];
    }
}
