package dev.lamina.cli;

import dev.lamina.io.Json;
import dev.lamina.tokenizer.BpeTokenizer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** `lamina tokenizer train|encode|decode` through Main.run, including the bad-input exits. */
class TokenizerCommandTest extends CliTest {
    static final Path GPT2 = Path.of("../lamina-core/src/test/resources/gpt2");

    @TempDir Path tmp;

    int run(String... args) {
        clearOutput();
        return Main.run(args);
    }

    /** The error output is exactly one "lamina: error: ..." line naming what is wrong. */
    void assertOneLineError(String... parts) {
        assertThat(err().lines().filter(l -> l.startsWith("lamina: error: ")).toList()).hasSize(1);
        assertThat(err().lines().filter(l -> l.startsWith("lamina: error: ")).findFirst().orElseThrow()).contains(parts);
    }

    Path corpus() throws Exception {
        return Files.writeString(tmp.resolve("corpus.txt"),
                "The quick brown fox jumps over the lazy dog.\nThe dog sleeps; the fox runs.<|endoftext|>\n".repeat(200));
    }

    @Test
    void trainWritesTokenizerJsonAndReports() throws Exception {
        Path dir = tmp.resolve("tok");
        assertThat(run("tokenizer", "train", "--corpus", corpus().toString(), "--vocab-size", "280", "--out", dir.toString())).isZero();
        assertThat(out()).contains("vocabulary 280 tokens (1 special)").contains("bytes/token").contains("tokenizer.json");
        BpeTokenizer t = BpeTokenizer.load(dir);
        assertThat(t.vocabSize()).isEqualTo(280);
        assertThat(t.eotId()).isEqualTo(279);
        assertThat(err()).contains("merging");   // plain log lines: no terminal in tests

        assertThat(run("tokenizer", "train", "--corpus", corpus().toString(), corpus().toString(), "--vocab-size", "280",
                "--min-frequency", "1000", "--special", "<a>", "--special", "<b>", "--out", tmp.resolve("tok2").toString())).isZero();
        BpeTokenizer t2 = BpeTokenizer.load(tmp.resolve("tok2"));
        assertThat(t2.addedTokens()).extracting(a -> a.content()).containsExactly("<a>", "<b>");
        assertThat(t2.eotId()).isEqualTo(-1);
        assertThat(out()).contains("stopped below the requested 280");
    }

