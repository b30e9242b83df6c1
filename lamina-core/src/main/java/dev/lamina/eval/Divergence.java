package dev.lamina.eval;

import java.util.Arrays;
import java.util.function.LongConsumer;

/**
 * How far a model's next-token distributions are from a reference's on the same tokens (a quantized
 * model against its float32 original, as llama.cpp's perplexity tool measures it): the mean
 * Kullback-Leibler divergence KL(reference ‖ model) per token, how often both put the same token
 * first, and each one's negative log-likelihood. Windows as {@link Perplexity}'s.
 */
public final class Divergence {
    private Divergence() {}

    /** Totals over the scored tokens: KL in nats, same-top-token count, and the two NLLs in nats. */
    public record Result(long tokens, double kl, long sameTop, double referenceNll, double nll) {
        public static final Result NONE = new Result(0, 0, 0, 0, 0);

        /** The totals of this and r (two texts scored one after the other). */
        public Result plus(Result r) {
            return new Result(tokens + r.tokens, kl + r.kl, sameTop + r.sameTop, referenceNll + r.referenceNll, nll + r.nll);
        }

        public double meanKl() { return kl / tokens; }
        public double sameTopFraction() { return (double) sameTop / tokens; }
        public double referencePerplexity() { return Math.exp(referenceNll / tokens); }
        public double perplexity() { return Math.exp(nll / tokens); }
    }

    /** Scores ids under both; onTokens (may be null) receives the tokens done after each window. */
    public static Result of(TokenScorer reference, TokenScorer model, int[] ids, int context, int stride, LongConsumer onTokens) {
        int V = reference.model().config().vocabSize();
        if (model.model().config().vocabSize() != V)
            throw new IllegalArgumentException("the models' vocabularies differ: " + V + " and " + model.model().config().vocabSize());
        long tokens = 0, same = 0;
        double kl = 0, refNll = 0, nll = 0;
        double[] lp = new double[V], lq = new double[V];
        for (Perplexity.Window w : Perplexity.windows(ids.length, context, stride)) {
            int[] window = Arrays.copyOfRange(ids, w.begin(), w.end());
            int from = w.scoredFrom() - w.begin();
            float[] p = reference.logits(window, from), q = model.logits(window, from);
            for (int r = 0; r < window.length - from; r++) {
                int argP = logSoftmax(p, r * V, V, lp), argQ = logSoftmax(q, r * V, V, lq);
                double k = 0;
                for (int v = 0; v < V; v++) k += Math.exp(lp[v]) * (lp[v] - lq[v]);
                kl += k;
                if (argP == argQ) same++;
                int target = window[from + r];
                refNll -= lp[target];
                nll -= lq[target];
                tokens++;
            }
            if (onTokens != null) onTokens.accept(tokens);
        }
        return new Result(tokens, kl, same, refNll, nll);
    }

    /** out = log softmax(x[off, off + V)) in double; returns the index of the largest (the first of equals). */
    private static int logSoftmax(float[] x, int off, int V, double[] out) {
        int arg = 0;
        for (int v = 1; v < V; v++) if (x[off + v] > x[off + arg]) arg = v;
        double max = x[off + arg], sum = 0;
        for (int v = 0; v < V; v++) sum += Math.exp(x[off + v] - max);
        double log = max + Math.log(sum);
        for (int v = 0; v < V; v++) out[v] = x[off + v] - log;
        return arg;
    }
}
