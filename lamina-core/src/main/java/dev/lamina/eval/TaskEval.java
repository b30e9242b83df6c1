package dev.lamina.eval;

import dev.lamina.infer.Generator;
import dev.lamina.infer.Logprobs;
import dev.lamina.infer.PreparedModel;
import dev.lamina.infer.Sampler;
import dev.lamina.io.LaminaException;
import dev.lamina.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Runs tasks as lm-evaluation-harness does.
 *
 * <ul>
 *   <li>Multiple choice: the log-likelihood of each choice after the context. acc: the most likely
 *       choice is gold; acc_norm: the same with each log-likelihood divided by the choice's length in
 *       characters (lm-eval's len(str)); acc_bytes: divided by its UTF-8 bytes. Ties go to the first.</li>
 *   <li>Generation: greedy decoding after the prompt until end-of-text, a stop sequence or
 *       {@link #MAX_GEN_TOKENS}; exact_match: the output equals the reference exactly.</li>
 * </ul>
 *
 * Few-shot: each example is preceded by shots other examples of its task, each written as context +
 * gold choice (or prompt + reference) and followed by a blank line, drawn with the seed. Each metric
 * comes with lm-eval's standard error, the sample standard deviation over examples / sqrt(n).
 */
public final class TaskEval {
    /** lm-eval's default max_gen_toks. */
    public static final int MAX_GEN_TOKENS = 256;
    static final String SHOT_SEPARATOR = "\n\n";

    private final TokenScorer scorer;
    private final Tokenizer tokenizer;
    private final Generator generator;

    public TaskEval(PreparedModel model, Tokenizer tokenizer) {
        this.scorer = new TokenScorer(model.model());
        this.tokenizer = tokenizer;
        this.generator = new Generator(model, tokenizer);
    }

    /** A metric over the examples: mean and its standard error (NaN for a single example). */
    public record Metric(String name, double value, double stderr) {
        static Metric of(String name, double[] xs) {
            double mean = Arrays.stream(xs).average().orElse(Double.NaN), ss = 0;
            for (double x : xs) ss += (x - mean) * (x - mean);
            return new Metric(name, mean, xs.length < 2 ? Double.NaN : Math.sqrt(ss / (xs.length - 1)) / Math.sqrt(xs.length));
        }
    }

    /** A task's figures. */
    public record Report(String task, int examples, int shots, List<Metric> metrics) {}

    /** A continuation's summed log-probability and whether each of its tokens was the most likely one. */
    public record Loglikelihood(double logprob, boolean greedy) {}

    /** Context and continuation tokens as lm-eval splits them. */
    public record Pair(int[] context, int[] continuation) {}

    /**
     * lm-eval's split: trailing whitespace of the context moves to the continuation; the
     * continuation's tokens are those of encode(context + continuation) after len(encode(context));
     * an empty context becomes the end-of-text token.
     */
    public Pair encode(String where, String context, String continuation) {
        if (context.isEmpty()) {
            if (tokenizer.eotId() < 0) throw new LaminaException(where + ": the context is empty and the tokenizer has no end-of-text token to stand for it");
            return new Pair(new int[]{tokenizer.eotId()}, tokenizer.encode(continuation));
        }
        int end = context.length();
        while (end > 0 && (Character.isWhitespace(context.charAt(end - 1)) || Character.isSpaceChar(context.charAt(end - 1)))) end--;
        continuation = context.substring(end) + continuation;
        context = context.substring(0, end);
        int[] whole = tokenizer.encode(context + continuation), ctx = tokenizer.encode(context);
        return new Pair(ctx, Arrays.copyOfRange(whole, Math.min(ctx.length, whole.length), whole.length));
    }

    /** log P(continuation | context), the sequence cut on the left to the model's context as lm-eval does. */
    public Loglikelihood loglikelihood(String where, String context, String continuation) {
        Pair p = encode(where, context, continuation);
        int limit = scorer.contextLimit(), cont = p.continuation().length;
        if (cont == 0) throw new LaminaException(where + ": the continuation is empty once tokenized");
        if (cont > limit)
            throw new LaminaException(where + ": the continuation is " + cont + " tokens, longer than the model's context of " + limit);
        int[] seq = new int[p.context().length + cont];
        System.arraycopy(p.context(), 0, seq, 0, p.context().length);
        System.arraycopy(p.continuation(), 0, seq, p.context().length, cont);
        if (seq.length > limit + 1) seq = Arrays.copyOfRange(seq, seq.length - limit - 1, seq.length);   // the last token is only a target
        double sum = 0;
        boolean greedy = true;
        for (Logprobs.Choice c : scorer.score(seq, seq.length - cont, 1)) {
            sum += c.chosen().logprob();
            greedy &= c.top().length > 0 && c.top()[0].token() == c.chosen().token();
        }
        return new Loglikelihood(sum, greedy);
    }

    /** Runs a task with shots examples before each (drawn with seed); onExample (may be null) counts examples done. */
    public Report run(Task task, int shots, long seed, IntConsumer onExample) {
        List<Task.Example> xs = task.examples();
        if (shots < 0) throw LaminaException.field("shots", "shots must be >= 0, got " + shots);
        if (shots > xs.size() - 1)
            throw LaminaException.field("shots", "shots is " + shots + " but task " + task.name() + " has only " + xs.size()
                    + " examples (" + (xs.size() - 1) + " besides each one)");
        SplittableRandom rng = new SplittableRandom(seed);
        int n = xs.size();
        double[] acc = new double[n], accNorm = new double[n], accBytes = new double[n];
        for (int i = 0; i < n; i++) {
            String prefix = fewShot(xs, i, shots, rng);
            String where = task.source() + ":" + xs.get(i).line();
            switch (xs.get(i)) {
                case Task.Choice c -> {
                    int k = c.choices().size(), best = 0, bestNorm = 0, bestBytes = 0;
                    double[] ll = new double[k];
                    for (int j = 0; j < k; j++) ll[j] = loglikelihood(where, prefix + c.context(), c.choices().get(j)).logprob();
                    for (int j = 1; j < k; j++) {
                        String s = c.choices().get(j), sb = c.choices().get(bestNorm), sy = c.choices().get(bestBytes);
                        if (ll[j] > ll[best]) best = j;
                        if (ll[j] / chars(s) > ll[bestNorm] / chars(sb)) bestNorm = j;
                        if (ll[j] / bytes(s) > ll[bestBytes] / bytes(sy)) bestBytes = j;
                    }
                    acc[i] = best == c.gold() ? 1 : 0;
                    accNorm[i] = bestNorm == c.gold() ? 1 : 0;
                    accBytes[i] = bestBytes == c.gold() ? 1 : 0;
                }
                case Task.Generation g -> {
                    String out = generator.generate(prefix + g.prompt(), MAX_GEN_TOKENS, Sampler.greedy(), g.stop(), null).text();
                    acc[i] = out.equals(g.reference()) ? 1 : 0;
                }
            }
            if (onExample != null) onExample.accept(i + 1);
        }
        List<Metric> metrics = task.multipleChoice()
                ? List.of(Metric.of("acc", acc), Metric.of("acc_norm", accNorm), Metric.of("acc_bytes", accBytes))
                : List.of(Metric.of("exact_match", acc));
        return new Report(task.name(), n, shots, metrics);
    }

    /** shots other examples than i, each as its text and answer, then a blank line. */
    static String fewShot(List<Task.Example> xs, int i, int shots, SplittableRandom rng) {
        if (shots == 0) return "";
        List<Integer> pool = new ArrayList<>(xs.size() - 1);
        for (int j = 0; j < xs.size(); j++) if (j != i) pool.add(j);
        StringBuilder s = new StringBuilder();
        for (int k = 0; k < shots; k++) {                       // a partial Fisher-Yates shuffle
            int pick = k + rng.nextInt(pool.size() - k);
            Integer t = pool.get(k);
            pool.set(k, pool.get(pick));
            pool.set(pick, t);
            switch (xs.get(pool.get(k))) {
                case Task.Choice c -> s.append(c.context()).append(c.choices().get(c.gold()));
                case Task.Generation g -> s.append(g.prompt()).append(g.reference());
            }
            s.append(SHOT_SEPARATOR);
        }
        return s.toString();
    }

    private static double chars(String s) { return s.codePointCount(0, s.length()); }

    private static double bytes(String s) { return s.getBytes(StandardCharsets.UTF_8).length; }
}
