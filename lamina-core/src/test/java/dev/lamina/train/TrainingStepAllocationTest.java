package dev.lamina.train;

import dev.lamina.autograd.Tape;
import dev.lamina.kernels.Kernels;
import dev.lamina.model.Decoder;
import dev.lamina.model.TapeExecutor;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Presets;
import dev.lamina.tensor.Parallel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * After warm-up, a whole training step (zero, forward, backward, clip, AdamW) allocates nothing but
 * the one closure each parallel kernel call hands to the worker threads (tens of bytes): no
 * tensors, nodes, ops, views or names. The layer shapes are the benchmark presets'; the vocabulary,
 * batch and sequence are small so that the warm-up is quick.
 */
class TrainingStepAllocationTest {
    /**
     * Kernel closures average 63-65 bytes here (one to a hundred bytes each); a tensor, node or name
     * per op per step exceeds this.
     */
    private static final int BYTES_PER_PARALLEL_CALL = 96;
    /** Room for the measurement itself (the thread id and counter arrays). */
    private static final int SLACK_BYTES = 512;

    /** Bytes allocated so far by the given threads. */
    private static long allocated(long[] threadIds) {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (long a : mx.getThreadAllocatedBytes(threadIds)) if (a > 0) sum += a;
        return sum;
    }

    /** This thread and the kernels' worker threads (other tests may leave busy threads behind). */
    private static long[] stepThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t == Thread.currentThread() || t.getName().startsWith("lamina-worker-"))
                .mapToLong(Thread::threadId).toArray();
    }

    /** fp32, and bf16 as the trainer runs it: master weights read rounded, each layer on its stash tape. */
    @ParameterizedTest
    @CsvSource({"llama-s, FP32", "gpt2-s, FP32", "llama-s, BF16", "gpt2-s, BF16"})
    void aStepAllocatesOnlyTheClosuresOfItsParallelKernelCalls(String preset, dev.lamina.tensor.Precision precision) {
        assumeTrue(Kernels.kind(Kernels.defaults()) == Kernels.Kind.VECTOR, "the scalar reference kernels are written for clarity, not for the hot loop");
        ModelConfig c = Presets.get(preset).config().apply(256).withLayers(2);
        Decoder model = Decoder.create(c, 0).withKernels(Kernels.vector(2));
        AdamW opt = new AdamW(model.params(), model.kernels());
        TrainConfig tc = TrainConfig.builder(10, 2, 32).lr(3e-4).minLrRatio(1).warmup(0).weightDecay(0.01).betas(0.9, 0.999)
                .seed(0).evalEvery(0).evalBatches(1).build();
        int B = 2, T = 32;
        int[] ids = new int[B * T], targets = new int[B * T];
        for (int i = 0; i < ids.length; i++) { ids[i] = (i * 7) % 256; targets[i] = (i * 11) % 256; }
        Tape tape = Tape.training(model.kernels()).precision(precision).masterWeights(true);
        TapeExecutor ex = new TapeExecutor(model, tape, ids, B, T);     // a trainer keeps one for the run
        // the least over windows of steps after warm-up: a recompilation may box vectors for a while
        int warmup = 100, window = 20, windows = 5;
        double bytesPerStep = Double.MAX_VALUE, callsPerStep = 0;
        long bytes = 0, calls = 0;
        long[] threadIds = null;
        for (int s = 0; s <= warmup + window * windows; s++) {
            if (s >= warmup && (s - warmup) % window == 0) {
                if (threadIds == null) threadIds = stepThreads();    // the workers exist after the first steps
                long b = allocated(threadIds), n = Parallel.calls();
                if (s > warmup && (b - bytes) / (double) window < bytesPerStep) {
                    bytesPerStep = (b - bytes) / (double) window;
                    callsPerStep = (n - calls) / (double) window;
                }
                bytes = b;
                calls = n;
            }
            if (s == warmup + window * windows) break;
            model.params().zeroGrad();
            tape.reset();
            model.loss(ex, targets);
            tape.backward();
            opt.clip(1.0);
            opt.step(3e-4, tc);
        }
        assertTrue(bytesPerStep <= SLACK_BYTES + BYTES_PER_PARALLEL_CALL * callsPerStep,
                String.format("%s %s: %.0f bytes per step for %.0f parallel kernel calls", preset, precision, bytesPerStep, callsPerStep));
    }
}
