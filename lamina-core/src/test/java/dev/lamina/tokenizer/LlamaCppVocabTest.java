package dev.lamina.tokenizer;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The real vocabularies llama.cpp ships as models/ggml-vocab-*.gguf, read by the GGUF reader
 * ({@link Tokenizers#load} of a .gguf file: GPT-2's through BpeTokenizer, the others through
 * {@link Tokenizers#fromVocabulary}), encode every text of their .inp file into the ids of their
 * .out file.
 *
 * <p>Needs the llama.cpp source tree (system property lamina.llamacpp or env LAMINA_LLAMACPP, default
 * /tmp/lamina-llamacpp, holding llama.cpp/models or models); skipped when it is absent.
 */
class LlamaCppVocabTest {

    /** Vocabularies of encoder-only models, which are not decoder-LLM tokenizers. */
    private static final List<String> NOT_DECODER = List.of("bert-bge", "nomic-bert-moe");

    static Path llamaCpp() {
        String p = System.getProperty("lamina.llamacpp", System.getenv().getOrDefault("LAMINA_LLAMACPP", "/tmp/lamina-llamacpp"));
        Path root = Path.of(p);
        return Files.isDirectory(root.resolve("llama.cpp/models")) ? root.resolve("llama.cpp") : root;
    }

    @TestFactory
    Stream<DynamicTest> everyDecoderVocabularyMatchesLlamaCpp() throws Exception {
        Path models = llamaCpp().resolve("models");
        assumeTrue(Files.isDirectory(models), models + " is absent (the llama.cpp source tree)");
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
        Tokenizer tok = Tokenizers.load(gguf);
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
}
