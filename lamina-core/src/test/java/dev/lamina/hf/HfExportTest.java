package dev.lamina.hf;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.io.SafeTensors;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ModelConfig.Placement;
import dev.lamina.tokenizer.BpeTokenizer;
import dev.lamina.tokenizer.ByteTokenizer;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.train.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Export to Hugging Face form and back: identical tensors, the right architecture, refusals with reasons. */
class HfExportTest {
    @TempDir Path tmp;

    @Test
    void exportThenImportGivesIdenticalTensors() {
        int seed = 1;
        for (ExportModels.Case k : ExportModels.CASES) {
            Decoder m = ExportModels.random(k.config(), seed++);
            Path out = tmp.resolve(k.name());
            HfCheckpoint.Exported e = HfCheckpoint.export(m, null, out, HfCheckpoint.DType.F32);
            assertThat(e.arch()).as(k.name()).isEqualTo(k.arch());
            assertThat(HfCheckpoint.isHfDirectory(out)).isTrue();
            Decoder back = Checkpoint.loadModel(out);
            assertThat(back.config()).as(k.name()).isEqualTo(k.config());
            assertThat(back.params().slots().keySet()).containsExactlyElementsOf(m.params().slots().keySet());
            assertThat(back.params().data()).as(k.name()).containsExactly(m.params().data());
        }
    }

    @Test
    void halfPrecisionExportsRoundEachWeight() {
        ModelConfig c = ExportModels.llama(2, true, false, null);
        Decoder m = ExportModels.random(c, 7);
        HfCheckpoint.export(m, null, tmp.resolve("f16"), HfCheckpoint.DType.F16);
        HfCheckpoint.export(m, null, tmp.resolve("bf16"), HfCheckpoint.DType.BF16);
        float[] f16 = Checkpoint.loadModel(tmp.resolve("f16")).params().data();
        float[] bf16 = Checkpoint.loadModel(tmp.resolve("bf16")).params().data();
        float[] src = m.params().data();
        for (int i = 0; i < src.length; i++) {
            assertThat(f16[i]).isEqualTo(Float.float16ToFloat(Float.floatToFloat16(src[i])));
            assertThat(Math.abs(bf16[i] - src[i])).isLessThanOrEqualTo(Math.abs(src[i]) * 0x1p-8f);
        }
        try (SafeTensors st = SafeTensors.open(tmp.resolve("bf16/model.safetensors"))) {
            assertThat(st.dtype("model.layers.0.self_attn.q_proj.weight")).isEqualTo("BF16");
            assertThat(st.metadata()).containsEntry("format", "pt");
        }
        assertThat(Json.MAPPER.readTree(read(tmp.resolve("f16/config.json"))).get("torch_dtype").asString()).isEqualTo("float16");
    }

    @Test
    void gpt2ExportFusesAttentionAndTransposesConv1D() {
        Decoder m = ExportModels.random(ExportModels.gpt2(true), 3);
        Path out = tmp.resolve("gpt2");
        HfCheckpoint.export(m, null, out, HfCheckpoint.DType.F32);
        try (SafeTensors st = SafeTensors.open(out.resolve("model.safetensors"))) {
            assertThat(st.names()).contains("transformer.wte.weight", "transformer.wpe.weight", "transformer.h.1.attn.c_attn.weight",
                    "transformer.ln_f.bias").doesNotContain("lm_head.weight");
            assertThat(st.shape("transformer.h.0.attn.c_attn.weight")).containsExactly(32, 96);
            assertThat(st.shape("transformer.h.0.mlp.c_fc.weight")).containsExactly(32, 64);
            // c_attn[i, 32 + j] is k_proj[j, i]
            float[] cAttn = st.floats("transformer.h.0.attn.c_attn.weight");
            var k = m.params().value("layers.0.self_attn.k_proj.weight");
            assertThat(cAttn[5 * 96 + 32 + 7]).isEqualTo(k.get(7 * 32 + 5));
        }
        JsonNode cfg = Json.MAPPER.readTree(read(out.resolve("config.json")));
        assertThat(cfg.get("model_type").asString()).isEqualTo("gpt2");
        assertThat(cfg.get("architectures").get(0).asString()).isEqualTo("GPT2LMHeadModel");
        assertThat(cfg.get("n_inner").asInt()).isEqualTo(64);
    }

