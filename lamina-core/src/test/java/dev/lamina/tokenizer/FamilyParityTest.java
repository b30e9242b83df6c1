package dev.lamina.tokenizer;

import dev.lamina.io.Json;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tokenizers shaped like each model family's (src/test/python/make_family_fixtures.py) encode and
 * decode exactly as Hugging Face tokenizers and SentencePiece do on texts with whitespace runs,
 * digits, emoji, CJK, accents, code and characters only byte fallback covers.
 */
class FamilyParityTest {

    static Path dir(String family) throws Exception { return Gpt2ParityTest.resource("tokenizers/" + family); }

    static List<String> texts() throws Exception {
        List<String> texts = new ArrayList<>();
        for (JsonNode t : Json.MAPPER.readTree(Files.readString(Gpt2ParityTest.resource("tokenizers/texts.json")))) texts.add(t.stringValue());
        return texts;
    }

    static List<JsonNode> cases(Path file) throws Exception {
        List<JsonNode> rows = new ArrayList<>();
        for (String line : Files.readAllLines(file)) rows.add(Json.MAPPER.readTree(line));
        return rows;
    }

    static String escape(String s) { return Gpt2PatternTest.escape(s); }

    @ParameterizedTest
    @ValueSource(strings = {"llama3", "qwen2", "llama2", "mistral", "phi3", "gemma", "unigram", "misc-subword", "misc-removed",
            "misc-isolated-invert", "misc-previous", "misc-next", "misc-contiguous", "misc-whitespace-digits"})
    void tokenizerJsonEncodesAndDecodesLikeTokenizers(String family) throws Exception {
        Tokenizer tok = Tokenizers.load(dir(family));
        assertThat(tok).isInstanceOf(PipelineTokenizer.class);
        PipelineTokenizer p = (PipelineTokenizer) tok;
        List<String> texts = texts(), failures = new ArrayList<>();
        List<JsonNode> rows = cases(dir(family).resolve("cases.jsonl"));
        assertThat(rows.size()).isGreaterThanOrEqualTo(70);
        for (int i = 0; i < rows.size(); i++) {
            String text = texts.get(i);
            JsonNode r = rows.get(i);
            int[] ids = HfFixtureTest.ints(r.get("ids"));
            int[] special = r.has("ids_special") ? HfFixtureTest.ints(r.get("ids_special")) : ids;
            String decoded = r.has("decoded") ? r.get("decoded").stringValue() : text;
            int[] got = p.encode(text);
            if (!Arrays.equals(got, ids)) failures.add("encode " + escape(text) + "\n  want " + Arrays.toString(ids) + "\n  got  " + Arrays.toString(got));
            else if (!Arrays.equals(p.encode(text, true), special)) failures.add("encode with special tokens " + escape(text) + ": " + Arrays.toString(p.encode(text, true)));
            else if (!p.decode(ids).equals(decoded)) failures.add("decode " + escape(text) + "\n  want " + escape(decoded) + "\n  got  " + escape(p.decode(ids)));
        }
        assertThat(failures).as(family + ": %d of %d texts differ", failures.size(), rows.size()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama2", "gemma", "spm-unigram"})
    void sentencePieceModelEncodesAndDecodesLikeSentencePiece(String family) throws Exception {
        PipelineTokenizer p = (PipelineTokenizer) Tokenizers.load(dir(family).resolve("tokenizer.model"));
        List<String> texts = texts(), failures = new ArrayList<>();
        List<JsonNode> rows = cases(dir(family).resolve("spm-cases.jsonl"));
        assertThat(rows).hasSameSizeAs(texts);
        for (int i = 0; i < rows.size(); i++) {
            String text = texts.get(i);
            JsonNode r = rows.get(i);
            int[] ids = HfFixtureTest.ints(r.get("ids"));
            int[] got = p.encode(text);
            if (!Arrays.equals(got, ids)) { failures.add("encode " + escape(text) + "\n  want " + Arrays.toString(ids) + "\n  got  " + Arrays.toString(got)); continue; }
            if (r.has("decoded") && r.get("decoded").isNull()) continue;   // the unknown piece: SentencePiece writes " ⁇ "
            String decoded = r.has("decoded") ? r.get("decoded").stringValue() : text;
            if (!p.decode(ids).equals(decoded)) failures.add("decode " + escape(text) + "\n  want " + escape(decoded) + "\n  got  " + escape(p.decode(ids)));
        }
        assertThat(failures).as(family + ": %d of %d texts differ", failures.size(), rows.size()).isEmpty();
    }
}
