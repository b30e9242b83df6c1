package dev.lamina.train;

import dev.lamina.kernels.Kernels;
import dev.lamina.kernels.KernelSet;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Parameters;
import dev.lamina.model.Role;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** AdamW's spans of adjacent slots give bitwise the per-slot update, decaying exactly the decayed slots. */
class AdamWTest {
    private static final KernelSet K = Kernels.defaults();
    private static final TrainConfig CONFIG = TrainConfig.builder(10, 1, 2).lr(1e-2).minLrRatio(1).warmup(0)
            .betas(0.9, 0.999).clip(0).seed(0).evalEvery(0).evalBatches(1).build();

    private static Parameters params() {
        // decayed and plain slots alternate: a linear weight, its bias, a norm, a weight, the head, the final norm
        return new Parameters.Layout().add(ParamKey.of(Role.Q, 0), 3, 5).add(ParamKey.of(Role.Q, 0).biasOf(), 7)
                .add(ParamKey.of(Role.INPUT_NORM, 0), 2).add(ParamKey.of(Role.K, 0), 33).add(ParamKey.of(Role.HEAD), 1)
                .add(ParamKey.of(Role.FINAL_NORM), 17).build();
    }

    @Test
    void spansUpdateLikeOneKernelCallPerSlot() {
        Parameters p = params(), q = params();
        Rng rng = new Rng(7);
        for (int i = 0; i < p.count(); i++) p.data()[i] = q.data()[i] = (float) rng.nextGaussian();
        AdamW opt = new AdamW(p, K);
        float[] m = new float[q.count()], v = new float[q.count()];
        for (int t = 1; t <= 3; t++) {
            for (int i = 0; i < p.count(); i++) p.gradData()[i] = q.gradData()[i] = (float) rng.nextGaussian();
            opt.step(CONFIG.lr(), CONFIG);
            float bc1 = (float) (1 - Math.pow(CONFIG.beta1(), t)), bc2 = (float) (1 - Math.pow(CONFIG.beta2(), t));
            for (Parameters.Slot s : q.slots().values()) {
                int[] shape = {s.size()};
                K.adamw(new Tensor(q.data(), s.offset(), shape), new Tensor(q.gradData(), s.offset(), shape),
                        new Tensor(m, s.offset(), shape), new Tensor(v, s.offset(), shape), (float) CONFIG.lr(),
                        (float) CONFIG.beta1(), (float) CONFIG.beta2(), (float) CONFIG.eps(),
                        s.decay() ? (float) CONFIG.weightDecay() : 0f, bc1, bc2);
            }
        }
        assertArrayEquals(q.data(), p.data());
        assertArrayEquals(m, opt.m());
        assertArrayEquals(v, opt.v());
    }

    @Test
    void withZeroGradientsOnlyTheDecayedSlotsMove() {
        Parameters p = params();
        java.util.Arrays.fill(p.data(), 1f);
        new AdamW(p, K).step(CONFIG.lr(), CONFIG);
        for (Parameters.Slot s : p.slots().values())
            for (int i = 0; i < s.size(); i++) {
                float x = p.data()[s.offset() + i];
                if (s.decay()) assertTrue(x < 1f, s.name() + " should shrink, is " + x);
                else assertEquals(1f, x, s.name());
            }
    }
}
