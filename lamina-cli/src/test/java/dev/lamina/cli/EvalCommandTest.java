package dev.lamina.cli;

import dev.lamina.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** `lamina eval` on the gpt2 fixture of lamina-core, against the figures make_eval_fixtures.py computed with transformers. */
class EvalCommandTest extends CliTest {
    static final Path RESOURCES = Path.of("..", "lamina-core", "src", "test", "resources");
    static final String GPT2 = RESOURCES.resolve("hf/models/gpt2").toString();

    @TempDir Path dir;

    private Path slice() throws Exception {
        String text = Files.readString(RESOURCES.resolve("hf/brown-slice.txt")).substring(0, 600);
        return Files.writeString(dir.resolve("slice.txt"), text);
    }

    private static JsonNode reference(int context, int stride) {
        for (JsonNode r : Json.MAPPER.readTree(RESOURCES.resolve("eval/reference.json").toFile()).get("perplexity").get(0).get("runs"))
            if (r.get("context").intValue() == context && r.get("stride").intValue() == stride) return r;
        throw new AssertionError("no reference run " + context + "/" + stride);
    }

    @Test
    void perplexityOfATextEndsWithItsFinalLine() throws Exception {
        Path text = slice();
        assertThat(Main.run("eval", "--model", GPT2, "--text", text.toString(), "--stride", "16", "--threads", "1")).as(err()).isZero();
        JsonNode ref = reference(64, 16);
        String[] lines = out().strip().split("\n");
        assertThat(lines[0]).startsWith(text + ": " + ref.get("tokens").intValue() + " tokens scored").contains("bits/byte", "bits/char");
        String last = lines[lines.length - 1];
        assertThat(last).startsWith("perplexity=");
        assertThat(Double.parseDouble(last.substring("perplexity=".length()))).isCloseTo(ref.get("ppl").doubleValue(), within(1e-3));
        assertThat(err()).contains("perplexity");                           // progress
    }

    @Test
    void jsonReportsEachTextAndTheTotal() throws Exception {
        Path text = slice(), other = Files.writeString(dir.resolve("other.txt"), "The jury said it did find that many laws are outmoded.");
        assertThat(Main.run("eval", "--model", GPT2, "--text", text.toString(), other.toString(), "--context", "32", "--stride", "7",
                "--tasks", "brown-cloze", "--limit", "3", "--json")).as(err()).isZero();
        JsonNode o = Json.MAPPER.readTree(out());
        JsonNode ref = reference(32, 7);
        assertThat(o.get("context").intValue()).isEqualTo(32);
        assertThat(o.get("texts")).hasSize(2);
        JsonNode first = o.get("texts").get(0);
        assertThat(first.get("tokens").longValue()).isEqualTo(ref.get("tokens").longValue());
        assertThat(first.get("nll").doubleValue()).isCloseTo(ref.get("nll").doubleValue(), within(1e-2));
        long bytes = Json.MAPPER.readTree(RESOURCES.resolve("eval/reference.json").toFile()).get("perplexity").get(0).get("bytes").longValue();
        assertThat(first.get("bytes").longValue()).isEqualTo(bytes);
        assertThat(first.get("bits_per_byte").doubleValue()).isCloseTo(ref.get("nll").doubleValue() / Math.log(2) / bytes, within(1e-4));
        JsonNode total = o.get("total");
        assertThat(total.get("tokens").longValue()).isEqualTo(first.get("tokens").longValue() + o.get("texts").get(1).get("tokens").longValue());
        JsonNode task = o.get("tasks").get(0);
        assertThat(task.get("task").stringValue()).isEqualTo("brown-cloze");
        assertThat(task.get("examples").intValue()).isEqualTo(3);
        assertThat(task.get("acc").doubleValue()).isBetween(0.0, 1.0);
        assertThat(task.has("acc_norm_stderr")).isTrue();
    }

