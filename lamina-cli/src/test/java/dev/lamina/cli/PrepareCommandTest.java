package dev.lamina.cli;

import dev.lamina.data.Dataset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class PrepareCommandTest extends CliTest {
    @TempDir Path dir;


    private Path corpus(String name, String text) throws IOException { return Files.writeString(dir.resolve(name), text); }

    @Test
    void preparesADataDirectory() throws IOException {
        Path c = corpus("c.txt", "first doc\nstill first\n\nsecond doc\n\nthird doc\n\nfourth\n");
        Path o = dir.resolve("data");
        int code = Main.run("prepare", "--corpus", c.toString(), "--tokenizer", "bytes", "--out", o.toString(),
                "--val-fraction", "0.25", "--seed", "5");
        assertThat(code).as(err()).isZero();
        assertThat(out()).contains("tokenizer bytes, vocab 257").contains("train: 3 documents").contains("val:   1 documents");
        try (Dataset ds = Dataset.open(o)) {
            assertThat(ds.train().size() + ds.val().size()).isEqualTo(Files.size(c) - 7 + 4);  // text bytes minus blank-line \n's, plus 4 eot
        }
    }

    @Test
    void preparesTheBundledCorpus() {
        Path o = dir.resolve("brown");
        assertThat(Main.run("prepare", "--corpus", "brown", "--tokenizer", "bytes", "--out", o.toString())).as(err()).isZero();
        assertThat(out()).contains("from brown (bundled)").contains("train: 475 documents").contains("val:   25 documents");
    }

    @Test
    void missingCorpusFileIsOneLineExit1() {
        int code = Main.run("prepare", "--corpus", dir.resolve("nope.txt").toString(), "--tokenizer", "bytes", "--out", dir.resolve("o").toString());
        assertThat(code).isEqualTo(1);
        assertThat(err()).isEqualTo("lamina: error: " + dir.resolve("nope.txt") + ": corpus file not found" + System.lineSeparator());
    }

    @Test
    void emptyCorpusExit1() throws IOException {
        Path c = corpus("empty.txt", "\n\n");
        assertThat(Main.run("prepare", "--corpus", c.toString(), "--tokenizer", "bytes", "--out", dir.resolve("o").toString())).isEqualTo(1);
        assertThat(err()).contains("empty.txt: no text").doesNotContain("Exception").hasLineCount(1);
    }

    @Test
    void badValFractionExit1() throws IOException {
        Path c = corpus("c.txt", "a\n\nb\n");
        assertThat(Main.run("prepare", "--corpus", c.toString(), "--tokenizer", "bytes", "--out", dir.resolve("o").toString(),
                "--val-fraction", "0.9")).isEqualTo(1);
        assertThat(err()).contains("validation fraction must be in (0, 0.5], got 0.9").hasLineCount(1);
    }

    @Test
    void badTokenizerExit1() throws IOException {
        Path c = corpus("c.txt", "a\n\nb\n");
        assertThat(Main.run("prepare", "--corpus", c.toString(), "--tokenizer", dir.resolve("tok").toString(), "--out", dir.resolve("o").toString()))
                .isEqualTo(1);
        assertThat(err()).contains("tokenizer directory not found").hasLineCount(1);
    }

    @Test
    void usageErrorsExit2() {
        assertThat(Main.run("prepare", "--tokenizer", "bytes", "--out", "x")).isEqualTo(2);
        assertThat(err()).contains("--corpus");
        assertThat(Main.run("prepare", "--corpus", "a.txt", "--tokenizer", "bytes", "--out", "x", "--val-fraction", "lots")).isEqualTo(2);
        assertThat(Main.run("prepare", "--corpus", "a.txt", "--tokenizer", "bytes", "--out", "x", "--bogus")).isEqualTo(2);
    }
}
