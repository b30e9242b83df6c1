package dev.lamina.cli;

import dev.lamina.kernels.KernelSet;
import dev.lamina.data.Dataset;
import dev.lamina.eval.Task;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Presets;
import dev.lamina.train.Checkpoint;
import dev.lamina.train.TrainConfig;
import dev.lamina.research.Figure;
import dev.lamina.train.Trainer;
import dev.lamina.train.TrainingCurves;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a model on prepared data (see `lamina prepare`), or resume a run.")
final class TrainCommand implements Callable<Integer> {

    static final class ModelChoice {
        @Option(names = "--preset", description = "Model preset: tiny, small, llama-s, gpt2-s, llama-m.") String preset;
        @Option(names = "--config", description = "Model config JSON (field names as the test vectors).") Path config;
        @Option(names = "--resume", description = "Continue the run in this directory from its last checkpoint.") Path resume;
        @Option(names = "--init", description = "Fine-tune: start from the weights of a run or Hugging Face directory.") Path init;
    }

    @ArgGroup(exclusive = true, multiplicity = "1") ModelChoice model;
    @Option(names = "--data", description = "Prepared data directory (required unless --resume).") Path data;
    @Option(names = "--out", description = "Run directory to write (required unless --resume).") Path out;
    @Option(names = "--steps", description = "Optimizer steps (default 1000; with --resume: the new total).") Integer steps;
    @Option(names = "--batch", description = "Sequences per micro-batch (default: the preset's).") Integer batch;
    @Option(names = "--seq", description = "Tokens per sequence (default: the preset's).") Integer seq;
    @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate (default ${DEFAULT-VALUE}).") double lr;
    @Option(names = "--warmup", description = "Warm-up steps (default: 10%% of steps).") Integer warmup;
    @Option(names = "--weight-decay", defaultValue = "0.1", description = "AdamW weight decay (default ${DEFAULT-VALUE}).") double weightDecay;
    @Option(names = "--clip", defaultValue = "1.0", description = "Gradient-norm clip, 0 to disable (default ${DEFAULT-VALUE}).") double clip;
    @Option(names = "--accum", defaultValue = "1", description = "Micro-batches per step (default ${DEFAULT-VALUE}).") int accum;
    @Option(names = "--seed", defaultValue = "1234", description = "Seed for init and data order (default ${DEFAULT-VALUE}).") long seed;
    @Option(names = "--eval-every", description = "Steps between evaluations and checkpoints (default: 10%% of steps).") Integer evalEvery;
    @Option(names = "--eval-batches", defaultValue = "8", description = "Batches in the fixed val sample (default ${DEFAULT-VALUE}).") int evalBatches;
    @Option(names = "--threads", description = "Worker threads (default: all cores).") Integer threads;
    @Option(names = "--checkpoint-activations", arity = "0..1", fallbackValue = "1", paramLabel = "N",
            description = "Activation checkpointing: keep only every N-th block input (default N 1) and recompute the blocks "
                    + "during backward; less memory, about one more forward of time, the same gradients bit for bit.")
    Integer checkpointEvery;
    @Option(names = "--force", description = "Start even when the memory plan exceeds the JVM's heap or the machine's memory.") boolean force;
    @Option(names = "--log-layer-grads", arity = "0..1", fallbackValue = "1", paramLabel = "N",
            description = "Write per-layer gradient norms to RUN/layer_grads.jsonl every N steps (default N: 1).") Integer layerGrads;
    @Option(names = "--eval-tasks", paramLabel = "FILE.jsonl|DIR|NAME",
            description = "Tasks scored at every evaluation (zero-shot), logged beside the loss in metrics.jsonl as task/metric; repeatable.")
    List<String> evalTasks = new ArrayList<>();

