package dev.lamina.cascade;

import dev.lamina.Lamina;
import dev.lamina.eval.TokenScorer;
import dev.lamina.tokenizer.Tokenizer;

import java.util.Arrays;

/**
 * Features a small classifier reads, from a language model's own view of a text: its final hidden
 * states pooled (mean and last token). The cascade's scorer reads a query with an answer, and adds
 * how likely the model finds the answer after the query; the router reads the query alone.
 */
public final class Encoder {
    private final TokenScorer scorer;
    private final Tokenizer tokenizer;

    public Encoder(Lamina.Model model) {
        this.scorer = new TokenScorer(model.decoder());
        this.tokenizer = model.tokenizer();
    }

    /** Features of a text alone: [2d]. */
    public float[] text(String text) {
        int[] ids = tokenizer.encode(text);
        if (ids.length == 0) ids = new int[]{Math.max(0, tokenizer.eotId())};
        return scorer.pooled(ids);
    }

    /**
     * Features of an answer to a query, [2d + 4]: the pooled hidden states of query + answer, then the
     * answer tokens' mean and lowest log-probability given the query, log(1 + answer tokens), and 1 for
     * an empty answer. The front of a text longer than the context is dropped.
     */
    public float[] answer(String query, String answer) {
        int[] q = tokenizer.encode(query), a = tokenizer.encode(answer);
        if (q.length == 0) q = new int[]{Math.max(0, tokenizer.eotId())};
        int[] ids = new int[q.length + a.length];
        System.arraycopy(q, 0, ids, 0, q.length);
        System.arraycopy(a, 0, ids, q.length, a.length);
        int drop = Math.max(0, ids.length - (scorer.contextLimit() + 1));
        int[] read = Arrays.copyOfRange(ids, drop, ids.length);
        int from = Math.max(1, q.length - drop);
        float[] pooled = scorer.pooled(read);                                   // its last contextLimit tokens
        float[] out = Arrays.copyOf(pooled, pooled.length + 4);
        if (a.length > 0 && from < read.length) {
            double[] lp = scorer.logprobs(read, from);
            double sum = 0, min = 0;
            for (double v : lp) { sum += v; min = Math.min(min, v); }
            out[pooled.length] = (float) (sum / lp.length);
            out[pooled.length + 1] = (float) min;
        }
        out[pooled.length + 2] = (float) Math.log1p(a.length);
        out[pooled.length + 3] = a.length == 0 ? 1 : 0;
        return out;
    }
}
