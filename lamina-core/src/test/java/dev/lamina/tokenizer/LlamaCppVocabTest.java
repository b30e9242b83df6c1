package dev.lamina.tokenizer;

import dev.lamina.io.Json;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import tools.jackson.databind.JsonNode;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The real vocabularies llama.cpp ships as models/ggml-vocab-*.gguf encode every text of their
 * .inp file into the ids of their .out file, through {@link Tokenizers#fromVocabulary}.
 *
 * <p>Needs the llama.cpp source tree (system property lamina.llamacpp or env LAMINA_LLAMACPP, default
 * /tmp/lamina-llamacpp, holding llama.cpp/models or models) and a Python with numpy (lamina.python or
 * LAMINA_PYTHON, default /tmp/lamina-py/bin/python) to run src/test/python/dump_gguf_vocab.py with
 * llama.cpp's gguf-py; skipped when either is absent.
 */
class LlamaCppVocabTest {

    /** Vocabularies of encoder-only models, which are not decoder-LLM tokenizers. */
    private static final List<String> NOT_DECODER = List.of("bert-bge", "nomic-bert-moe");

    static Path llamaCpp() {
        String p = System.getProperty("lamina.llamacpp", System.getenv().getOrDefault("LAMINA_LLAMACPP", "/tmp/lamina-llamacpp"));
        Path root = Path.of(p);
        return Files.isDirectory(root.resolve("llama.cpp/models")) ? root.resolve("llama.cpp") : root;
    }

    static Path python() {
        return Path.of(System.getProperty("lamina.python", System.getenv().getOrDefault("LAMINA_PYTHON", "/tmp/lamina-py/bin/python")));
    }

    @TestFactory
    Stream<DynamicTest> everyDecoderVocabularyMatchesLlamaCpp() throws Exception {
        Path models = llamaCpp().resolve("models");
        assumeTrue(Files.isDirectory(models), models + " is absent (the llama.cpp source tree)");
        assumeTrue(Files.isExecutable(python()), python() + " is absent (Python to read GGUF metadata)");
        List<Path> vocabs;
        try (Stream<Path> s = Files.list(models)) {
            vocabs = s.filter(f -> f.getFileName().toString().matches("ggml-vocab-.*\\.gguf"))
                    .filter(f -> Files.exists(Path.of(f + ".inp")) && Files.exists(Path.of(f + ".out")))
                    .filter(f -> NOT_DECODER.stream().noneMatch(n -> f.getFileName().toString().equals("ggml-vocab-" + n + ".gguf")))
                    .sorted().toList();
        }
        assertThat(vocabs).hasSizeGreaterThanOrEqualTo(10);
        return vocabs.stream().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(), () -> check(f)));
    }

    private static void check(Path gguf) throws Exception {
        Tokenizer tok = Tokenizers.fromVocabulary(vocabulary(dump(gguf)));
        String raw = Files.readString(Path.of(gguf + ".inp"), StandardCharsets.UTF_8);
        List<String> texts = new ArrayList<>(Arrays.asList(raw.split("\n__ggml_vocab_test__\n", -1)));
        if (texts.getLast().isEmpty()) texts.removeLast();
        List<String> out = Files.readAllLines(Path.of(gguf + ".out"));
        assertThat(texts).hasSameSizeAs(out);
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            String o = out.get(i).strip();
            int[] want = o.isEmpty() ? new int[0] : Arrays.stream(o.split(" ")).mapToInt(Integer::parseInt).toArray();
            int[] got = tok.encode(texts.get(i));
            if (!Arrays.equals(got, want))
                failures.add(Gpt2PatternTest.escape(texts.get(i)) + "\n  want " + Arrays.toString(want) + "\n  got  " + Arrays.toString(got));
        }
        assertThat(failures).as("%s: %d of %d texts differ", gguf.getFileName(), failures.size(), texts.size()).isEmpty();
    }

    /** The vocabulary metadata as JSON, dumped once per file into target/llamacpp-vocab/. */
    private static JsonNode dump(Path gguf) throws Exception {
        Path dir = Path.of("target", "llamacpp-vocab");
        Files.createDirectories(dir);
        Path json = dir.resolve(gguf.getFileName() + ".json");
        if (!Files.exists(json) || Files.getLastModifiedTime(json).compareTo(Files.getLastModifiedTime(gguf)) < 0) {
            Path script = Path.of("src/test/python/dump_gguf_vocab.py");
            Process p = new ProcessBuilder(python().toString(), script.toString(), llamaCpp().resolve("gguf-py").toString(), gguf.toString(), json.toString())
                    .redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(10, TimeUnit.MINUTES)).isTrue();
            assumeTrue(p.exitValue() == 0, "could not dump " + gguf + ": " + log);
        }
        return Json.MAPPER.readTree(Files.readString(json));
    }

    static Vocabulary vocabulary(JsonNode n) {
        List<String> tokens = new ArrayList<>();
        n.get("tokens").forEach(t -> tokens.add(t.stringValue()));
        float[] scores = null;
        if (n.path("scores").isArray()) {
            scores = new float[tokens.size()];
            for (int i = 0; i < scores.length; i++) scores[i] = (float) n.get("scores").get(i).asDouble();
        }
        int[] types = n.path("types").isArray() ? HfFixtureTest.ints(n.get("types")) : null;
        List<String> merges = null;
        if (n.path("merges").isArray()) {
            merges = new ArrayList<>();
            for (JsonNode m : n.get("merges")) merges.add(m.stringValue());
        }
        String model = n.get("model").stringValue();
        boolean spacePrefix = n.path("add_space_prefix").isBoolean() ? n.get("add_space_prefix").asBoolean() : model.equals("llama");
        return new Vocabulary(model, n.path("pre").isString() ? n.get("pre").stringValue() : null, tokens, scores, types, merges,
                n.path("bos").asInt(-1), n.path("eos").asInt(-1), n.path("unk").asInt(-1), spacePrefix, n.path("add_bos").asBoolean(false));
    }
}
