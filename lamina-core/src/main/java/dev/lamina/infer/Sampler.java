package dev.lamina.infer;

import dev.lamina.tensor.Rng;

import java.util.Arrays;

/**
 * Picks the next token of one sequence from its logits, remembering what it picked (for the
 * penalties). The steps, in order:
 *
 * <ol>
 *   <li>penalties on a copy of the logits: repetition (prompt and output tokens), then presence
 *       and frequency (output tokens);</li>
 *   <li>greedy (temperature 0 or top-k 1): the arg-max, lowest id on ties;</li>
 *   <li>else probabilities softmax(logits / temperature), restricted to the top-k tokens, then to
 *       the top-p nucleus (of the top-k renormalised), then to tokens with probability at least
 *       min-p times the largest; one draw from what is left, renormalised.</li>
 * </ol>
 *
 * Ties in the ranking go to the lower token id, and the draw uses {@link Rng} seeded by the
 * params, so the same seed and logits give the same choices.
 */
public final class Sampler {
    private final SamplingParams params;
    private final Rng rng;
    private int[] counts = new int[0];      // output-token counts (presence/frequency)
    private boolean[] seen = new boolean[0]; // prompt or output (repetition)
    private float[] work = new float[0];
    private double[] prob = new double[0];
    private int[] cand = new int[0];
    private long[] keys = new long[0];

    public Sampler(SamplingParams params) {
        this.params = params;
        this.rng = new Rng(params.seed());
    }

    /** Temperature, top-k and top-p sampling (no penalties), as {@link SamplingParams#of}. */
    public Sampler(double temperature, int topK, double topP, long seed) {
        this(SamplingParams.of(temperature, topK, topP, seed));
    }

    /** Always the most likely token. */
    public static Sampler greedy() { return new Sampler(SamplingParams.GREEDY); }

    public SamplingParams params() { return params; }

    /** Tells the repetition penalty about the prompt. */
    public void prompt(int[] ids) {
        for (int id : ids) if (id >= 0) { grow(id + 1); seen[id] = true; }
    }

    /** Records a token as generated (done by {@link #sample}; call it for tokens forced from outside). */
    public void accept(int token) {
        grow(token + 1);
        counts[token]++;
        seen[token] = true;
    }

    /** A copy of this sampler: same params, random state and history (for forked sequences). */
    public Sampler copy(long seed) {
        Sampler s = new Sampler(params.withSeed(seed));
        s.counts = counts.clone();
        s.seen = seen.clone();
        return s;
    }

    public int sample(float[] logits) { return sample(logits, 0, logits.length); }

    /** Chooses from logits[off, off+V) and records the choice. */
    public int sample(float[] logits, int off, int V) {
        int t = choose(logits, off, V);
        accept(t);
        return t;
    }

    private void grow(int n) {
        if (counts.length >= n) return;
        int size = Math.max(n, counts.length * 2);
        counts = Arrays.copyOf(counts, size);
        seen = Arrays.copyOf(seen, size);
    }

    private int choose(float[] logits, int off, int V) {
        float[] l;
        int lo;
        if (params.penalised()) {
            if (work.length < V) work = new float[V];
            System.arraycopy(logits, off, work, 0, V);
            applyPenalties(work, V);
            l = work;
            lo = 0;
        } else {
            l = logits;
            lo = off;
        }
        if (params.greedy()) return argmax(l, lo, V);

        // candidates: top-k (sorted) or every token (sorted only if top-p needs the order)
        if (prob.length < V) { prob = new double[V]; cand = new int[V]; }
        int k = params.topK() > 0 ? Math.min(params.topK(), V) : V;
        boolean sorted;
        if (k < V) {
            topK(l, lo, V, k, cand);
            sorted = true;
        } else if (params.topP() < 1) {
            sortAll(l, lo, V, cand);
            sorted = true;
        } else {
            for (int i = 0; i < V; i++) cand[i] = i;
            sorted = false;
        }
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < k; i++) max = Math.max(max, l[lo + cand[i]]);
        double invT = 1.0 / params.temperature(), sum = 0;
        for (int i = 0; i < k; i++) sum += prob[i] = Math.exp((l[lo + cand[i]] - max) * invT);
        int keep = k;
        if (params.topP() < 1 && sorted) {
            double cum = 0, target = params.topP() * sum;
            for (int i = 0; i < k; i++) {
                cum += prob[i];
                if (cum >= target) { keep = i + 1; break; }
            }
        }
        // min-p: relative to the most likely token, whose unnormalised probability is 1
        double minP = params.minP(), total = 0;
        int kept = 0;
        for (int i = 0; i < keep; i++) {
            if (minP > 0 && prob[i] < minP) continue;
            prob[kept] = prob[i];
            cand[kept] = cand[i];
            total += prob[i];
            kept++;
        }
        double r = rng.nextDouble() * total;
        for (int i = 0; i < kept; i++) {
            r -= prob[i];
            if (r < 0) return cand[i];
        }
        return cand[kept - 1];
    }

    private void applyPenalties(float[] l, int V) {
        double rep = params.repetitionPenalty(), pres = params.presencePenalty(), freq = params.frequencyPenalty();
        int n = Math.min(V, counts.length);
        for (int t = 0; t < n; t++) {
            if (rep != 1 && seen[t]) l[t] = (float) (l[t] > 0 ? l[t] / rep : l[t] * rep);
            if (counts[t] > 0) l[t] -= (float) (pres + freq * counts[t]);
        }
    }

    static int argmax(float[] l, int off, int V) {
        int best = 0;
        for (int i = 1; i < V; i++) if (l[off + i] > l[off + best]) best = i;
        return best;
    }

    /** A key sorting by logit descending, then id ascending. */
    private static long rankKey(float logit, int id) {
        int bits = Float.floatToIntBits(logit);
        int ordered = bits ^ ((bits >> 31) & 0x7fffffff);   // ascending int order = ascending float order
        return ((long) ~ordered << 32) | (id & 0xffffffffL);
    }

    private void sortAll(float[] l, int off, int V, int[] out) {
        if (keys.length < V) keys = new long[V];
        for (int i = 0; i < V; i++) keys[i] = rankKey(l[off + i], i);
        Arrays.sort(keys, 0, V);
        for (int i = 0; i < V; i++) out[i] = (int) keys[i];
    }

    /** The k best ids, best first (a bounded max-heap on rank keys, then sorted). */
    private void topK(float[] l, int off, int V, int k, int[] out) {
        if (keys.length < V) keys = new long[V];
        long[] heap = keys;   // heap[0] is the worst kept key (largest rank key)
        int size = 0;
        for (int i = 0; i < V; i++) {
            long key = rankKey(l[off + i], i);
            if (size < k) {
                int j = size++;
                heap[j] = key;
                while (j > 0 && heap[(j - 1) / 2] < heap[j]) { long tmp = heap[j]; heap[j] = heap[(j - 1) / 2]; heap[(j - 1) / 2] = tmp; j = (j - 1) / 2; }
            } else if (key < heap[0]) {
                heap[0] = key;
                int j = 0;
                while (true) {
                    int a = 2 * j + 1, b = a + 1, big = j;
                    if (a < size && heap[a] > heap[big]) big = a;
                    if (b < size && heap[b] > heap[big]) big = b;
                    if (big == j) break;
                    long tmp = heap[j]; heap[j] = heap[big]; heap[big] = tmp;
                    j = big;
                }
            }
        }
        Arrays.sort(heap, 0, size);
        for (int i = 0; i < size; i++) out[i] = (int) heap[i];
    }
}
