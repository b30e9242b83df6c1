package dev.lamina.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.lamina.cli.FinetuneCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** lamina distill end to end on the bundled corpus: a teacher, a student, a resume, and bad input in one line with nothing written. */
class DistillCommandTest {

    @Test
    void distillsResumesAndRefusesBadInput(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data"), teacher = dir.resolve("teacher"), student = dir.resolve("student");
        assertThat(run("prepare", "--corpus", "brown", "--tokenizer", "bytes", "--out", data.toString()).code()).isZero();
        var r = run("train", "--preset", "tiny", "--data", data.toString(), "--out", teacher.toString(), "--steps", "3", "--batch", "2", "--seq", "32");
        assertThat(r.code()).as(r.err()).isZero();
        r = run("distill", "--teacher", teacher.toString(), "--preset", "tiny", "--data", data.toString(), "--out", student.toString(),
                "--steps", "2", "--batch", "2", "--seq", "32", "--alpha", "0.8", "--temperature", "1.5");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("distilling from " + teacher).contains("loss = 0.80·1.50²·KL + 0.20·CE").contains("memory plan: peak");
        assertThat(Files.readString(student.resolve("metrics.jsonl"))).contains("\"kl\":").contains("\"ce\":");
        assertThat(Files.readString(student.resolve("distill.json"))).contains("\"alpha\" : 0.8");
        r = run("distill", "--resume", student.toString(), "--steps", "3");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("distilling from " + teacher.toAbsolutePath());
        assertThat(Files.readAllLines(student.resolve("metrics.jsonl"))).hasSize(3);

        for (String[] bad : new String[][] {
                {"--teacher", teacher.toString(), "--alpha", "1.5"},
                {"--teacher", teacher.toString(), "--temperature", "0"},
                {"--alpha", "0.5"},
                {}}) {
            String[] args = new String[bad.length + 7];
            args[0] = "distill";
            args[1] = "--preset";
            args[2] = "tiny";
            args[3] = "--data";
            args[4] = data.toString();
            args[5] = "--out";
            args[6] = dir.resolve("bad").toString();
            System.arraycopy(bad, 0, args, 7, bad.length);
            r = run(args);
            assertThat(r.code()).as(String.join(" ", bad)).isEqualTo(1);
            assertThat(r.err().strip()).as(String.join(" ", bad)).startsWith("lamina: error: ").doesNotContain("\n");
            assertThat(dir.resolve("bad")).doesNotExist();
        }
    }
}