    @Test
    void preparedTokenFilesAreScored() throws Exception {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 60; i++) text.append("The jury said the election was conducted well, number ").append(i).append(".\n\n");
        Path corpus = Files.writeString(dir.resolve("c.txt"), text), data = dir.resolve("data");
        assertThat(Main.run("prepare", "--corpus", corpus.toString(), "--tokenizer", GPT2, "--out", data.toString())).as(err()).isZero();
        long val;
        try (var d = dev.lamina.data.Dataset.open(data)) { val = d.val().size(); }
        clearOutput();
        assertThat(Main.run("eval", "--model", GPT2, "--data", data.toString(), "--stride", "32", "--json")).as(err()).isZero();
        JsonNode t = Json.MAPPER.readTree(out()).get("texts").get(0);
        assertThat(t.get("name").stringValue()).endsWith("val.bin");
        assertThat(t.get("tokens").longValue()).isEqualTo(val - 1);
        assertThat(t.get("bytes").longValue()).isPositive();
    }

    @Test
    void trainLogsTaskAccuracyBesideTheLoss() throws Exception {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 60; i++) text.append("The jury said the election was conducted well, number ").append(i).append(".\n\n");
        Path corpus = Files.writeString(dir.resolve("c.txt"), text), data = dir.resolve("data"), run = dir.resolve("run");
        Path task = Files.writeString(dir.resolve("jury.jsonl"), "{\"context\": \"The jury\", \"choices\": [\" said\", \" ate\"], \"gold\": 0}\n"
                + "{\"context\": \"The election was\", \"choices\": [\" conducted\", \" eaten\"], \"gold\": 0}\n");
        assertThat(Main.run("prepare", "--corpus", corpus.toString(), "--tokenizer", "bytes", "--out", data.toString())).as(err()).isZero();
        assertThat(Main.run("train", "--preset", "tiny", "--data", data.toString(), "--out", run.toString(), "--steps", "2", "--batch", "2",
                "--seq", "16", "--eval-every", "2", "--eval-batches", "1", "--threads", "1", "--eval-tasks", task.toString())).as(err()).isZero();
        assertThat(err()).containsPattern("step 2: .*, jury/acc [01]\\.\\d{4}, jury/acc_norm");
        assertThat(Files.readAllLines(run.resolve("metrics.jsonl")).getLast()).contains("\"jury/acc\":");
        assertThat(run.resolve("plots/tasks.png")).isNotEmptyFile();
        assertThat(run.resolve("plots/tasks.svg")).isNotEmptyFile();
        clearOutput();
        assertThat(Main.run("train", "--preset", "tiny", "--data", data.toString(), "--out", dir.resolve("r2").toString(), "--steps", "2",
                "--eval-tasks", dir.resolve("none.jsonl").toString())).isEqualTo(1);
        assertThat(err()).contains("none.jsonl: no such task file or directory");
    }

    @Test
    void badInputIsOneLineNamingTheFile() throws Exception {
        Path empty = Files.writeString(dir.resolve("empty.txt"), "");
        assertThat(Main.run("eval", "--model", GPT2, "--text", empty.toString())).isEqualTo(1);
        assertThat(err().strip()).isEqualTo("lamina: error: " + empty + ": the text is empty; perplexity needs at least two tokens");
        clearOutput();
        Path longText = Files.writeString(dir.resolve("long.txt"), "The jury said it did. ".repeat(20));
        assertThat(Main.run("eval", "--model", GPT2, "--text", longText.toString())).isEqualTo(1);
        assertThat(err()).contains(longText + ": ").contains("do not fit in a context of 64; give a stride").contains("(--stride)");
        clearOutput();
        assertThat(Main.run("eval", "--model", GPT2, "--text", longText.toString(), "--context", "100", "--stride", "50")).isEqualTo(1);
        assertThat(err()).contains("--context 100 is longer than the model's 64 positions");
        clearOutput();
        Path task = Files.writeString(dir.resolve("t.jsonl"), "{\"context\": \"a\", \"choices\": [\" b\", \" c\"], \"gold\": 1}\n"
                + "{\"context\": \"a\", \"choices\": [\" b\", \" c\"], \"gold\": 5}\n");
        assertThat(Main.run("eval", "--model", GPT2, "--tasks", task.toString())).isEqualTo(1);
        assertThat(err().strip()).isEqualTo("lamina: error: " + task + ":2: gold 5 is out of range for 2 choices (0 to 1)");
    }
}
