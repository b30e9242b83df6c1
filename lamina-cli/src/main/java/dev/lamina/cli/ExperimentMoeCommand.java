package dev.lamina.cli;

import dev.lamina.data.Dataset;
import dev.lamina.io.LaminaException;
import dev.lamina.kernels.KernelSet;
import dev.lamina.model.ModelConfig;
import dev.lamina.research.MoeExperiment;
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

@Command(name = "moe", mixinStandardHelpOptions = true,
        description = "Train a mixture of experts beside dense models at equal active parameters, equal training FLOPs and equal "
                + "wall-clock time, and without its load-balancing and z losses, on the same data and seed; report in OUT/report.md.")
final class ExperimentMoeCommand implements Callable<Integer> {
    @Option(names = "--experts", defaultValue = "8", description = "Experts per sparse layer (default ${DEFAULT-VALUE}).") int experts;
    @Option(names = "--top-k", defaultValue = "2", description = "Experts per token (default ${DEFAULT-VALUE}).") int topK;
    @Option(names = "--aux", defaultValue = "0.01", description = "Load-balancing loss coefficient of the main MoE run (default ${DEFAULT-VALUE}).") double aux;
    @Option(names = "--z", defaultValue = "0.001", description = "Router z-loss coefficient of the main MoE run (default ${DEFAULT-VALUE}).") double z;
    @Option(names = "--hidden", defaultValue = "128", description = "Hidden size (default ${DEFAULT-VALUE}).") int hidden;
    @Option(names = "--layers", defaultValue = "4", description = "Decoder layers, all sparse (default ${DEFAULT-VALUE}).") int layers;
    @Option(names = "--expert-ff", defaultValue = "256", description = "MLP width of one expert (default ${DEFAULT-VALUE}).") int expertFf;
    @Option(names = "--steps", defaultValue = "600", description = "Optimizer steps of the MoE runs (default ${DEFAULT-VALUE}).") int steps;
    @Option(names = "--batch", defaultValue = "16", description = "Sequences per step (default ${DEFAULT-VALUE}).") int batch;
    @Option(names = "--seq", defaultValue = "128", description = "Tokens per sequence (default ${DEFAULT-VALUE}).") int seq;
    @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate (default ${DEFAULT-VALUE}).") double lr;
    @Option(names = "--seed", defaultValue = "1234", description = "Seed for init and data order (default ${DEFAULT-VALUE}).") long seed;
    @Option(names = "--data", description = "Prepared data directory (default: bundled Brown, byte-level BPE, prepared into OUT/data).") Path data;
    @Option(names = "--vocab-size", defaultValue = "4096", description = "BPE vocabulary when preparing Brown (default ${DEFAULT-VALUE}).") int vocabSize;
    @Option(names = "--out", description = "Output directory (default: runs/moe-<time>).") Path out;
    @Option(names = "--threads", description = "Worker threads (default: all cores).") Integer threads;

    @Override
    public Integer call() {
        if (steps < 10) throw new LaminaException("--steps must be >= 10, got " + steps);
        KernelSet kernels = Main.kernels(threads);
        Path dir = out != null ? out : Path.of("runs", "moe-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        long t0 = System.nanoTime();
        Path dataDir = data != null ? data : ExperimentCommand.prepareBrown(dir, vocabSize);
        try (Dataset d = Dataset.open(dataDir)) {
            ModelConfig moe = ModelConfig.builder().vocabSize(d.tokenizer().vocabSize()).hiddenSize(hidden).numHiddenLayers(layers)
                    .numAttentionHeads(Math.max(1, hidden / 32)).intermediateSize(expertFf).maxPositionEmbeddings(Math.max(seq, 128))
                    .numExperts(experts).expertsPerToken(topK).routerAuxLossCoef(aux).routerZLossCoef(z).build();
            TrainConfig tc = TrainConfig.builder(steps, batch, seq).lr(lr).warmup(Math.max(1, steps / 10)).seed(seed)
                    .evalEvery(Math.max(1, steps / 10)).build();
            MoeExperiment.Settings s = new MoeExperiment.Settings(moe, tc);
            System.err.printf(Locale.ROOT, "moe experiment: %d layers, d %d, %d experts of ff %d, %d per token: %,d parameters (%,d active); "
                            + "%d steps of %d x %d, lr %.1e, seed %d; %d threads%n", layers, hidden, experts, expertFf, topK,
                    moe.parameterCount(), moe.activeParameterCount(), steps, batch, seq, lr, seed, kernels.threads());
            Listener l = new Listener();
            List<MoeExperiment.Outcome> outcomes = MoeExperiment.run(d, s, dir, l, kernels);
            l.close();
            String setup = String.format(Locale.ROOT, "# Mixture of experts against dense models%n%nData: %s (%s; %,d train / %,d val tokens). "
                            + "Sparse model: Llama-style, %d layers, d %d, %d heads, every MLP %d SwiGLU experts of width %d, %d per token (softmax, "
                            + "top k renormalised, as Mixtral). Training: AdamW lr %.1e, 10%% warm-up then cosine, batch %d × %d, seed %d for every "
                            + "variant (the weights are drawn from it in layout order, so the layouts' first parts coincide) and the same batches. "
                            + "Validation: %d fixed batches. %d threads; %.1f min in all. Command: `lamina experiment moe%s`.",
                    dataDir, d.tokenizer().describe(), d.train().size(), d.val().size(), layers, hidden, moe.numAttentionHeads(), experts,
                    expertFf, topK, lr, batch, seq, seed, tc.evalBatches(), kernels.threads(), (System.nanoTime() - t0) / 60e9,
                    commandLine());
            MoeExperiment.writeReport(s, outcomes, dir, setup, Plots.INSTANCE);
            for (MoeExperiment.Outcome o : outcomes)
                System.out.printf(Locale.ROOT, "%-12s val perplexity %.2f, %.0f s%n", o.variant().name(), Math.exp(o.finalValLoss()), o.seconds());
        }
        System.out.printf(Locale.ROOT, "done in %.1f min; report: %s%n", (System.nanoTime() - t0) / 60e9, dir.resolve("report.md"));
        return 0;
    }

    private String commandLine() {
        StringBuilder b = new StringBuilder();
        if (steps != 600) b.append(" --steps ").append(steps);
        if (layers != 4) b.append(" --layers ").append(layers);
        if (hidden != 128) b.append(" --hidden ").append(hidden);
        if (experts != 8) b.append(" --experts ").append(experts);
        if (topK != 2) b.append(" --top-k ").append(topK);
        return b.toString();
    }


    /** One bar per variant; evaluations as lines. */
    private static final class Listener implements MoeExperiment.Listener {
        private ConsoleProgress bar;

        @Override public void variant(int index, int count, MoeExperiment.Variant v, boolean reused) {
            close();
            System.err.printf("== %d/%d %s (%s)%s%n", index, count, v.name(), v.what(), reused ? ": complete, reusing" : "");
            bar = new ConsoleProgress(v.name(), v.steps(), System.err);
        }

        @Override public void step(MoeExperiment.Variant v, Trainer.Progress p) {
            bar.update(p.step(), String.format(Locale.ROOT, "loss %.3f | %.0f tok/s", p.loss(), p.tokensPerSec()));
            if (!Double.isNaN(p.valLoss()))
                bar.println(String.format(Locale.ROOT, "%s step %d: val loss %.4f, perplexity %.2f", v.name(), p.step(), p.valLoss(), Math.exp(p.valLoss())));
        }

        void close() { if (bar != null) bar.close(); }
    }
}
