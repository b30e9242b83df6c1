package dev.lamina.eval;

import dev.lamina.autograd.Tape;
import dev.lamina.autograd.Var;
import dev.lamina.infer.Logprobs;
import dev.lamina.model.Decoder;
import dev.lamina.model.TapeExecutor;
import dev.lamina.tensor.Tensor;

import java.util.Arrays;

/**
 * Log-probabilities of every token of a sequence under the model, from one forward pass over the
 * whole sequence (an inference tape: no gradients). Everything evaluation scores goes through here:
 * perplexity windows, task choices and the server's prompt log-probabilities.
 *
 * <p>The head runs over the final hidden states in blocks of rows, so the logits of a long window
 * are never all held at once. Shapes: T tokens, d hidden, V vocabulary. Calls are serialised: one
 * scorer runs one sequence at a time.
 */
public final class TokenScorer {
    /** Rows of logits [ROWS, V] computed at a time. */
    private static final int ROWS = 64;

    private final Decoder model;
    private final Tape tape;
    private final int V;
    private Tensor logits;              // [ROWS, V]

    public TokenScorer(Decoder model) {
        this.model = model;
        this.tape = Tape.inference(model.kernels());
        this.V = model.config().vocabSize();
    }

    public Decoder model() { return model; }

    /** The most tokens one pass reads (max_position_embeddings); a sequence may have one more, its last token only a target. */
    public int contextLimit() { return Math.min(model.config().maxPositionEmbeddings(), model.config().contextLimit()); }

    /**
     * For each t in [from, ids.length): log P(ids[t] | ids[0..t)) with the top most likely tokens at
     * that position (top may be 0). from >= 1: the first token has nothing to be predicted from. The
     * pass reads all tokens but the last, so ids may hold up to {@link #contextLimit()} + 1.
     */
    public synchronized Logprobs.Choice[] score(int[] ids, int from, int top) {
        int T = ids.length;
        check(T, from);
        Logprobs.Choice[] out = new Logprobs.Choice[T - from];
        if (out.length == 0) return out;
        Var hidden = hidden(ids);                                                 // [T-1, d]
        if (logits == null) logits = Tensor.zeros(ROWS, V);
        Tensor head = model.headWeight().value();                                  // [V, d]
        // row t-1 of the logits predicts token t
        for (int r0 = from - 1; r0 < T - 1; r0 += ROWS) {
            int r1 = Math.min(T - 1, r0 + ROWS);
            Tensor block = logits.rows(0, r1 - r0);
            model.kernels().matmul(block, hidden.value().rows(r0, r1), head, null);
            softcap(block.data(), block.offset(), block.size());
            for (int r = r0; r < r1; r++)
                out[r + 1 - from] = Logprobs.of(block.data(), block.offset() + (r - r0) * V, V, ids[r + 1], top);
        }
        return out;
    }

    /**
     * The logits predicting ids[t] for t in [from, ids.length), row after row: [(ids.length − from)·V].
     * One pass, as {@link #score}; for comparing whole distributions (a quantized model against its original).
     */
    public synchronized float[] logits(int[] ids, int from) {
        int T = ids.length;
        check(T, from);
        float[] out = new float[(T - from) * V];
        if (out.length == 0) return out;
        Var hidden = hidden(ids);                                                                      // [T-1, d]
        Tensor head = model.headWeight().value();                                                      // [V, d]
        model.kernels().matmul(Tensor.of(out, T - from, V), hidden.value().rows(from - 1, T - 1), head, null);
        softcap(out, 0, out.length);
        return out;
    }

    /** The model's logit soft cap (Gemma 2), in place; nothing without one. */
    private void softcap(float[] a, int off, int len) {
        float cap = model.config().logitSoftcap();
        if (cap > 0) model.kernels().softcap(a, off, len, cap);
    }

    private void check(int T, int from) {
        if (from < 1 || from > T) throw new IllegalArgumentException("from must be in [1, " + T + "], got " + from);
        if (T - 1 > contextLimit()) throw new IllegalArgumentException(T + " tokens exceed the model's context of " + contextLimit() + " + 1");
    }

    /** The final hidden states of every token but the last, on a reset tape: [T-1, d]. */
    private Var hidden(int[] ids) {
        tape.reset();
        int n = ids.length - 1;
        return model.hidden(new TapeExecutor(model, tape, Arrays.copyOf(ids, n), 1, n));
    }

    /**
     * What the model makes of a whole text, as features for a small classifier (a cascade's scorer, a
     * router): the mean of the final hidden states over every token, then the last token's, [2d]. Reads
     * at most {@link #contextLimit()} tokens: the last ones of a longer text.
     */
    public synchronized float[] pooled(int[] ids) {
        if (ids.length == 0) throw new IllegalArgumentException("no tokens to read");
        int[] read = ids.length > contextLimit() ? Arrays.copyOfRange(ids, ids.length - contextLimit(), ids.length) : ids;
        tape.reset();
        Tensor h = model.hidden(new TapeExecutor(model, tape, read, 1, read.length)).value();       // [T, d]
        int T = read.length, d = h.dim(1);
        float[] out = new float[2 * d];
        float[] a = h.data();
        for (int t = 0; t < T; t++)
            for (int j = 0; j < d; j++) out[j] += a[h.offset() + t * d + j];
        for (int j = 0; j < d; j++) {
            out[j] /= T;
            out[d + j] = a[h.offset() + (T - 1) * d + j];
        }
        return out;
    }

    /** log P(ids[t] | ids[0..t)) for t in [from, ids.length). */
    public double[] logprobs(int[] ids, int from) {
        Logprobs.Choice[] s = score(ids, from, 1);
        double[] lp = new double[s.length];
        for (int i = 0; i < s.length; i++) lp[i] = s[i].chosen().logprob();
        return lp;
    }
}
