package dev.lamina.plan;

import dev.lamina.autograd.Tape;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.Lora;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Parameters;
import dev.lamina.model.Presets;
import dev.lamina.model.TapeExecutor;
import dev.lamina.model.TestModels;
import dev.lamina.tensor.Rng;
import dev.lamina.train.AdamW;
import dev.lamina.train.StepGradients;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The planner against what Lamina allocates: on every parity config (dense, GQA, sliding windows,
 * Post-LN, Mix-LN, LayerNorm scaling, GELU and SwiGLU, MoE with and without a shared expert), for
 * full training, LoRA and QLoRA, with and without activation checkpointing, at two shapes, the
 * planned bytes must be within 3% of the bytes the step held after backward: weights, adapter,
 * gradients, AdamW moments, the NF4 codes and their decode scratch, and every buffer of the tape
 * (activations, the head's logits, the lent gradients).
 */
class MemoryPlanTest {

    private static MemoryPlan.Request request(ModelConfig c, MemoryPlan.Task task, int B, int T, int every, int rank) {
        return MemoryPlan.Request.lamina(c, task, B, T, 1, every, rank, Lora.TARGETABLE);
    }

    /** One step's bytes, after backward (the peak: everything but the optimizer's update is alive). */
    private static long measured(Decoder base, MemoryPlan.Task task, int B, int T, int every, int rank) {
        return measured(base, task, B, T, every, rank, dev.lamina.tensor.Precision.FP32);
    }

    /** As above in precision: every task's tape stores 16 bits; full training's weights are master weights its tape reads rounded. */
    private static long measured(Decoder base, MemoryPlan.Task task, int B, int T, int every, int rank, dev.lamina.tensor.Precision precision) {
        return measured(base, task, B, T, every, rank, precision, 1);
    }

    /**
     * As above with accum micro-batches a step. Full training keeps its step gradient as Trainer does
     * (StepGradients: in 16 bits with one micro-batch, summed region by region with several), whose
     * bytes are counted as it holds them; otherwise the gradient is one float32 buffer.
     */
    private static long measured(Decoder base, MemoryPlan.Task task, int B, int T, int every, int rank, dev.lamina.tensor.Precision precision, int accum) {
        ModelConfig c = base.config();
        Decoder m = base;
        Parameters trainable = m.params();
        if (task != MemoryPlan.Task.TRAIN) {
            Lora.Adapter a = Lora.Adapter.create(base, new Lora.Config(rank, 2.0 * rank, 0, Lora.TARGETABLE, false), 1);
            m = (task == MemoryPlan.Task.QLORA ? base.withNf4Base() : base).withAdapter(a);
            trainable = a.params();
        }
        new AdamW(trainable, m.kernels());
        Tape tape = Tape.training(m.kernels()).checkpointEvery(every).precision(precision).masterWeights(task == MemoryPlan.Task.TRAIN);
        int[] ids = new int[B * T];
        Rng rng = new Rng(2);
        for (int i = 0; i < ids.length; i++) ids[i] = (int) rng.nextLong(c.vocabSize());
        TapeExecutor ex = new TapeExecutor(m, tape, ids, B, T);
        StepGradients store = task == MemoryPlan.Task.TRAIN ? StepGradients.of(m.params(), m.kernels(), c.numHiddenLayers(), precision, accum) : null;
        for (int step = 0; step < (precision == dev.lamina.tensor.Precision.FP32 ? 1 : 2); step++)   // a 16-bit step packs what the first allocated
            for (int micro = 0; micro < accum; micro++) {
                tape.reset();
                if (store != null) store.begin(tape, micro == 0);
                m.loss(ex, ids);
                tape.backward();
                if (store != null) store.end(tape);
            }
        long bytes = 4L * m.params().count() + m.nf4Bytes() + (m.frozenScratch() == null ? 0 : 4L * m.frozenScratch().size());
        if (task != MemoryPlan.Task.TRAIN) bytes += 4L * trainable.count();                  // the adapter's values
        long gradients = (store == null || store.mode() == StepGradients.Mode.SUM ? 4L * trainable.count() : 0) + (store == null ? 0 : store.bytes());
        return bytes + 8L * trainable.count() + gradients + tape.bytes();                    // two moments, the gradients, the tape
    }

    private static long planned(MemoryPlan.Plan p) {
        long b = p.peak() - p.bytes(MemoryPlan.OVERHEAD);
        for (MemoryPlan.Item i : p.items()) if (i.note().startsWith("the LoRA branch")) b -= i.bytes();   // the executor's, not the tape's
        return b;
    }

    @Test
    void withinThreePercentOfWhatEveryConfigAllocates() {
        List<String> rows = new ArrayList<>();
        double worst = 0;
        for (String name : TestModels.names()) {
            Decoder m = TestModels.load(name);
            for (MemoryPlan.Task task : MemoryPlan.Task.values()) {
                if (task == MemoryPlan.Task.INFERENCE) continue;
                for (int every : new int[] {0, 1, 2})
                    for (int[] shape : new int[][] {{2, 9}, {3, 16}}) {
                        int T = Math.min(shape[1], m.config().maxPositionEmbeddings());
                        int accum = task == MemoryPlan.Task.TRAIN && every == 2 ? 2 : 1;     // several micro-batches: summed region by region
                        long got = measured(m, task, shape[0], T, every, 4, dev.lamina.tensor.Precision.FP32, accum);
                        long want = planned(MemoryPlan.plan(MemoryPlan.Request.lamina(m.config(), task, shape[0], T, accum, every, 4, Lora.TARGETABLE)));
                        double err = (double) want / got - 1;
                        worst = Math.max(worst, Math.abs(err));
                        if (Math.abs(err) > 0.03)
                            rows.add(String.format(Locale.ROOT, "%s %s every %d, %dx%d: planned %d, allocated %d (%+.1f%%)",
                                    name, task, every, shape[0], T, want, got, 100 * err));
                    }
            }
        }
        System.out.printf(Locale.ROOT, "memory plan against allocations: %d configs x 3 tasks x 3 checkpointings x 2 shapes, worst %.2f%%%n",
                TestModels.names().size(), 100 * worst);
        assertThat(rows).as("worst %.2f%%", 100 * worst).isEmpty();
    }

    /**
     * bf16 full training (master weights read rounded), LoRA and QLoRA: the layers' activations kept in
     * 16 bits (Tape.stashing), and full training with activation checkpointing, within 3% on every config.
     */
    @Test
    void sixteenBitTrainingWithinThreePercent() {
        List<String> rows = new ArrayList<>();
        double worst = 0;
        for (String name : TestModels.names()) {
            Decoder m = TestModels.load(name);
            for (MemoryPlan.Task task : List.of(MemoryPlan.Task.TRAIN, MemoryPlan.Task.LORA, MemoryPlan.Task.QLORA))
                for (int every : task == MemoryPlan.Task.TRAIN ? new int[] {0, 1} : new int[] {0})
                    for (int[] shape : new int[][] {{2, 9}, {3, 16}})
                        for (int accum : task == MemoryPlan.Task.TRAIN ? new int[] {1, 2} : new int[] {1}) {
                            int B = shape[0], T = Math.min(shape[1], m.config().maxPositionEmbeddings());
                            long got = measured(m, task, B, T, every, 4, dev.lamina.tensor.Precision.BF16, accum);
                            long want = planned(MemoryPlan.plan(MemoryPlan.Request.lamina(m.config(), task, MemoryPlan.Precision.BF16, B, T, accum,
                                    every, 4, Lora.TARGETABLE)));
                            double err = (double) want / got - 1;
                            worst = Math.max(worst, Math.abs(err));
                            if (Math.abs(err) > 0.03)
                                rows.add(String.format(Locale.ROOT, "%s %s bf16 every %d accum %d, %dx%d: planned %d, allocated %d (%+.1f%%)", name, task,
                                        every, accum, B, T, want, got, 100 * err));
                        }
        }
        System.out.printf(Locale.ROOT, "bf16 memory plan against allocations: worst %.2f%%%n", 100 * worst);
        assertThat(rows).as("worst %.2f%%", 100 * worst).isEmpty();
    }

    @Test
    void checkpointingAndBatchMoveThePlanAsTheyMoveTheTape() {
        ModelConfig c = Presets.get("llama-s").config().apply(512).withLayers(24);
        MemoryPlan.Plan plain = MemoryPlan.plan(request(c, MemoryPlan.Task.TRAIN, 2, 64, 0, 0));
        MemoryPlan.Plan every = MemoryPlan.plan(request(c, MemoryPlan.Task.TRAIN, 2, 64, 1, 0));
        assertThat(every.bytes(MemoryPlan.ACTIVATIONS)).isLessThan(plain.bytes(MemoryPlan.ACTIVATIONS) / 8);
        assertThat(every.bytes(MemoryPlan.WEIGHTS)).isEqualTo(plain.bytes(MemoryPlan.WEIGHTS));
        MemoryPlan.Plan twice = MemoryPlan.plan(request(c, MemoryPlan.Task.TRAIN, 4, 64, 0, 0));
        assertThat(twice.bytes(MemoryPlan.ACTIVATIONS)).isEqualTo(2 * plain.bytes(MemoryPlan.ACTIVATIONS));
        assertThat(plain.layerBytes()).hasSize(24);
    }

    @Test
    void zeroShardsTheOptimizerAndTensorParallelismTheWeights() {
        ModelConfig c = Presets.get("llama-m").config().apply(16384);
        MemoryPlan.Request one = request(c, MemoryPlan.Task.TRAIN, 8, 128, 0, 0);
        MemoryPlan.Plan single = MemoryPlan.plan(one);
        MemoryPlan.Plan zero1 = MemoryPlan.plan(new MemoryPlan.Request(c, MemoryPlan.Task.TRAIN, MemoryPlan.Precision.FP32, 8, 128, 1, 0,
                MemoryPlan.Optimizer.ADAMW, 0, 4, MemoryPlan.Strategy.ZERO1, MemoryPlan.Target.LAMINA, 0, Set.of()));
        assertThat(zero1.bytes(MemoryPlan.OPTIMIZER)).isEqualTo(single.bytes(MemoryPlan.OPTIMIZER) / 4);
        assertThat(zero1.bytes(MemoryPlan.GRADIENTS)).isEqualTo(single.bytes(MemoryPlan.GRADIENTS));
        assertThat(zero1.bytes(MemoryPlan.ACTIVATIONS)).isLessThan(single.bytes(MemoryPlan.ACTIVATIONS));   // 2 sequences a worker, not 8
    }

    @Test
    void badRequestsGetOneLineErrors() {
        ModelConfig c = Presets.get("llama-s").config().apply(512);
        assertThatThrownBy(() -> new MemoryPlan.Request(c, MemoryPlan.Task.TRAIN, MemoryPlan.Precision.FP32, 6, 64, 1, 0,
                MemoryPlan.Optimizer.ADAMW, 0, 4, MemoryPlan.Strategy.DP, MemoryPlan.Target.LAMINA, 0, Set.of()))
                .isInstanceOf(LaminaException.class).hasMessageContaining("--batch 6 does not divide over 4 workers");
        assertThatThrownBy(() -> new MemoryPlan.Request(c, MemoryPlan.Task.TRAIN, MemoryPlan.Precision.FP32, 8, 64, 1, 0,
                MemoryPlan.Optimizer.ADAMW, 0, 4, MemoryPlan.Strategy.TP, MemoryPlan.Target.LAMINA, 0, Set.of()))
                .isInstanceOf(LaminaException.class).hasMessageContaining("6 attention and 6 key/value heads do not divide over 4 workers");
        assertThatThrownBy(() -> new MemoryPlan.Request(c, MemoryPlan.Task.TRAIN, MemoryPlan.Precision.FP32, 8, 64, 1, 0,
                MemoryPlan.Optimizer.ADAMW, 0, 0, MemoryPlan.Strategy.DP, MemoryPlan.Target.LAMINA, 0, Set.of()))
                .isInstanceOf(LaminaException.class).hasMessageContaining("--workers must be >= 1");
        assertThatThrownBy(() -> new MemoryPlan.Request(c, MemoryPlan.Task.LORA, MemoryPlan.Precision.FP16, 8, 64, 1, 0,
                MemoryPlan.Optimizer.ADAMW, 0, 1, MemoryPlan.Strategy.DP, MemoryPlan.Target.LAMINA, 8, Set.of()))
                .isInstanceOf(LaminaException.class).hasMessageContaining("--target pytorch-gpu");
    }
}
