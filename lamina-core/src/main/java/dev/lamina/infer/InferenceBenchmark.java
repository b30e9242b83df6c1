package dev.lamina.infer;

import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Parameters;
import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Rng;
import dev.lamina.tokenizer.Tokenizer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.nio.file.Path;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Inference speed on a model (random weights are as fast as trained ones): prefill, batch-1
 * decode against the memory-bandwidth bound, and aggregate decode at several concurrencies
 * through {@link BatchEngine}, with time to first token. Medians of repeated runs.
 */
public final class InferenceBenchmark {
    /** Floats summed to measure the machine's read bandwidth: 256 MB, beyond any cache. */
    private static final int BANDWIDTH_FLOATS = 64 << 20;

    /**
     * @param prompt       prefill length
     * @param decodeTokens tokens per decode measurement (batch 1: after the prompt) and per concurrent stream
     * @param repeats      timed repetitions (after one warm-up)
     * @param concurrency  stream counts for the aggregate measurement
     * @param warmupSeconds JIT warm-up (prompts and decode steps) before the timed runs
     */
    public record Settings(int prompt, int decodeTokens, int repeats, int[] concurrency, double warmupSeconds) {
        public static Settings defaults() { return new Settings(128, 128, 3, new int[]{1, 4, 16}, 5); }
    }

    public record Aggregate(int streams, double tokensPerSecond, double meanTtftMs, double maxTtftMs) {}

    public record Report(String model, long parameters, long activeParameters, long weightBytesPerToken, double prefillTokensPerSecond,
                         double decodeTokensPerSecond, double decodeBandwidth, List<Aggregate> aggregates,
                         double bestPrefill, double bestDecode, double machineBandwidth, String loadBefore, String loadAfter) {

        /** Share of this machine's read bandwidth (the bound of batch-1 decode) that batch-1 decode reached. */
        public double bandwidthShare() { return decodeBandwidth / machineBandwidth; }

        public String format() {
            StringBuilder s = new StringBuilder();
            s.append(String.format(Locale.ROOT, "model %s: %,d parameters%s, %.1f MB of weights streamed per decoded token%n",
                    model, parameters, activeParameters == parameters ? "" : String.format(Locale.ROOT, " (%,d active per token)", activeParameters),
                    weightBytesPerToken / 1e6));
            s.append(String.format(Locale.ROOT, "prefill: %.0f tok/s (median; best %.0f)%n", prefillTokensPerSecond, bestPrefill));
            s.append(String.format(Locale.ROOT, "decode, batch 1: %.1f tok/s (median; best %.1f) = %.1f GB/s of weights",
                    decodeTokensPerSecond, bestDecode, decodeBandwidth / 1e9));
            s.append(Double.isNaN(machineBandwidth) ? String.format("%n")      // no heap to spare for the 256 MB probe
                    : String.format(Locale.ROOT, ", %.0f%% of the %.1f GB/s this machine reads%n", 100 * bandwidthShare(), machineBandwidth / 1e9));
            for (Aggregate a : aggregates)
                s.append(String.format(Locale.ROOT, "%2d concurrent streams: %.1f tok/s aggregate, time to first token %.0f ms mean, %.0f ms max%n",
                        a.streams(), a.tokensPerSecond(), a.meanTtftMs(), a.maxTtftMs()));
            s.append("load average (1, 5, 15 min) before: ").append(loadBefore).append("; after: ").append(loadAfter).append('\n');
            return s.toString();
        }
    }

    private InferenceBenchmark() {}

    /**
     * Bytes of weights a decode step reads: every matrix and vector except the embedding table (unless
     * tied) and learned positions; of a sparse layer's experts, the k a token uses.
     */
    public static long weightBytesPerToken(Decoder model) {
        Parameters p = model.params();
        long n = 0;
        for (Parameters.Slot s : p.slots().values()) {
            if (s.name().equals("embed_positions.weight")) continue;
            if (s.name().equals("embed_tokens.weight") && !model.config().tieWordEmbeddings()) continue;
            n += activeShare(model.config(), s.role(), s.size());
        }
        return n * Float.BYTES;
    }

    /** What one decoded token reads of a tensor of n values: all of it, or k/E of an expert's (k of E experts read). */
    static long activeShare(dev.lamina.model.ModelConfig c, dev.lamina.model.Role role, long n) {
        return role.perExpert() ? n * c.expertsPerToken() / c.numExperts() : n;
    }

