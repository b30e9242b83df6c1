package dev.lamina.model;

import dev.lamina.io.LaminaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModelConfigTest {

    @Test
    void readsEveryTestVectorConfigAndWritesItBackIdentically() throws Exception {
        for (String name : new String[]{"llama_pre", "llama_mix", "llama_gqa_swa", "gpt2_pre", "gpt2_mix", "llama_lns"}) {
            Path f = TestModels.vector(name);
            ModelConfig c = ModelConfig.read(f);
            assertThat(ModelConfig.fromJson(c.toJson(), "x")).isEqualTo(c);
            assertThat(dev.lamina.io.Json.MAPPER.readTree(c.toJsonString()))
                    .isEqualTo(dev.lamina.io.Json.MAPPER.readTree(Files.readString(f)));
        }
    }

    @Test
    void derivedPlacementFollowsTheSpec() {
        ModelConfig mix = ModelConfig.read(TestModels.vector("llama_mix")); // 8 layers, alpha 0.25
        assertThat(mix.postLayers()).isEqualTo(2);
        assertThat(mix.isPostLn(1)).isTrue();
        assertThat(mix.isPostLn(2)).isFalse();
        ModelConfig lns = ModelConfig.read(TestModels.vector("llama_lns"));
        assertThat(lns.normScale(3)).isEqualTo((float) (1 / Math.sqrt(4)));
        ModelConfig gqa = ModelConfig.read(TestModels.vector("llama_gqa_swa"));
        assertThat(gqa.cacheWindow()).isEqualTo(5);
        assertThat(gqa.kvDim()).isEqualTo(16);
    }

    @Test
    void rejectsBadConfigsWithTheFieldNamed(@TempDir Path dir) throws Exception {
        String base = Files.readString(TestModels.vector("llama_pre"));
        check(dir, base.replace("\"num_attention_heads\": 4", "\"num_attention_heads\": 5"), "num_attention_heads");
        check(dir, base.replace("\"num_key_value_heads\": 4", "\"num_key_value_heads\": 3"), "num_key_value_heads");
        check(dir, base.replace("\"norm\": \"rmsnorm\"", "\"norm\": \"batchnorm\""), "'norm' must be one of rmsnorm, layernorm");
        check(dir, base.replace("\"vocab_size\": 67", "\"vocab_size\": -1"), "vocab_size");
        check(dir, base.replace("\"vocab_size\": 67", "\"vocab_size\": \"big\""), "vocab_size");
        check(dir, base.replace("\"mix_alpha\": 0.25", "\"mix_alpha\": 1.5"), "mix_alpha");
        check(dir, base.replace("\"bias\": false", "\"bias\": false, \"hiden_size\": 3"), "unknown field(s) [hiden_size]");
        check(dir, base.replace("\"hidden_size\": 32,", ""), "missing required field 'hidden_size'");
        check(dir, "{ not json", "malformed JSON");
    }

    private static void check(Path dir, String json, String expected) throws Exception {
        Path f = Files.writeString(dir.resolve("config.json"), json);
        assertThatThrownBy(() -> ModelConfig.read(f)).isInstanceOf(LaminaException.class)
                .hasMessageContaining(f.toString()).hasMessageContaining(expected)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }
}
