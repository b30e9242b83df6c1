package dev.lamina.gguf;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.tokenizer.Tokenizers;
import dev.lamina.tokenizer.Vocabulary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Tokenizers of the real families (tokenizer.json and tokenizer.model as they ship, trained small)
 * written as GGUF vocabularies and read back through llama.cpp's algorithms ({@link Tokenizers#load}
 * of the .gguf file): the texts of tokenizers/texts.json encode to the same ids both ways, except
 * where llama.cpp tokenizes every GGUF file of the family its own way: text holding a special
 * token (llama.cpp matches control tokens in text, and puts a space after them for SentencePiece),
 * SentencePiece text that starts with whitespace or "▁" (llama.cpp always puts "▁" in front, as
 * SentencePiece itself does; a non-legacy tokenizer.json does not before a space), and text that
 * NFC normalization would change (llama.cpp does not normalize).
 */
class GgufVocabWriteTest {
    @TempDir Path tmp;

    static Path resource(String name) {
        try {
            return Path.of(GgufVocabWriteTest.class.getClassLoader().getResource(name).toURI());
        } catch (Exception e) {
            throw new IllegalStateException(name, e);
        }
    }

    static List<String> texts() throws Exception {
        List<String> texts = new ArrayList<>();
        for (JsonNode t : Json.MAPPER.readTree(Files.readString(resource("tokenizers/texts.json")))) texts.add(t.stringValue());
        return texts;
    }

    @ParameterizedTest
    @CsvSource({
            "llama2/tokenizer.json,  llama, default,   true",
            "llama2/tokenizer.model, llama, default,   true",
            "mistral/tokenizer.json, llama, default,   true",
            "phi3/tokenizer.json,    llama, default,   true",
            "gemma/tokenizer.json,   llama, default,   false",
            "gemma/tokenizer.model,  llama, default,   false",
            "llama3/tokenizer.json,  gpt2,  llama-bpe, false",
            "qwen2/tokenizer.json,   gpt2,  qwen2,     false"})
    void aWrittenVocabularyEncodesAsTheTokenizer(String file, String model, String pre, boolean spacePrefix) throws Exception {
        Tokenizer tok = Tokenizers.load(resource("tokenizers/" + file));
        int size = tok.vocabSize() + 5;                      // a model with more embedding rows than tokens
        Vocabulary v = GgufVocab.vocabulary(tok, size);
        assertThat(v.model()).isEqualTo(model);
        assertThat(v.pre()).isEqualTo(pre);
        assertThat(v.tokens()).hasSize(size);
        assertThat(v.type(size - 1)).isEqualTo(Vocabulary.UNUSED);
        if (model.equals("llama")) assertThat(v.addSpacePrefix()).isEqualTo(spacePrefix);

        Path f = tmp.resolve("vocab.gguf");
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        GgufVocab.write(v, w);
        w.write(f);
        Tokenizer back = Tokenizers.load(f);
        List<String> differ = new ArrayList<>();
        int compared = 0;
        for (String text : texts()) {
            if (llamaCppsOwnWay(v, text)) continue;
            compared++;
            if (!java.util.Arrays.equals(tok.encode(text), back.encode(text))) differ.add(text);
            assertThat(back.decode(back.encode(text))).as(text).isEqualTo(tok.decode(tok.encode(text)));
        }
        assertThat(differ).as("texts encoded differently after the GGUF round trip").isEmpty();
        assertThat(compared).isGreaterThan(35);
        assertThat(back.eotId()).isEqualTo(tok.eotId());
    }

    /** Whether llama.cpp tokenizes text its own way for every GGUF file of v's family (see above). */
    private static boolean llamaCppsOwnWay(Vocabulary v, String text) {
        for (int id = 0; id < v.tokens().size(); id++) {
            int t = v.type(id);
            if ((t == Vocabulary.CONTROL || t == Vocabulary.USER_DEFINED || t == Vocabulary.UNKNOWN) && text.contains(v.tokens().get(id))) return true;
        }
        if (v.model().equals("llama") && !text.isEmpty() && (Character.isWhitespace(text.charAt(0)) || text.charAt(0) == '\u2581')) return true;
        return !java.text.Normalizer.isNormalized(text, java.text.Normalizer.Form.NFC);
    }

