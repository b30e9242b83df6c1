package dev.lamina.train;

import dev.lamina.autograd.Tape;
import dev.lamina.data.Dataset;
import dev.lamina.data.TokenFile;
import dev.lamina.eval.Task;
import dev.lamina.eval.TaskEval;
import dev.lamina.infer.PreparedModel;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.kernels.FmaPeak;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.TapeExecutor;
import dev.lamina.tensor.Parallel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The training loop: lr(step), forward, backward, clip, AdamW, log; every evalEvery steps a
 * validation loss on a fixed sample and a checkpoint into the run directory. Deterministic for a
 * given seed and thread count, and resumable so the loss sequence is bitwise the same.
 */
public final class Trainer {
    /**
     * What one step reports. valLoss is NaN on steps without an evaluation; tasks holds the
     * evaluation tasks' metrics by "task/metric" (empty without tasks or evaluation).
     */
    public record Progress(int step, int steps, float loss, double lr, double gradNorm, double tokensPerSec, double mfu,
                           double valLoss, Map<String, Double> tasks) {}

    private final Decoder model;
    private final Dataset data;
    private final String dataName;
    private TrainConfig cfg;
    private final Path run;
    private AdamW opt;                                      // one worker's shard of it with a sharded optimizer
    private final Batcher batcher;
    private final Tape tape;
    private final TapeExecutor executor;
    private final int[] ids, targets;
    private double peakFlops = Double.NaN;
    private Parallel peakPool;
    private int step;
    private GradientHook gradientHook;
    private SparsityMask mask;
    private List<Task> evalTasks = List.of();
    private dev.lamina.dist.Ring ring = dev.lamina.dist.Ring.single();
    private int[] shards;                                  // with a sharded optimizer (ZeRO-1): rank r updates [shards[r], shards[r+1])
    private double allReduceMillis, allReduceWaitMillis;   // the last step's all-reduce (in the ring), and the wait for it after backward
    private GradientBuckets buckets;                       // data-parallel: the all-reduce overlapped with backward (null: after it, whole)
    private dev.lamina.tensor.Tensor accumulated;         // data-parallel: the step's gradient while micro-batches add up, when there are several
    private StepGradients store;                           // one worker: the step's gradient in 16 bits, or summed region by region (null: in place)
    private boolean inPlace;                               // tests: the store never used
    private final boolean sixteenBit;                      // 16-bit training: the params are float32 master weights, which the tape reads rounded
    private LossScaler scaler;                             // fp16: the dynamic loss scale; else null
    private boolean skipped;                               // fp16: the last step's gradients overflowed and it was skipped

    /** Whether this trainer writes the run's files (one worker, or rank 0 of several). */
    public boolean writes() { return ring.rank() == 0; }

    /**
     * Trains as one of ring.size() data-parallel workers: each step's accum micro-batches are split
     * in equal shares in order (this worker takes share ring.rank()), every worker draws the same
     * windows and reads only its own, and the gradients and the loss are summed in rank order before
     * the update, so every replica stays identical and, with one micro-batch per worker, each step
     * is bit for bit one worker's step with the same accum. Only rank 0 writes checkpoints and logs.
     */
    public Trainer distributed(dev.lamina.dist.Ring ring) { return distributed(ring, false); }

    /** Default floats per all-reduce bucket: 1M (4 MB), enough that a message's latency is small beside its bytes. */
    public static final int BUCKET_FLOATS = 1 << 20;

    /** As {@link #distributed(dev.lamina.dist.Ring, boolean, int)} with buckets of {@link #BUCKET_FLOATS}. */
    public Trainer distributed(dev.lamina.dist.Ring ring, boolean shardOptimizer) { return distributed(ring, shardOptimizer, BUCKET_FLOATS); }

