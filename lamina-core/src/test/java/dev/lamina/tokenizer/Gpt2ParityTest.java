package dev.lamina.tokenizer;

import dev.lamina.io.Json;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** GPT-2's own encoder.json + vocab.bpe give exactly the ids of the reference encodings. */
class Gpt2ParityTest {
    static BpeTokenizer gpt2;

    static Path resource(String name) throws Exception {
        return Path.of(Gpt2ParityTest.class.getResource("/" + name).toURI());
    }

    @BeforeAll
    static void load() throws Exception {
        gpt2 = BpeTokenizer.load(resource("gpt2"));
    }

    record Case(String text, int[] ids) {}

    static List<Case> cases() throws Exception {
        List<Case> cases = new ArrayList<>();
        for (String line : Files.readAllLines(resource("gpt2/encodings.jsonl"))) {
            JsonNode n = Json.MAPPER.readTree(line);
            int[] ids = new int[n.get("ids").size()];
            for (int i = 0; i < ids.length; i++) ids[i] = n.get("ids").get(i).asInt();
            cases.add(new Case(n.get("text").stringValue(), ids));
        }
        return cases;
    }

    @Test
    void vocabularyAndEot() {
        assertThat(gpt2.vocabSize()).isEqualTo(50257);
        assertThat(gpt2.eotId()).isEqualTo(50256);
        assertThat(gpt2.describe()).isEqualTo("bpe(50257)");
    }

    @Test
    void everyReferenceLineEncodesToItsIdsAndDecodesBack() throws Exception {
        List<Case> cases = cases();
        assertThat(cases).hasSizeGreaterThan(300);
        for (Case c : cases) {
            assertThat(gpt2.encode(c.text())).as(c.text()).containsExactly(c.ids());
            assertThat(gpt2.decode(c.ids())).isEqualTo(c.text());
        }
    }

    @Test
    void bulkEncodingMatchesOneByOne() throws Exception {
        List<String> texts = cases().stream().map(Case::text).toList();
        int[][] all = gpt2.encodeAll(texts);
        for (int i = 0; i < texts.size(); i++) assertThat(all[i]).containsExactly(gpt2.encode(texts.get(i)));
    }

    @Test
    void documentsAreJoinedWithEndOfText() {
        assertThat(gpt2.encodeDocuments(List.of("Hello world", "", "a"))).containsExactly(15496, 995, 50256, 50256, 64, 50256);
    }

    @Test
    void endOfTextIsOneTokenWhenSpecialsAreMatched() {
        assertThat(gpt2.encode("a<|endoftext|>b")).containsExactly(64, 50256, 65);
        assertThat(gpt2.encode("a<|endoftext|>b", false)).hasSizeGreaterThan(3).doesNotContain(50256);
        assertThat(gpt2.decode(gpt2.encode("a<|endoftext|>b", false))).isEqualTo("a<|endoftext|>b");
    }
}
