package dev.lamina.model;

import dev.lamina.autograd.Ops;
import dev.lamina.autograd.Tape;
import dev.lamina.autograd.Var;
import dev.lamina.hf.HfCheckpoint;
import dev.lamina.hf.PeftAdapter;
import dev.lamina.infer.InferenceSession;
import dev.lamina.infer.PreparedModel;
import dev.lamina.io.LaminaException;
import dev.lamina.io.SafeTensors;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * LoRA against Hugging Face PEFT (make_lora_fixtures.py): a PEFT adapter on a tiny Llama gives
 * PEFT's logits, loss and the gradient of every A and B, through the training executor and the
 * inference runner; the base stays frozen; adapters round-trip through PEFT's files.
 */
class LoraParityTest {

    static Path dir(String name) {
        try {
            return Path.of(LoraParityTest.class.getClassLoader().getResource("lora/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static double relativeError(float[] got, float[] want) {
        double d = 0, r = 0;
        for (int i = 0; i < want.length; i++) { d += (got[i] - want[i]) * (double) (got[i] - want[i]); r += want[i] * (double) want[i]; }
        return Math.sqrt(d / Math.max(r, 1e-30));
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama_all", "llama_qv_rslora"})
    void matchesPeftLogitsLossAndAdapterGradients(String name) {
        Path d = dir(name);
        Decoder base = HfCheckpoint.load(d.resolve("hf"));
        Lora.Adapter adapter = PeftAdapter.load(d.resolve("adapter"), base);
        Decoder m = base.withAdapter(adapter);
        float[] baseBefore = base.params().data().clone();
        try (SafeTensors st = SafeTensors.open(d.resolve("expected.safetensors"))) {
            int[] shape = st.shape("ids");
            int B = shape[0], T = shape[1], V = base.config().vocabSize();
            int[] ids = st.ints("ids");
            float[] want = st.floats("logits");

            Tape tape = Tape.training(m.kernels());
            Var logits = m.forward(tape, ids, B, T);
            assertThat(relativeError(logits.value().toArray(), want)).as("logits").isLessThan(1e-5);

            // transformers' loss: labels = ids, shifted inside the model (predict t+1 from 0..t)
            int[] in = new int[B * (T - 1)], tg = new int[B * (T - 1)];
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T - 1; t++) { in[b * (T - 1) + t] = ids[b * T + t]; tg[b * (T - 1) + t] = ids[b * T + t + 1]; }
            tape = Tape.training(m.kernels());
            float loss = m.loss(tape, in, tg, B, T - 1);
            assertThat(loss).isCloseTo(st.floats("loss")[0], org.assertj.core.api.Assertions.within(1e-5f));
            tape.backward();
            int checked = 0;
            for (Parameters.Slot s : adapter.params().slots().values()) {
                String peft = "grad." + "base_model.model.model." + s.name();
                assertThat(relativeError(adapter.params().grad(s.name()).toArray(), st.floats(peft))).as(peft).isLessThan(1e-4);
                checked++;
            }
            assertThat(checked).isEqualTo((int) st.names().stream().filter(n -> n.startsWith("grad.")).count());
            // the base is frozen: no gradient reached its buffers and its values did not move
            float[] g = base.params().gradData();
            for (float x : g) assertThat(x).isZero();
            assertThat(base.params().data()).isEqualTo(baseBefore);

            // inference folds the update into the prepared weights: the same logits, token by token over the cache
            try (InferenceSession s = new InferenceSession(PreparedModel.of(m), new dev.lamina.infer.ContiguousKvCache(m.config(), 16))) {
                for (int t = 0; t < T; t++) {
                    float[] row = s.forward(ids[t]);
                    float[] wantRow = Arrays.copyOfRange(want, t * V, (t + 1) * V);
                    assertThat(relativeError(row, wantRow)).as("inference logits at %d", t).isLessThan(1e-5);
                }
            }
        }
    }

    @Test
    void adaptersRoundTripThroughPeftFiles(@TempDir Path tmp) throws Exception {
        Decoder base = HfCheckpoint.load(dir("llama_all").resolve("hf"));
        Lora.Adapter a = PeftAdapter.load(dir("llama_all").resolve("adapter"), base);
        PeftAdapter.save(a, tmp.resolve("out"), "tiny-llama");
        Lora.Adapter b = PeftAdapter.load(tmp.resolve("out"), base);
        assertThat(b.config()).isEqualTo(a.config());
        assertThat(b.params().data()).isEqualTo(a.params().data());
        try (SafeTensors mine = SafeTensors.open(tmp.resolve("out/adapter_model.safetensors"));
             SafeTensors peft = SafeTensors.open(dir("llama_all").resolve("adapter/adapter_model.safetensors"))) {
            assertThat(mine.names()).containsExactlyInAnyOrderElementsOf(peft.names());
        }
        assertThat(Files.readString(tmp.resolve("out/adapter_config.json"))).contains("\"peft_type\" : \"LORA\"").contains("\"q_proj\"");
    }

    @Test
    void aFreshAdapterStartsAtTheBaseModel() {
        Decoder base = HfCheckpoint.load(dir("llama_all").resolve("hf"));
        Lora.Adapter a = Lora.Adapter.create(base, new Lora.Config(8, 16, 0, Lora.Config.parseTargets("all-linear"), false), 3);
        int[] ids = {1, 5, 9, 2, 7, 3};
        float[] plain = base.forward(Tape.inference(base.kernels()), ids, 1, 6).value().toArray();
        float[] adapted = base.withAdapter(a).forward(Tape.inference(base.kernels()), ids, 1, 6).value().toArray();
        assertThat(adapted).isEqualTo(plain);                    // B = 0: the update is exactly zero
        assertThat(a.size()).isEqualTo(2L * (8 * 32 * 4 + 8 * (32 + 16) * 2 + 8 * (32 + 64) * 3));   // 2 layers; q,o d×d; k,v 16×d; gate,up,down d↔ff
        float bound = (float) (1 / Math.sqrt(32));
        Tensor qa = a.params().value("layers.0.self_attn.q_proj.lora_A.weight");
        for (int i = 0; i < qa.size(); i++) assertThat(Math.abs(qa.get(i))).isLessThanOrEqualTo(bound);
    }

    @Test
    void refusesAdaptersThatDoNotFit(@TempDir Path tmp) throws Exception {
        Decoder base = HfCheckpoint.load(dir("llama_all").resolve("hf"));
        assertThatThrownBy(() -> new Lora.Config(0, 16, 0, Set.of(Role.Q), false)).isInstanceOf(LaminaException.class)
                .hasMessageContaining("rank must be >= 1");
        assertThatThrownBy(() -> Lora.Config.parseTargets("q,lm_head")).hasMessageContaining("lm_head");
        // an adapter for a wider model
        Decoder wide = Decoder.create(base.config().toBuilder().hiddenSize(64).intermediateSize(128).build(), 1);
        Lora.Adapter w = Lora.Adapter.create(wide, new Lora.Config(4, 8, 0, Set.of(Role.Q), false), 1);
        PeftAdapter.save(w, tmp.resolve("wide"), null);
        assertThatThrownBy(() -> PeftAdapter.load(tmp.resolve("wide"), base)).isInstanceOf(LaminaException.class)
                .hasMessageContaining("q_proj.lora_A.weight has shape [4, 64], the model needs [4, 32]");
        // DoRA is another method
        Path dora = tmp.resolve("dora");
        Files.createDirectories(dora);
        Files.writeString(dora.resolve("adapter_config.json"),
                Files.readString(dir("llama_all").resolve("adapter/adapter_config.json")).replace("\"use_dora\": false", "\"use_dora\": true"));
        assertThatThrownBy(() -> PeftAdapter.load(dora, base)).hasMessageContaining("use_dora");
    }
}