    /**
     * Batch-1 greedy decoding after the prompt (prefilled into a fresh cache, not timed): up to steps
     * tokens (sampling included) while System.nanoTime() is before deadline, at positions prompt.length
     * onwards (llama-bench's tg after -d prompt.length); returns the timed steps' tokens a second.
     */
    private static double decode(ModelRunner runner, int[] prompt, int steps, long deadline) {
        PreparedModel m = runner.prepared();
        InferenceSession s = new InferenceSession(runner, new ContiguousKvCache(m.model().config(), prompt.length + steps, m.kvCache()));
        Sampler sampler = Sampler.greedy();
        float[] logits = s.forward(prompt);
        long t0 = System.nanoTime();
        int done = 0;
        for (; done < steps && System.nanoTime() < deadline; done++) logits = s.forward(sampler.sample(logits));
        return done / ((System.nanoTime() - t0) / 1e9);
    }

    /** The first three fields of /proc/loadavg, or "n/a". */
    static String loadAverage() {
        try {
            String[] f = java.nio.file.Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (java.io.IOException | RuntimeException e) {
            return "n/a";
        }
    }

    public static Report run(String name, Decoder model, Settings st, Consumer<String> progress) {
        return run(name, PreparedModel.of(model), st, progress);
    }

    /** The benchmark on weights prepared in any format (the report's bytes per token are those of the format). */
    public static Report run(String name, PreparedModel prepared, Settings st, Consumer<String> progress) {
        Decoder model = prepared.model();
        String loadBefore = loadAverage();
        ModelConfig c = model.config();
        if ((long) st.prompt() + st.decodeTokens() > c.contextLimit())
            throw new IllegalArgumentException("prompt and decode lengths exceed the model's context " + c.contextLimit());
        Rng rng = new Rng(1);
        int V = c.vocabSize();
        int[] prompt = new int[st.prompt()];
        for (int i = 0; i < prompt.length; i++) prompt[i] = (int) rng.nextLong(V);
        ModelRunner runner = new ModelRunner(prepared, st.prompt(), 1);

        // warm-up: compile the kernels for prompt and decode shapes (a few seconds of both). The decode
        // half runs the measured loop itself (session, sampler, as many steps): with 8 steps after each
        // prompt, a small model's decode path was still being compiled when timing began, and on two
        // threads (where the compiler threads find no idle core) the median of three short decode runs
        // ranged from 0.25 to 0.8 of what the same JVM reached a second later.
        long warm = System.nanoTime() + (long) (st.warmupSeconds() * 1e9);
        while (System.nanoTime() < warm) decode(runner, prompt, st.decodeTokens(), warm);

        // prefill: a fresh cache each time, logits of the last token only
        double[] prefill = new double[st.repeats()];
        for (int r = 0; r < st.repeats(); r++) {
            KvCache cache = new ContiguousKvCache(c, st.prompt() + 1, prepared.kvCache());
            long t0 = System.nanoTime();
            runner.forward(new ModelRunner.Chunk(cache, prompt, 0, prompt.length, true));
            long t1 = System.nanoTime();
            prefill[r] = st.prompt() / ((t1 - t0) / 1e9);
        }
        double prefillTps = median(prefill);
        progress.accept(String.format(Locale.ROOT, "prefill %d tokens: %.0f tok/s", st.prompt(), prefillTps));

        // batch-1 decode: the prompt, then decodeTokens greedy steps (sampling included) after it
        double[] decode = new double[st.repeats()];
        for (int r = 0; r < st.repeats(); r++) decode[r] = decode(runner, prompt, st.decodeTokens(), Long.MAX_VALUE);
        double decodeTps = median(decode);
        long bytes = prepared.weightBytesPerToken();
        progress.accept(String.format(Locale.ROOT, "decode batch 1 after the %d-token prompt: %.1f tok/s", st.prompt(), decodeTps));
        double machineBandwidth = readBandwidth(model.kernels().parallel());
        if (!Double.isNaN(machineBandwidth))
            progress.accept(String.format(Locale.ROOT, "memory read bandwidth: %.1f GB/s", machineBandwidth / 1e9));

        List<Aggregate> aggs = new ArrayList<>();
        for (int streams : st.concurrency()) {
            Aggregate best = null;
            double[] tps = new double[st.repeats()];
            List<Aggregate> runs = new ArrayList<>();
            try (BatchEngine engine = new BatchEngine(prepared, idsOnly(V),
                    BatchEngine.Options.defaults(streams).withPrefixCaching(false))) {
                for (int r = -1; r < st.repeats(); r++) {
                    Aggregate a = concurrent(engine, streams, 16, st.decodeTokens(), V, rng);
                    if (r >= 0) { tps[r] = a.tokensPerSecond(); runs.add(a); }
                }
            }
            double med = median(tps);
            for (Aggregate a : runs)        // the run at the median (nearest it when the repeat count is even)
                if (best == null || Math.abs(a.tokensPerSecond() - med) < Math.abs(best.tokensPerSecond() - med)) best = a;
            aggs.add(best);
            progress.accept(String.format(Locale.ROOT, "%d streams: %.1f tok/s", streams, med));
        }
        return new Report(name, model.parameterCount(),
                model.parameterCount() - (model.config().parameterCount() - model.config().activeParameterCount()), bytes, prefillTps, decodeTps, bytes * decodeTps, aggs,
                Arrays.stream(prefill).max().orElse(0), Arrays.stream(decode).max().orElse(0), machineBandwidth,
                loadBefore, loadAverage());
    }

    /**
     * Bytes per second the kernels' threads read from memory: a 256 MB array summed with vector
     * loads, split over the pool's threads like a decode step's weights; best of 5 passes
     * after one untimed pass. NaN when the heap has no room for the array.
     */
    static double readBandwidth(Parallel pool) {
        float[] a;
        try {
            a = new float[BANDWIDTH_FLOATS];
        } catch (OutOfMemoryError e) {
            return Double.NaN;
        }
        int threads = pool.threads();
        float[] sums = new float[threads * 16];            // a cache line per thread
        double best = 0;
        for (int pass = 0; pass < 6; pass++) {
            long t0 = System.nanoTime();
            pool.forRange(threads, (t0_, t1_) -> {
                for (int t = t0_; t < t1_; t++) {
                    int lo = (int) ((long) a.length * t / threads), hi = (int) ((long) a.length * (t + 1) / threads);
                    sums[t * 16] = streamSum(a, lo, hi);
                }
            });
            long dt = System.nanoTime() - t0;
            if (pass > 0) best = Math.max(best, (double) a.length * Float.BYTES / (dt / 1e9));
        }
        return best;
    }

    /** Σ a[lo, hi) with four independent vector sums, so the adds never wait on each other. */
    private static float streamSum(float[] a, int lo, int hi) {
        VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
        int L = S.length(), i = lo;
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
        for (; i + 4 * L <= hi; i += 4 * L) {
            s0 = s0.add(FloatVector.fromArray(S, a, i));
            s1 = s1.add(FloatVector.fromArray(S, a, i + L));
            s2 = s2.add(FloatVector.fromArray(S, a, i + 2 * L));
            s3 = s3.add(FloatVector.fromArray(S, a, i + 3 * L));
        }
        float r = s0.add(s1).add(s2).add(s3).reduceLanes(VectorOperators.ADD);
        for (; i < hi; i++) r += a[i];
        return r;
    }

    /** streams requests submitted at once, each a distinct random prompt and tokens greedy tokens. */
    private static Aggregate concurrent(BatchEngine engine, int streams, int promptLen, int tokens, int V, Rng rng) {
        List<BatchEngine.Handle> handles = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < streams; i++) {
            int[] p = new int[promptLen];
            for (int j = 0; j < promptLen; j++) p[j] = (int) rng.nextLong(V);
            handles.add(engine.submit(new BatchEngine.Request(p, tokens, SamplingParams.GREEDY, 1, List.of(), -1, true), null));
        }
        long generated = 0, end = 0;
        double ttftSum = 0, ttftMax = 0;
        for (BatchEngine.Handle h : handles) {
            BatchEngine.Result r;
            try {
                r = h.result().get(30, TimeUnit.MINUTES);
            } catch (Exception e) {
                throw new IllegalStateException("benchmark request failed", e);
            }
            generated += r.completionTokens();
            end = Math.max(end, r.finishedNanos());
            double ttft = (r.firstTokenNanos() - r.submittedNanos()) / 1e6;
            ttftSum += ttft;
            ttftMax = Math.max(ttftMax, ttft);
        }
        return new Aggregate(streams, generated / ((end - t0) / 1e9), ttftSum / streams, ttftMax);
    }

    /** A tokenizer for random-weight runs: any id, no text (the engine's detokenising is then nearly free). */
    private static Tokenizer idsOnly(int V) {
        return new Tokenizer() {
            @Override public int vocabSize() { return V; }
            @Override public int[] encode(String text) { return new int[0]; }
            @Override public String decode(int[] ids) { return ""; }
            @Override public int eotId() { return -1; }
            @Override public void save(Path dir) { throw new UnsupportedOperationException(); }
            @Override public String describe() { return "ids"; }
        };
    }

    /** The median of v (the mean of the middle two for an even count). */
    public static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
