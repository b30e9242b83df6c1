package dev.lamina.hf;

import dev.lamina.Lamina;
import dev.lamina.infer.Sampler;
import dev.lamina.io.LaminaException;
import dev.lamina.io.SafeTensors;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.tokenizer.BpeTokenizer;
import dev.lamina.train.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Hugging Face checkpoints made by transformers load into Lamina and give transformers' logits. */
class HfImportTest {
    @TempDir Path tmp;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gpt2", "gpt2-bf16", "llama", "llama-f16", "llama-sharded", "mistral"})
    void forwardMatchesTransformers(String name) {
        Path dir = HfFixtures.dir(name);
        assertThat(HfCheckpoint.isHfDirectory(dir)).isTrue();
        Decoder d = Checkpoint.loadModel(dir);
        HfFixtures.Reference ref = HfFixtures.reference(dir);
        float[] logits = HfFixtures.logits(d, ref.ids(), ref.batch(), ref.seq());
        assertThat(HfFixtures.relativeError(logits, ref.logits())).as(name).isLessThanOrEqualTo(1e-4);
    }

    /**
     * A checkpoint stored in bfloat16 or float16 is served in that format by default (half of float32's
     * bytes per token) and gives the same logits: its values are already 16-bit, so nothing is rounded.
     * A float32 one stays float32.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gpt2-bf16", "mixtral-bf16", "llama", "llama-f16"})
    void halfCheckpointsAreServedInTheirFormat(String name) {
        Path dir = HfFixtures.dir(name);
        Lamina.Model m = Lamina.load(dir);
        var want = name.endsWith("bf16") ? dev.lamina.kernels.WeightFormat.BF16
                : name.endsWith("f16") ? dev.lamina.kernels.WeightFormat.F16 : dev.lamina.kernels.WeightFormat.STORED;
        assertThat(HfCheckpoint.storedFormat(dir)).isEqualTo(want);
        assertThat(m.weights()).isEqualTo(want);
        HfFixtures.Reference ref = HfFixtures.reference(dir);
        int T = ref.seq(), V = m.decoder().config().vocabSize();
        try (var session = new dev.lamina.infer.InferenceSession(m.prepared(), new dev.lamina.infer.ContiguousKvCache(m.decoder().config(), T))) {
            float[] got = new float[T * V];
            for (int t = 0; t < T; t++) System.arraycopy(session.forward(ref.ids()[t]), 0, got, t * V, V);
            assertThat(HfFixtures.relativeError(got, java.util.Arrays.copyOfRange(ref.logits(), 0, T * V))).as(name).isLessThanOrEqualTo(1e-4);
        }
    }

    /**
     * Served as stored, a 16-bit checkpoint is read tensor by tensor into 16-bit weights (no float32
     * copy of its maps or token table) with the logits of the float32 load holding the same values, bit
     * for bit, on the tape and through the prepared model; loaded for the uses needing floats it stays
     * float32, and a float32 checkpoint is not touched.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gpt2-bf16", "mixtral-bf16", "llama-f16"})
    void halfCheckpointsLoadStraightInto16Bits(String name) {
        Path dir = HfFixtures.dir(name);
        var as = name.endsWith("bf16") ? dev.lamina.kernels.WeightFormat.BF16 : dev.lamina.kernels.WeightFormat.F16;
        Decoder half = HfCheckpoint.loadStored(dir), flat = HfCheckpoint.load(dir);
        assertThat(half.hasStored()).isTrue();
        assertThat(half.params().slots().keySet())                  // norms, biases and GPT-2's position table are left
                .allMatch(n -> n.contains("norm") || n.endsWith(".bias") || n.contains("embed_positions"))
                .noneMatch(n -> n.contains("embed_tokens") || n.contains("lm_head"));
        long linear = flat.params().count() - half.params().count();
        assertThat(8.0 * half.storedBytes() / linear).isBetween(16.0, 30.0);   // 16 bits, rows padded to whole panels (tiny maps here)
        int[] ids = HfFixtures.reference(dir).ids();
        for (var k : new dev.lamina.kernels.KernelSet[] {dev.lamina.kernels.Kernels.vector(2), dev.lamina.kernels.Kernels.scalar(2)}) {
            Decoder h = half.withKernels(k), f = flat.withKernels(k);
            assertThat(h.forward(dev.lamina.autograd.Tape.inference(k), ids, 1, ids.length).value().toArray())
                    .isEqualTo(f.forward(dev.lamina.autograd.Tape.inference(k), ids, 1, ids.length).value().toArray());
            var ph = dev.lamina.infer.PreparedModel.of(h);
            var pf = dev.lamina.infer.PreparedModel.of(f, as);
            try (var a = new dev.lamina.infer.InferenceSession(ph, new dev.lamina.infer.ContiguousKvCache(h.config(), ids.length));
                 var b = new dev.lamina.infer.InferenceSession(pf, new dev.lamina.infer.ContiguousKvCache(f.config(), ids.length))) {
                for (int id : ids) assertThat(a.forward(new int[] {id})).isEqualTo(b.forward(new int[] {id}));
            }
        }
        var kernels = dev.lamina.kernels.Kernels.vector(2);
        assertThat(Lamina.load(dir, kernels, dev.lamina.kernels.WeightFormat.STORED).decoder().hasStored()).isTrue();
        assertThat(Lamina.load(dir, kernels).decoder().hasStored()).isFalse();
        assertThat(HfCheckpoint.loadStored(HfFixtures.dir("llama")).hasStored()).isFalse();
    }

    /** Qwen2 and the RoPE scalings (make_arch_fixtures.py), through both executors: the tape and the KV-cache runner. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3", "phi3-longrope", "llama-rope-linear", "llama-rope-dynamic", "llama-rope-llama3", "llama-rope-yarn", "mixtral", "mixtral-bf16", "qwen2-moe"})
    void newerArchitecturesMatchTransformersInTrainingAndInference(String name) {
        Path dir = HfFixtures.dir(name);
        Decoder d = Checkpoint.loadModel(dir);
        HfFixtures.Reference ref = HfFixtures.reference(dir);
        float[] logits = HfFixtures.logits(d, ref.ids(), ref.batch(), ref.seq());
        assertThat(HfFixtures.relativeError(logits, ref.logits())).as(name).isLessThanOrEqualTo(1e-4);
        int T = ref.seq(), V = d.config().vocabSize(), half = T / 2;
        try (var session = dev.lamina.infer.InferenceSession.forModel(d)) {      // first sequence: a prefill, then one token at a time
            float[] got = new float[(T - half + 1) * V];              // logits after the prefill's last token, then each next one
            System.arraycopy(session.forward(java.util.Arrays.copyOfRange(ref.ids(), 0, half)), 0, got, 0, V);
            for (int t = half; t < T; t++) System.arraycopy(session.forward(ref.ids()[t]), 0, got, (t - half + 1) * V, V);
            assertThat(HfFixtures.relativeError(got, java.util.Arrays.copyOfRange(ref.logits(), (half - 1) * V, T * V)))
                    .as(name + " inference").isLessThanOrEqualTo(1e-4);
        }
    }

    /** Greedy decoding over the KV cache gives transformers' generate() tokens (greedy.json, make_arch_fixtures.py). */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3", "phi3-longrope", "llama-rope-linear", "llama-rope-dynamic", "llama-rope-llama3", "llama-rope-yarn", "mixtral", "mixtral-bf16", "qwen2-moe"})
    void greedyContinuationsEqualTransformersGenerate(String name) throws Exception {
        Path dir = HfFixtures.dir(name);
        var g = dev.lamina.io.Json.MAPPER.readTree(Files.readString(dir.resolve("greedy.json")));
        int[] prompt = new int[g.get("prompt").size()], want = new int[g.get("output").size()];
        for (int i = 0; i < prompt.length; i++) prompt[i] = g.get("prompt").get(i).intValue();
        for (int i = 0; i < want.length; i++) want[i] = g.get("output").get(i).intValue();
        int[] got = new int[want.length];
        try (var session = dev.lamina.infer.InferenceSession.forModel(Checkpoint.loadModel(dir))) {
            float[] logits = session.forward(prompt);
            for (int i = 0; i < want.length; i++) {
                int best = 0;
                for (int v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
                got[i] = best;
                if (i + 1 < want.length) logits = session.forward(best);
            }
        }
        assertThat(got).as(name).containsExactly(want);
    }

    /**
     * Gemma 2 and 3 train as transformers computes them: the loss and every parameter's gradient
     * (through both soft caps, the sandwich norms, the alternating windows and RoPE tables, the
     * q/k norms) match float64 PyTorch.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gemma2", "gemma3"})
    void gemmaGradientsMatchTransformersPerTensor(String name) {
        Path dir = HfFixtures.dir(name);
        Decoder d = Checkpoint.loadModel(dir);
        HfFixtures.Reference ref = HfFixtures.reference(dir);
        int B = ref.batch(), T = ref.seq();
        int[] targets = new int[B * T];
        for (int i = 0; i < B * T; i++) targets[i] = (i + 1) % T == 0 ? dev.lamina.kernels.KernelSet.IGNORE : ref.ids()[i + 1];
        dev.lamina.autograd.Tape tape = dev.lamina.autograd.Tape.training(d.kernels());
        float loss = d.loss(tape, ref.ids(), targets, B, T);
        tape.backward();
        HfArch arch = HfCheckpoint.config(dir).arch();
        try (SafeTensors g = SafeTensors.open(dir.resolve("grads.safetensors"))) {
            assertThat((double) loss).isCloseTo(g.floats("loss")[0], org.assertj.core.data.Offset.offset(1e-5));
            var bound = HfNames.bind(arch, d.config(), d.params(), "model.");
            int perLayer = arch == HfArch.GEMMA3 ? 13 : 11;                       // + q_norm, k_norm
            assertThat(bound).hasSize(2 + perLayer * d.config().numHiddenLayers());
            for (HfNames.Bound b : bound.values()) {
                String canonical = b.slots().getFirst().name();
                double err = HfFixtures.relativeError(d.params().grad(canonical).toArray(), g.floats("grad." + b.hfName()));
                assertThat(err).as(b.hfName()).isLessThanOrEqualTo(1e-4);
            }
        }
    }

    @Test
    void gemma2And3ConfigsMapOntoLamina() {
        ModelConfig c = Checkpoint.loadModel(HfFixtures.dir("gemma2")).config();
        assertThat(c.sandwichNorms()).isTrue();
        assertThat(c.slidingWindowPattern()).isEqualTo(2);
        assertThat(new int[] {c.window(0), c.window(1), c.window(2), c.cacheWindow()}).containsExactly(4, 0, 4, 0);
        assertThat(c.attentionScale()).isEqualTo((float) (1 / Math.sqrt(24)));
        assertThat(new double[] {c.attnLogitSoftcapping(), c.finalLogitSoftcapping()}).containsExactly(10, 5);
        ModelConfig g3 = Checkpoint.loadModel(HfFixtures.dir("gemma3")).config();
        assertThat(g3.qkNorm()).isTrue();
        assertThat(g3.slidingWindowPattern()).isEqualTo(3);
        assertThat(new boolean[] {g3.localRope(0), g3.localRope(1), g3.localRope(2), g3.localRope(3)}).containsExactly(true, true, false, true);
        assertThat(g3.ropeTheta()).isEqualTo(1e6);
        assertThat(g3.ropeLocalBaseFreq()).isEqualTo(1e4);
        assertThat(g3.ropeScaling()).isEqualTo(dev.lamina.model.RopeScaling.linear(2));
        assertThat(g3.attnLogitSoftcapping()).isNull();
    }

    /** The older Gemma 3 config (rope_theta, rope_scaling, rope_local_base_freq, sliding_window_pattern) reads as the same model. */
    @Test
    void gemma3OlderConfigFieldsGiveTheSameModel(@TempDir Path tmp) throws Exception {
        Path dir = HfFixtures.copy("gemma3", tmp.resolve("g3"));
        var cfg = (tools.jackson.databind.node.ObjectNode) dev.lamina.io.Json.MAPPER.readTree(Files.readString(dir.resolve("config.json")));
        cfg.remove("rope_parameters");
        cfg.remove("layer_types");
        cfg.remove("_sliding_window_pattern");
        cfg.put("rope_theta", 1e6).put("rope_local_base_freq", 1e4).put("sliding_window_pattern", 3);
        cfg.putObject("rope_scaling").put("rope_type", "linear").put("factor", 2.0);
        Files.writeString(dir.resolve("config.json"), cfg.toString());
        assertThat(Checkpoint.loadModel(dir).config()).isEqualTo(Checkpoint.loadModel(HfFixtures.dir("gemma3")).config());
    }

    /**
     * Phi-3's longrope within original_max_position_embeddings (short factors, attention factor
     * sqrt(1 + ln 4 / ln 16)); the older rope_scaling form with a top-level original length reads
     * the same; past it (where transformers switches every position to the long factors) Lamina
     * refuses with the reason.
     */
    @Test
    void phi3LongropeRunsUpToItsOriginalContext(@TempDir Path tmp) throws Exception {
        ModelConfig c = HfCheckpoint.config(HfFixtures.dir("phi3-longrope")).config();
        assertThat(c.ropeScaling().type()).isEqualTo(dev.lamina.model.RopeScaling.Type.LONGROPE);
        assertThat(c.ropeScaling().attentionScale()).isCloseTo(Math.sqrt(1 + Math.log(4) / Math.log(16)), org.assertj.core.data.Offset.offset(1e-12));
        assertThat(c.contextLimit()).isEqualTo(16);
        Path dir = HfFixtures.copy("phi3-longrope", tmp.resolve("old"));
        var cfg = (tools.jackson.databind.node.ObjectNode) dev.lamina.io.Json.MAPPER.readTree(Files.readString(dir.resolve("config.json")));
        var rope = (tools.jackson.databind.node.ObjectNode) cfg.remove("rope_parameters");
        rope.remove("original_max_position_embeddings");
        rope.remove("partial_rotary_factor");
        rope.put("type", rope.remove("rope_type").asString());
        cfg.set("rope_scaling", rope);
        cfg.put("rope_theta", 10000.0).put("sliding_window", 262144);     // as Phi-3.5's file: a window longer than the context
        Files.writeString(dir.resolve("config.json"), cfg.toString());
        assertThat(HfCheckpoint.config(dir).config()).isEqualTo(c);
        Decoder d = Checkpoint.loadModel(HfFixtures.dir("phi3-longrope"));
        try (var session = dev.lamina.infer.InferenceSession.forModel(d)) {
            assertThat(session.capacity()).isEqualTo(16);
            assertThatThrownBy(() -> session.forward(new int[17])).hasMessageContaining("capacity 16");
        }
        assertThatThrownBy(() -> d.forward(dev.lamina.autograd.Tape.inference(), new int[17], 1, 17)).hasMessageContaining("context of 16");
    }

    /** Evaluation scores with the soft-capped logits too (lm-eval style log-likelihoods read them). */
    @Test
    void gemma2ScoringUsesTheCappedLogits() {
        Path dir = HfFixtures.dir("gemma2");
        HfFixtures.Reference ref = HfFixtures.reference(dir);
        int T = ref.seq(), V = 100;
        float[] got = new dev.lamina.eval.TokenScorer(Checkpoint.loadModel(dir)).logits(java.util.Arrays.copyOf(ref.ids(), T), 1);
        assertThat(HfFixtures.relativeError(got, java.util.Arrays.copyOf(ref.logits(), (T - 1) * V))).isLessThanOrEqualTo(1e-4);
    }

    @Test
    void ropeScalingAndQwen2ConfigsMapOntoLaminaAndBack(@TempDir Path out) {
        ModelConfig llama3 = HfCheckpoint.config(HfFixtures.dir("llama-rope-llama3")).config();
        assertThat(llama3.ropeScaling()).isEqualTo(dev.lamina.model.RopeScaling.llama3(8, 1, 4, 16));
        ModelConfig yarn = HfCheckpoint.config(HfFixtures.dir("llama-rope-yarn")).config();
        assertThat(yarn.ropeScaling().attentionScale()).isCloseTo(0.1 * Math.log(4) + 1, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(ModelConfig.fromJson(yarn.toJson(), "round trip")).isEqualTo(yarn);       // Lamina's own config.json
        HfConfig.Imported qwen = HfCheckpoint.config(HfFixtures.dir("qwen2"));
        assertThat(qwen.arch()).isEqualTo(HfArch.QWEN2);
        assertThat(qwen.config().bias()).isTrue();
        assertThat(HfConfig.archFor(qwen.config())).isEqualTo(HfArch.LLAMA);   // exported as a Llama with attention biases
        assertThat(HfConfig.toJson(llama3, HfArch.LLAMA, "float32", -1).get("rope_scaling").get("rope_type").asString()).isEqualTo("llama3");
        Decoder d = Checkpoint.loadModel(HfFixtures.dir("qwen2"));
        for (int l = 0; l < 2; l++)                                              // Qwen2 has no o_proj bias: it stays zero
            for (float v : d.params().value("layers." + l + ".self_attn.o_proj.bias").toArray()) assertThat(v).isZero();
        String bad = "{\"model_type\": \"llama\", \"vocab_size\": 10, \"hidden_size\": 8, \"num_hidden_layers\": 1, "
                + "\"num_attention_heads\": 2, \"intermediate_size\": 8, \"max_position_embeddings\": 16, ";
        assertThatThrownBy(() -> HfConfig.fromJson(dev.lamina.io.Json.MAPPER.readTree(bad + "\"rope_scaling\": {\"rope_type\": \"mrope\", \"factor\": 2}}"), "c.json"))
                .isInstanceOf(LaminaException.class).hasMessage("c.json: rope_scaling has rope_type 'mrope': Lamina implements default, linear, dynamic, llama3, yarn and longrope");
        assertThatThrownBy(() -> HfConfig.fromJson(dev.lamina.io.Json.MAPPER.readTree(bad + "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}}"), "c.json"))
                .isInstanceOf(LaminaException.class).hasMessageContaining("original_max_position_embeddings is required");
        assertThatThrownBy(() -> HfConfig.fromJson(dev.lamina.io.Json.MAPPER.readTree(bad.replace("llama", "qwen2") + "\"use_sliding_window\": true}"), "c.json"))
                .isInstanceOf(LaminaException.class).hasMessageContaining("use_sliding_window");
    }

    @Test
    void shardedCheckpointThroughARelativePathWithDotDot() {
        Path dir = HfFixtures.dir("llama-sharded");
        Path odd = Path.of(Path.of("").toAbsolutePath().relativize(dir) + "/../llama-sharded");
        assertThat(odd.toString()).contains("..");
        assertThat(Checkpoint.loadModel(odd).config().numHiddenLayers()).isEqualTo(3);
    }

    @Test
    void configsMapOntoLamina() {
        ModelConfig gpt2 = HfCheckpoint.config(HfFixtures.dir("gpt2")).config();
        assertThat(gpt2).isEqualTo(ModelConfig.builder().gpt2Style().vocabSize(300).hiddenSize(32).numHiddenLayers(2)
                .numAttentionHeads(4).intermediateSize(128).maxPositionEmbeddings(64).build());
        assertThat(HfCheckpoint.config(HfFixtures.dir("gpt2-bf16")).config().intermediateSize()).isEqualTo(48);
        HfConfig.Imported llama = HfCheckpoint.config(HfFixtures.dir("llama"));
        assertThat(llama.arch()).isEqualTo(HfArch.LLAMA);
        assertThat(llama.config()).isEqualTo(ModelConfig.builder().vocabSize(100).hiddenSize(32).numHiddenLayers(2)
                .numAttentionHeads(4).numKeyValueHeads(2).intermediateSize(64).maxPositionEmbeddings(64).ropeTheta(500000.0)
                .build());
        ModelConfig f16 = HfCheckpoint.config(HfFixtures.dir("llama-f16")).config();
        assertThat(f16.bias()).isTrue();
        assertThat(f16.tieWordEmbeddings()).isTrue();
        HfConfig.Imported mistral = HfCheckpoint.config(HfFixtures.dir("mistral"));
        assertThat(mistral.arch()).isEqualTo(HfArch.MISTRAL);
        assertThat(mistral.config().slidingWindow()).isEqualTo(4);
        assertThat(mistral.config().numKeyValueHeads()).isEqualTo(1);
    }

    @Test
    void lambaLoadReadsTheTokenizerJson() {
        Lamina.Model m = Lamina.load(HfFixtures.dir("gpt2"));
        assertThat(m.tokenizer()).isInstanceOf(BpeTokenizer.class);
        assertThat(m.tokenizer().vocabSize()).isEqualTo(300);
        assertThat(m.tokenizer().eotId()).isEqualTo(0);
        String text = m.generate("The jury", 5, Sampler.greedy(), null);
        assertThat(text).isNotNull();
    }

    @Test
    void aLoadedModelKeepsOnlyItsPreparedWeightsAndComputesTheSame() {
        Lamina.Model m = Lamina.load(HfFixtures.dir("gpt2"), dev.lamina.kernels.Kernels.vector(2));
        dev.lamina.model.Decoder before = m.decoder();
        String expect = new dev.lamina.infer.Generator(dev.lamina.infer.PreparedModel.of(before), m.tokenizer())
                .generate("The jury", 8, Sampler.greedy(), null);
        assertThat(m.generate("The jury", 8, Sampler.greedy(), null)).isEqualTo(expect);
        dev.lamina.model.Decoder after = m.decoder();
        assertThat(after).isNotSameAs(before);
        assertThat(after.hasStored()).isTrue();
        assertThat(after.params().count()).isLessThan(before.params().count() / 2);   // the float linear maps are gone
        assertThat(after.parameterCount()).isEqualTo(before.parameterCount());
        HfFixtures.Reference ref = HfFixtures.reference(HfFixtures.dir("gpt2"));          // the tape runs it too
        assertThat(HfFixtures.logits(after, ref.ids(), ref.batch(), ref.seq())).isEqualTo(HfFixtures.logits(before, ref.ids(), ref.batch(), ref.seq()));
    }

    @Test
    void withoutTokenizerJsonTheModelLoadsButGenerationSaysWhy() {
        Lamina.Model m = Lamina.load(HfFixtures.dir("llama"));
        assertThat(m.decoder().config().vocabSize()).isEqualTo(100);
        assertThatThrownBy(() -> m.generate("hello", 3, Sampler.greedy(), null))
                .isInstanceOf(LaminaException.class)
                .hasMessageContaining("no tokenizer.json").hasMessageContaining("needs a tokenizer");
    }

    @Test
    void importWritesARunDirectoryWithCanonicalNames() {
        Path run = tmp.resolve("run");
        HfCheckpoint.Imported r = HfCheckpoint.importTo(HfFixtures.dir("gpt2"), run);
        assertThat(r.arch()).isEqualTo(HfArch.GPT2);
        assertThat(r.tokenizerNote()).isNull();
        assertThat(run.resolve("tokenizer/tokenizer.json")).exists();
        assertThat(HfCheckpoint.isHfDirectory(run)).isFalse();
        try (SafeTensors st = SafeTensors.open(run.resolve("model.safetensors"))) {
            assertThat(st.names()).contains("embed_tokens.weight", "layers.1.self_attn.k_proj.bias", "norm.bias")
                    .doesNotContain("lm_head.weight");
        }
        Lamina.Model m = Lamina.load(run);
        HfFixtures.Reference ref = HfFixtures.reference(HfFixtures.dir("gpt2"));
        assertThat(HfFixtures.relativeError(HfFixtures.logits(m.decoder(), ref.ids(), ref.batch(), ref.seq()), ref.logits()))
                .isLessThanOrEqualTo(1e-4);
        assertThat(m.tokenizer().vocabSize()).isEqualTo(300);
    }

    @Test
    void importWithoutTokenizerSaysSo() {
        HfCheckpoint.Imported r = HfCheckpoint.importTo(HfFixtures.dir("mistral"), tmp.resolve("run"));
        assertThat(r.tokenizerNote()).contains("no tokenizer.json");
        assertThat(tmp.resolve("run/tokenizer")).doesNotExist();
        assertThat(Checkpoint.loadModel(tmp.resolve("run")).config().slidingWindow()).isEqualTo(4);
    }

    @Test
    void importRefusesANonEmptyTarget() throws Exception {
        Files.createDirectories(tmp.resolve("run"));
        Files.writeString(tmp.resolve("run/x"), "x");
        assertThatThrownBy(() -> HfCheckpoint.importTo(HfFixtures.dir("llama"), tmp.resolve("run")))
                .isInstanceOf(LaminaException.class).hasMessageContaining("already exists and is not empty");
    }
}