    @Test
    void tokenizerFilesAndTokenIds() {
        Decoder m = ExportModels.random(ExportModels.gpt2(true), 4);
        Tokenizer bpe = HfCheckpoint.tokenizer(HfFixtures.dir("gpt2"));
        HfCheckpoint.Exported e = HfCheckpoint.export(m, bpe, tmp.resolve("bpe"), HfCheckpoint.DType.F32);
        assertThat(e.tokenizerNote()).isNull();
        BpeTokenizer back = BpeTokenizer.readTokenizerJson(tmp.resolve("bpe/tokenizer.json"));
        assertThat(back.encode("The jury said")).containsExactly(bpe.encode("The jury said"));
        JsonNode cfg = Json.MAPPER.readTree(read(tmp.resolve("bpe/config.json")));
        assertThat(cfg.get("eos_token_id").asInt()).isEqualTo(bpe.eotId());
        assertThat(cfg.get("bos_token_id").asInt()).isEqualTo(bpe.eotId());
        JsonNode tc = Json.MAPPER.readTree(read(tmp.resolve("bpe/tokenizer_config.json")));
        assertThat(tc.get("eos_token").asString()).isEqualTo("<|endoftext|>");
        assertThat(tmp.resolve("bpe/generation_config.json")).exists();

        // the byte tokenizer becomes a byte-level BPE file with no merges and the same ids
        Decoder small = ExportModels.random(ExportModels.llama(2, false, false, null).withVocabSize(257), 5);
        HfCheckpoint.export(small, ByteTokenizer.INSTANCE, tmp.resolve("bytes"), HfCheckpoint.DType.F32);
        BpeTokenizer bytes = BpeTokenizer.readTokenizerJson(tmp.resolve("bytes/tokenizer.json"));
        for (String s : List.of("hello world", "Ünïcödé — ✓ 東京\n\ttabs", "  spaces  "))
            assertThat(bytes.encode(s)).as(s).containsExactly(ByteTokenizer.INSTANCE.encode(s));
        assertThat(bytes.eotId()).isEqualTo(256);
        assertThat(Json.MAPPER.readTree(read(tmp.resolve("bytes/config.json"))).get("eos_token_id").asInt()).isEqualTo(256);

        // no tokenizer: no tokenizer files, no token ids, and a note
        HfCheckpoint.Exported none = HfCheckpoint.export(small, null, tmp.resolve("none"), HfCheckpoint.DType.F32);
        assertThat(none.tokenizerNote()).contains("no tokenizer");
        assertThat(tmp.resolve("none/tokenizer.json")).doesNotExist();
        assertThat(Json.MAPPER.readTree(read(tmp.resolve("none/config.json"))).get("eos_token_id").isNull()).isTrue();
    }

    /**
     * A model whose tokenizer came from a tokenizer.json (Llama 2's form: bos &lt;s&gt;, eos &lt;/s&gt;)
     * exports that file unchanged, with bos and eos apart in config.json, generation_config.json
     * and tokenizer_config.json, and the chat template it is given.
     */
    @Test
    void aTokenizerJsonIsWrittenBackWithItsOwnSpecialTokens() throws Exception {
        Path src = Path.of(HfExportTest.class.getClassLoader().getResource("tokenizers/llama2/tokenizer.json").toURI());
        Tokenizer tok = dev.lamina.tokenizer.Tokenizers.load(src);
        Decoder m = ExportModels.random(ExportModels.llama(2, false, false, null).withVocabSize(tok.vocabSize()), 6);
        HfCheckpoint.Exported e = HfCheckpoint.export(m, tok, "{{ messages[0].content }}", tmp.resolve("l2"), HfCheckpoint.DType.F32);
        assertThat(e.tokenizerNote()).isNull();
        assertThat(Files.readAllBytes(tmp.resolve("l2/tokenizer.json"))).isEqualTo(Files.readAllBytes(src));
        JsonNode cfg = Json.MAPPER.readTree(read(tmp.resolve("l2/config.json"))), gen = Json.MAPPER.readTree(read(tmp.resolve("l2/generation_config.json")));
        JsonNode tc = Json.MAPPER.readTree(read(tmp.resolve("l2/tokenizer_config.json")));
        for (JsonNode n : List.of(cfg, gen)) {
            assertThat(n.get("bos_token_id").asInt()).isEqualTo(1);
            assertThat(n.get("eos_token_id").asInt()).isEqualTo(2);
        }
        assertThat(tc.get("bos_token").asString()).isEqualTo("<s>");
        assertThat(tc.get("eos_token").asString()).isEqualTo("</s>");
        assertThat(tc.get("chat_template").asString()).isEqualTo("{{ messages[0].content }}");
        assertThat(HfCheckpoint.tokenizer(tmp.resolve("l2")).encodePrompt("The jury said")).containsExactly(tok.encodePrompt("The jury said"));
    }

