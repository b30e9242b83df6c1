package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.data.Dataset;
import dev.lamina.io.LaminaException;
import dev.lamina.kernels.KernelSet;
import dev.lamina.research.Rightsize;
import dev.lamina.train.Checkpoint;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * lamina rightsize: the smallest model that matches a reference, among Inheritune students,
 * layer- and width-pruned models healed by distillation, and models distilled or trained from
 * scratch, all given the same training tokens (research.Rightsize).
 */
@Command(name = "rightsize", mixinStandardHelpOptions = true,
        description = "Build smaller candidates from a reference (Inheritune, layer and width pruning healed by distillation, distilled and "
                + "trained from scratch), train each on the same tokens, and report the smallest within a tolerance of the reference's "
                + "validation loss: OUT/rightsize.md, rightsize.json and plots.")
final class RightsizeCommand implements Callable<Integer> {
    @Option(names = "--reference", required = true, description = "The reference: a run or Hugging Face directory (float weights).") Path reference;
    @Option(names = "--data", description = "Prepared data (default: the data the reference run trained on).") Path data;
    @Option(names = "--budget", required = true, paramLabel = "TOKENS", description = "Training tokens of every candidate (e.g. 2000000 or 2M).") String budget;
    @Option(names = "--tolerance", defaultValue = "1%", description = "How far above the reference's val loss a match may be: 1%% or 0.01 (default ${DEFAULT-VALUE}).") String tolerance;
    @Option(names = "--sizes", defaultValue = "0.5,0.75", description = "Shares of the reference's layers (or, for width pruning, of its layer "
            + "parameters) the candidates keep (default ${DEFAULT-VALUE}).") String sizes;
    @Option(names = "--batch", description = "Sequences per step (default: the reference run's, else 16).") Integer batch;
    @Option(names = "--seq", description = "Tokens per sequence (default: the reference run's, else 128).") Integer seq;
    @Option(names = "--lr", description = "Peak learning rate (default: the reference run's, else 1e-3).") Double lr;
    @Option(names = "--alpha", defaultValue = "0.5", description = "Distillation: weight of the teacher's term (default ${DEFAULT-VALUE}).") double alpha;
    @Option(names = "--temperature", defaultValue = "2", description = "Distillation temperature (default ${DEFAULT-VALUE}).") double temperature;
    @Option(names = "--eval-tokens", defaultValue = "65536", description = "Validation tokens every model is scored on (default ${DEFAULT-VALUE}).") long evalTokens;
    @Option(names = "--seed", defaultValue = "1234", description = "Seed for initialisation and data order (default ${DEFAULT-VALUE}).") long seed;
    @Option(names = "--no-speed", description = "Skip measuring prefill and decode speed.") boolean noSpeed;
    @Option(names = "--out", description = "Output directory (default: runs/rightsize-<time>).") Path out;
    @Option(names = "--threads", description = "Worker threads (default: all cores).") Integer threads;