    /**
     * As {@link #distributed(dev.lamina.dist.Ring)}; shardOptimizer (ZeRO-1): each worker keeps the AdamW
     * moments of its 1/N of the parameters, receives the summed gradient of that slice only
     * (reduce-scatter), clips and updates it, then the workers exchange their updated slices. The
     * moments' memory falls N-fold; the steps are the same to the bit, since every element is still
     * summed in rank order, the clipping norm is summed block by block as one worker sums it
     * ({@link #clipShard}), and the update is elementwise.
     *
     * <p>The gradient is summed in buckets of at least bucketFloats while backward runs: each layer's as
     * soon as backward has passed it ({@link GradientBuckets}); 0 sums it whole after backward. The
     * bucket size changes the time the workers wait, never the result.
     */
    public Trainer distributed(dev.lamina.dist.Ring ring, boolean shardOptimizer, int bucketFloats) {
        if (bucketFloats < 0) throw new IllegalArgumentException("bucket floats must be >= 0, got " + bucketFloats);
        if (ring.size() > 1) {
            if (cfg.accum() % ring.size() != 0)
                throw LaminaException.field("accum", "accum " + cfg.accum() + " must be a multiple of the " + ring.size()
                        + " workers: each takes accum / workers micro-batches of every step");
            if (distillation != null) throw new LaminaException("distillation does not run data-parallel yet; train with one worker");
            if (model.config().numExperts() > 0) throw new LaminaException("a mixture of experts does not run data-parallel yet; train with one worker");
        }
        if (ring.size() > 1) agree(ring);
        this.ring = ring;
        if (buckets != null) buckets.close();
        buckets = ring.size() > 1 && bucketFloats > 0 ? GradientBuckets.of(model.params(), model.config().numHiddenLayers(), ring, bucketFloats, cfg.precision()) : null;
        if (shardOptimizer && ring.size() > 1) {
            shards = ring.shards(model.params().count(), dev.lamina.kernels.KernelSet.SQUARES_BLOCK);   // whole blocks of the norm's sum
            int lo = shards[ring.rank()], hi = shards[ring.rank() + 1];
            AdamW mine = new AdamW(model.params(), model.kernels(), lo, hi);
            System.arraycopy(opt.m(), lo, mine.m(), 0, hi - lo);          // a resumed run's moments, or zeros
            System.arraycopy(opt.v(), lo, mine.v(), 0, hi - lo);
            mine.setStepsTaken(opt.stepsTaken());
            opt = mine;
        }
        return this;
    }

    /** The optimizer (with a sharded one, this worker's shard). */
    public AdamW optimizer() { return opt; }

    /** Sees each step's gradients (after accumulation, before clipping); step is 1-based. */
    @FunctionalInterface
    public interface GradientHook { void accept(int step, dev.lamina.model.Parameters params); }

    private Trainer(Decoder model, Dataset data, String dataName, TrainConfig cfg, Path run, int step, long rngState) {
        if (data.tokenizer().vocabSize() > model.config().vocabSize())
            throw new LaminaException("the data's tokenizer has " + data.tokenizer().vocabSize() + " tokens but the model's vocab_size is "
                    + model.config().vocabSize() + "; set vocab_size >= " + data.tokenizer().vocabSize());
        int context = Math.min(model.config().maxPositionEmbeddings(), model.config().contextLimit());
        if (cfg.seq() > context)
            throw LaminaException.field("seq", "seq " + cfg.seq() + " exceeds the model's " + (context < model.config().maxPositionEmbeddings()
                    ? "context of " + context + " (its RoPE scaling's original_max_position_embeddings)" : "max_position_embeddings " + context));
        this.model = model;
        this.data = data;
        this.dataName = dataName;
        this.cfg = cfg;
        this.run = run;
        this.sixteenBit = cfg.precision() != dev.lamina.tensor.Precision.FP32;   // the params are the float32 master weights; the tape reads them rounded
        this.scaler = cfg.precision() == dev.lamina.tensor.Precision.FP16 ? LossScaler.initial() : null;
        this.opt = new AdamW(model.params(), model.kernels());
        this.batcher = new Batcher(data.train(), cfg.batch(), cfg.seq(), cfg.seed());
        if (rngState != Long.MIN_VALUE) batcher.rng().setState(rngState);
        this.ids = new int[cfg.batch() * cfg.seq()];
        this.targets = new int[cfg.batch() * cfg.seq()];
        this.tape = Tape.training(model.kernels()).checkpointEvery(cfg.checkpointEvery()).precision(cfg.precision()).masterWeights(sixteenBit);
        if (scaler != null) tape.lossScale(scaler.scale());
        this.executor = new TapeExecutor(model, tape, ids, cfg.batch(), cfg.seq());
        this.step = step;
    }

