package dev.lamina.hf;

import dev.lamina.Lamina;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.io.SafeTensors;
import dev.lamina.train.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Bad or unsupported Hugging Face checkpoints fail with one line naming the file, the field or tensor, and why. */
class HfRefusalTest {
    @TempDir Path tmp;

    private int copies;

    private Path fresh(String name) { return tmp.resolve(name + "-" + copies++); }

    private Path withConfig(String fixture, Consumer<ObjectNode> edit) {
        Path dir = HfFixtures.copy(fixture, fresh(fixture));
        ObjectNode cfg = (ObjectNode) Json.MAPPER.readTree(HfExportTest.read(dir.resolve("config.json")));
        edit.accept(cfg);
        AtomicFiles.writeString(dir.resolve("config.json"), Json.MAPPER.writeValueAsString(cfg));
        return dir;
    }

    private Path withWeights(String fixture, Predicate<String> keep, String extra) {
        Path dir = HfFixtures.copy(fixture, fresh(fixture));
        Path file = dir.resolve("model.safetensors");
        SafeTensors.Writer w = new SafeTensors.Writer();
        try (SafeTensors st = SafeTensors.open(file)) {
            for (String n : st.names()) if (keep.test(n)) w.putFloats(n, st.floats(n), st.shape(n));
        }
        if (extra != null) w.putFloats(extra, new float[] {1, 2}, 2);
        w.write(file);
        return dir;
    }

