package dev.lamina.spark;

import dev.lamina.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** lamina spark train as a barrier stage of two tasks (local[2]) against one `lamina train` with the same global batch. */
class SparkTrainTest {
    static List<String> losses(Path run) throws Exception {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl")))
            if (line.contains("\"loss\"") && line.contains("\"step\"")) out.add(line.replaceAll(".*\"loss\" ?: ?([-0-9.eE]+).*", "$1"));
        return out;
    }

    /** Byte-level token files of a repetitive text in dir/data. */
    static void prepare(Path dir) throws Exception {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 400; i++) text.append("the cat sat on the mat. the dog ate the bone ").append(i % 7).append(i % 20 == 19 ? ".\n\n" : ". ");
        Files.writeString(dir.resolve("corpus.txt"), text);
        assertThat(Main.run("prepare", "--corpus", dir.resolve("corpus.txt").toString(), "--tokenizer", "bytes", "--out", dir.resolve("data").toString()))
                .isZero();
    }

    /** `lamina train` of the tiny preset on dir/data into dir/one: one worker, --accum 2; and the arguments it used. */
    static List<String> oneWorker(Path dir, String... extra) {
        List<String> common = new ArrayList<>(List.of("--preset", "tiny", "--data", dir.resolve("data").toString(), "--batch", "2", "--seq", "32",
                "--accum", "2", "--threads", "1", "--seed", "3"));
        common.addAll(List.of(extra));
        List<String> one = new ArrayList<>(List.of("train", "--out", dir.resolve("one").toString()));
        one.addAll(common);
        assertThat(Main.run(one.toArray(String[]::new))).isZero();
        return common;
    }

    /** `lamina spark train --workers 2` with the same arguments into dir/name; master may be null (local[2]). */
    static List<String> sparkRun(Path dir, String name, String master, List<String> common) {
        List<String> spark = new ArrayList<>(List.of("spark", "train", "--workers", "2", "--out", dir.resolve(name).toString()));
        if (master != null) spark.addAll(List.of("--master", master));
        spark.addAll(common);
        return spark;
    }

    static void sameRun(Path a, Path b, int steps) throws Exception {
        assertThat(losses(a)).hasSize(steps).isEqualTo(losses(b));
        assertThat(Files.readAllBytes(a.resolve("model.safetensors"))).isEqualTo(Files.readAllBytes(b.resolve("model.safetensors")));
    }

    @Test
    void twoTasksTrainAsOneWorkerBitForBit(@TempDir Path dir) throws Exception {
        prepare(dir);
        List<String> spark = sparkRun(dir, "spark", null, oneWorker(dir, "--steps", "6", "--eval-every", "3"));
        assertThat(Main.run(spark.toArray(String[]::new))).isZero();
        sameRun(dir.resolve("spark"), dir.resolve("one"), 6);
        // the same command again with more steps resumes from the checkpoint (as a retried stage does): steps 1-6 kept, 7-9 added,
        // as one worker resumed to step 9
        List<String> more = new ArrayList<>(spark);
        more.set(more.indexOf("--steps") + 1, "9");
        assertThat(Main.run(more.toArray(String[]::new))).isZero();
        assertThat(Main.run("train", "--resume", dir.resolve("one").toString(), "--steps", "9", "--threads", "1")).isZero();
        sameRun(dir.resolve("spark"), dir.resolve("one"), 9);
        // batch generation with the trained model: every line back, in order, its completion the model's own
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 7; i++) lines.append("{\"id\": ").append(i).append(", \"prompt\": \"the cat ").append(i).append("\"}\n");
        Files.writeString(dir.resolve("prompts.jsonl"), lines);
        assertThat(Main.run("spark", "generate", "--master", "local[2]", "--partitions", "3", "--model", dir.resolve("one").toString(),
                "--input", dir.resolve("prompts.jsonl").toString(), "--out", dir.resolve("out.jsonl").toString(), "--max-tokens", "6")).isZero();
        List<String> got = Files.readAllLines(dir.resolve("out.jsonl"));
        assertThat(got).hasSize(7);
        dev.lamina.Lamina.Model m = dev.lamina.Lamina.load(dir.resolve("one"));
        for (int i = 0; i < 7; i++) {
            var o = dev.lamina.io.Json.MAPPER.readTree(got.get(i));
            assertThat(o.get("id").asInt()).isEqualTo(i);
            assertThat(o.get("completion").asString()).isEqualTo(m.generate("the cat " + i, 6, dev.lamina.infer.Sampler.greedy(), null));
        }
        Files.writeString(dir.resolve("bad.jsonl"), "{\"id\": 1}\n");
        assertThat(Main.run("spark", "generate", "--model", dir.resolve("one").toString(), "--input", dir.resolve("bad.jsonl").toString(),
                "--out", dir.resolve("x.jsonl").toString())).isEqualTo(1);
        assertThat(dir.resolve("x.jsonl")).doesNotExist();
        // the stage's own flags are refused
        assertThat(Main.run("spark", "train", "--workers", "2", "--rank", "1")).isEqualTo(1);
        // refused before any task starts: a worker count that does not divide the micro-batches, a master that does not answer
        long t0 = System.nanoTime();
        assertThat(Main.run("spark", "train", "--workers", "3", "--accum", "2", "--preset", "tiny", "--data", dir.resolve("data").toString(),
                "--out", dir.resolve("x").toString())).isEqualTo(1);
        assertThat(Main.run("spark", "train", "--master", "spark://127.0.0.1:1", "--workers", "2", "--accum", "2", "--preset", "tiny",
                "--data", dir.resolve("data").toString(), "--out", dir.resolve("x").toString())).isEqualTo(1);
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(20);
        assertThat(dir.resolve("x")).doesNotExist();
    }

    @Test
    void sparkPrepareWritesWhatPrepareWrites(@TempDir Path dir) throws Exception {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 300; i++) text.append("Document ").append(i).append(": the quick brown fox jumps ").append(i % 13).append(" times.\n\n");
        Files.writeString(dir.resolve("corpus.txt"), text);
        for (String tok : new String[]{"bytes", dir.resolve("bpe").toString()}) {
            if (!tok.equals("bytes"))
                assertThat(Main.run("tokenizer", "train", "--corpus", dir.resolve("corpus.txt").toString(), "--vocab-size", "300", "--out", tok)).isZero();
            Path a = dir.resolve("a"), b = dir.resolve("b");
            assertThat(Main.run("prepare", "--corpus", dir.resolve("corpus.txt").toString(), "--tokenizer", tok, "--out", a.toString(), "--seed", "4")).isZero();
            assertThat(Main.run("spark", "prepare", "--master", "local[2]", "--partitions", "5", "--corpus", dir.resolve("corpus.txt").toString(),
                    "--tokenizer", tok, "--out", b.toString(), "--seed", "4")).isZero();
            for (String f : new String[]{"train.bin", "val.bin", "data.json"})
                assertThat(Files.readAllBytes(b.resolve(f))).as(tok + " " + f).isEqualTo(Files.readAllBytes(a.resolve(f)));
        }
        // the same documents as a JSONL column give the same token files
        StringBuilder jsonl = new StringBuilder();
        for (String doc : text.toString().split("\n\n")) jsonl.append(dev.lamina.io.Json.compact(java.util.Map.of("body", doc.strip()))).append('\n');
        Files.writeString(dir.resolve("docs.jsonl"), jsonl);
        Path c = dir.resolve("c");
        assertThat(Main.run("spark", "prepare", "--master", "local[2]", "--corpus", dir.resolve("docs.jsonl").toString(), "--column", "body",
                "--tokenizer", "bytes", "--out", c.toString(), "--seed", "4")).isZero();
        Path a = dir.resolve("a2");
        assertThat(Main.run("prepare", "--corpus", dir.resolve("corpus.txt").toString(), "--tokenizer", "bytes", "--out", a.toString(), "--seed", "4")).isZero();
        for (String f : new String[]{"train.bin", "val.bin"}) assertThat(Files.readAllBytes(c.resolve(f))).as(f).isEqualTo(Files.readAllBytes(a.resolve(f)));
        assertThat(Main.run("spark", "prepare", "--corpus", dir.resolve("docs.jsonl").toString(), "--column", "nope", "--tokenizer", "bytes",
                "--out", dir.resolve("d").toString())).isEqualTo(1);
    }

    @Test
    void workersInSeparateExecutorJvms(@TempDir Path dir) throws Exception {
        // local-cluster[2,1,1024]: two executor processes of one core each, started by Spark on JDK 25
        prepare(dir);
        // and the gradients summed during backward, a bucket per layer (a local master would sum them after backward)
        List<String> spark = sparkRun(dir, "cluster", "local-cluster[2,1,1024]", oneWorker(dir, "--steps", "4", "--eval-every", "4"));
        spark.addAll(List.of("--bucket-mb", "0.01"));
        assertThat(Main.run(spark.toArray(String[]::new))).isZero();
        sameRun(dir.resolve("cluster"), dir.resolve("one"), 4);
        assertThat(Files.readAllLines(dir.resolve("cluster").resolve("metrics.jsonl"))).anyMatch(l -> l.contains("\"allreduce_buckets\":6"));
    }

    /** Whether a process is a Spark executor (its command line, from /proc: ProcessHandle's can be cut short). */
    static boolean isExecutor(ProcessHandle p) {
        try {
            return Files.readString(Path.of("/proc", String.valueOf(p.pid()), "cmdline")).contains("CoarseGrainedExecutorBackend");
        } catch (java.io.IOException e) {
            return p.info().commandLine().orElse("").contains("CoarseGrainedExecutorBackend");
        }
    }

    @Test
    void aKilledExecutorFailsTheStageAndTheRetryResumes(@TempDir Path dir) throws Exception {
        prepare(dir);
        List<String> spark = sparkRun(dir, "cluster", "local-cluster[2,1,1024]",
                oneWorker(dir, "--steps", "40", "--eval-every", "5", "--ring-timeout", "60"));
        var run = java.util.concurrent.CompletableFuture.supplyAsync(() -> Main.run(spark.toArray(String[]::new)));
        Path state = dir.resolve("cluster").resolve("state.json");
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (!Files.exists(state) && System.nanoTime() < deadline) Thread.sleep(50);     // a checkpoint exists: kill a worker
        assertThat(state).exists();
        ProcessHandle executor = ProcessHandle.current().descendants().filter(SparkTrainTest::isExecutor).findFirst()
                .orElseThrow(() -> new AssertionError("no executor process among " + ProcessHandle.current().descendants().map(ProcessHandle::pid).toList()));
        executor.destroyForcibly();
        assertThat(run.get(300, java.util.concurrent.TimeUnit.SECONDS)).isZero();
        sameRun(dir.resolve("cluster"), dir.resolve("one"), 40);
    }
}
