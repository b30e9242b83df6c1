package dev.lamina.cli;

import dev.lamina.kernels.KernelSet;
import dev.lamina.data.Dataset;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Presets;
import dev.lamina.research.DepthExperiment;
import dev.lamina.research.LayerDiagnostics;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "depth", mixinStandardHelpOptions = true,
        description = "Train the same model with several normalisation placements (same seed, data order and budget) and "
                + "compare perplexity, convergence and per-layer diagnostics in one report (OUT/report.md).")
final class ExperimentDepthCommand implements Callable<Integer> {
    @Option(names = "--variants", defaultValue = "pre,post,mix:0.25,lns",
            description = "Comma-separated: pre, post, mix:ALPHA, lns (default ${DEFAULT-VALUE}).") String variants;
    @Option(names = "--preset", description = "Model preset (default: d 128, 4 heads, ff 344, the depth-study model).") String preset;
    @Option(names = "--layers", defaultValue = "12", description = "Decoder layers (default ${DEFAULT-VALUE}).") int layers;
    @Option(names = "--steps", defaultValue = "300", description = "Optimizer steps per variant (default ${DEFAULT-VALUE}).") int steps;
    @Option(names = "--batch", defaultValue = "16", description = "Sequences per step (default ${DEFAULT-VALUE}).") int batch;
    @Option(names = "--seq", defaultValue = "128", description = "Tokens per sequence (default ${DEFAULT-VALUE}).") int seq;
    @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate, as the Mix-LN paper (default ${DEFAULT-VALUE}).") double lr;
    @Option(names = "--seed", defaultValue = "1234", description = "Seed for init and data order (default ${DEFAULT-VALUE}).") long seed;
    @Option(names = "--eval-every", description = "Steps between evaluations (default: 10%% of steps).") Integer evalEvery;
    @Option(names = "--tokens", defaultValue = "16384", description = "Validation tokens for the layer-removal costs (default ${DEFAULT-VALUE}).") long tokens;
    @Option(names = "--target-loss", description = "Training loss for the steps-to-target column (default: the worst variant's final loss).") Double target;
    @Option(names = "--data", description = "Prepared data directory (default: bundled Brown, 8k byte-level BPE, prepared into OUT/data).") Path data;
    @Option(names = "--vocab-size", defaultValue = "8192", description = "BPE vocabulary when preparing Brown (default ${DEFAULT-VALUE}).") int vocabSize;
    @Option(names = "--out", description = "Output directory (default: runs/depth-<time>).") Path out;
    @Option(names = "--threads", description = "Worker threads (default: all cores).") Integer threads;

    /** The depth-study model: Llama-style, d 128, 4 heads, ff 344, context 256; small enough for 4 × 12-layer runs in 30 min. */
    static ModelConfig depthModel(int vocab, int layers) {
        return ModelConfig.builder().vocabSize(vocab).hiddenSize(128).numHiddenLayers(layers).numAttentionHeads(4)
                .intermediateSize(344).maxPositionEmbeddings(256).build();
    }