    @Override
    public Integer call() {
        if (checkpointEvery != null && checkpointEvery < 1)
            throw new LaminaException("--checkpoint-activations must be >= 1 layer, got " + checkpointEvery);
        KernelSet kernels = Main.kernels(threads);
        Trainer trainer;
        if (model.resume != null) {
            Path run = model.resume;
            if (!Checkpoint.hasTrainingState(run))
                throw new LaminaException(run + ": nothing to resume (no state.json); start with `lamina train --preset ... --out " + run + "`");
            Path dataDir = data != null ? data : Path.of(Checkpoint.readState(run).data());
            Dataset d = Dataset.open(dataDir);
            TrainConfig saved = Checkpoint.readState(run).train();
            guard(ModelConfig.read(run.resolve(Checkpoint.CONFIG)), checkpointEvery != null ? saved.withCheckpointEvery(checkpointEvery) : saved);
            trainer = Trainer.resume(run, d, dataDir.toString(), steps == null ? 0 : steps, kernels);
            if (checkpointEvery != null) trainer.checkpointEvery(checkpointEvery);
            System.err.printf("resuming %s at step %d of %d%n", run, trainer.step(), trainer.config().steps());
        } else {
            if (data == null) throw new LaminaException("--data is required (a directory made by `lamina prepare`)");
            if (out == null) throw new LaminaException("--out is required (the run directory to write)");
            Dataset d = Dataset.open(data);
            int v = d.tokenizer().vocabSize();
            ModelConfig mc;
            Decoder initial = null;
            int defBatch = 8, defSeq = 128;
            if (model.preset != null) {
                Presets.Preset p = Presets.get(model.preset);
                mc = p.config().apply(v);
                defBatch = p.batch();
                defSeq = p.seq();
            } else {
                Path from = model.init != null ? model.init : model.config;
                initial = model.init != null ? Checkpoint.loadModel(model.init).withKernels(kernels) : null;
                mc = initial != null ? initial.config() : ModelConfig.read(model.config);
                if (mc.vocabSize() < v)
                    throw new LaminaException(from + ": vocab_size " + mc.vocabSize() + " is smaller than the data's tokenizer ("
                            + v + " tokens); " + (model.init != null ? "prepare the data with the model's tokenizer"
                            : "set vocab_size to at least " + v));
                defSeq = Math.min(defSeq, mc.maxPositionEmbeddings());
            }
            int n = steps == null ? 1000 : steps;
            TrainConfig tc = TrainConfig.builder(n, batch == null ? defBatch : batch, seq == null ? defSeq : seq).lr(lr)
                    .warmup(warmup == null ? Math.max(1, n / 10) : warmup).weightDecay(weightDecay).clip(clip).accum(accum)
                    .seed(seed).evalEvery(evalEvery == null ? Math.max(1, n / 10) : evalEvery).evalBatches(evalBatches)
                    .checkpointEvery(checkpointEvery == null ? 0 : checkpointEvery).build();
            guard(mc, tc);
            Decoder m = initial != null ? initial : Decoder.create(mc, seed, kernels);
            System.err.printf("model: %s, %,d parameters; data: %s (%,d train / %,d val tokens, %s)%n",
                    model.preset != null ? model.preset : model.init != null ? "weights of " + model.init : model.config,
                    m.parameterCount(), data, d.train().size(), d.val().size(), d.tokenizer().describe());
            trainer = Trainer.start(m, d, data.toString(), tc, out);
        }
        if (layerGrads != null) dev.lamina.research.LayerGradLog.attach(trainer, layerGrads);
        if (!evalTasks.isEmpty()) {
            List<Task> tasks = new ArrayList<>();
            for (String t : evalTasks) tasks.addAll(Task.load(t));
            trainer.withEvalTasks(tasks);
        }
        if (plan != null) System.err.println(plan);
        run(trainer);
        return 0;
    }

    /** The memory plan's line, printed as training starts; refuses (unless --force) a run that exceeds the heap or the machine. */
    private String plan;

    private void guard(ModelConfig mc, TrainConfig tc) {
        plan = PlanMemoryCommand.guard("training", dev.lamina.plan.MemoryPlan.plan(new dev.lamina.plan.MemoryPlan.Request(mc,
                dev.lamina.plan.MemoryPlan.Task.TRAIN, dev.lamina.plan.MemoryPlan.Precision.FP32, tc.batch(), tc.seq(), tc.accum(),
                tc.checkpointEvery(), dev.lamina.plan.MemoryPlan.Optimizer.ADAMW, 0, 1, dev.lamina.plan.MemoryPlan.Strategy.DP,
                dev.lamina.plan.MemoryPlan.Target.LAMINA, 0, java.util.Set.of())), force);
    }

    /** Runs the loop with a progress bar (or log lines) and prints evaluations; returns the last val loss. */
    static double run(Trainer trainer) {
        double[] lastVal = {Double.NaN};
        TrainConfig c = trainer.config();
        KernelSet k = trainer.model().kernels();
        trainer.withMeasuredPeak(k.parallel());     // measured at the start (again if a step beats it), for the MFU column
        System.err.printf("training %d steps of %d x %d tokens on %d threads (kernels: %s)%s%n", c.steps(), c.batch(), c.seq(),
                k.threads(), k.name(), c.checkpointEvery() > 0 ? ", activation checkpointing every " + c.checkpointEvery() + " layer(s)" : "");
        try (ConsoleProgress bar = new ConsoleProgress("train", c.steps(), System.err)) {
            trainer.train(c.steps(), p -> {
                bar.update(p.step(), String.format("loss %.3f lr %.2e | %.0f tok/s | MFU %.1f%%", p.loss(), p.lr(),
                        p.tokensPerSec(), 100 * p.mfu()));
                if (!Double.isNaN(p.valLoss())) lastVal[0] = p.valLoss();
                if (!Double.isNaN(p.valLoss())) {
                    StringBuilder tasks = new StringBuilder();
                    p.tasks().forEach((name, value) -> tasks.append(String.format(", %s %.4f", name, value)));
                    bar.println(String.format("step %d: train loss %.4f, val loss %.4f, val perplexity %.2f, grad norm %.3f%s",
                            p.step(), p.loss(), p.valLoss(), Math.exp(p.valLoss()), p.gradNorm(), tasks));
                }
            });
        }
        System.err.println("saved " + trainer.run());
        List<Figure> curves = TrainingCurves.figures(trainer.run());
        if (!curves.isEmpty()) {
            Path plots = trainer.run().resolve("plots");
            Plots.INSTANCE.drawAll(plots, curves);
            System.err.println("plots: " + plots.resolve("loss.png") + (curves.size() > 1 ? ", " + plots.resolve("tasks.png") : "") + " (and .svg)");
        }
        return lastVal[0];
    }
}
