package dev.lamina.cli;

import dev.lamina.data.Dataset;
import dev.lamina.io.LaminaException;
import dev.lamina.kernels.KernelSet;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Presets;
import dev.lamina.research.PrecisionExperiment;
import dev.lamina.tensor.Precision;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "precision", mixinStandardHelpOptions = true,
        description = "Train one model with weights, activations and gradients stored in fp32, bf16 and fp16 (float32 master weights; "
                + "fp16 with dynamic loss scaling) on the same data, seed and batches; loss curves, validation loss, skipped steps, "
                + "time and memory in OUT/report.md.")
final class ExperimentPrecisionCommand implements Callable<Integer> {
    @Option(names = "--preset", defaultValue = "small", description = "Model preset (default ${DEFAULT-VALUE}, the quickstart's).") String preset;
    @Option(names = "--steps", defaultValue = "400", description = "Optimizer steps of each run (default ${DEFAULT-VALUE}).") int steps;
    @Option(names = "--batch", description = "Sequences per step (default: the preset's).") Integer batch;
    @Option(names = "--seq", description = "Tokens per sequence (default: the preset's).") Integer seq;
    @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate (default ${DEFAULT-VALUE}).") double lr;
    @Option(names = "--seed", defaultValue = "1234", description = "Seed for init and data order (default ${DEFAULT-VALUE}).") long seed;
    @Option(names = "--precisions", defaultValue = "fp32,bf16,fp16", split = ",", description = "Which to run, in order (default ${DEFAULT-VALUE}).")
    List<String> precisions;
    @Option(names = "--data", description = "Prepared data directory (default: bundled Brown, byte-level BPE, prepared into OUT/data).") Path data;
    @Option(names = "--vocab-size", defaultValue = "4096", description = "BPE vocabulary when preparing Brown (default ${DEFAULT-VALUE}).") int vocabSize;
    @Option(names = "--out", description = "Output directory (default: runs/precision-<time>).") Path out;
    @Option(names = "--threads", description = "Worker threads (default: all cores).") Integer threads;

    @Override
    public Integer call() {
        if (steps < 10) throw new LaminaException("--steps must be >= 10, got " + steps);
        List<Precision> ps = new ArrayList<>();
        for (String s : precisions) {
            Precision p = Precision.parse(s);
            if (ps.contains(p)) throw new LaminaException("--precisions names " + p.label() + " twice");
            ps.add(p);
        }
        Presets.Preset preset = Presets.get(this.preset);
        KernelSet kernels = Main.kernels(threads);
        Path dir = out != null ? out : Path.of("runs", "precision-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        long t0 = System.nanoTime();
        Path dataDir = data != null ? data : ExperimentCommand.prepareBrown(dir, vocabSize);
        try (Dataset d = Dataset.open(dataDir)) {
            ModelConfig mc = preset.config().apply(d.tokenizer().vocabSize());
            int B = batch != null ? batch : preset.batch(), T = seq != null ? seq : preset.seq();
            TrainConfig tc = TrainConfig.builder(steps, B, T).lr(lr).warmup(Math.max(1, steps / 10)).seed(seed).evalEvery(Math.max(1, steps / 10)).build();
            System.err.printf(Locale.ROOT, "precision experiment: %s (%,d parameters), %d steps of %d x %d, lr %.1e, seed %d; %s; %d threads%n",
                    this.preset, mc.parameterCount(), steps, B, T, lr, seed, precisions, kernels.threads());
            Listener l = new Listener();
            List<PrecisionExperiment.Outcome> outcomes;
            try {
                outcomes = PrecisionExperiment.run(d, dataDir.toString(), mc, tc, ps, dir, l, kernels);
            } finally {
                l.close();
            }
            String setup = String.format(Locale.ROOT, "# Training in fp32, bf16 and fp16%n%nData: %s (%s; %,d train / %,d val tokens). Model: preset "
                            + "`%s`, %,d parameters. Training: AdamW lr %.1e, 10%% warm-up then cosine, batch %d × %d, clip 1, seed %d for every "
                            + "precision (the same initial weights and batches). Storage: weights (rounded from float32 master weights after each "
                            + "update), every op's output and its gradient, the logits and their gradient, and the parameters' gradients are rounded "
                            + "to the format (nearest, ties to even); arithmetic and accumulation are float32, as are AdamW's moments. fp16 scales "
                            + "its loss (from 65536, halved and the step skipped on inf/NaN, doubled after 2000 finite steps). Validation: %d fixed "
                            + "batches every %d steps, stored in the run's precision. %d threads; %.1f min in all. Command: `lamina experiment "
                            + "precision%s`.", dataDir, d.tokenizer().describe(), d.train().size(), d.val().size(), this.preset, mc.parameterCount(),
                    lr, B, T, seed, tc.evalBatches(), tc.evalEvery(), kernels.threads(), (System.nanoTime() - t0) / 60e9,
                    steps != 400 ? " --steps " + steps : "");
            PrecisionExperiment.writeReport(outcomes, dir, setup, Plots.INSTANCE);
            for (PrecisionExperiment.Outcome o : outcomes)
                System.out.printf(Locale.ROOT, "%-5s val loss %.4f (perplexity %.2f), %.0f tok/s%s%n", o.precision().label(), o.finalValLoss(),
                        Math.exp(o.finalValLoss()), o.tokensPerSecond(), o.precision() == Precision.FP16 ? ", " + o.skipped() + " steps skipped" : "");
        }
        System.out.printf(Locale.ROOT, "done in %.1f min; report: %s%n", (System.nanoTime() - t0) / 60e9, dir.resolve("report.md"));
        return 0;
    }

    /** One bar per precision; evaluations and skipped steps as lines. */
    private static final class Listener implements PrecisionExperiment.Listener {
        private ConsoleProgress bar;

        @Override public void run(Precision p, int index, int count) {
            close();
            System.err.printf("== %d/%d %s%n", index, count, p.label());
            bar = null;
        }

        @Override public void step(Precision p, Trainer.Progress pr, Trainer t) {
            if (bar == null) bar = new ConsoleProgress(p.label(), pr.steps(), System.err);
            bar.update(pr.step(), String.format(Locale.ROOT, "loss %.3f | %.0f tok/s%s", pr.loss(), pr.tokensPerSec(),
                    t.lossScaler() != null ? String.format(Locale.ROOT, " | loss scale %.0f", t.lossScaler().scale()) : ""));
            if (t.skippedLast()) bar.println(String.format(Locale.ROOT, "%s step %d: gradients overflowed; skipped, loss scale now %.0f",
                    p.label(), pr.step(), t.lossScaler().scale()));
            if (!Double.isNaN(pr.valLoss()))
                bar.println(String.format(Locale.ROOT, "%s step %d: val loss %.4f, perplexity %.2f", p.label(), pr.step(), pr.valLoss(), Math.exp(pr.valLoss())));
        }

        void close() { if (bar != null) bar.close(); }
    }
}
