package dev.lamina.model;

import dev.lamina.autograd.Tape;
import dev.lamina.autograd.Var;
import dev.lamina.hf.HfCheckpoint;
import dev.lamina.infer.InferenceSession;
import dev.lamina.infer.PreparedModel;
import dev.lamina.io.LaminaException;
import dev.lamina.io.SafeTensors;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static dev.lamina.model.LoraParityTest.relativeError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Quantization-aware training against a PyTorch implementation of the same fake quantization and
 * LSQ gradient (make_qat_fixtures.py): the quantizer alone at every bit width, group and mode, and
 * a tiny Llama with every layer map fake-quantized (logits, loss, every weight's and step's
 * gradient); the inference runner computes what the tape computes.
 */
class QatTest {

    static Path dir(String name) { return LoraParityTest.dir("../qat/" + name); }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4, 8})
    void theQuantizerMatchesPyTorchAtEveryWidthGroupAndMode(int bits) {
        try (SafeTensors st = SafeTensors.open(dir("ops.safetensors"))) {
            for (int group : new int[] {32, 0})
                for (boolean lsq : new boolean[] {true, false}) {
                    String key = "b" + bits + "_g" + group + "_" + (lsq ? "lsq" : "static");
                    Qat.Config c = new Qat.Config(bits, group, lsq);
                    Tensor w = Tensor.of(st.floats(key + ".w"), 5, 64);
                    Tensor step = lsq ? Tensor.of(st.floats(key + ".step"), st.shape(key + ".step")) : null;
                    Tensor y = Tensor.zeros(5, 64);
                    Qat.forward(c, w, step, y);
                    float[] want = st.floats(key + ".what"), got = y.toArray();
                    for (int i = 0; i < want.length; i++)        // equal as numbers (PyTorch's straight-through sums make −0 +0)
                        assertThat(got[i] == want[i]).as("%s ŵ[%d] = %s, PyTorch %s", key, i, got[i], want[i]).isTrue();
                    Tensor dw = Tensor.zeros(5, 64), ds = lsq ? Tensor.zeros(step.shape()) : null;
                    Qat.backward(c, w, step, Tensor.of(st.floats(key + ".dy"), 5, 64), dw, ds);
                    assertThat(relativeError(dw.toArray(), st.floats(key + ".dw"))).as(key + " dw").isLessThan(1e-6);
                    if (lsq) assertThat(relativeError(ds.toArray(), st.floats(key + ".ds"))).as(key + " ds").isLessThan(1e-5);
                    int levels = 0;
                    for (float v : y.toArray()) if (v != 0) levels++;
                    assertThat(levels).as(key + " not all zero").isGreaterThan(100);
                }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama_4bit_g32_lsq", "llama_3bit_channel_static", "llama_2bit_g64_lsq"})
    void aFakeQuantizedLlamaMatchesPyTorchLogitsLossAndEveryGradient(String name) {
        String[] p = name.split("_");
        Qat.Config c = new Qat.Config(Integer.parseInt(p[1].replace("bit", "")),
                Qat.Config.parseGroup(p[2].replace("g", "")), p[3].equals("lsq"));
        Path d = dir(name);
        Decoder m = HfCheckpoint.load(d.resolve("hf")).withQat(c);
        try (SafeTensors st = SafeTensors.open(d.resolve("expected.safetensors"))) {
            int steps = 0;
            for (Parameters.Slot s : m.params().slots().values())
                if (s.key().factor() == ParamKey.Factor.STEP) {
                    float[] want = st.floats("init." + s.name());
                    assertThat(relativeError(m.params().value(s.name()).toArray(), want)).as("initial " + s.name()).isLessThan(1e-6);
                    m.params().value(s.name()).copyFrom(Tensor.of(want, s.shape()));   // PyTorch's float sums: no step on a rounding edge
                    steps++;
                }
            assertThat(steps).isEqualTo(c.lsq() ? 14 : 0);
            int[] shape = st.shape("ids");
            int B = shape[0], T = shape[1];
            int[] ids = st.ints("ids");
            Var logits = m.forward(Tape.training(m.kernels()), ids, B, T);
            assertThat(relativeError(logits.value().toArray(), st.floats("logits"))).as("logits").isLessThan(1e-5);

            int[] in = new int[B * (T - 1)], tg = new int[B * (T - 1)];
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T - 1; t++) { in[b * (T - 1) + t] = ids[b * T + t]; tg[b * (T - 1) + t] = ids[b * T + t + 1]; }
            Tape tape = Tape.training(m.kernels());
            float loss = m.loss(tape, in, tg, B, T - 1);
            assertThat(loss).isCloseTo(st.floats("loss")[0], within(1e-5f));
            tape.backward();
            int checked = 0;
            for (Parameters.Slot s : m.params().slots().values()) {
                String hf = "grad." + (s.key().factor() == ParamKey.Factor.STEP ? s.name()
                        : s.key().role() == Role.HEAD ? s.name() : "model." + s.name());
                assertThat(relativeError(m.params().grad(s.name()).toArray(), st.floats(hf))).as(hf).isLessThan(1e-4);
                checked++;
            }
            assertThat(checked).isEqualTo((int) st.names().stream().filter(n -> n.startsWith("grad.")).count());
        }
    }

    @Test
    void inferenceComputesWithTheQuantizedWeightsTheTapeTrainsThrough() {
        Decoder m = HfCheckpoint.load(dir("llama_4bit_g32_lsq").resolve("hf")).withQat(new Qat.Config(4, 32, true));
        int[] ids = {5, 17, 3, 88, 41, 9, 60};
        float[] tape = m.forward(Tape.inference(m.kernels()), ids, 1, ids.length).value().toArray();
        Decoder plain = m.quantized();
        assertThat(plain.qat()).isNull();
        assertThat(plain.params().count()).isLessThan(m.params().count());          // the steps are gone
        float[] viaPlain = plain.forward(Tape.inference(plain.kernels()), ids, 1, ids.length).value().toArray();
        assertThat(viaPlain).containsExactly(tape);
        int V = m.config().vocabSize();
        try (InferenceSession s = new InferenceSession(PreparedModel.of(m), new dev.lamina.infer.ContiguousKvCache(m.config(), 16))) {
            for (int t = 0; t < ids.length; t++)        // token by token over the cache
                assertThat(relativeError(s.forward(ids[t]), java.util.Arrays.copyOfRange(tape, t * V, (t + 1) * V)))
                        .as("inference logits at %d", t).isLessThan(1e-5);
        }
        Decoder full = HfCheckpoint.load(dir("llama_4bit_g32_lsq").resolve("hf"));
        float[] unquantized = full.forward(Tape.inference(full.kernels()), ids, 1, ids.length).value().toArray();
        assertThat(relativeError(unquantized, tape)).as("4 bits change the logits").isGreaterThan(1e-3);
    }

    @Test
    void badSettingsAndAlreadyQuantizedModelsAreRefusedInOneLine() {
        assertThatThrownBy(() -> new Qat.Config(5, 32, true)).isInstanceOf(LaminaException.class).hasMessageContaining("--bits must be 2, 3, 4 or 8");
        assertThatThrownBy(() -> new Qat.Config(4, 48, true)).hasMessageContaining("--group must be 32, 64, 128");
        assertThatThrownBy(() -> Qat.Config.parseGroup("rows")).hasMessageContaining("--group must be");
        assertThatThrownBy(() -> new Qat.Config(4, 128, false).groupOf(64)).hasMessageContaining("does not divide rows of 64");
        Decoder tiny = Decoder.create(Presets.get("tiny").config().apply(257), 1);      // an MLP 176 wide
        for (boolean lsq : new boolean[] {true, false})
            assertThatThrownBy(() -> tiny.withQat(new Qat.Config(4, 64, lsq))).isInstanceOf(LaminaException.class)
                    .hasMessageContaining("does not divide rows of 176 inputs").hasMessageContaining("down_proj");
        Decoder nf4 = HfCheckpoint.load(dir("llama_4bit_g32_lsq").resolve("hf")).withNf4Base();
        assertThatThrownBy(() -> nf4.withQat(new Qat.Config(4, 32, true))).isInstanceOf(LaminaException.class)
                .hasMessageContaining("already quantized");
    }
}