    /** A new run: writes the model config and the tokenizer into run right away. */
    public static Trainer start(Decoder model, Dataset data, String dataName, TrainConfig cfg, Path run) {
        try {
            Files.createDirectories(run);
        } catch (IOException e) {
            throw new LaminaException(run + ": cannot create the run directory (" + e.getMessage() + ")");
        }
        data.tokenizer().save(run.resolve(Checkpoint.TOKENIZER));
        try {
            Files.deleteIfExists(run.resolve(Checkpoint.METRICS));
        } catch (IOException e) {
            throw new LaminaException(run + ": cannot reset metrics (" + e.getMessage() + ")");
        }
        return new Trainer(model, data, dataName, cfg, run, 0, Long.MIN_VALUE);
    }

    /** Continues a run from its last checkpoint; steps (if > 0) replaces the total step count. */
    public static Trainer resume(Path run, Dataset data, String dataName, int steps) {
        return resume(run, data, dataName, steps, dev.lamina.kernels.Kernels.defaults());
    }

    /** As above, computing with kernels (the thread count is part of what makes a resume bitwise). */
    public static Trainer resume(Path run, Dataset data, String dataName, int steps, dev.lamina.kernels.KernelSet kernels) {
        if (!Checkpoint.hasTrainingState(run))
            throw new LaminaException(run + ": no training state (state.json) to resume from; start a run with `lamina train`");
        Checkpoint.State st = Checkpoint.readState(run);
        int modelStep = Checkpoint.modelStep(run);
        if (modelStep != st.step())
            throw new LaminaException(run + ": model.safetensors is from step " + modelStep + " but state.json from step "
                    + st.step() + " (an interrupted save); the run cannot be resumed exactly");
        Decoder model = Checkpoint.loadModel(run).withKernels(kernels);
        TrainConfig cfg = steps > 0 ? st.train().withSteps(steps) : st.train();
        Trainer t = new Trainer(model, data, dataName, cfg, run, st.step(), st.rngState());
        Checkpoint.loadOptimizer(run, t.opt, model.params(), st.step());
        if (t.scaler != null && st.scaler() != null) t.lossScaler(st.scaler());
        t.truncateMetrics();
        return t;
    }

    public int step() { return step; }

    /**
     * Holds the mask's weights at zero from now on (a sparse model's pruned weights); recorded in the
     * run's {@value SparsityMask#FILE}. In 16-bit training the mask holds the master weights at zero,
     * so their rounded copies are zero too.
     */
    public Trainer masked(SparsityMask mask) {
        this.mask = mask;
        mask.write(run);
        return this;
    }

    /** The sparsity mask held, or null. */
    public SparsityMask mask() { return mask; }

    /** Bytes of the training tape's activations and activation gradients (the live set beyond parameters, gradients and moments). */
    public long activationBytes() { return tape.bytes(); }
    public Decoder model() { return model; }

    /** The data the run trains on (its tokenizer is the model's). */
    public Dataset dataset() { return data; }
    public TrainConfig config() { return cfg; }

    /** Activation checkpointing every n layers from now on (0: off); a resumed run may change it, as it changes no number. */
    public Trainer checkpointEvery(int n) {
        cfg = cfg.withCheckpointEvery(n);
        tape.checkpointEvery(n);
        return this;
    }
    public Path run() { return run; }

    /**
     * Measures the machine's peak FLOP/s over the pool's threads for the MFU figure of each step
     * ({@link FmaPeak}); without it, MFU is NaN and left out of the metrics. A step that runs faster
     * than the peak shows the peak was measured under other load: it is measured again then.
     */
    public Trainer withMeasuredPeak(Parallel pool) {
        this.peakPool = pool;
        this.peakFlops = FmaPeak.flopsPerSecond(pool);
        return this;
    }

