package dev.lamina.cli;

import dev.lamina.autograd.Profile;
import dev.lamina.autograd.Tape;
import dev.lamina.io.LaminaException;
import dev.lamina.kernels.FmaPeak;
import dev.lamina.model.Decoder;
import dev.lamina.model.Lora;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Parameters;
import dev.lamina.model.Presets;
import dev.lamina.model.TapeExecutor;
import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import dev.lamina.train.AdamW;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks.",
        subcommands = {BenchCommand.Train.class, BenchInferCommand.class, BenchMemoryCommand.class, BenchJsonCommand.class})
final class BenchCommand implements Runnable {
    @Override public void run() { new picocli.CommandLine(this).usage(System.out); }

    /** Vocabulary of each benchmark preset, as in the PyTorch peer script. */
    static final Map<String, Integer> VOCAB = Map.of("llama-s", 8192, "gpt2-s", 8192, "llama-m", 16384, "moe-s", 8192, "moe-s-dense", 8192);

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Time training steps on random token ids with exactly the configuration, batch, sequence length "
                    + "and optimizer of the PyTorch peer (AdamW lr 3e-4, weight decay 0.01, betas 0.9/0.999).")
    static final class Train implements Callable<Integer> {
        @Option(names = "--preset", required = true, description = "llama-s, gpt2-s, llama-m, moe-s (llama-s with 8 experts, top 2) or moe-s-dense (its dense twin of the same active size).") String preset;
        @Option(names = "--steps", defaultValue = "10", description = "Timed steps after 2 warm-up steps (default ${DEFAULT-VALUE}).") int steps;
        @Option(names = "--threads", description = "Worker threads (default: all cores).") Integer threads;
        @Option(names = "--profile", description = "Print time per op, forward and backward.") boolean profile;
        @Option(names = "--lora", paramLabel = "R", description = "Train a LoRA adapter of rank R (alpha 2R, every linear map) "
                + "over the frozen model instead, as bench/peft_lora.py does with PEFT.") Integer loraRank;
        @Option(names = "--checkpoint-activations", arity = "0..1", fallbackValue = "1", paramLabel = "N",
                description = "Keep only every N-th block input (default N 1: each block's) and recompute the blocks in backward.")
        int checkpointEvery;
        @Option(names = "--layers", description = "Override the preset's number of layers (a deep narrow model: llama-s with 24).") Integer layers;
        @Option(names = "--precision", defaultValue = "fp32", paramLabel = "fp32|bf16|fp16", description = "Storage format of weights, "
                + "activations and gradients, as train --precision (float32 master weights; fp16 unscales and checks its gradients each step).")
        String precision;

        @Override
        public Integer call() {
            Integer vocab = VOCAB.get(preset);
            if (vocab == null) throw new LaminaException("--preset must be one of " + VOCAB.keySet() + ", got " + preset);
            if (steps < 1) throw new LaminaException("--steps must be >= 1, got " + steps);
            Presets.Preset p = Presets.get(preset);
            ModelConfig mc = p.config().apply(vocab);
            if (layers != null) {
                if (layers < 1) throw new LaminaException("--layers must be >= 1, got " + layers);
                mc = mc.withLayers(layers);
            }
            if (checkpointEvery < 0) throw new LaminaException("--checkpoint-activations must be >= 1 layer, got " + checkpointEvery);
            int B = p.batch(), T = p.seq();
            if (loraRank != null && loraRank < 1) throw new LaminaException("--lora must be >= 1, got " + loraRank);
            Decoder model = Decoder.create(mc, 0, Main.kernels(threads));
            Parameters trainable = model.params();
            if (loraRank != null) {
                Lora.Adapter adapter = Lora.Adapter.create(model, new Lora.Config(loraRank, 2.0 * loraRank, 0, Lora.TARGETABLE, false), 0);
                model = model.withAdapter(adapter);
                trainable = adapter.params();
            }
            TrainConfig tc = TrainConfig.peerBenchmark(steps + 2, B, T);
            dev.lamina.tensor.Precision storage = dev.lamina.tensor.Precision.parse(precision);
            if (storage != dev.lamina.tensor.Precision.FP32 && loraRank != null)
                throw new LaminaException("--precision " + storage.label() + " trains a whole model; use --precision fp32 with --lora");
            boolean sixteenBit = storage != dev.lamina.tensor.Precision.FP32;   // the weights are float32 master weights, read rounded
            AdamW opt = new AdamW(trainable, model.kernels());
            // 16 bits: the step's gradient kept in 16 bits, as the trainer keeps it (null: written in place, float32)
            dev.lamina.train.StepGradients half = sixteenBit ? dev.lamina.train.StepGradients.of(trainable, model.kernels(), mc.numHiddenLayers(), storage, 1) : null;
            float scale = storage == dev.lamina.tensor.Precision.FP16 ? dev.lamina.train.LossScaler.INITIAL : 1f;
            Rng rng = new Rng(0);
            int[] window = new int[B * (T + 1)];
            for (int i = 0; i < window.length; i++) window[i] = (int) rng.nextLong(vocab);
            int[] ids = new int[B * T], targets = new int[B * T];
            for (int b = 0; b < B; b++) {
                System.arraycopy(window, b * (T + 1), ids, b * T, T);
                System.arraycopy(window, b * (T + 1) + 1, targets, b * T, T);
            }
            Tape tape = Tape.training(model.kernels()).checkpointEvery(checkpointEvery).precision(storage).masterWeights(sixteenBit).lossScale(scale);
            TapeExecutor ex = new TapeExecutor(model, tape, ids, B, T);
            double peakFlops = FmaPeak.flopsPerSecond(model.kernels().parallel());   // measured (or a bad override refused) before the steps
            Profile prof = new Profile();
            double[] times = new double[steps + 2];
            // allocation per timed step: the least is the steady state. Until C2 has compiled a kernel
            // (on two busy cores that can take tens of steps for the ones that run once a step, such
            // as AdamW), the interpreter and C1 box every vector it touches.
            double[] allocated = new double[steps];
            long calls = 0, gcBefore = 0;
            for (int s = 0; s < steps + 2; s++) {
                if (profile && s == 2) tape.profile(prof);
                if (s == 2) { gcBefore = collections(); calls = Parallel.calls(); }
                long allocatedBefore = s >= 2 ? allocatedBytes() : 0;
                long t0 = System.nanoTime();
                if (half == null) trainable.zeroGrad();
                if (profile && s >= 2) prof.add("zero parameter gradients", Profile.Phase.UPDATE, System.nanoTime() - t0);
                tape.reset();
                if (half != null) half.begin(tape, true);
                model.loss(ex, targets);
                tape.backward();
                if (half != null) half.end(tape);
                long t1 = System.nanoTime();
                if (sixteenBit) {                     // the gradient stored in 16 bits; fp16's unscaling and overflow check
                    if (half == null) model.kernels().round(trainable.flatGrad(), storage);
                    if (scale != 1f) {
                        if (half != null) half.scale(1f / scale);
                        else model.kernels().scale(trainable.flatGrad(), 1f / scale);
                        if (!Double.isFinite(half != null ? half.sumOfSquares() : model.kernels().sumOfSquares(trainable.flatGrad())))
                            throw new LaminaException("fp16 gradients overflowed at loss scale " + scale + " in step " + (s + 1));
                    }
                }
                opt.stepAllDecay(tc.lr(), tc, half);
                long t2 = System.nanoTime();
                if (profile && s >= 2) prof.add("adamw", Profile.Phase.UPDATE, t2 - t1);
                times[s] = (t2 - t0) / 1e9;
                if (s >= 2) allocated[s - 2] = allocatedBytes() - allocatedBefore;
            }
            double callsPerStep = (Parallel.calls() - calls) / (double) steps;
            long gcs = collections() - gcBefore;
            Arrays.sort(allocated);
            double[] timed = Arrays.copyOfRange(times, 2, times.length);
            Arrays.sort(timed);
            double median = timed[timed.length / 2];
            double tps = B * T / median;
            double mfu = Trainer.flopsPerToken(model, T) * tps / peakFlops;
            long n = model.parameterCount();
            System.out.printf("%s%s: %,d parameters%s, batch %d x %d, %d threads, kernels %s%n", preset,
                    (layers != null ? " with " + mc.numHiddenLayers() + " layers" : "")
                            + (sixteenBit ? ", " + storage.label() + " storage (float32 master weights)" : "")
                            + (checkpointEvery > 0 ? ", activation checkpointing every " + checkpointEvery + " layer" + (checkpointEvery > 1 ? "s" : "") : ""), n,
                    mc.moe() ? String.format(" (%,d active per token: %d of %d experts)", mc.activeParameterCount(), mc.expertsPerToken(), mc.numExperts()) : "",
                    B, T, model.kernels().threads(), model.kernels().describe());
            System.out.printf("median step %.1f ms (min %.1f, max %.1f over %d steps)%n", 1e3 * median, 1e3 * timed[0],
                    1e3 * timed[timed.length - 1], steps);
            if (loraRank == null) {
                System.out.printf("MFU %.1f%% (%.1f GFLOP/s of model FLOPs vs %.0f GFLOP/s peak, %s)%s%n", 100 * mfu,
                        Trainer.flopsPerToken(model, T) * tps / 1e9, peakFlops / 1e9, FmaPeak.source(model.kernels().parallel()),
                        checkpointEvery > 0 ? "; the recomputed forward is not counted" : "");
            } else {        // (MFU's 6N FLOPs per token count weight gradients a frozen base does not have)
                System.out.printf("LoRA rank %d on every linear map: %,d trainable parameters over the frozen %,d%n", loraRank,
                        trainable.count(), n);
            }
            long peak = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans())
                if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) peak += pool.getPeakUsage().getUsed();
            long grads = tape.gradientBytes(), acts = tape.bytes() - grads, paramGrads = half != null ? half.bytes() : 4L * n;
            if (loraRank == null) System.out.printf("memory: parameters %.0f MB%s + gradients %.0f MB%s + AdamW moments %.0f MB + activations %.0f MB%s "
                            + "+ activation gradients (lent during backward) %.0f MB = %.0f MB live; JVM peak heap %.0f MB "
                            + "(includes garbage not yet collected)%n",
                    4e-6 * n, sixteenBit ? " (float32 master weights)" : "", paramGrads / 1e6,
                    half != null ? " (" + storage.label() + ", and float32 working buffers for the region backward is in)" : "", 8e-6 * n, acts / 1e6,
                    sixteenBit ? " (norm gains and biases read rounded: " + storage.label() + " copies included)" : "",
                    grads / 1e6, (12L * n + paramGrads + tape.bytes()) / 1e6, peak / 1e6);
            System.out.printf("activations kept: %d buffers, %.1f MB%s%n", tape.activationTensors(), tape.activationBytes() / 1e6,
                    checkpointEvery > 0 ? " (" + (mc.numHiddenLayers() + checkpointEvery - 1) / checkpointEvery + " segment inputs, one segment's buffers)" : "");
            System.out.printf("activation_bytes=%d%n", tape.activationBytes());
            System.out.printf("allocated per step (all threads): %.1f KB at least, %.1f KB median over the %d timed steps; %.0f parallel "
                            + "calls per step (each hands its workers a closure, except the gradient fills); garbage collections during the timed steps: %d%n",
                    allocated[0] / 1e3, allocated[steps / 2] / 1e3, steps, callsPerStep, gcs);
            if (profile) printProfile(prof, steps);
            System.out.printf("tokens_per_s=%.0f%n", tps);
            return 0;
        }

        /** Garbage collections so far, all collectors. */
        private static long collections() {
            long n = 0;
            for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) n += Math.max(0, gc.getCollectionCount());
            return n;
        }

        /** Bytes allocated so far by every live thread (HotSpot's per-thread allocation counters). */
        private static long allocatedBytes() {
            var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long sum = 0;
            for (long a : mx.getThreadAllocatedBytes(mx.getAllThreadIds())) if (a > 0) sum += a;
            return sum;
        }

        private static void printProfile(Profile prof, int steps) {
            long total = prof.entries().stream().mapToLong(Profile.Entry::nanos).sum();
            System.out.println();
            System.out.println("| op | direction | ms per step | share | calls per step |");
            System.out.println("| --- | --- | ---: | ---: | ---: |");
            for (Profile.Entry e : prof.entries())
                System.out.printf("| %s | %s | %.1f | %.1f%% | %d |%n", e.op(), e.phase().name().toLowerCase(Locale.ROOT),
                        e.nanos() / 1e6 / steps, 100.0 * e.nanos() / total, e.calls() / steps);
            System.out.println();
        }
    }
}