    @Test
    void exportOfAnImportedCheckpointRoundTrips() {
        for (String name : HfFixtures.NAMES) {
            Decoder m = Checkpoint.loadModel(HfFixtures.dir(name));
            Path out = tmp.resolve(name);
            HfCheckpoint.export(HfFixtures.dir(name), out, HfCheckpoint.DType.F32);
            Decoder back = Checkpoint.loadModel(out);
            assertThat(back.config()).as(name).isEqualTo(m.config());
            assertThat(back.params().data()).as(name).containsExactly(m.params().data());
        }
        assertThat(tmp.resolve("gpt2/tokenizer.json")).exists();
    }

    @Test
    void refusesModelsWithoutAHuggingFaceArchitecture() {
        ModelConfig llama = ExportModels.llama(2, false, false, null);
        refuse(llama.withPlacement(Placement.POST, 0.25, false), "Post-LN");
        refuse(llama.withPlacement(Placement.MIX, 0.25, false), "Mix-LN");
        refuse(llama.withPlacement(Placement.PRE, 0.25, true), "LayerNorm Scaling");
        refuse(ExportModels.llama(2, true, false, 4), "sliding window and biases");
        ModelConfig g = ExportModels.gpt2(true);
        refuse(ModelConfig.builder().vocabSize(300).hiddenSize(32).numHiddenLayers(2).numAttentionHeads(4)
                .intermediateSize(64).maxPositionEmbeddings(32).norm(ModelConfig.Norm.LAYERNORM)
                .position(ModelConfig.Position.LEARNED).activation(ModelConfig.Activation.GELU).tieWordEmbeddings(true)
                .build(), "without biases");
        refuse(ModelConfig.builder().gpt2Style().vocabSize(300).hiddenSize(32).numHiddenLayers(2).numAttentionHeads(4)
                .numKeyValueHeads(2).intermediateSize(64).maxPositionEmbeddings(32).build(), "grouped-query");
        refuse(ModelConfig.builder().vocabSize(300).hiddenSize(32).numHiddenLayers(2).numAttentionHeads(4)
                .intermediateSize(64).maxPositionEmbeddings(32).norm(ModelConfig.Norm.LAYERNORM)
                .activation(ModelConfig.Activation.GELU).bias(true).tieWordEmbeddings(true).build(),
                "norm layernorm, position rope, activation gelu");
        assertThat(g).isNotNull();
    }

    private void refuse(ModelConfig c, String reason) {
        Path out = tmp.resolve("refused");
        assertThatThrownBy(() -> HfCheckpoint.export(ExportModels.random(c, 1), null, out, HfCheckpoint.DType.F32))
                .isInstanceOf(LaminaException.class)
                .hasMessageStartingWith("cannot export to Hugging Face: ")
                .hasMessageContaining(reason);
        assertThat(out).doesNotExist();
    }

    @Test
    void refusesToOverwriteAndLeavesNothingHalfWritten() throws Exception {
        Decoder m = ExportModels.random(ExportModels.llama(2, false, false, null), 1);
        Path out = Files.createDirectories(tmp.resolve("busy"));
        Files.writeString(out.resolve("keep.txt"), "mine");
        assertThatThrownBy(() -> HfCheckpoint.export(m, null, out, HfCheckpoint.DType.F32))
                .isInstanceOf(LaminaException.class).hasMessageContaining("not empty");
        assertThat(read(out.resolve("keep.txt"))).isEqualTo("mine");
        // an empty directory is fine
        Files.createDirectories(tmp.resolve("empty"));
        HfCheckpoint.export(m, null, tmp.resolve("empty"), HfCheckpoint.DType.F32);
        assertThat(tmp.resolve("empty/model.safetensors")).exists();
        try (var s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
        }
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