    /** Tasks scored (zero-shot) at every evaluation; their metrics go beside the loss as "task/metric". */
    public Trainer withEvalTasks(List<Task> tasks) { this.evalTasks = List.copyOf(tasks); return this; }

    private Distillation distillation;
    private double stepKl, stepCe;

    /** Trains against a teacher from now on: the loss becomes α·τ²·KL + (1−α)·CE; metrics.jsonl adds "kl" and "ce". */
    public Trainer distilling(Distillation d) {
        if (d != null && d.teacher() != null && d.teacher().config().maxPositionEmbeddings() < cfg.seq())
            throw LaminaException.field("seq", "seq " + cfg.seq() + " exceeds the teacher's max_position_embeddings " + d.teacher().config().maxPositionEmbeddings());
        this.distillation = d;
        return this;
    }

    /** Installs a gradient hook (e.g. per-layer gradient norms for depth studies); null removes it. */
    public Trainer onGradients(GradientHook hook) { this.gradientHook = hook; return this; }

    /**
     * Checks that every worker holds the same run: model configuration, training options, step, data
     * sizes and initial weights. Each worker sends its description to all, so all of them fail with
     * the same one-line error, naming the first thing that differs, before any step is taken.
     */
    private void agree(dev.lamina.dist.Ring ring) {
        List<String> mine = description();
        byte[][] all = ring.allGatherBytes(String.join("\n", mine).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        List<String> first = List.of(new String(all[0], java.nio.charset.StandardCharsets.UTF_8).split("\n"));
        for (int r = 1; r < all.length; r++) {
            List<String> other = List.of(new String(all[r], java.nio.charset.StandardCharsets.UTF_8).split("\n"));
            if (other.equals(first)) continue;
            int i = 0;
            while (i < Math.min(first.size(), other.size()) && first.get(i).equals(other.get(i))) i++;
            String a = i < first.size() ? first.get(i) : "(nothing)", b = i < other.size() ? other.get(i) : "(nothing)";
            throw new LaminaException("the workers disagree: rank 0 has " + a + ", rank " + r + " has " + b
                    + "; every worker needs the same model, data and training options");
        }
    }

    /** This worker's run as key=value lines, for {@link #agree}. */
    private List<String> description() {
        List<String> d = new ArrayList<>();
        var cfgJson = model.config().toJson();
        for (String k : cfgJson.propertyNames()) d.add("model." + k + "=" + cfgJson.get(k));
        for (var c : TrainConfig.class.getRecordComponents()) {
            if (c.getName().equals("checkpointEvery")) continue;             // memory and time, never the numbers
            try {
                d.add("option " + c.getName() + "=" + c.getAccessor().invoke(cfg));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        d.add("step=" + step);
        d.add("train tokens=" + data.train().size());
        d.add("validation tokens=" + data.val().size());
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1 << 16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        float[] w = model.params().data();
        for (int i = 0; i < w.length; i += 1 << 14) {
            b.clear();
            b.asFloatBuffer().put(w, i, Math.min(1 << 14, w.length - i));
            crc.update(b.array(), 0, 4 * Math.min(1 << 14, w.length - i));
        }
        d.add("weights crc32c=" + Long.toHexString(crc.getValue()));
        return d;
    }

    /**
     * {@link AdamW#clip} when each worker holds the summed gradient of its own slice only: the slices
     * are whole blocks of {@link dev.lamina.kernels.KernelSet#squaresByBlock}, every worker sends its
     * blocks' sums of squares to all, and all add them in block order, which is how sumOfSquares adds
     * the whole gradient's: the same norm to the bit, and the same factor on each slice.
     */
    private double clipShard() {
        int lo = shards[ring.rank()], hi = shards[ring.rank() + 1], block = dev.lamina.kernels.KernelSet.SQUARES_BLOCK;
        dev.lamina.tensor.Tensor mine = new dev.lamina.tensor.Tensor(model.params().gradData(), lo, new int[]{hi - lo});
        double[] sums = new double[(hi - lo + block - 1) / block];
        if (hi > lo) model.kernels().squaresByBlock(mine, sums);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 * sums.length);
        b.asDoubleBuffer().put(sums);
        double s = 0;
        for (byte[] theirs : ring.allGatherBytes(b.array()))          // rank order is block order
            for (int i = 0; i < theirs.length; i += 8) s += java.nio.ByteBuffer.wrap(theirs, i, 8).getDouble();
        double norm = Math.sqrt(s);
        if (cfg.clip() > 0 && norm > cfg.clip() && hi > lo) model.kernels().scale(mine, (float) (cfg.clip() / (norm + 1e-6)));
        return norm;
    }

    /**
     * Where this worker's step gradient lives: one worker keeps a 16-bit run's single micro-batch in 16
     * bits (the store's HALF mode; not with a gradient hook, which reads float32) and sums several
     * micro-batches region by region into the flat gradient (SUM); null writes it in place (float32
     * with one micro-batch; data-parallel workers, whose buckets round and sum it themselves).
     */
    private StepGradients stepGradients() {
        StepGradients.Mode want = StepGradients.mode(cfg.precision(), cfg.accum());
        if (want == null || inPlace || ring.size() > 1 || want == StepGradients.Mode.HALF && gradientHook != null) return null;
        if (store == null || store.mode() != want)
            store = StepGradients.of(model.params(), model.kernels(), model.config().numHiddenLayers(), cfg.precision(), cfg.accum());
        return store;
    }

    /** Backward writes every micro-batch's gradient into the flat buffer in place, as data-parallel workers do (tests hold the store to this). */
    Trainer inPlaceGradients() { inPlace = true; store = null; return this; }

    /** Bytes of the step gradient's store beyond the flat gradient (the 16-bit gradient and the working buffers); 0 when there is none. */
    public long stepGradientBytes() { return store == null ? 0 : store.bytes(); }

    /** Trains until step == untilStep (at most cfg.steps()); returns the losses of the steps taken. */
    public List<Float> train(int untilStep, Consumer<Progress> onStep) {
        int end = Math.min(untilStep, cfg.steps());
        List<Float> losses = new ArrayList<>();
        double flopsPerStep = flopsPerToken(model, cfg.seq()) * cfg.batch() * cfg.seq() * cfg.accum();
        while (step < end) {
            long t0 = System.nanoTime();
            double lr = cfg.lrAt(step);
            StepGradients byRegion = stepGradients(), half = byRegion != null && byRegion.mode() == StepGradients.Mode.HALF ? byRegion : null;
            if (byRegion == null) model.params().zeroGrad();     // (by region: each region's gradient starts from zero when lent)
            float loss = 0;
            stepKl = stepCe = 0;
            moe = executor.routerLosses() == null ? null : new MoeStep();
            int share = cfg.accum() / ring.size(), first = ring.rank() * share;
            boolean scatter = shards != null && gradientHook == null;   // (a gradient hook sees the whole gradient: all-reduce it)
            for (int micro = 0; micro < cfg.accum(); micro++) {
                if (micro < first || micro >= first + share) {   // another worker's micro-batch
                    batcher.skip();
                    continue;
                }
                if (micro > first && byRegion == null) model.params().zeroGrad();    // each micro-batch's gradient from zero, then added: ((g0 + g1) + g2) ...
                boolean overlap = buckets != null && micro == first + share - 1;   // this worker's last: sum buckets as backward frees them
                if (share > 1 && byRegion == null && accumulated == null) accumulated = dev.lamina.tensor.Tensor.zeros(model.params().flatGrad().size());
                batcher.next(ids, targets);
                tape.reset();
                if (byRegion != null) byRegion.begin(tape, micro == first);   // from the forward on: the fused head adds its weight's gradient as it goes
                boolean ran = false;
                try {
                    if (distillation == null) loss += model.loss(executor, targets) / cfg.accum();
                    else {
                        var soft = distillation.targets(ids, cfg.batch(), cfg.seq(), (long) step * cfg.accum() + micro);
                        var d = model.distillLoss(executor, targets, soft, distillation.alpha(), distillation.tau());
                        loss += d.loss() / cfg.accum();
                        stepKl += d.kl() / cfg.accum();
                        stepCe += d.ce() / cfg.accum();
                    }
                    if (overlap) {
                        buckets.begin(share > 1 ? accumulated.data() : null, scatter ? shards : null);
                        tape.onLayerDone(buckets::layerDone);
                    }
                    tape.backward();
                    ran = true;
                } finally {
                    if (overlap) tape.onLayerDone(null);
                    if (byRegion != null && ran) byRegion.end(tape);        // rounded to 16 bits and stored, or added in, region by region
                    else if (byRegion != null) byRegion.abandon(tape);
                }
                if (moe != null) moe.add(executor.routerLosses(), cfg.accum());
                if (byRegion != null) continue;
                if (sixteenBit && !overlap) model.kernels().round(model.params().flatGrad(), cfg.precision());   // the gradient as 16 bits store it (the buckets round their own)
                if (overlap) continue;                            // the buckets add it to the earlier micro-batches
                if (share > 1) {
                    if (micro == first) accumulated.copyFrom(model.params().flatGrad());
                    else model.kernels().accumulate(accumulated, model.params().flatGrad());
                }
            }
            if (share > 1 && buckets == null && byRegion == null) model.params().flatGrad().copyFrom(accumulated);
            if (ring.size() > 1) {                                // the workers' sums, added in rank order
                long r0 = System.nanoTime();
                if (buckets != null) {
                    buckets.finish();
                    allReduceWaitMillis = buckets.waitMillis();
                } else if (scatter) {                             // ZeRO-1: each worker needs its own slice's sum only
                    ring.reduceScatterSum(model.params().gradData(), shards);
                } else {
                    dev.lamina.tensor.Tensor g = model.params().flatGrad();
                    ring.allReduceSum(g.data(), g.offset(), g.size());
                }
                float[] l = {loss};
                ring.allReduceSum(l, 0, 1);
                loss = l[0];
                allReduceMillis = buckets != null ? buckets.ringMillis() : (System.nanoTime() - r0) / 1e6;
                if (buckets == null) allReduceWaitMillis = allReduceMillis;
            }
            if (scaler != null && half != null) half.scale(1f / scaler.scale());
            else if (scaler != null) model.kernels().scale(model.params().flatGrad(), 1f / scaler.scale());   // exact: a power of two; after the buckets are summed
            if (cfg.accum() > 1)
                model.kernels().scale(model.params().flatGrad(), 1f / cfg.accum());
            if (!Float.isFinite(loss))
                throw new LaminaException("loss became " + loss + " at step " + (step + 1) + "; lower the learning rate or lengthen the warm-up");
            if (mask != null && half != null) half.zero(mask.zeros());
            else if (mask != null) mask.maskGradients(model.params());
            if (gradientHook != null) gradientHook.accept(step + 1, model.params());
            double norm = scatter ? clipShard() : opt.clip(cfg.clip(), half);
            skipped = scaler != null && !Double.isFinite(norm);   // fp16 overflowed: no update, a smaller scale
            if (scaler != null) {
                scaler = scaler.after(!skipped);
                tape.lossScale(scaler.scale());
            }
            if (!skipped) opt.step(lr, cfg, half);
            if (shards != null) ring.allGather(model.params().data(), shards);     // every worker's updated slice to all
            if (mask != null) mask.maskWeights(model.params());
            step++;
            losses.add(loss);
            double seconds = (System.nanoTime() - t0) / 1e9;
            double valLoss = Double.NaN;
            boolean evalNow = step == cfg.steps() || (cfg.evalEvery() > 0 && step % cfg.evalEvery() == 0);
            Map<String, Double> tasks = Map.of();
            if (evalNow) {
                valLoss = evaluate();
                tasks = evaluateTasks();
            }
            double tps = cfg.batch() * cfg.seq() * cfg.accum() / seconds;
            if (peakPool != null && flopsPerStep / ring.size() / seconds > peakFlops) peakFlops = FmaPeak.remeasure(peakPool);
            // tokens per second are the whole step's (every worker's); MFU is per worker, against this worker's measured peak
            Progress p = new Progress(step, cfg.steps(), loss, lr, norm, tps, flopsPerStep / ring.size() / seconds / peakFlops, valLoss, tasks);
            log(p);
            if (evalNow) save();
            if (onStep != null) onStep.accept(p);
        }
        return losses;
    }

    /** Whether the last step was skipped (fp16: its gradients overflowed). */
    public boolean skippedLast() { return skipped; }

    /** fp16's loss scaling now (null in other precisions). */
    public LossScaler lossScaler() { return scaler; }

    /** Replaces the loss scaling state (fp16 runs only): a test's or an experiment's starting scale and interval. */
    public Trainer lossScaler(LossScaler s) {
        if (scaler == null) throw new IllegalStateException("loss scaling is fp16's; this run is " + cfg.precision().label());
        scaler = s;
        tape.lossScale(s.scale());
        return this;
    }

    /** The float32 master weights of a 16-bit run (the model's own: its tape reads them rounded), or null at fp32. */
    public float[] masterWeights() { return sixteenBit ? model.params().data() : null; }

    /** Mean loss on the fixed validation sample (cfg.evalBatches() evenly spaced batches of val). */
    public double evaluate() { return evaluate(model, data.val(), cfg.batch(), cfg.seq(), cfg.evalBatches(), cfg.precision()); }

    public static double evaluate(Decoder model, TokenFile val, int B, int T, int batches) {
        return evaluate(model, val, B, T, batches, dev.lamina.tensor.Precision.FP32);
    }

    /** As above in precision, the model's weights its master weights (a 16-bit run evaluates as it trains). */
    public static double evaluate(Decoder model, TokenFile val, int B, int T, int batches, dev.lamina.tensor.Precision precision) {
        if (val.size() < T + 2)
            throw LaminaException.field("seq", "validation data has " + val.size() + " tokens, fewer than seq + 2; use a shorter sequence or more validation data");
        Tape tape = Tape.inference(model.kernels()).precision(precision).masterWeights(true);
        int[] ids = new int[B * T], tg = new int[B * T];
        double sum = 0;
        for (int k = 0; k < batches; k++) {
            Batcher.fixed(val, k, batches, B, T, ids, tg);
            tape.reset();
            sum += model.loss(tape, ids, tg, B, T);
        }
        return sum / batches;
    }

    /** The evaluation tasks' metrics on the current weights (prepared afresh: they change every step). */
    public Map<String, Double> evaluateTasks() {
        if (evalTasks.isEmpty()) return Map.of();
        TaskEval te = new TaskEval(PreparedModel.of(model), data.tokenizer());
        Map<String, Double> out = new LinkedHashMap<>();
        for (Task t : evalTasks)
            for (TaskEval.Metric m : te.run(t, 0, cfg.seed(), null).metrics()) out.put(t.name() + "/" + m.name(), m.value());
        return out;
    }

    /** Writes the model, optimizer and state for the current step. */
    public void save() {
        Checkpoint.State state = new Checkpoint.State(step, batcher.rng().state(), cfg, dataName, scaler);
        if (shards != null) {                               // the moments' slices gathered to rank 0, which writes them whole
            int n = model.params().count();
            float[] m = ring.rank() == 0 ? new float[n] : null, v = ring.rank() == 0 ? new float[n] : null;
            ring.gatherToFirst(opt.m(), m, shards);
            ring.gatherToFirst(opt.v(), v, shards);
            if (ring.rank() != 0) return;
            Checkpoint.saveModel(run, model, step);
            Checkpoint.saveTraining(run, m, v, opt.stepsTaken(), model.params(), state);
            return;
        }
        if (ring.rank() != 0) return;                       // data-parallel replicas are identical: rank 0 writes
        Checkpoint.saveModel(run, model, step);   // a 16-bit run's float32 master weights
        Checkpoint.saveTraining(run, opt, model.params(), state);
    }

    /** A sparse model's router figures over one step's micro-batches: the losses' means, the tokens dropped, the last load per layer. */
    private static final class MoeStep {
        double aux, z;
        long dropped, routed;
        dev.lamina.autograd.MoeOps.RouterLosses last;

        void add(dev.lamina.autograd.MoeOps.RouterLosses r, int micro) {
            aux += r.aux() / micro;
            z += r.z() / micro;
            dropped += r.dropped();
            routed += r.routed();
            last = r;
        }
    }

    private MoeStep moe;

    private void log(Progress p) {
        if (ring.rank() != 0) return;
        var o = Json.MAPPER.createObjectNode();
        o.put("step", p.step()).put("loss", p.loss()).put("lr", p.lr()).put("grad_norm", p.gradNorm())
                .put("tokens_per_s", p.tokensPerSec());
        if (ring.size() > 1) o.put("workers", ring.size()).put("allreduce_ms", allReduceMillis).put("allreduce_wait_ms", allReduceWaitMillis)
                .put("allreduce_buckets", buckets != null ? buckets.buckets() : 1);
        if (distillation != null) o.put("kl", stepKl).put("ce", stepCe);
        if (scaler != null) o.put("loss_scale", scaler.scale()).put("skipped", skipped).put("skipped_total", scaler.skipped());   // the loss is alpha·tau²·kl + (1 - alpha)·ce
        if (moe != null) {                     // the loss above includes the weighted router losses
            o.put("aux_loss", moe.aux).put("z_loss", moe.z).put("dropped", moe.dropped).put("routed", moe.routed);
            var load = o.putArray("expert_load");
            for (int l = 0; l < model.config().numHiddenLayers(); l++) {
                double[] share = moe.last.load(l);
                if (share == null) continue;
                var row = load.addArray();
                for (double v : share) row.add(Math.round(v * 1e4) / 1e4);
            }
        }
        if (Double.isFinite(p.mfu())) o.put("mfu", p.mfu());
        if (!Double.isNaN(p.valLoss())) o.put("val_loss", p.valLoss()).put("val_ppl", Math.exp(p.valLoss()));
        p.tasks().forEach(o::put);
        try {
            Files.writeString(run.resolve(Checkpoint.METRICS), Json.MAPPER.writeValueAsString(o).replace("\n", "").replaceAll(" +", "") + "\n",
                    StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new LaminaException(run.resolve(Checkpoint.METRICS) + ": cannot append (" + e.getMessage() + ")");
        }
    }

    /** Drops metric lines past the resumed step (they belong to the interrupted tail). */
    private void truncateMetrics() {
        Path f = run.resolve(Checkpoint.METRICS);
        if (!Files.exists(f)) return;
        try {
            StringBuilder keep = new StringBuilder();
            for (String line : Files.readAllLines(f)) {
                if (line.isBlank()) continue;
                if (Json.MAPPER.readTree(line).get("step").intValue() <= step) keep.append(line).append('\n');
            }
            dev.lamina.io.AtomicFiles.writeString(f, keep.toString());
        } catch (IOException | RuntimeException e) {
            throw new LaminaException(f + ": unreadable metrics (" + e.getMessage() + ")");
        }
    }

    /**
     * Model FLOPs per token (PaLM appendix B): 6·N for the matmul parameters (embedding lookups excluded,
     * a tied head included) plus 12·L·d·T for attention scores and values.
     */
    public static double flopsPerToken(Decoder model, int T) {
        ModelConfig c = model.config();
        long n = model.parameterCount() - (c.parameterCount() - c.activeParameterCount());   // a sparse model: the active experts'
        if (!c.tieWordEmbeddings()) n -= (long) c.vocabSize() * c.hiddenSize();
        if (c.position() == ModelConfig.Position.LEARNED) n -= (long) c.maxPositionEmbeddings() * c.hiddenSize();
        return 6.0 * n + 12.0 * c.numHiddenLayers() * c.hiddenSize() * T;
    }
}
