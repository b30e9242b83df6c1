package dev.lamina.infer;

import dev.lamina.kernels.Kernels;
import dev.lamina.model.Decoder;
import dev.lamina.model.TestModels;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** Inference computes with its model's kernels: the default kind reaches it, and two kinds run side by side. */
class KernelChoiceTest {

    /** With -Dlamina.kernels=scalar (the suite's scalar pass) nothing is packed: the reference loops run. */
    @Test
    void theDefaultKernelsReachInference() {
        Decoder model = TestModels.load("llama_gqa_swa");
        boolean scalar = Kernels.kind(Kernels.defaults()) == Kernels.Kind.SCALAR;
        ModelRunner runner = new ModelRunner(model, 8, 1);
        assertThat(runner.packedBytes() == 0).as("packed bytes %d with %s kernels", runner.packedBytes(), Kernels.defaults().name())
                .isEqualTo(scalar);
    }

    @Test
    void aScalarAndAVectorModelRunSideBySideOnTheirOwnThreads() throws Exception {
        Decoder base = TestModels.load("llama_gqa_swa");
        Decoder scalar = base.withKernels(Kernels.scalar(1)), vector = base.withKernels(Kernels.vector(2));
        assertThat(scalar.params()).isSameAs(vector.params());
        int[] ids = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};
        CompletableFuture<float[]> a = CompletableFuture.supplyAsync(() -> logits(scalar, ids));
        CompletableFuture<float[]> b = CompletableFuture.supplyAsync(() -> logits(vector, ids));
        float[] s = a.get(), v = b.get();
        double diff = 0, ref = 0;
        for (int i = 0; i < s.length; i++) { diff += (s[i] - v[i]) * (double) (s[i] - v[i]); ref += s[i] * (double) s[i]; }
        assertThat(Math.sqrt(diff / ref)).isLessThan(1e-5);
        assertThat(new ModelRunner(scalar, 4, 1).packedBytes()).isZero();
        assertThat(new ModelRunner(vector, 4, 1).packedBytes()).isPositive();
    }

    private static float[] logits(Decoder model, int[] ids) {
        try (InferenceSession s = new InferenceSession(model, 16)) { return s.forward(ids); }
    }
}
