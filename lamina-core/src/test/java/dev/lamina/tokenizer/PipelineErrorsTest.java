package dev.lamina.tokenizer;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A tokenizer.json or tokenizer.model Lamina cannot encode exactly is refused with one line naming the place. */
class PipelineErrorsTest {
    @TempDir Path tmp;

    private Path edited(String family, Consumer<ObjectNode> change) throws Exception {
        ObjectNode root = (ObjectNode) Json.MAPPER.readTree(Files.readString(FamilyParityTest.dir(family).resolve("tokenizer.json")));
        change.accept(root);
        Path file = tmp.resolve("tokenizer.json");
        Files.writeString(file, Json.MAPPER.writeValueAsString(root));
        return file;
    }

    private static void assertRefused(Path file, String... parts) {
        assertThatThrownBy(() -> Tokenizers.load(file)).isInstanceOf(LaminaException.class)
                .satisfies(e -> {
                    assertThat(e.getMessage()).doesNotContain("\n").startsWith(file.toString());
                    for (String p : parts) assertThat(e.getMessage()).contains(p);
                });
    }

    @Test
    void unimplementedComponentIsNamedWithItsJsonPath() throws Exception {
        Path f = edited("llama2", r -> ((ArrayNode) r.get("normalizer").get("normalizers")).addObject().put("type", "Precompiled"));
        assertRefused(f, "normalizer.normalizers[2].type \"Precompiled\" is not supported");
        assertRefused(edited("llama2", r -> ((ObjectNode) r.get("decoder").get("decoders").get(1)).put("type", "CTC")),
                "decoder.decoders[1].type \"CTC\" is not supported");
        assertRefused(edited("llama3", r -> ((ObjectNode) r.get("pre_tokenizer").get("pretokenizers").get(0)).put("type", "BertPreTokenizer")),
                "pre_tokenizer.pretokenizers[0].type \"BertPreTokenizer\" is not supported");
        assertRefused(edited("llama2", r -> ((ObjectNode) r.get("model")).put("type", "WordPiece")), "model.type \"WordPiece\" is not supported");
        assertRefused(edited("llama2", r -> r.putObject("post_processor").put("type", "Custom")), "post_processor.type \"Custom\" is not supported");
    }

    @Test
    void badValuesAreNamed() throws Exception {
        assertRefused(edited("llama3", r -> ((ObjectNode) r.get("pre_tokenizer").get("pretokenizers").get(0).get("pattern")).put("Regex", "(?i:'s|[a-")),
                "pre_tokenizer.pretokenizers[0].pattern.Regex does not compile");
        assertRefused(edited("mistral", r -> ((ObjectNode) r.get("pre_tokenizer")).put("prepend_scheme", "sometimes")),
                "pre_tokenizer.prepend_scheme \"sometimes\" is not one of always, first, never");
        assertRefused(edited("misc-removed", r -> ((ObjectNode) r.get("pre_tokenizer")).put("behavior", "Dropped")), "pre_tokenizer.behavior \"Dropped\"");
        assertRefused(edited("llama2", r -> ((ObjectNode) r.get("model")).put("dropout", 0.1)), "model.dropout is set");
        assertRefused(edited("llama2", r -> ((ArrayNode) r.get("model").get("merges")).add("nosuch token")), "model.merges[", "'nosuch'");
    }

    @Test
    void damagedSentencePieceModelIsRefused() throws Exception {
        byte[] model = Files.readAllBytes(FamilyParityTest.dir("llama2").resolve("tokenizer.model"));
        Path cut = tmp.resolve("tokenizer.model");
        Files.write(cut, java.util.Arrays.copyOf(model, model.length / 2));
        assertRefused(cut, "not a SentencePiece model");
        Path other = tmp.resolve("vocab.txt");
        Files.writeString(other, "hello");
        assertRefused(other, "not a tokenizer file");
    }

    @Test
    void sentencePieceModelSavesItselfAndLoadsBack() throws Exception {
        Tokenizer t = Tokenizers.load(FamilyParityTest.dir("gemma").resolve("tokenizer.model"));
        t.save(tmp);
        Tokenizer back = Tokenizers.load(tmp);
        String text = "Hello  world<start_of_turn>user\n中文 🦙";
        assertThat(back.encode(text)).containsExactly(t.encode(text));
        assertThat(back.decode(t.encode(text))).isEqualTo(text);
    }
}