    @Test
    void aGgufVocabularyIsWrittenBackAsItWasRead() {
        Path spm = dev.lamina.tokenizer.LlamaCppVocabTestAccess.models().resolve("ggml-vocab-llama-spm.gguf");
        assumeTrue(Files.exists(spm), spm + " is absent (the llama.cpp source tree)");
        try (GgufFile f = GgufFile.open(spm)) {
            Vocabulary v = GgufVocab.vocabulary(Tokenizers.load(spm), f.strings(GgufVocab.TOKENS).size());
            assertThat(v.tokens()).isEqualTo(f.strings(GgufVocab.TOKENS));
            assertThat(v.scores()).isEqualTo(f.floatArray(GgufVocab.SCORES));
            assertThat(v.model()).isEqualTo("llama");
        }
    }

    /**
     * A Hugging Face Llama with a SentencePiece-style tokenizer.json and a chat template exports to
     * a GGUF file that holds both; read back, prompts get the BOS token once, as the tokenizer.json
     * gives them.
     */
    @Test
    void aHuggingFaceModelExportsItsVocabularyAndChatTemplate() throws Exception {
        Tokenizer tok = Tokenizers.load(resource("tokenizers/llama2/tokenizer.json"));
        var c = dev.lamina.hf.HfCheckpoint.config(GgufModelTest.HF.resolve("llama")).config().toBuilder().vocabSize(tok.vocabSize()).build();
        Path hf = tmp.resolve("hf");
        dev.lamina.hf.HfCheckpoint.export(dev.lamina.model.Decoder.create(c, 3), tok, hf, dev.lamina.hf.HfCheckpoint.DType.F32);
        if (!Files.exists(hf.resolve("tokenizer.json"))) Files.copy(resource("tokenizers/llama2/tokenizer.json"), hf.resolve("tokenizer.json"));
        String template = "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}";
        Files.writeString(hf.resolve("tokenizer_config.json"), Json.MAPPER.writeValueAsString(java.util.Map.of("chat_template", template, "bos_token", "<s>")));
        Path f = tmp.resolve("m.gguf");
        assertThat(GgufModel.export(hf, f, GgufQuantType.F32).vocabularyNote()).isNull();
        try (GgufFile g = GgufFile.open(f)) {
            assertThat(g.string(GgufVocab.MODEL)).isEqualTo("llama");
            assertThat(g.string(GgufVocab.CHAT_TEMPLATE)).isEqualTo(template);
            assertThat(g.bool(GgufVocab.ADD_BOS)).isTrue();
        }
        Tokenizer back = GgufModel.load(f).tokenizer();
        int bos = ((dev.lamina.tokenizer.PipelineTokenizer) tok).bosId();
        assertThat(bos).isGreaterThanOrEqualTo(0);
        for (String p : List.of("Hello world", "<s>Hello world", "")) {
            assertThat(back.encodePrompt(p)).as(p).containsExactly(tok.encodePrompt(p));
            assertThat(back.encodePrompt(p)[0]).isEqualTo(bos);
            assertThat(java.util.Arrays.stream(back.encodePrompt(p)).filter(id -> id == bos).count()).isEqualTo(1);
        }
        assertThat(dev.lamina.chat.ModelChatTemplate.ofGguf(f).render(List.of(java.util.Map.of("role", "user", "content", "hi")), false))
                .isEqualTo("<s>[user] hi");
    }

    @Test
    void aUnigramModelIsRefusedWithTheReason() {
        Tokenizer tok = Tokenizers.load(resource("tokenizers/spm-unigram/tokenizer.model"));
        assertThatThrownBy(() -> GgufVocab.vocabulary(tok, tok.vocabSize()))
                .isInstanceOf(LaminaException.class).hasMessageContaining("Unigram").hasMessageContaining("t5");
    }
}
