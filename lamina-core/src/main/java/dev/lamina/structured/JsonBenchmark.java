package dev.lamina.structured;

import dev.lamina.infer.BatchEngine;
import dev.lamina.infer.InferenceBenchmark;
import dev.lamina.infer.PreparedModel;
import dev.lamina.infer.SamplingParams;
import dev.lamina.model.Decoder;
import dev.lamina.tokenizer.Tokenizer;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * What constrained decoding costs: the same model decoding one stream through the batch engine,
 * sampled freely (end of text ignored) and under a schema's constraint, each repetition with the
 * same seed; time per decoded token (after the first) for both, so the difference is the masks.
 */
public final class JsonBenchmark {
    private JsonBenchmark() {}

    /**
     * Median milliseconds per decoded token, free and constrained, the constrained responses' mean
     * length, and the masks alone per token replaying those responses: with a new mask cache (cold)
     * and with the cache they left (warm).
     */
    public record Result(double freeMsPerToken, double constrainedMsPerToken, double meanConstrainedTokens, int repeats,
                         double coldMaskMs, double warmMaskMs) {
        /** The constraint's share of a constrained token's time. */
        public double overhead() { return constrainedMsPerToken / freeMsPerToken - 1; }
    }

    public static Result run(Decoder model, Tokenizer tok, Schema schema, int[] prompt, int tokens, int repeats, Consumer<String> log) {
        double[] free = new double[repeats], constrained = new double[repeats];
        long produced = 0, coldNanos = 0, warmNanos = 0, masks = 0;
        try (BatchEngine engine = new BatchEngine(PreparedModel.of(model), tok, BatchEngine.Options.defaults(1))) {
            JsonConstraint json = JsonConstraint.of(schema, tok);
            for (int i = -1; i < repeats; i++) {                      // i = −1: warm-up
                SamplingParams p = SamplingParams.of(1.0, 0, 1.0, 100 + Math.max(i, 0));
                BatchEngine.Result f = run(engine, new BatchEngine.Request(prompt, tokens, p, 1, List.of(), -1, true));
                BatchEngine.Result c = run(engine, new BatchEngine.Request(prompt, tokens, p, 1, List.of(), -1, false).withJson(json));
                if (i < 0) continue;
                free[i] = perToken(f);
                constrained[i] = perToken(c);
                produced += c.completionTokens();
                int[] out = c.choices().getFirst().tokens();
                JsonConstraint cold = JsonConstraint.of(schema, tok), warm = cold.sharing();
                coldNanos += replay(cold, out, tokens, tok.vocabSize());
                warmNanos += replay(warm, out, tokens, tok.vocabSize());
                masks += out.length;
                log.accept(String.format(java.util.Locale.ROOT, "repeat %d: free %.2f ms/token, constrained %.2f ms/token (%d tokens: %s)", i + 1,
                        free[i], constrained[i], c.completionTokens(), abbreviate(c.choices().getFirst().text())));
            }
        }
        return new Result(InferenceBenchmark.median(free), InferenceBenchmark.median(constrained), (double) produced / repeats, repeats, coldNanos / 1e6 / masks, warmNanos / 1e6 / masks);
    }

    /** Nanoseconds c spends masking while the tokens of a response are fed through it. */
    private static long replay(JsonConstraint c, int[] tokens, int budget, int V) {
        float[] logits = new float[V];
        for (int i = 0; i < tokens.length; i++) {
            c.mask(logits, 0, V, budget - i);
            c.accept(tokens[i]);
        }
        return c.maskNanos();
    }

    private static BatchEngine.Result run(BatchEngine e, BatchEngine.Request r) {
        try {
            return e.submit(r, null).result().get(30, TimeUnit.MINUTES);
        } catch (Exception x) {
            throw new IllegalStateException("benchmark request failed", x);
        }
    }

    /** Milliseconds per token after the first (prefill excluded). */
    private static double perToken(BatchEngine.Result r) {
        return (r.finishedNanos() - r.firstTokenNanos()) / 1e6 / Math.max(1, r.completionTokens() - 1);
    }

    private static String abbreviate(String s) { return s.length() <= 80 ? s : s.substring(0, 77) + "..."; }
}
