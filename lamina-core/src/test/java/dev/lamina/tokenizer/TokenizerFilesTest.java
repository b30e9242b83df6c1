package dev.lamina.tokenizer;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Loading, saving and the one-line errors for malformed tokenizer files. */
class TokenizerFilesTest {
    @TempDir Path tmp;

    ObjectNode fixture() throws Exception {
        return (ObjectNode) Json.MAPPER.readTree(Files.readAllBytes(HfFixtureTest.hf("hf-bpe.json")));
    }

    Path write(String name, Object json) throws Exception {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        Files.write(dir.resolve("tokenizer.json"), json instanceof String s ? s.getBytes() : Json.MAPPER.writeValueAsBytes(json));
        return dir;
    }

    void assertRejected(String name, Consumer<ObjectNode> edit, String... messageParts) throws Exception {
        ObjectNode json = fixture();
        edit.accept(json);
        Path dir = write(name, json);
        assertThatThrownBy(() -> BpeTokenizer.load(dir)).isInstanceOf(LaminaException.class)
                .hasMessageContaining(dir.resolve("tokenizer.json").toString())
                .hasMessageContainingAll(messageParts)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @Test
    void malformedTokenizerJsonIsRejectedWithTheFieldNamed() throws Exception {
        Path badJson = write("badjson", "{\"model\": {\"type\": \"BPE\", ");
        assertThatThrownBy(() -> BpeTokenizer.load(badJson)).isInstanceOf(LaminaException.class).hasMessageContaining("not valid JSON").hasMessageContaining("line 1");
        assertRejected("nomodel", j -> j.remove("model"), "'model'");
        assertRejected("wordpiece", j -> ((ObjectNode) j.get("model")).put("type", "WordPiece"), "WordPiece", "only BPE");
        assertRejected("novocab", j -> ((ObjectNode) j.get("model")).remove("vocab"), "model.vocab");
        assertRejected("nomerges", j -> ((ObjectNode) j.get("model")).remove("merges"), "model.merges");
        assertRejected("unknownmerge", j -> ((ObjectNode) j.get("model")).withArray("merges").insert(3, "Ġ zzzz"), "model.merges[3]", "zzzz");
        assertRejected("mergeshape", j -> ((ObjectNode) j.get("model")).withArray("merges").insert(0, 7), "model.merges[0]");
        assertRejected("mergeresult", j -> ((ObjectNode) j.get("model")).withArray("merges").insert(0, "q q"), "model.merges[0]", "'qq'");
        assertRejected("vocabid", j -> ((ObjectNode) j.get("model").get("vocab")).put("xyz", "seven"), "'xyz'");
        assertRejected("normalizer", j -> j.putObject("normalizer").put("type", "NFC"), "normalizer");
        assertRejected("pretok", j -> j.putObject("pre_tokenizer").put("type", "Whitespace"), "Whitespace");
        assertRejected("nopretok", j -> j.putNull("pre_tokenizer"), "pre_tokenizer is missing");
        assertRejected("decoder", j -> j.putObject("decoder").put("type", "WordPiece"), "decoder");
        assertRejected("dropout", j -> ((ObjectNode) j.get("model")).put("dropout", 0.1), "dropout");
        assertRejected("added", j -> j.withArray("added_tokens").addObject().put("id", 5), "added_tokens[2]");
    }

    @Test
    void malformedGpt2FilesAreRejected() throws Exception {
        Path dir = tmp.resolve("gpt2");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("encoder.json"), "{\"a\": 0, \"b\": 1, \"ab\": 2}");
        Files.writeString(dir.resolve("vocab.bpe"), "#version: 0.2\na b\nb c\n");
        assertThatThrownBy(() -> BpeTokenizer.load(dir)).isInstanceOf(LaminaException.class).hasMessageContaining("vocab.bpe: line 3").hasMessageContaining("'c'");
        Files.writeString(dir.resolve("vocab.bpe"), "#version: 0.2\na b c\n");
        assertThatThrownBy(() -> BpeTokenizer.load(dir)).isInstanceOf(LaminaException.class).hasMessageContaining("line 2").hasMessageContaining("two tokens");
        Files.delete(dir.resolve("vocab.bpe"));
        assertThatThrownBy(() -> BpeTokenizer.load(dir)).isInstanceOf(LaminaException.class).hasMessageContaining("vocab.bpe").hasMessageContaining("not found");
        Files.writeString(dir.resolve("vocab.bpe"), "#version: 0.2\na b\n");
        BpeTokenizer t = BpeTokenizer.load(dir);
        assertThat(t.encode("ab")).containsExactly(2);
        assertThat(t.encode("abc")).containsExactly(2);   // 'c' is not in this vocabulary: dropped, as tokenizers does without unk_token
        assertThat(t.eotId()).isEqualTo(-1);              // no <|endoftext|>
    }

    @Test
    void emptyOrMissingDirectoriesAreRejected() {
        assertThatThrownBy(() -> Tokenizers.load(tmp)).isInstanceOf(LaminaException.class).hasMessageContaining("tokenizer.json").hasMessageContaining("vocab.bpe");
        assertThatThrownBy(() -> Tokenizers.load(tmp.resolve("nope"))).isInstanceOf(LaminaException.class).hasMessageContaining("not found");
    }

    @Test
    void saveWritesAtomicallyAndLoadsBack() throws Exception {
        BpeTokenizer t = BpeTokenizer.readTokenizerJson(HfFixtureTest.hf("hf-bpe.json"));
        Path dir = tmp.resolve("out");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("tokenizer.json"), "old");
        t.save(dir);
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactly("tokenizer.json");
        }
        Tokenizer back = Tokenizers.load(dir.toString());
        assertThat(back).isInstanceOf(BpeTokenizer.class);
        assertThat(back.vocabSize()).isEqualTo(t.vocabSize());
        for (String s : List.of("Hello world", "<|endoftext|>x", "中文 😀")) assertThat(back.encode(s)).containsExactly(t.encode(s));
        // a read-only directory: an error naming the file, no partial file
        Path ro = tmp.resolve("ro");
        Files.createDirectories(ro);
        if (ro.toFile().setWritable(false) && !Files.isWritable(ro)) {
            assertThatThrownBy(() -> t.save(ro)).isInstanceOf(LaminaException.class).hasMessageContaining("tokenizer.json");
            try (var files = Files.list(ro)) { assertThat(files.toList()).isEmpty(); }
            ro.toFile().setWritable(true);
        }
    }

    @Test
    void tokenizerJsonIsPreferredToTheByteMarker() throws Exception {
        Path dir = tmp.resolve("both");
        ByteTokenizer.INSTANCE.save(dir);
        assertThat(Tokenizers.load(dir)).isSameAs(ByteTokenizer.INSTANCE);
        BpeTokenizer.readTokenizerJson(HfFixtureTest.hf("hf-bpe.json")).save(dir);
        assertThat(Tokenizers.load(dir)).isInstanceOf(BpeTokenizer.class);
        assertThat(Tokenizers.load(dir).describe()).isEqualTo("bpe(1000)");
    }
}
