package dev.lamina.autograd;

import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.Kernels;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The fused distillation head against PyTorch (resources/distill/kd.json, made by
 * make_kd_vectors.py): the loss, its KL and cross-entropy terms, and the gradients of the hidden
 * states and the head, for α and τ at both ends and between, an ignored position among them, with
 * the teacher's full logits and with its top-k through a TeacherCache file (k = 1, 3 and all 11);
 * on the scalar and the vector kernels. Also across chunk boundaries against the plain head at α = 0.
 */
class DistillTest {

    private static float[] floats(JsonNode a) {
        float[] f = new float[a.size()];
        for (int i = 0; i < f.length; i++) f[i] = (float) a.get(i).doubleValue();
        return f;
    }

    @org.junit.jupiter.api.io.TempDir static Path dir;

    /** Soft targets of the case's teacher: its full logits, or (k > 0) its top-k through a TeacherCache file. */
    private static Ops.SoftTargets teacher(JsonNode c, int n, int V, float tau) {
        Tensor logits = Tensor.of(floats(c.get("teacher")), n, V);
        int k = c.path("k").intValue();
        if (k == 0) return Ops.logits(logits);
        Path tokens = dir.resolve("tokens.bin"), cache = dir.resolve("cache-" + k + "-" + tau + ".bin");
        dev.lamina.data.TokenFile.write(tokens, new int[4 * n], V);
        dev.lamina.train.TrainConfig cfg = dev.lamina.train.TrainConfig.builder(1, 1, n).build();
        dev.lamina.train.TeacherCache.write(cache, (ids, B, T) -> logits, V, tau, dev.lamina.data.TokenFile.open(tokens), cfg, k, 1, null);
        return dev.lamina.train.TeacherCache.open(cache).targets(0, n, V);
    }

    @Test
    void lossAndGradientsMatchPyTorch() throws Exception {
        JsonNode root = dev.lamina.io.Json.MAPPER.readTree(Files.readString(Path.of(DistillTest.class.getResource("/distill/kd.json").toURI())));
        for (KernelSet k : new KernelSet[] {Kernels.scalar(1), Kernels.vector(2)})
            for (JsonNode c : root.get("cases")) {
                int n = c.get("n").intValue(), d = c.get("d").intValue(), V = c.get("V").intValue();
                float alpha = (float) c.get("alpha").doubleValue(), tau = (float) c.get("tau").doubleValue();
                Var x = new Var(Tensor.of(floats(c.get("x")), n, d), Tensor.zeros(n, d));
                Var w = new Var(Tensor.of(floats(c.get("w")), V, d), Tensor.zeros(V, d));
                int[] targets = new int[n];
                for (int i = 0; i < n; i++) targets[i] = c.get("targets").get(i).intValue();
                Tape tape = Tape.training(k);
                Ops.Distilled got = Ops.linearDistill(tape, x, w, teacher(c, n, V, tau), targets, alpha, tau, 0f);
                String what = k.name() + " alpha " + alpha + " tau " + tau + " top " + c.path("k").intValue();
                assertThat(got.loss()).as(what).isCloseTo((float) c.get("loss").doubleValue(), within(2e-5f));
                assertThat(got.kl()).as(what).isCloseTo((float) c.get("kl").doubleValue(), within(2e-5f));
                assertThat(got.ce()).as(what).isCloseTo((float) c.get("ce").doubleValue(), within(2e-5f));
                float[] dx = floats(c.get("dx")), dw = floats(c.get("dw"));
                for (int i = 0; i < dx.length; i++) assertThat(x.grad().data()[i]).as(what + " dx " + i).isCloseTo(dx[i], within(2e-5f));
                for (int i = 0; i < dw.length; i++) assertThat(w.grad().data()[i]).as(what + " dw " + i).isCloseTo(dw[i], within(2e-5f));
                for (int j = 0; j < d; j++) assertThat(x.grad().data()[3 * d + j]).as("the ignored position").isZero();
            }
    }

    @Test
    void withoutTheTeacherTermItIsTheFusedHeadAcrossChunks() {
        int d = 13, V = 41, n = 2 * Ops.headChunk(V) + 37;
        Rng rng = new Rng(4);
        Tensor xv = Tensor.zeros(n, d), wv = Tensor.zeros(V, d), teacher = Tensor.zeros(n, V);
        for (Tensor t : new Tensor[] {xv, wv, teacher}) for (int i = 0; i < t.size(); i++) t.data()[i] = (float) rng.nextGaussian();
        int[] targets = new int[n];
        for (int i = 0; i < n; i++) targets[i] = i % 17 == 5 ? KernelSet.IGNORE : (int) rng.nextLong(V);
        Var x1 = new Var(xv, Tensor.zeros(n, d)), w1 = new Var(wv, Tensor.zeros(V, d));
        Var x2 = new Var(xv, Tensor.zeros(n, d)), w2 = new Var(wv, Tensor.zeros(V, d));
        float ce = Ops.linearCrossEntropy(Tape.training(), x1, w1, targets);
        Ops.Distilled kd = Ops.linearDistill(Tape.training(), x2, w2, teacher, targets, 0f, 2f, 0f);
        assertThat(kd.loss()).isEqualTo(ce);
        assertThat(kd.kl()).isPositive();                                 // computed, weighted by nothing
        assertThat(x2.grad().data()).isEqualTo(x1.grad().data());
        assertThat(w2.grad().data()).isEqualTo(w1.grad().data());
        // and a teacher equal to the student has no KL
        Tensor same = Tensor.zeros(n, V);
        Var logits = Ops.linear(Tape.inference(Kernels.defaults()), x2, w2, null);
        same.copyFrom(logits.value());
        assertThat(Ops.linearDistill(Tape.inference(Kernels.defaults()), x2, w2, same, targets, 1f, 1.5f, 0f).kl()).isCloseTo(0f, within(1e-6f));
    }
}
