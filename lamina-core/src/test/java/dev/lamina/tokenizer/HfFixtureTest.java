package dev.lamina.tokenizer;

import dev.lamina.io.Json;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * tokenizer.json files written by Hugging Face tokenizers (see src/test/python/make_tokenizer_fixtures.py)
 * load in Lamina and encode exactly like tokenizers did.
 */
class HfFixtureTest {

    static Path hf(String name) throws Exception { return Gpt2ParityTest.resource("hf/" + name); }

    record Row(String text, int[] ids, int[] optionsIds) {}

    static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
        return r;
    }

    static List<Row> rows(String file) throws Exception {
        List<Row> rows = new ArrayList<>();
        for (String line : Files.readAllLines(hf(file))) {
            JsonNode n = Json.MAPPER.readTree(line);
            rows.add(new Row(n.get("text").stringValue(), ints(n.get("ids")), n.has("options_ids") ? ints(n.get("options_ids")) : null));
        }
        return rows;
    }

    @Test
    void trainedByTokenizersEncodesLikeTokenizers() throws Exception {
        BpeTokenizer arrays = BpeTokenizer.readTokenizerJson(hf("hf-bpe.json"));
        BpeTokenizer strings = BpeTokenizer.readTokenizerJson(hf("hf-bpe-string-merges.json"));
        assertThat(arrays.vocabSize()).isEqualTo(1000);
        assertThat(arrays.eotId()).isZero();
        List<Row> rows = rows("hf-bpe-ids.jsonl");
        assertThat(rows).hasSizeGreaterThan(200);
        for (Row r : rows) {
            assertThat(arrays.encode(r.text())).as(r.text()).containsExactly(r.ids());
            assertThat(strings.encode(r.text())).as(r.text()).containsExactly(r.ids());
            assertThat(arrays.decode(r.ids())).isEqualTo(r.text());
        }
    }

    @Test
    void prefixSpaceAndAddedTokenOptionsEncodeLikeTokenizers() throws Exception {
        BpeTokenizer opt = BpeTokenizer.readTokenizerJson(hf("hf-bpe-options.json"));
        assertThat(opt.vocabSize()).isEqualTo(1002);
        for (Row r : rows("hf-bpe-ids.jsonl")) assertThat(opt.encode(r.text())).as(r.text()).containsExactly(r.optionsIds());
    }

    @Test
    void gpt2EncodesUnseenTextsLikeTokenizers() throws Exception {
        BpeTokenizer gpt2 = BpeTokenizer.load(Gpt2ParityTest.resource("gpt2"));
        List<Row> rows = rows("gpt2-unseen.jsonl");
        assertThat(rows).hasSizeGreaterThan(500);
        for (Row r : rows) {
            assertThat(gpt2.encode(r.text())).as(r.text()).containsExactly(r.ids());
            assertThat(gpt2.decode(r.ids())).isEqualTo(r.text());
        }
    }
}