    @Test
    void encodeTextAndJsonlThenDecode() throws Exception {
        assertThat(run("tokenizer", "encode", "--tokenizer", GPT2.toString(), "--text", "Hello world")).isZero();
        assertThat(out().strip()).isEqualTo("15496,995");
        assertThat(run("tokenizer", "decode", "--tokenizer", GPT2.toString(), "--ids", "15496,995")).isZero();
        assertThat(out().strip()).isEqualTo("Hello world");

        Path jsonl = Files.writeString(tmp.resolve("in.jsonl"), "{\"id\": 7, \"text\": \"Hello world\"}\n\n{\"text\": \"中文 😀<|endoftext|>\"}\n");
        assertThat(run("tokenizer", "encode", "--tokenizer", GPT2.toString(), "--jsonl", jsonl.toString())).isZero();
        var lines = out().lines().toList();
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).isEqualTo("{\"id\":7,\"text\":\"Hello world\",\"ids\":[15496,995]}");
        JsonNode second = Json.MAPPER.readTree(lines.get(1));
        int[] ids = new int[second.get("ids").size()];
        for (int i = 0; i < ids.length; i++) ids[i] = second.get("ids").get(i).asInt();
        assertThat(ids[ids.length - 1]).isEqualTo(50256);
        assertThat(run("tokenizer", "decode", "--tokenizer", GPT2.toString(), "--ids",
                String.join(",", Arrays.stream(ids).mapToObj(Integer::toString).toList()))).isZero();
        assertThat(out()).isEqualTo("中文 😀<|endoftext|>" + System.lineSeparator());
    }

    @Test
    void encodesWithSentencePieceModelFileAndTokenizerJsonDirectoryAlike() {
        Path llama2 = Path.of("../lamina-core/src/test/resources/tokenizers/llama2");
        assertThat(run("tokenizer", "encode", "--tokenizer", llama2.resolve("tokenizer.model").toString(), "--text", "Hello  world 🦙")).isZero();
        String fromModel = out().strip();
        assertThat(run("tokenizer", "encode", "--tokenizer", llama2.toString(), "--text", "Hello  world 🦙")).isZero();
        assertThat(out().strip()).isEqualTo(fromModel).matches("[0-9]+(,[0-9]+)+");
        assertThat(run("tokenizer", "encode", "--tokenizer", llama2.toString(), "--add-special-tokens", "--text", "Hello  world 🦙")).isZero();
        assertThat(out().strip()).isEqualTo("1," + fromModel);
        assertThat(run("tokenizer", "decode", "--tokenizer", llama2.resolve("tokenizer.json").toString(), "--ids", fromModel)).isZero();
        assertThat(out()).isEqualTo("Hello  world 🦙" + System.lineSeparator());
    }

    @Test
    void encodesWithGgufVocabulary() throws Exception {
        Path models = Path.of(System.getProperty("lamina.llamacpp", System.getenv().getOrDefault("LAMINA_LLAMACPP", "/tmp/lamina-llamacpp")), "llama.cpp", "models");
        Path gguf = models.resolve("ggml-vocab-llama-spm.gguf");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(gguf), gguf + " is absent (the llama.cpp source tree)");
        // the ids llama.cpp's own test expects for " Hello world" (ggml-vocab-llama-spm.gguf.out)
        assertThat(run("tokenizer", "encode", "--tokenizer", gguf.toString(), "--text", " Hello world")).isZero();
        assertThat(out().strip()).isEqualTo("29871,15043,3186");
        assertThat(run("tokenizer", "decode", "--tokenizer", gguf.toString(), "--ids", "29871,15043,3186")).isZero();
        assertThat(out()).isEqualTo(" Hello world" + System.lineSeparator());
    }

    @Test
    void badTrainingInputExitsOneWithOneLineAndWritesNothing() throws Exception {
        Path dir = tmp.resolve("never");
        assertThat(run("tokenizer", "train", "--corpus", corpus().toString(), "--vocab-size", "200", "--out", dir.toString())).isEqualTo(1);
        assertOneLineError("vocabulary size 200", "257");
        assertThat(run("tokenizer", "train", "--corpus", tmp.resolve("missing.txt").toString(), "--vocab-size", "300", "--out", dir.toString())).isEqualTo(1);
        assertOneLineError("missing.txt", "not found");
        Path empty = Files.writeString(tmp.resolve("empty.txt"), "");
        assertThat(run("tokenizer", "train", "--corpus", empty.toString(), "--vocab-size", "300", "--out", dir.toString())).isEqualTo(1);
        assertOneLineError("empty.txt", "empty");
        assertThat(dir).doesNotExist();
        assertThat(run("tokenizer", "train", "--corpus", corpus().toString(), "--vocab-size", "many", "--out", dir.toString())).isEqualTo(2);
        assertThat(run("tokenizer", "train", "--vocab-size", "300", "--out", dir.toString())).isEqualTo(2);
        assertThat(err()).contains("--corpus");
    }

    @Test
    void badEncodeInputExitsOneAndPrintsNothing() throws Exception {
        Path jsonl = Files.writeString(tmp.resolve("bad.jsonl"), "{\"text\": \"ok\"}\n{\"text\": \"broken\"\n");
        assertThat(run("tokenizer", "encode", "--tokenizer", GPT2.toString(), "--jsonl", jsonl.toString())).isEqualTo(1);
        assertOneLineError("bad.jsonl: line 2", "not valid JSON");
        assertThat(out()).isEmpty();

        Path noText = Files.writeString(tmp.resolve("notext.jsonl"), "{\"text\": \"ok\"}\n{\"txt\": \"x\"}\n");
        assertThat(run("tokenizer", "encode", "--tokenizer", GPT2.toString(), "--jsonl", noText.toString())).isEqualTo(1);
        assertOneLineError("notext.jsonl: line 2", "\"text\"");

        assertThat(run("tokenizer", "encode", "--tokenizer", tmp.toString(), "--text", "x")).isEqualTo(1);
        assertOneLineError("tokenizer.json", "vocab.bpe");

        Path badTok = Files.createDirectories(tmp.resolve("badtok"));
        Files.writeString(badTok.resolve("tokenizer.json"), "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}");
        assertThat(run("tokenizer", "encode", "--tokenizer", badTok.toString(), "--text", "x")).isEqualTo(1);
        assertOneLineError("tokenizer.json", "Unigram");

        assertThat(run("tokenizer", "encode", "--tokenizer", GPT2.toString())).isEqualTo(2);
        assertThat(run("tokenizer", "encode", "--tokenizer", GPT2.toString(), "--text", "a", "--jsonl", jsonl.toString())).isEqualTo(2);
        assertThat(run("tokenizer")).isEqualTo(2);
    }

    @Test
    void badDecodeInput() {
        assertThat(run("tokenizer", "decode", "--tokenizer", GPT2.toString(), "--ids", "1,50257")).isEqualTo(1);
        assertOneLineError("50257", "0..50256");
        assertThat(run("tokenizer", "decode", "--tokenizer", GPT2.toString(), "--ids", "1,x")).isEqualTo(2);
    }
}