    @Override
    public Integer call() {
        KernelSet kernels = Main.kernels(threads);
        List<DepthExperiment.Variant> vs = DepthExperiment.Variant.parseList(variants);
        if (layers < 1) throw new LaminaException("--layers must be >= 1, got " + layers);
        Path dir = out != null ? out : Path.of("runs", "depth-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        long t0 = System.nanoTime();
        Path dataDir = data != null ? data : ExperimentCommand.prepareBrown(dir, vocabSize);
        try (Dataset d = Dataset.open(dataDir)) {
            int v = d.tokenizer().vocabSize();
            ModelConfig base = (preset != null ? Presets.get(preset).config().apply(v) : depthModel(v, layers)).withLayers(layers);
            if (seq > base.maxPositionEmbeddings())
                throw new LaminaException("--seq " + seq + " exceeds the model's max_position_embeddings " + base.maxPositionEmbeddings());
            int every = evalEvery != null ? evalEvery : Math.max(1, steps / 10);
            TrainConfig tc = TrainConfig.builder(steps, batch, seq).lr(lr).warmup(Math.max(1, steps / 10)).seed(seed)
                    .evalEvery(every).build();
            DepthExperiment.Settings s = new DepthExperiment.Settings(base, tc, vs, target,
                    new LayerDiagnostics.Options(Math.min(batch, 16), Math.min(seq, 256), tokens, 0.9, 2));
            long params = Decoder.layout(base).build().count();
            System.err.printf(Locale.ROOT, "depth experiment: %s; %d layers, d %d, %,d parameters; %d steps of %d x %d tokens each, lr %.1e, seed %d; %d threads%n",
                    vs.stream().map(DepthExperiment.Variant::name).toList(), layers, base.hiddenSize(), params, steps, batch, seq, lr, seed, kernels.threads());
            List<DepthExperiment.Outcome> outcomes = DepthExperiment.run(d, s, dir, new Listener(steps, layers), kernels, Plots.INSTANCE);
            String setup = setup(d, dataDir, base, tc, params, kernels.threads(), (System.nanoTime() - t0) / 60e9);
            DepthExperiment.writeReport(s, outcomes, dir, setup, Plots.INSTANCE);
            for (DepthExperiment.Outcome o : outcomes)
                System.out.printf(Locale.ROOT, "%-10s %s%n", o.variant().name(), o.divergedAt() > 0 ? "diverged at step " + o.divergedAt()
                        : String.format(Locale.ROOT, "val perplexity %.2f", Math.exp(o.finalValLoss())));
        }
        System.out.printf(Locale.ROOT, "done in %.1f min; report: %s%n", (System.nanoTime() - t0) / 60e9, dir.resolve("report.md"));
        return 0;
    }

    private static String setup(Dataset d, Path dataDir, ModelConfig base, TrainConfig tc, long params, int threads, double minutes) {
        return String.format(Locale.ROOT, "# Depth experiment%n%nData: %s (%s; %,d train / %,d val tokens). Model: Llama-style, %d layers, "
                        + "d %d, %d heads, ff %d, %,d parameters. Training: %d steps of %d × %d tokens, AdamW lr %.1e (10%% warm-up, cosine "
                        + "to 10%%), weight decay %.2g, clip %.1f, seed %d, same initial weights and batches for every variant. "
                        + "Validation: %d fixed batches. %d threads; %.1f min in all.",
                dataDir, d.tokenizer().describe(), d.train().size(), d.val().size(), base.numHiddenLayers(), base.hiddenSize(),
                base.numAttentionHeads(), base.intermediateSize(), params, tc.steps(), tc.batch(), tc.seq(), tc.lr(), tc.weightDecay(),
                tc.clip(), tc.seed(), tc.evalBatches(), threads, minutes);
    }


    /** Progress: one bar per variant, evaluations and diagnostics as lines. */
    private static final class Listener implements DepthExperiment.Listener {
        private final int steps, layers;
        private ConsoleProgress bar;

        Listener(int steps, int layers) { this.steps = steps; this.layers = layers; }

        @Override public void variant(int index, int count, DepthExperiment.Variant v, boolean reused) {
            close();
            System.err.printf("== %d/%d %s (%s)%s%n", index, count, v.name(), v.describe(layers), reused ? ": complete, reusing" : "");
            bar = new ConsoleProgress(v.name(), steps, System.err);
        }

        @Override public void step(DepthExperiment.Variant v, Trainer.Progress p) {
            bar.update(p.step(), String.format(Locale.ROOT, "loss %.3f | %.0f tok/s", p.loss(), p.tokensPerSec()));
            if (!Double.isNaN(p.valLoss()))
                bar.println(String.format(Locale.ROOT, "%s step %d: val loss %.4f, perplexity %.2f", v.name(), p.step(), p.valLoss(), Math.exp(p.valLoss())));
        }

        @Override public void diverged(DepthExperiment.Variant v, String message) { bar.println(v.name() + " diverged: " + message); }

        @Override public void diagnostics(DepthExperiment.Variant v, String task, int done, int total) {
            if (done == 0) bar.println(v.name() + ": diagnostics (" + task + ")");
        }

        void close() { if (bar != null) bar.close(); }
    }
}