    @Override
    public Integer call() {
        long tokens = parseTokens(budget);
        double tol = parseTolerance(tolerance);
        double[] shares = parseSizes(sizes);
        dev.lamina.train.Distillation.check(alpha, temperature);
        KernelSet kernels = Main.kernels(threads);
        Checkpoint.State recipe = Checkpoint.hasTrainingState(reference) ? Checkpoint.readState(reference) : null;
        Path dataDir = data != null ? data : recipe != null && recipe.data() != null ? Path.of(recipe.data()) : null;
        if (dataDir == null) throw new LaminaException("--data is required (the reference is not a run that records its data)");
        int B = batch != null ? batch : recipe != null ? recipe.train().batch() : 16;
        int T = seq != null ? seq : recipe != null ? recipe.train().seq() : 128;
        double rate = lr != null ? lr : recipe != null ? recipe.train().lr() : 1e-3;
        if (B < 1 || T < 2) throw new LaminaException("--batch must be >= 1 and --seq >= 2");
        int steps = (int) Math.min(Integer.MAX_VALUE, tokens / ((long) B * T));
        if (steps < 10) throw new LaminaException("--budget " + budget + " is " + steps + " steps of " + B + " x " + T + " tokens; give at least "
                + 10L * B * T + " tokens (10 steps)");
        Path dir = out != null ? out : Path.of("runs", "rightsize-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        long t0 = System.nanoTime();
        Lamina.Model ref = Lamina.load(reference, kernels);
        if (ref.decoder().hasStored()) throw new LaminaException(reference + ": quantized weights; give a float reference (a run or Hugging Face directory)");
        int L = ref.decoder().config().numHiddenLayers();
        for (double share : shares) {
            long keep = Math.round(L * share);
            if (keep < 1 || keep >= L)
                throw new LaminaException("--sizes: " + share + " keeps " + keep + " of the reference's " + L + " layers; choose shares that keep between 1 and " + (L - 1));
        }
        try (Dataset d = Dataset.open(dataDir)) {
            int evalBatches = (int) Math.max(1, evalTokens / ((long) B * T));
            TrainConfig tc = TrainConfig.builder(steps, B, T).lr(rate).warmup(Math.max(1, steps / 10)).seed(seed)
                    .evalEvery(Math.max(1, steps / 5)).evalBatches(Math.min(8, evalBatches)).build();
            var s = new Rightsize.Settings(tc, shares, tol, alpha, temperature, evalBatches, !noSpeed);
            System.err.printf(Locale.ROOT, "rightsize %s (%,d parameters) on %s: sizes %s, %,d tokens each (%d steps of %d x %d, lr %.1e), "
                            + "tolerance %s; %d threads%n", reference, ref.decoder().parameterCount(), dataDir, sizes, s.budget(), steps, B, T, rate,
                    tolerance, kernels.threads());
            Listener l = new Listener();
            Rightsize.Result r = Rightsize.run(ref.decoder(), ref.tokenizer(), d, s, new Rightsize.Paths(reference, dataDir, dir), l);
            l.close();
            String setup = String.format(Locale.ROOT, "# Rightsizing %s%n%nReference: %s, %,d parameters, validation loss %.4f on %,d tokens of %s. "
                            + "Every candidate trains on %,d tokens (%d steps of %d x %d, AdamW lr %.1e, 10%% warm-up then cosine, seed %d, the same "
                            + "batches); distillation: α %s, τ %s, the reference as teacher. Sizes: %s of the reference's layers (width pruning: of its "
                            + "layer parameters). Speed: the inference benchmark's median of one stream (64-token prompt, 64 decoded) on %d threads. "
                            + "%.1f min in all. Command: `lamina rightsize --reference %s --data %s --budget %d --tolerance %s --sizes %s`.",
                    reference.getFileName(), Rightsize.shape(ref.decoder().config()), ref.decoder().parameterCount(), r.reference().valLoss(),
                    (long) evalBatches * B * T, dataDir, s.budget(), steps, B, T, rate, seed, alpha, temperature, sizes, kernels.threads(),
                    (System.nanoTime() - t0) / 60e9, reference, dataDir, tokens, tolerance, sizes);
            String md = Rightsize.writeReport(r, s, dir, setup, Plots.INSTANCE);
            System.out.println(md);
        }
        System.out.printf(Locale.ROOT, "done in %.1f min; report: %s (and rightsize.json, loss_vs_parameters.png/.svg)%n", (System.nanoTime() - t0) / 60e9,
                dir.resolve("rightsize.md"));
        return 0;
    }

    static long parseTokens(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT);
        double mult = t.endsWith("K") ? 1e3 : t.endsWith("M") ? 1e6 : t.endsWith("G") || t.endsWith("B") ? 1e9 : 1;
        if (mult > 1) t = t.substring(0, t.length() - 1);
        try {
            double v = Double.parseDouble(t) * mult;
            if (!(v >= 1 && v < 1e15)) throw new NumberFormatException();
            return (long) v;
        } catch (NumberFormatException e) {
            throw new LaminaException("--budget must be a positive number of tokens (e.g. 2000000 or 2M), got '" + s + "'");
        }
    }

    static double parseTolerance(String s) {
        String t = s.trim();
        try {
            double v = t.endsWith("%") ? Double.parseDouble(t.substring(0, t.length() - 1)) / 100 : Double.parseDouble(t);
            if (!(v >= 0 && v < 1)) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw new LaminaException("--tolerance must be a share of the reference's val loss in [0, 1), as 1% or 0.01; got '" + s + "'");
        }
    }

    static double[] parseSizes(String s) {
        try {
            double[] v = Arrays.stream(s.split(",")).map(String::trim).mapToDouble(Double::parseDouble).toArray();
            for (double x : v) if (!(x > 0 && x < 1)) throw new NumberFormatException();
            if (v.length == 0) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw new LaminaException("--sizes must be shares of the reference's layers in (0, 1), comma-separated (e.g. 0.5,0.75); got '" + s + "'");
        }
    }

    /** One bar per candidate; evaluations as lines. */
    private static final class Listener implements Rightsize.Listener {
        private ConsoleProgress bar;

        @Override public void candidate(int index, int count, String name, String what, int steps, boolean reused) {
            close();
            System.err.printf("== %d/%d %s (%s)%s%n", index, count, name, what, reused ? ": complete, reusing" : "");
            bar = reused ? null : new ConsoleProgress(name, steps, System.err);
        }

        @Override public void step(String name, Trainer.Progress p) {
            if (bar == null) return;
            bar.update(p.step(), String.format(Locale.ROOT, "loss %.3f | %.0f tok/s", p.loss(), p.tokensPerSec()));
            if (!Double.isNaN(p.valLoss()))
                bar.println(String.format(Locale.ROOT, "%s step %d: val loss %.4f", name, p.step(), p.valLoss()));
        }

        @Override public void note(String line) { System.err.println(line); }

        void close() { if (bar != null) bar.close(); bar = null; }
    }
}
