package dev.lamina.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.lamina.cli.FinetuneCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** lamina quantize --method: calibrated GGUF files that load and score; the low-bit study's report; bad input is one line and writes nothing. */
class QuantizeCommandTest {

    @Test
    void calibratesWritesAndStudies(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data"), run = dir.resolve("run");
        assertThat(run("prepare", "--corpus", "brown", "--tokenizer", "bytes", "--out", data.toString()).code()).isZero();
        assertThat(run("train", "--preset", "tiny", "--data", data.toString(), "--out", run.toString(), "--steps", "30", "--batch", "4",
                "--seq", "64").code()).isZero();
        Path text = dir.resolve("calib.txt");
        Files.writeString(text, "The jury further said in term-end presentments that the City Executive Committee, which had over-all charge "
                .repeat(20));
        for (String[] how : new String[][] {{"--method", "gptq", "--calib", data.toString(), "--act-order"}, {"--method", "gptq", "--calib", text.toString()},
                {"--method", "mse"}, {"--method", "aciq", "--aciq-fit", "gaussian"}}) {
            Path f = dir.resolve(how[1] + how.length + ".gguf");
            String[] args = new String[how.length + 8];
            System.arraycopy(new String[] {"quantize", run.toString(), "--out", f.toString(), "--type", "q4_0", "--eval", data.toString()}, 0, args, 0, 8);
            System.arraycopy(how, 0, args, 8, how.length);
            var r = run(args);
            assertThat(r.code()).as(String.join(" ", how) + r.err()).isZero();
            assertThat(r.err()).contains("calibrated 24 tensors by " + how[1]);
            assertThat(r.out()).contains("validation perplexity on").contains("q4_0 layers by " + how[1]);
            var g = run("generate", "--model", f.toString(), "--prompt", "The jury", "--max-tokens", "8");
            assertThat(g.code()).as(g.err()).isZero();
        }
        Path study = dir.resolve("lowbit");
        var r = run("experiment", "lowbit", "--model", run.toString(), "--data", data.toString(), "--bits", "4,2", "--groups", "16,channel",
                "--formats", "none", "--calib-tokens", "512", "--eval-tokens", "512", "--out", study.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("| 4-bit g16 |").contains("| 2-bit channel |").doesNotContain("| q4_1 |");
        assertThat(study.resolve("ppl_vs_bits_g16.png")).exists();
        assertThat(dev.lamina.io.Json.MAPPER.readTree(Files.readString(study.resolve("lowbit.json"))).get("cells").size()).isEqualTo(4 * 4);
        // with LSQ cells: quantization-aware fine-tuning per grid, beside the float model fine-tuned the same way
        Path qat = dir.resolve("lowbit-qat");
        r = run("experiment", "lowbit", "--model", run.toString(), "--data", data.toString(), "--bits", "4", "--groups", "channel", "--methods", "rtn",
                "--formats", "none", "--eval-tokens", "512", "--qat-steps", "2", "--qat-batch", "2", "--out", qat.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("| grid | rtn | lsq |").contains("fine-tuned in float32 as the LSQ cells are (2 steps of 2 × 128 tokens");
        var qj = dev.lamina.io.Json.MAPPER.readTree(Files.readString(qat.resolve("lowbit.json")));
        assertThat(qj.get("cells").size()).isEqualTo(2);
        assertThat(qj.get("cells").get(1).get("method").asString()).isEqualTo("lsq");
        assertThat(qj.get("tuned_float_val_loss").doubleValue()).isPositive();
        r = run("experiment", "lowbit", "--model", run.toString(), "--data", data.toString(), "--groups", "16", "--qat-steps", "2", "--out", dir.resolve("bad").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).contains("LSQ cells need groups that are multiples of 32").doesNotContain("\n");
        assertThat(dir.resolve("bad")).doesNotExist();

        Path empty = dir.resolve("empty.txt");
        Files.writeString(empty, "");
        for (String[] bad : new String[][] {{"--type", "q4_0", "--method", "gptq"}, {"--type", "q4_k", "--method", "mse"}, {"--type", "q4_0", "--method", "best"},
                {"--type", "q4_0", "--method", "gptq", "--calib", empty.toString()}, {"--type", "q4_0", "--method", "gptq", "--calib", dir.resolve("nope").toString()},
                {"--type", "q4_0", "--method", "mse", "--calib", text.toString()}}) {
            String[] args = new String[bad.length + 4];
            System.arraycopy(new String[] {"quantize", run.toString(), "--out", dir.resolve("bad.gguf").toString()}, 0, args, 0, 4);
            System.arraycopy(bad, 0, args, 4, bad.length);
            r = run(args);
            assertThat(r.code()).as(String.join(" ", bad)).isEqualTo(1);
            assertThat(r.err().strip()).startsWith("lamina: error: ").doesNotContain("\n");
            assertThat(dir.resolve("bad.gguf")).doesNotExist();
        }
        r = run("experiment", "lowbit", "--model", run.toString(), "--data", data.toString(), "--bits", "5", "--out", dir.resolve("bad").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("--bits must be among 2, 3, 4 and 8");
        r = run("experiment", "lowbit", "--model", run.toString(), "--data", data.toString(), "--groups", "48", "--out", dir.resolve("bad").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).startsWith("lamina: error: 8-bit g48: a group of 48 does not divide the 64 inputs of").doesNotContain("\n");
    }
}
