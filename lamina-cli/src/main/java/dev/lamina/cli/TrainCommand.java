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
class TrainCommand implements Callable<Integer> {

    static final class ModelChoice {
        @Option(names = "--preset", description = "Model preset: tiny, small, llama-s, gpt2-s, llama-m.") String preset;
        @Option(names = "--config", description = "Model config JSON (field names as the test vectors).") Path config;
        @Option(names = "--resume", description = "Continue the run in this directory from its last checkpoint.") Path resume;
        @Option(names = {"--init", "--student"}, description = "Start from the weights of a run or Hugging Face directory.") Path init;
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
    @Option(names = "--peers", split = ",", paramLabel = "HOST:PORT", description = "Data-parallel training: every worker's address, in rank order, "
            + "the same list on each; each worker takes accum / workers micro-batches of every step and the gradients are summed over a TCP ring "
            + "in rank order (bit for bit one worker's run when accum = workers). Rank 0 writes the run.") List<String> peers;
    @Option(names = "--shard-optimizer", description = "With --peers (ZeRO-1): each worker keeps the AdamW moments of 1/N of the parameters and "
            + "updates only those, then the workers exchange their slices; the same steps to the bit, an N-th of the moments' memory.")
    boolean shardOptimizer;
    @Option(names = "--rank", defaultValue = "0", description = "This worker's place in --peers (default ${DEFAULT-VALUE}).") int rank;
    @Option(names = "--ring-timeout", defaultValue = "300", description = "Seconds to wait for the other workers to join and for each of their messages (default ${DEFAULT-VALUE}).")
    int ringTimeout;
    @Option(names = "--bucket-mb", defaultValue = "4", paramLabel = "MB", description = "With --peers: the gradient is summed in buckets of at least "
            + "this many MB while backward runs, each layer's as soon as backward has passed it; 0 sums it whole after backward (default ${DEFAULT-VALUE}).")
    double bucketMb;
    @Option(names = "--checkpoint-activations", arity = "0..1", fallbackValue = "1", paramLabel = "N",
            description = "Activation checkpointing: keep only every N-th block input (default N 1) and recompute the blocks "
                    + "during backward; less memory, about one more forward of time, the same gradients bit for bit.")
    Integer checkpointEvery;
    @Option(names = "--precision", paramLabel = "fp32|bf16|fp16", description = "Store weights, activations and gradients in "
            + "this format (float32 master weights and moments, float32 arithmetic; fp16 with dynamic loss scaling; default fp32). "
            + "The activations kept for backward and each layer's weights as ops read them take 16 bits; gradients are float32 arrays holding 16-bit values.")
    String precision;
    @Option(names = "--force", description = "Start even when the memory plan exceeds the JVM's heap or the machine's memory.") boolean force;
    @Option(names = "--teacher", description = "Distill: a run, Hugging Face directory or GGUF file whose logits the student learns from (same tokenizer).")
    Path teacher;
    @Option(names = "--alpha", description = "Distill: weight of the teacher's term, in [0, 1] (default 0.5; the rest is cross-entropy).") Double alpha;
    @Option(names = "--temperature", description = "Distill: softmax temperature of both models in the teacher's term, > 0 (default 2).") Double temperature;
    @Option(names = "--cache-teacher", paramLabel = "K", description = "Distill: run the teacher once over every batch of the run first, keep "
            + "its top K logits a position in RUN/" + TEACHER_CACHE + ", and train from them (the rest of its mass as one outcome).")
    Integer cacheTeacher;

    /** The teacher's cached top-K of a distillation run made with --cache-teacher. */
    static final String TEACHER_CACHE = "teacher-topk.bin";

    /** The file a distillation run keeps its teacher and weights in, so that --resume goes on distilling. */
    static final String DISTILL_FILE = "distill.json";

    /** Whether this command distills (lamina distill needs a teacher). */
    boolean distills() { return false; }
    @Option(names = "--log-layer-grads", arity = "0..1", fallbackValue = "1", paramLabel = "N",
            description = "Write per-layer gradient norms to RUN/layer_grads.jsonl every N steps (default N: 1).") Integer layerGrads;
    @Option(names = "--eval-tasks", paramLabel = "FILE.jsonl|DIR|NAME",
            description = "Tasks scored at every evaluation (zero-shot), logged beside the loss in metrics.jsonl as task/metric; repeatable.")
    List<String> evalTasks = new ArrayList<>();

