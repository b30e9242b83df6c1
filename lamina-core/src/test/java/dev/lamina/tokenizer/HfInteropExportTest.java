package dev.lamina.tokenizer;

import dev.lamina.io.Json;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Writes tokenizer.json files with Lamina, plus the ids Lamina gives for a set of texts, into
 * target/hf-interop/ so that src/test/python/make_tokenizer_fixtures.py --check can verify that
 * Hugging Face tokenizers loads them and encodes identically. Also checks that Lamina reads its
 * own files back with the same encodings.
 */
class HfInteropExportTest {
    static final Path OUT = Path.of("target", "hf-interop");

    @Test
    void writeTokenizersForTheTokenizersCheck() throws Exception {
        List<String> texts = new ArrayList<>();
        for (HfFixtureTest.Row r : HfFixtureTest.rows("hf-bpe-ids.jsonl")) texts.add(r.text());
        for (HfFixtureTest.Row r : HfFixtureTest.rows("gpt2-unseen.jsonl")) texts.add(r.text());
        texts.addAll(Files.readAllLines(HfFixtureTest.hf("brown-slice.txt")).subList(0, 300));
        TextGen gen = new TextGen(5);
        for (int i = 0; i < 300; i++) texts.add(gen.next(25, false));

        BpeTokenizer trained = BpeTrainer.train(List.of(HfFixtureTest.hf("brown-slice.txt")), 1000, 2,
                List.of(BpeTokenizer.EOT, "<pad>"), ProgressListener.NONE).tokenizer();
        export("trained", trained, texts);
        export("gpt2", BpeTokenizer.load(Gpt2ParityTest.resource("gpt2")), texts);
        export("resaved-options", BpeTokenizer.readTokenizerJson(HfFixtureTest.hf("hf-bpe-options.json")), texts);
    }

    private static void export(String name, BpeTokenizer tok, List<String> texts) throws Exception {
        Path dir = OUT.resolve(name);
        tok.save(dir);
        BpeTokenizer back = BpeTokenizer.load(dir);
        assertThat(back.vocabSize()).isEqualTo(tok.vocabSize());
        assertThat(back.eotId()).isEqualTo(tok.eotId());
        assertThat(back.addedTokens()).isEqualTo(tok.addedTokens());
        StringBuilder jsonl = new StringBuilder();
        var compact = Json.MAPPER.writer().without(tools.jackson.databind.SerializationFeature.INDENT_OUTPUT);
        for (String t : texts) {
            int[] ids = tok.encode(t);
            assertThat(back.encode(t)).as(t).containsExactly(ids);
            var row = Json.MAPPER.createObjectNode().put("text", t);
            var arr = row.putArray("ids");
            for (int id : ids) arr.add(id);
            row.put("decoded", tok.decode(ids));
            jsonl.append(compact.writeValueAsString(row)).append('\n');
        }
        Files.writeString(dir.resolve("lamina-ids.jsonl"), jsonl);
        // saving what was read gives the same bytes
        Path again = OUT.resolve(name + "-again");
        back.save(again);
        assertThat(Files.readAllBytes(again.resolve(BpeTokenizer.FILE))).isEqualTo(Files.readAllBytes(dir.resolve(BpeTokenizer.FILE)));
    }
}
