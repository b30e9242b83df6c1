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

    @Test
    void aCachedTeacherIsRunOnceAndNotNeededToResume(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data"), teacher = dir.resolve("teacher"), student = dir.resolve("student"), live = dir.resolve("live");
        assertThat(run("prepare", "--corpus", "brown", "--tokenizer", "bytes", "--out", data.toString()).code()).isZero();
        assertThat(run("train", "--preset", "tiny", "--data", data.toString(), "--out", teacher.toString(), "--steps", "3", "--batch", "2",
                "--seq", "32").code()).isZero();
        // every logit cached (K = V = 257): the same run as the live teacher's
        var r = run("distill", "--teacher", teacher.toString(), "--preset", "tiny", "--data", data.toString(), "--out", student.toString(),
                "--steps", "4", "--eval-every", "2", "--batch", "2", "--seq", "32", "--cache-teacher", "257");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("cached the teacher's top 257 over 4 batches").contains("its top 257 logits, cached");
        assertThat(student.resolve("teacher-topk.bin")).isNotEmptyFile();
        r = run("distill", "--teacher", teacher.toString(), "--preset", "tiny", "--data", data.toString(), "--out", live.toString(),
                "--steps", "4", "--eval-every", "2", "--batch", "2", "--seq", "32");
        assertThat(r.code()).as(r.err()).isZero();
        var cached = Files.readAllLines(student.resolve("metrics.jsonl")).stream().map(l -> Double.parseDouble(l.replaceAll(".*\"loss\":([-0-9.E]+).*", "$1"))).toList();
        var direct = Files.readAllLines(live.resolve("metrics.jsonl")).stream().map(l -> Double.parseDouble(l.replaceAll(".*\"loss\":([-0-9.E]+).*", "$1"))).toList();
        for (int i = 0; i < direct.size(); i++) assertThat(cached.get(i)).isCloseTo(direct.get(i), org.assertj.core.data.Offset.offset(1e-4));
        // a resume reads the cache: the teacher itself may be gone; beyond the cached batches it says so
        try (var files = Files.walk(teacher)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        Path moved = dir.resolve("student2");
        Files.move(student, moved);
        r = run("distill", "--resume", moved.toString(), "--steps", "4");
        assertThat(r.code()).as(r.err()).isZero();
        r = run("distill", "--resume", moved.toString(), "--steps", "6");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).contains("the teacher cache holds 4 batches").doesNotContain("\n");
        r = run("distill", "--teacher", teacher.toString(), "--preset", "tiny", "--data", data.toString(), "--out", dir.resolve("bad").toString(),
                "--cache-teacher", "0");
        assertThat(r.err().strip()).isEqualTo("lamina: error: --cache-teacher must be >= 1 (logits kept a position), got 0");
    }
}