    @Override
    public Integer call() {
        if (!(bucketMb >= 0) || bucketMb > 2048) throw new LaminaException("--bucket-mb must be in [0, 2048], got " + bucketMb);
        if (ringTimeout < 1) throw new LaminaException("--ring-timeout must be >= 1 second, got " + ringTimeout);
        List<java.net.InetSocketAddress> addresses = peerAddresses();
        if (checkpointEvery != null && checkpointEvery < 1)
            throw new LaminaException("--checkpoint-activations must be >= 1 layer, got " + checkpointEvery);
        dev.lamina.train.Distillation.check(alpha != null ? alpha : 0.5, temperature != null ? temperature : 2.0);
        if (cacheTeacher != null && cacheTeacher < 1) throw new LaminaException("--cache-teacher must be >= 1 (logits kept a position), got " + cacheTeacher);
        if (cacheTeacher != null && (teacher == null || model.resume != null))
            throw new LaminaException("--cache-teacher caches a new run's --teacher; a resumed run reads the cache it made");
        if (teacher == null && model.resume == null) {
            if (distills()) throw new LaminaException("--teacher is required: the model whose logits the student learns from");
            if (alpha != null || temperature != null) throw new LaminaException("--alpha and --temperature weigh a teacher's term; give --teacher");
        }
        dev.lamina.tensor.Precision storage = precision == null ? null : dev.lamina.tensor.Precision.parse(precision);
        KernelSet kernels = Main.kernels(threads);
        Trainer trainer;
        Teacher dist = null;
        if (model.resume != null) {
            Path run = model.resume;
            if (!Checkpoint.hasTrainingState(run))
                throw new LaminaException(run + ": nothing to resume (no state.json); start with `lamina train --preset ... --out " + run + "`");
            Checkpoint.State state = Checkpoint.readState(run);
            ModelConfig mc = ModelConfig.read(run.resolve(Checkpoint.CONFIG));
            Path dataDir = data != null ? data : Path.of(state.data());
            Dataset d = Dataset.open(dataDir);
            dist = teacherOnResume(run, d, mc.vocabSize(), kernels);
            TrainConfig saved = state.train();
            if (storage != null && storage != saved.precision())
                throw LaminaException.field("precision", run + " trains in " + saved.precision().label() + "; resume it with --precision "
                        + saved.precision().label() + " or without --precision (its steps go on bit for bit only in their own precision)");
            long need = (long) (steps != null ? steps : saved.steps()) * saved.accum();
            if (dist != null && dist.cached() > 0 && dist.distillation().cachedBatches() < need)
                throw new LaminaException(run.resolve(TEACHER_CACHE) + ": the teacher cache holds " + dist.distillation().cachedBatches()
                        + " batches and the run needs " + need + "; distill again with --cache-teacher over the full --steps, or from the live teacher");
            guard(mc, checkpointEvery != null ? saved.withCheckpointEvery(checkpointEvery) : saved, dist);
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
            dev.lamina.Lamina.Model tm = teacher == null ? null : dev.lamina.Lamina.load(teacher, kernels);
            if (model.preset != null) {
                Presets.Preset p = Presets.get(model.preset);
                mc = p.config().apply(tm != null ? Math.max(v, tm.decoder().config().vocabSize()) : v);   // a student speaks the teacher's vocabulary
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
                    .checkpointEvery(checkpointEvery == null ? 0 : checkpointEvery)
                    .precision(storage == null ? dev.lamina.tensor.Precision.FP32 : storage).build();
            if (tm != null) dist = new Teacher(teacher, tm.decoder().parameterCount(), dev.lamina.train.Distillation.of(tm.decoder(), tm.tokenizer(),
                    d.tokenizer(), mc.vocabSize(), alpha != null ? alpha : 0.5, temperature != null ? temperature : 2.0));
            guard(mc, tc, dist);
            Decoder m = initial != null ? initial : Decoder.create(mc, seed, kernels);
            System.err.printf("model: %s, %,d parameters; data: %s (%,d train / %,d val tokens, %s)%n",
                    model.preset != null ? model.preset : model.init != null ? "weights of " + model.init : model.config,
                    m.parameterCount(), data, d.train().size(), d.val().size(), d.tokenizer().describe());
            trainer = Trainer.start(m, d, data.toString(), tc, out);
        }
        Path weightsFrom = model.resume != null ? model.resume : model.init;      // a sparse model's zeros stay zeros (lamina prune --sparsity)
        var mask = weightsFrom == null ? null : dev.lamina.train.SparsityMask.read(weightsFrom, trainer.model());
        if (mask != null) {
            trainer.masked(mask);
            System.err.printf("holding %,d pruned weights at zero (%s, from %s)%n", mask.count(), mask.describe(), weightsFrom);
        }
        if (dist != null && cacheTeacher != null) dist = cacheTeacher(trainer, dist, cacheTeacher);
        if (dist != null) {
            trainer.distilling(dist.distillation());
            var j = dev.lamina.io.Json.MAPPER.createObjectNode().put("teacher", dist.path().toAbsolutePath().toString())
                    .put("alpha", dist.distillation().alpha()).put("temperature", dist.distillation().tau());
            if (dist.cached() > 0) j.put("cache_teacher", dist.cached());
            dev.lamina.io.AtomicFiles.writeString(trainer.run().resolve(DISTILL_FILE), j.toPrettyString());
            System.err.printf(java.util.Locale.ROOT, "distilling from %s (%s): loss = %.2f·%.2f²·KL + %.2f·CE%n", dist.path(),
                    dist.cached() > 0 ? "its top " + dist.cached() + " logits, cached" : String.format(java.util.Locale.ROOT, "%,d parameters", dist.parameters()),
                    dist.distillation().alpha(), dist.distillation().tau(), 1 - dist.distillation().alpha());
        }
        if (layerGrads != null) dev.lamina.research.LayerGradLog.attach(trainer, layerGrads);
        if (!evalTasks.isEmpty()) {
            List<Task> tasks = new ArrayList<>();
            for (String t : evalTasks) tasks.addAll(Task.load(t));
            trainer.withEvalTasks(tasks);
        }
        if (plan != null) System.err.println(plan);
        try (dev.lamina.dist.Ring ring = joinRing(addresses)) {
            trainer.distributed(ring, shardOptimizer, bucketMb > 0 ? (int) Math.max(1, Math.round(bucketMb * (1 << 20) / 4)) : 0);
            if (ring.size() > 1) System.err.printf("data-parallel: worker %d of %d, %d micro-batch(es) of every step's %d; AdamW moments here: %.1f MB%s; "
                            + "gradients summed %s%n",
                    ring.rank(), ring.size(), trainer.config().accum() / ring.size(), trainer.config().accum(),
                    2.0 * 4 * trainer.optimizer().m().length / 1e6, shardOptimizer ? " (sharded, ZeRO-1)" : "",
                    (bucketMb > 0 ? "in " + bucketMb + " MB buckets during backward" : "whole after backward")
                            + (shardOptimizer ? ", each worker's slice only (reduce-scatter)" : ""));
            run(trainer);
        }
        return 0;
    }

    /** The addresses of --peers, checked (null without --peers), and --rank and --shard-optimizer against them: before anything is written. */
    private List<java.net.InetSocketAddress> peerAddresses() {
        if (peers == null || peers.isEmpty()) {
            if (rank != 0) throw new LaminaException("--rank needs --peers (every worker's HOST:PORT, in rank order)");
            if (shardOptimizer) throw new LaminaException("--shard-optimizer shards over data-parallel workers: give --peers");
            return null;
        }
        List<java.net.InetSocketAddress> addresses = new ArrayList<>();
        for (String p : peers) {
            int colon = p.lastIndexOf(':');
            int port;
            try {
                port = colon < 1 ? -1 : Integer.parseInt(p.substring(colon + 1).trim());
            } catch (NumberFormatException e) {
                port = -1;
            }
            if (port < 1 || port > 65535) throw new LaminaException("--peers: '" + p + "' is not HOST:PORT");
            addresses.add(java.net.InetSocketAddress.createUnresolved(p.substring(0, colon).trim(), port));
        }
        if (rank < 0 || rank >= addresses.size()) throw new LaminaException("--rank must be in [0, " + addresses.size() + "), got " + rank);
        return addresses;
    }

    /** The ring of the checked --peers addresses, joined; a ring of one without them. */
    private dev.lamina.dist.Ring joinRing(List<java.net.InetSocketAddress> addresses) {
        if (addresses == null) return dev.lamina.dist.Ring.single();
        List<java.net.InetSocketAddress> resolved = addresses.stream().map(a -> new java.net.InetSocketAddress(a.getHostString(), a.getPort())).toList();
        System.err.printf("data-parallel: joining the ring as worker %d of %d (listening on port %d)%n", rank, resolved.size(), resolved.get(rank).getPort());
        return dev.lamina.dist.Ring.join(rank, resolved, java.time.Duration.ofSeconds(ringTimeout));
    }

    /** A teacher, where it was loaded from, its size (for the log line) and its top-K cached (0: live). */
    private record Teacher(Path path, long parameters, dev.lamina.train.Distillation distillation, int cached) {
        Teacher(Path path, long parameters, dev.lamina.train.Distillation distillation) { this(path, parameters, distillation, 0); }
    }

    /** Runs the teacher over every batch of the run once (a progress bar), keeps its top K, and distills from the cache. */
    private static Teacher cacheTeacher(Trainer trainer, Teacher live, int k) {
        TrainConfig c = trainer.config();
        long batches = (long) c.steps() * c.accum();
        Path file = trainer.run().resolve(TEACHER_CACHE);
        var d = live.distillation();
        long t0 = System.nanoTime();
        try (ConsoleProgress bar = new ConsoleProgress("teacher", batches, System.err)) {
            dev.lamina.train.TeacherCache.write(file, d::logits, d.teacher().config().vocabSize(), d.tau(), trainer.dataset().train(), c, k,
                    batches, b -> bar.update(b, "top " + k + " logits a position"));
        }
        System.err.printf(java.util.Locale.ROOT, "cached the teacher's top %d over %,d batches in %.1f s: %s (%.1f MB)%n", k, batches,
                (System.nanoTime() - t0) / 1e9, file, file.toFile().length() / 1e6);
        var cache = dev.lamina.train.TeacherCache.open(file);
        return new Teacher(live.path(), live.parameters(),
                dev.lamina.train.Distillation.cached(cache, trainer.model().config().vocabSize(), d.alpha(), d.tau()), k);
    }

    /** On --resume: --teacher if given, else the teacher (and weights) the run's distill.json recorded; null for a plain run. */
    private Teacher teacherOnResume(Path run, Dataset d, int vocab, KernelSet kernels) {
        Path saved = run.resolve(DISTILL_FILE), from = teacher;
        double a = alpha != null ? alpha : 0.5, t = temperature != null ? temperature : 2.0;
        if (from == null && java.nio.file.Files.isRegularFile(saved)) {
            tools.jackson.databind.JsonNode j;
            try {
                j = dev.lamina.io.Json.MAPPER.readTree(java.nio.file.Files.readString(saved));
            } catch (java.io.IOException | RuntimeException e) {
                throw new LaminaException(saved + ": cannot read the run's teacher (" + e.getMessage() + ")");
            }
            from = Path.of(j.path("teacher").asString());
            if (alpha == null) a = j.path("alpha").asDouble(0.5);
            if (temperature == null) t = j.path("temperature").asDouble(2.0);
        }
        if (from == null) {
            if (distills()) throw new LaminaException(run + " was not distilled (no " + DISTILL_FILE + "); give --teacher");
            if (alpha != null || temperature != null) throw new LaminaException("--alpha and --temperature weigh a teacher's term; give --teacher");
            return null;
        }
        if (teacher == null && java.nio.file.Files.isRegularFile(run.resolve(TEACHER_CACHE))) {   // made with --cache-teacher: no teacher to load
            var cache = dev.lamina.train.TeacherCache.open(run.resolve(TEACHER_CACHE));
            return new Teacher(from, 0, dev.lamina.train.Distillation.cached(cache, vocab, a, t), cache.k());
        }
        dev.lamina.Lamina.Model m = dev.lamina.Lamina.load(from, kernels);
        return new Teacher(from, m.decoder().parameterCount(), dev.lamina.train.Distillation.of(m.decoder(), m.tokenizer(), d.tokenizer(), vocab, a, t));
    }

    /** The memory plan's line, printed as training starts; refuses (unless --force) a run that exceeds the heap or the machine. */
    private String plan;

    private void guard(ModelConfig mc, TrainConfig tc, Teacher dist) {
        var plan = dev.lamina.plan.MemoryPlan.plan(dev.lamina.plan.MemoryPlan.Request.lamina(mc, dev.lamina.plan.MemoryPlan.Task.TRAIN,
                dev.lamina.plan.MemoryPlan.Precision.valueOf(tc.precision().name()), tc.batch(), tc.seq(), tc.accum(), tc.checkpointEvery(), 0, java.util.Set.of()));
        if (dist != null && dist.distillation().teacher() != null) {   // a live teacher: its weights, its forward's buffers (kept by its tape), its logits [n, V]
            var t = dev.lamina.plan.MemoryPlan.plan(dev.lamina.plan.MemoryPlan.Request.lamina(dist.distillation().teacher().config(),
                    dev.lamina.plan.MemoryPlan.Task.TRAIN, tc.batch(), tc.seq(), 1, 0, 0, java.util.Set.of()));
            long logits = 4L * tc.batch() * tc.seq() * mc.vocabSize();
            plan = plan.adding(new dev.lamina.plan.MemoryPlan.Item(dev.lamina.plan.MemoryPlan.WEIGHTS, t.bytes(dev.lamina.plan.MemoryPlan.WEIGHTS), "the teacher's"))
                    .adding(new dev.lamina.plan.MemoryPlan.Item(dev.lamina.plan.MemoryPlan.ACTIVATIONS, t.bytes(dev.lamina.plan.MemoryPlan.ACTIVATIONS) + logits,
                            "the teacher's forward and its logits"));
        }
        this.plan = PlanMemoryCommand.guard(dist != null ? "distillation" : "training", plan, force);
    }

    /** Runs the loop with a progress bar (or log lines) and prints evaluations; returns the last val loss. */
    static double run(Trainer trainer) {
        double[] lastVal = {Double.NaN};
        TrainConfig c = trainer.config();
        KernelSet k = trainer.model().kernels();
        trainer.withMeasuredPeak(k.parallel());     // measured at the start (again if a step beats it), for the MFU column
        System.err.printf("training %d steps of %d x %d tokens on %d threads (kernels: %s)%s%n", c.steps(), c.batch(), c.seq(),
                k.threads(), k.name(), (c.checkpointEvery() > 0 ? ", activation checkpointing every " + c.checkpointEvery() + " layer(s)" : "")
                + (c.precision() != dev.lamina.tensor.Precision.FP32 ? ", " + c.precision().label() + " storage (float32 master weights"
                + (c.precision() == dev.lamina.tensor.Precision.FP16 ? ", dynamic loss scaling)" : ")") : ""));
        try (ConsoleProgress bar = new ConsoleProgress("train", c.steps(), System.err)) {
            trainer.train(c.steps(), p -> {
                var scaler = trainer.lossScaler();
                bar.update(p.step(), String.format("loss %.3f lr %.2e | %.0f tok/s | MFU %.1f%%%s", p.loss(), p.lr(),
                        p.tokensPerSec(), 100 * p.mfu(), scaler != null ? String.format(" | loss scale %.0f", scaler.scale()) : ""));
                if (trainer.skippedLast())
                    bar.println(String.format("step %d: fp16 gradients overflowed; step skipped, loss scale halved to %.0f", p.step(), scaler.scale()));
                if (!Double.isNaN(p.valLoss())) lastVal[0] = p.valLoss();
                if (!Double.isNaN(p.valLoss())) {
                    StringBuilder tasks = new StringBuilder();
                    p.tasks().forEach((name, value) -> tasks.append(String.format(", %s %.4f", name, value)));
                    bar.println(String.format("step %d: train loss %.4f, val loss %.4f, val perplexity %.2f, grad norm %.3f%s",
                            p.step(), p.loss(), p.valLoss(), Math.exp(p.valLoss()), p.gradNorm(), tasks));
                }
            });
        }
        if (!trainer.writes()) return lastVal[0];          // rank 0 of a data-parallel run saves and draws
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
