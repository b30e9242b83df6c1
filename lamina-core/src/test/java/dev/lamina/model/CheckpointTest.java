package dev.lamina.model;

import dev.lamina.autograd.Tape;
import dev.lamina.tensor.Rng;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Activation checkpointing changes what is kept, never what is computed: on every parity config,
 * the loss and every parameter's gradient with segments of 1, 2 and 3 layers (3 leaves a shorter
 * last segment) are bitwise those of the run that keeps every activation, over two steps of the
 * same tape (the second reuses the first step's buffers). Also with LoRA dropout (the masks are
 * drawn again in backward), a sparse layer's capacity (rows dropped, router statistics counted
 * once) and a QLoRA base.
 */
class CheckpointTest {

    static List<String> configs() { return TestModels.names(); }

    /** The loss and the flat gradient of two steps (different tokens) on one tape. */
    private static Result run(Decoder m, Parameters trainable, int every, long seed) {
        ModelConfig c = m.config();
        int B = 2, T = Math.min(9, c.maxPositionEmbeddings());
        Tape tape = Tape.training(m.kernels()).dropoutSeed(77).checkpointEvery(every);
        TapeExecutor ex = new TapeExecutor(m, tape, new int[B * T], B, T);
        float[] losses = new float[2];
        float[][] grads = new float[2][];
        Rng rng = new Rng(seed);
        for (int step = 0; step < 2; step++) {
            int[] ids = new int[B * T], targets = new int[B * T];
            for (int i = 0; i < ids.length; i++) { ids[i] = (int) rng.nextLong(c.vocabSize()); targets[i] = (int) rng.nextLong(c.vocabSize()); }
            ex.input(ids, B, T);
            trainable.zeroGrad();
            tape.reset();
            losses[step] = m.loss(ex, targets);
            tape.backward();
            grads[step] = trainable.gradData().clone();
        }
        return new Result(losses, grads, tape.activationBytes(), tape.activationTensors());
    }

    private record Result(float[] losses, float[][] grads, long activationBytes, int activationTensors) {}

    private static void assertSame(Result want, Result got, String what) {
        for (int s = 0; s < 2; s++) {
            assertThat(Float.floatToIntBits(got.losses[s])).as(what + ": loss of step " + s).isEqualTo(Float.floatToIntBits(want.losses[s]));
            assertThat(got.grads[s].length).isEqualTo(want.grads[s].length);
            for (int i = 0; i < want.grads[s].length; i++)
                if (Float.floatToIntBits(got.grads[s][i]) != Float.floatToIntBits(want.grads[s][i]))
                    throw new AssertionError(what + ": gradient " + i + " of step " + s + " is " + got.grads[s][i] + ", not " + want.grads[s][i]);
            assertThat(want.grads[s]).as("gradients are not all zero").isNotEqualTo(new float[want.grads[s].length]);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void gradientsAreBitwiseThoseWithoutCheckpointing(String name) {
        Decoder m = TestModels.load(name);
        Result plain = run(m, m.params(), 0, 3);
        for (int every : new int[] {1, 2, 3}) assertSame(plain, run(m, m.params(), every, 3), name + " every " + every);
    }

    @Test
    void loraDropoutMasksAreDrawnAgainInBackward() {
        Decoder base = TestModels.load("llama_gqa_swa");
        Lora.Adapter a = Lora.Adapter.create(base, new Lora.Config(4, 8, 0.25f, Lora.TARGETABLE, false), 5);
        Rng rng = new Rng(9);
        float[] f = a.params().data();                                       // B starts at zero: make the branch count
        for (int i = 0; i < f.length; i++) f[i] = (float) (rng.nextGaussian() * 0.1);
        Decoder m = base.withAdapter(a);
        Result plain = run(m, a.params(), 0, 4);
        assertSame(plain, run(m, a.params(), 1, 4), "lora every 1");
        assertSame(plain, run(m, a.params(), 2, 4), "lora every 2");
        Decoder q = base.withNf4Base().withAdapter(a);
        assertSame(run(q, a.params(), 0, 4), run(q, a.params(), 3, 4), "qlora every 3");
    }

    @Test
    void capacityDropsAndRouterStatisticsAreTheSame() {
        Decoder moe = TestModels.load("moe_every2_top1");
        ModelConfig c = moe.config().toBuilder().capacityFactor(1.0).build();
        Decoder m = new Decoder(c, moe.params());
        Result plain = run(m, m.params(), 0, 6);
        assertSame(plain, run(m, m.params(), 1, 6), "moe capacity 1.0, every 1");
    }

    @Test
    void aDeepModelKeepsOneSegmentOfActivations() {
        ModelConfig c = ModelConfig.builder().vocabSize(67).hiddenSize(32).numHiddenLayers(24).numAttentionHeads(4)
                .numKeyValueHeads(2).intermediateSize(64).maxPositionEmbeddings(16).build();
        Decoder m = Decoder.create(c, 1, dev.lamina.kernels.Kernels.defaults());
        Result plain = run(m, m.params(), 0, 8), every1 = run(m, m.params(), 1, 8), every4 = run(m, m.params(), 4, 8);
        assertSame(plain, every1, "24 layers every 1");
        assertSame(plain, every4, "24 layers every 4");
        // without: every layer's buffers; with: one layer's (or four's), plus a block input per segment
        assertThat(every1.activationBytes()).isLessThan(plain.activationBytes() / 8);
        assertThat(every4.activationBytes()).isBetween(every1.activationBytes(), plain.activationBytes() / 3);
        assertThat(plain.activationTensors()).isGreaterThan(24 * 10);
        // plain keeps k buffers per layer (24k) and e outside them; every 1 keeps 24 block outputs + one layer's k + e,
        // every 4 keeps 6 block outputs + four layers' 4k + e: the counts must say exactly that
        int k = (plain.activationTensors() - every1.activationTensors() + 24) / 23;
        assertThat(k).isGreaterThanOrEqualTo(10);
        assertThat(every1.activationTensors()).isEqualTo(plain.activationTensors() - 24 * k + 24 + k);
        assertThat(every4.activationTensors()).isEqualTo(plain.activationTensors() - 24 * k + 6 + 4 * k);
    }
}
