package dev.lamina.data;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DataPrepTest {
    @TempDir Path dir;
    Path a, b;
    List<String> docs = new ArrayList<>();

    @BeforeEach
    void corpus() throws IOException {
        StringBuilder sa = new StringBuilder(), sb = new StringBuilder();
        for (int i = 0; i < 20; i++) {
            String d = "Document " + i + " — line one.\nLine two of " + i + ".";
            docs.add(d);
            (i < 12 ? sa : sb).append(d).append("\n\n");
        }
        a = Files.writeString(dir.resolve("a.txt"), sa);
        b = Files.writeString(dir.resolve("b.txt"), "\n" + sb);
    }

    private DataPrep.Stats prep(String out, double frac, long seed) {
        return DataPrep.prepare(List.of(a, b), ByteTokenizer.INSTANCE, dir.resolve(out), frac, seed);
    }

    /** The documents of a token file: runs ended by eot (every run must end with one). */
    private static List<String> decodeDocs(Path f) {
        try (TokenFile tf = TokenFile.open(f)) {
            int[] t = tf.toArray();
            assertThat(t.length == 0 || t[t.length - 1] == 256).as("ends with eot").isTrue();
            List<String> out = new ArrayList<>();
            int start = 0;
            for (int i = 0; i < t.length; i++)
                if (t[i] == 256) {
                    out.add(ByteTokenizer.INSTANCE.decode(Arrays.copyOfRange(t, start, i)));
                    start = i + 1;
                }
            return out;
        }
    }

    @Test
    void splitsWholeDocumentsWithEotAfterEach() throws IOException {
        DataPrep.Stats s = prep("out", 0.2, 7);
        Path out = dir.resolve("out");
        List<String> train = decodeDocs(out.resolve("train.bin")), val = decodeDocs(out.resolve("val.bin"));
        assertThat(val).hasSize(4);
        assertThat(train).hasSize(16);
        List<String> all = new ArrayList<>(train);
        all.addAll(val);
        assertThat(all).containsExactlyInAnyOrderElementsOf(docs);
        // each split keeps the corpus order
        assertThat(train).isSortedAccordingTo((x, y) -> Integer.compare(docs.indexOf(x), docs.indexOf(y)));
        assertThat(val).isSortedAccordingTo((x, y) -> Integer.compare(docs.indexOf(x), docs.indexOf(y)));

        long valBytes = val.stream().mapToLong(d -> d.getBytes(StandardCharsets.UTF_8).length).sum();
        assertThat(s.val()).isEqualTo(new DataPrep.Split(4, valBytes + 4, valBytes));
        assertThat(s.train().documents()).isEqualTo(16);
        assertThat(s.train().tokens()).isEqualTo(s.train().bytes() + 16);
        assertThat(s.vocabSize()).isEqualTo(257);
        assertThat(s.sources()).containsExactly(a.toString(), b.toString());

        JsonNode info = Json.MAPPER.readTree(Files.readString(out.resolve("data.json")));
        assertThat(info.get("tokenizer").stringValue()).isEqualTo("bytes");
        assertThat(info.get("vocab_size").intValue()).isEqualTo(257);
        assertThat(info.get("val").get("documents").intValue()).isEqualTo(4);
        assertThat(info.get("train").get("tokens").longValue()).isEqualTo(s.train().tokens());
        assertThat(info.get("sources").get(1).get("documents").intValue()).isEqualTo(8);

        try (Dataset ds = Dataset.open(out)) {
            assertThat(ds.tokenizer()).isSameAs(ByteTokenizer.INSTANCE);
            assertThat(ds.train().size()).isEqualTo(s.train().tokens());
            assertThat(ds.val().size()).isEqualTo(s.val().tokens());
        }
    }

    @Test
    void sameInputsGiveIdenticalFiles() throws IOException {
        prep("one", 0.25, 3);
        prep("two", 0.25, 3);
        prep("other", 0.25, 4);
        for (String f : List.of("train.bin", "val.bin", "data.json", "tokenizer/tokenizer.txt"))
            assertThat(Files.readAllBytes(dir.resolve("one").resolve(f))).isEqualTo(Files.readAllBytes(dir.resolve("two").resolve(f)));
        assertThat(decodeDocs(dir.resolve("other/val.bin"))).isNotEqualTo(decodeDocs(dir.resolve("one/val.bin")));
    }

    @Test
    void rerunIntoTheSameDirectoryReplacesStaleTokenizerFiles() throws IOException {
        Path out = dir.resolve("again");
        Files.createDirectories(out.resolve("tokenizer"));
        Files.writeString(out.resolve("tokenizer/tokenizer.json"), "{}");
        prep("again", 0.2, 1);
        prep("again", 0.2, 1);
        try (var files = Files.list(out.resolve("tokenizer"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("tokenizer.txt");
        }
        try (var files = Files.list(out)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("train.bin", "val.bin", "tokenizer", "data.json");
        }
    }

    @Test
    void atLeastOneValidationDocument() {
        DataPrep.Stats s = DataPrep.prepareSources(List.of(Corpus.of("t", "x\n\ny\n\nz")), ByteTokenizer.INSTANCE,
                dir.resolve("o"), 0.01, 0);
        assertThat(s.val().documents()).isEqualTo(1);
        assertThat(s.train().documents()).isEqualTo(2);
    }

    @Test
    void rejectsBadFractionSingleDocumentAndNoFiles() {
        for (double f : new double[] {0, -0.1, 0.51, Double.NaN})
            assertThatThrownBy(() -> prep("x", f, 0)).isInstanceOf(LaminaException.class)
                    .hasMessageContaining("validation fraction must be in (0, 0.5]");
        assertThatThrownBy(() -> DataPrep.prepareSources(List.of(Corpus.of("t", "only one")), ByteTokenizer.INSTANCE, dir, 0.1, 0))
                .hasMessageContaining("1 document(s); need at least 2");
        assertThatThrownBy(() -> DataPrep.prepare(List.of(), ByteTokenizer.INSTANCE, dir, 0.1, 0)).hasMessageContaining("no corpus files");
        assertThatThrownBy(() -> DataPrep.prepare(List.of(dir.resolve("missing.txt")), ByteTokenizer.INSTANCE, dir.resolve("o"), 0.1, 0))
                .hasMessageContaining("missing.txt: corpus file not found");
        assertThat(dir.resolve("o")).doesNotExist();
    }

    @Test
    void datasetErrors() throws IOException {
        assertThatThrownBy(() -> Dataset.open(dir.resolve("none"))).hasMessageContaining("data directory not found")
                .hasMessageContaining("lamina prepare");
        assertThatThrownBy(() -> Dataset.open(dir)).hasMessageContaining("not a prepared data directory (no data.json)");
        prep("out", 0.2, 1);
        Path out = dir.resolve("out");
        TokenFile.write(out.resolve("val.bin"), new int[] {1}, 300);
        assertThatThrownBy(() -> Dataset.open(out)).hasMessageContaining("val.bin: vocabulary size 300 does not match the tokenizer's 257");
        Files.delete(out.resolve("train.bin"));
        assertThatThrownBy(() -> Dataset.open(out)).hasMessageContaining("train.bin: token file not found");
    }
}