    private static void refused(Path dir, String... parts) {
        var t = assertThatThrownBy(() -> Checkpoint.loadModel(dir)).isInstanceOf(LaminaException.class);
        for (String p : parts) t.hasMessageContaining(p);
        t.satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @Test
    void unknownModelType() {
        refused(withConfig("llama", c -> c.put("model_type", "falcon")), "config.json", "model_type 'falcon' is not supported",
                "gpt2, llama, mistral");
    }

    @Test
    void ropeScalingOfAnUnimplementedKindOrWithoutItsFields() {
        refused(withConfig("llama", c -> c.putObject("rope_scaling").put("rope_type", "mrope").put("factor", 2.0)),
                "config.json", "rope_scaling", "rope_type 'mrope'", "default, linear, dynamic, llama3, yarn and longrope");
        refused(withConfig("llama", c -> c.putObject("rope_scaling").put("rope_type", "longrope").put("factor", 2.0)),
                "rope_scaling.original_max_position_embeddings must be a positive integer for rope_type longrope");
        refused(withConfig("phi3-longrope", c -> ((ObjectNode) c.get("rope_parameters")).putArray("short_factor").add(1.0)),
                "1 short factors for heads of 8 dimensions (needs 4)");
        refused(withConfig("llama", c -> ((ObjectNode) c.get("rope_parameters")).put("rope_type", "linear")),
                "rope_parameters.factor is required for rope_type linear");
        refused(withConfig("mistral", c -> c.putObject("rope_scaling").put("type", "dynamic").put("factor", 2.0).put("beta_fast", 3)),
                "rope_scaling.beta_fast is not supported with rope_type dynamic");
        refused(withConfig("llama", c -> c.putObject("rope_scaling").put("rope_type", "linear").put("factor", 0.5)),
                "rope_scaling", "factor must be >= 1");
    }

    @ParameterizedTest(name = "{0}.{1}")
    @CsvSource(delimiter = '|', value = {
            "gpt2|activation_function|\"gelu\"|tanh approximation",
            "gpt2|scale_attn_by_inverse_layer_idx|true|per-layer attention scaling",
            "gpt2|reorder_and_upcast_attn|true|reordered, upcast attention",
            "gpt2|scale_attn_weights|false|1/sqrt(head_dim)",
            "gpt2|add_cross_attention|true|cross-attention",
            "llama|hidden_act|\"gelu\"|silu",
            "llama|mlp_bias|true|no biases",
            "llama|head_dim|0|head_dim must be a positive integer",
            "llama|partial_rotary_factor|0.5|part of the head",
            "llama|quantization_config|{\"quant_method\": \"gptq\"}|quantized",
            "llama|auto_map|{\"AutoModel\": \"x.Y\"}|custom modelling code",
            "mistral|layer_types|[\"sliding_attention\", \"full_attention\"]|mixes attention kinds",
            "llama|sliding_window|4|[sliding_window] are not supported for model_type llama",
            "mistral|some_new_feature|1|[some_new_feature] are not supported"})
    void unsupportedFeaturesAreNamed(String fixture, String field, String json, String reason) {
        refused(withConfig(fixture, c -> c.set(field, Json.MAPPER.readTree(json))), "config.json", field, reason);
    }

    @Test
    void missingConfigField() {
        refused(withConfig("llama", c -> c.remove("hidden_size")), "config.json", "missing required field 'hidden_size'");
        refused(withConfig("gpt2", c -> c.remove("n_layer")), "missing required field 'n_layer'");
    }

    @Test
    void missingTensor() {
        refused(withWeights("llama", n -> !n.equals("model.layers.1.mlp.up_proj.weight"), null),
                "model.safetensors", "missing tensor model.layers.1.mlp.up_proj.weight", "needed by config.json");
        refused(withWeights("gpt2", n -> !n.contains("c_attn"), null), "missing tensors transformer.h.0.attn.c_attn.weight");
        refused(withWeights("mixtral", n -> !n.startsWith("model.layers.1.block_sparse_moe.experts.3."), null),
                "model.safetensors", "missing tensors model.layers.1.block_sparse_moe.experts.3.w1.weight");
    }

    @Test
    void missingTensorInAShard() throws Exception {
        Path dir = HfFixtures.copy("llama-sharded", tmp.resolve("sharded"));
        ObjectNode idx = (ObjectNode) Json.MAPPER.readTree(HfExportTest.read(dir.resolve("model.safetensors.index.json")));
        ((ObjectNode) idx.get("weight_map")).remove("model.norm.weight");
        Files.writeString(dir.resolve("model.safetensors.index.json"), Json.MAPPER.writeValueAsString(idx));
        refused(dir, "model.safetensors.index.json", "missing tensor model.norm.weight");
    }

    @Test
    void unexpectedTensor() {
        refused(withWeights("llama", n -> true, "model.layers.0.self_attn.q_norm.weight"),
                "model.layers.0.self_attn.q_norm.weight is not part of a llama model");
    }

    @Test
    void shapeMismatchBetweenConfigAndWeights() {
        refused(withConfig("llama", c -> c.put("intermediate_size", 48)),
                "model.safetensors", "has shape [64, 32]", "needs [48, 32]");
        refused(withConfig("gpt2", c -> c.put("vocab_size", 301)), "transformer.wte.weight has shape [300, 32]", "needs [301, 32]");
    }

    @Test
    void biasesTheConfigDoesNotAnnounce() {
        refused(withConfig("llama-f16", c -> c.put("attention_bias", false)), "self_attn", "bias", "not part of a llama model");
    }

    @Test
    void tiedHeadThatDiffers() {
        Path dir = withConfig("llama", c -> c.put("tie_word_embeddings", true));
        refused(dir, "lm_head.weight differs from the token embeddings");
    }

    @Test
    void weightsMissingOrInPickleFormat() throws Exception {
        Path dir = HfFixtures.copy("llama", tmp.resolve("bin"));
        Files.delete(dir.resolve("model.safetensors"));
        refused(dir, "no model.safetensors and no model.safetensors.index.json");
        Files.writeString(dir.resolve("pytorch_model.bin"), "x");
        refused(dir, "only pytorch_model.bin", "safe_serialization=True");
    }

    @Test
    void lambdaLoadOfABadDirectoryFailsTheSameWay() {
        Path dir = withConfig("mistral", c -> c.put("model_type", "phi3small"));
        assertThatThrownBy(() -> Lamina.load(dir)).isInstanceOf(LaminaException.class).hasMessageContaining("model_type 'phi3small'");
    }

    @Test
    void gemma2LayerKindsLaminaCannotExpressAreRefused() {
        refused(withConfig("gemma2", c -> c.putArray("layer_types").add("full_attention").add("sliding_attention").add("sliding_attention")),
                "config.json: layer_types", "has no period");
        refused(withConfig("gemma2", c -> c.putArray("layer_types").add("sliding_attention").add("chunked_attention").add("full_attention")),
                "layer_types[1] is \"chunked_attention\"");
        refused(withConfig("gemma2", c -> c.putArray("layer_types").add("sliding_attention")), "one type for each of the 3 layers");
        refused(withConfig("gemma2", c -> c.put("attn_logit_softcapping", -1.0)), "attn_logit_softcapping must be null or a positive number");
        refused(withConfig("gemma2", c -> c.put("hidden_activation", "gelu")), "hidden_activation", "tanh GELU");
    }

    @Test
    void gemma3PartsLaminaCannotRunAreRefused() {
        refused(withConfig("gemma3", c -> c.put("model_type", "gemma3")), "Gemma3ForConditionalGeneration", "gemma3_text");
        refused(withConfig("gemma3", c -> ((tools.jackson.databind.node.ObjectNode) c.get("rope_parameters").get("sliding_attention"))
                .put("rope_type", "linear").put("factor", 2.0)), "rope_parameters.sliding_attention has rope_type 'linear'");
        refused(withConfig("gemma3", c -> ((tools.jackson.databind.node.ObjectNode) c.get("rope_parameters")).putObject("chunked_attention")),
                "rope_parameters.chunked_attention is not a kind of layer");
        refused(withConfig("gemma3", c -> ((tools.jackson.databind.node.ObjectNode) c.get("rope_parameters").get("full_attention"))
                .put("rope_type", "mrope")), "mrope");
        refused(withConfig("gemma3", c -> c.put("use_bidirectional_attention", true)), "use_bidirectional_attention", "causal");
    }

    @Test
    void gemma2WithEveryLayerGlobalOrEverySlidingReadsAsOneKind() {
        var global = Checkpoint.loadModel(withConfig("gemma2", c -> c.putArray("layer_types").add("full_attention").add("full_attention").add("full_attention")));
        assertThat(global.config().slidingWindow()).isNull();
        var sliding = Checkpoint.loadModel(withConfig("gemma2", c -> c.putArray("layer_types").add("sliding_attention").add("sliding_attention").add("sliding_attention")));
        assertThat(sliding.config().cacheWindow()).isEqualTo(4);
        var absent = Checkpoint.loadModel(withConfig("gemma2", c -> c.remove("layer_types")));       // transformers' default: alternating
        assertThat(absent.config().slidingWindowPattern()).isEqualTo(2);
    }
}
