package dev.lamina.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The serve and bench commands: argument errors, a quick inference benchmark on the tiny preset, one training-benchmark step. */
class ServeAndBenchCommandTest extends CliTest {

    @Test
    void serveRefusesAMissingRunDirectoryAndBadFlags(@TempDir Path dir) {
        assertThat(Main.run("serve", "--model", dir.resolve("nope").toString())).isEqualTo(1);
        assertThat(err()).contains("not a run directory, Hugging Face directory or GGUF file").doesNotContain("Exception");
        clearOutput();
        assertThat(Main.run("serve", "--model", dir.toString(), "--max-concurrent", "0")).isEqualTo(1);
        assertThat(err()).contains("max concurrent must be >= 1");
        clearOutput();
        assertThat(Main.run("serve")).isEqualTo(1);
        assertThat(err()).contains("give --model, --cascade or --router");
    }

    @Test
    void benchInferPrintsEveryFigure() {
        int code = Main.run("bench", "infer", "--preset", "tiny", "--vocab", "300", "--prompt", "16", "--tokens", "8",
                "--repeats", "2", "--concurrency", "1,2", "--warmup", "0");
        assertThat(code).as(err()).isZero();
        assertThat(out()).contains("prefill:", "decode, batch 1:", "GB/s this machine reads", " 1 concurrent streams:", " 2 concurrent streams:",
                "time to first token", "load average");
        clearOutput();
        assertThat(Main.run("bench", "infer", "--preset", "tiny", "--repeats", "0")).isEqualTo(1);
        assertThat(err()).contains("--repeats must be >= 1");
        clearOutput();                                   // a 16-bit KV cache, and a bad cache type in one line
        assertThat(Main.run("bench", "infer", "--preset", "tiny", "--vocab", "300", "--prompt", "16", "--tokens", "8", "--repeats", "1",
                "--concurrency", "1", "--warmup", "0", "--kv-cache-dtype", "f16")).as(err()).isZero();
        assertThat(out()).contains("KV cache f16", "decode, batch 1:");
        clearOutput();
        assertThat(Main.run("bench", "infer", "--preset", "tiny", "--kv-cache-dtype", "q4")).isEqualTo(1);
        assertThat(err().strip()).isEqualTo("lamina: error: --kv-cache-dtype must be f32, bf16 or f16, got 'q4'");
        clearOutput();
        assertThat(Main.run("bench", "memory", "--preset", "llama-s", "--method", "full", "--kv-cache-dtype", "f16")).isEqualTo(1);
        assertThat(err()).contains("--kv-cache-dtype is for --method inference").doesNotContain("Exception");
    }

    @Test
    @DisabledIfSystemProperty(named = "lamina.kernels", matches = "scalar",
            disabledReason = "a benchmark-sized step takes minutes on the scalar reference kernels")
    void benchTrainPrintsThroughputProfileMemoryAndAllocation() {
        int code = Main.run("bench", "train", "--preset", "gpt2-s", "--steps", "1", "--profile");
        assertThat(code).as(err()).isZero();
        assertThat(out()).contains("gpt2-s:", "parameters", "median step", "MFU", "memory: parameters", "activation gradients (lent during backward)",
                "allocated per step (all threads): ", "| linear | forward |", "| attention | backward |", "| adamw | update |",
                "| zero node gradients | backward |", "| zero parameter gradients | update |");
        assertThat(out()).containsPattern("(?m)^tokens_per_s=\\d+$");
        clearOutput();
        assertThat(Main.run("bench", "train", "--preset", "small")).isEqualTo(1);
        assertThat(err()).contains("--preset must be one of").doesNotContain("Exception");
        clearOutput();
        assertThat(Main.run("bench", "train", "--preset", "llama-s", "--steps", "0")).isEqualTo(1);
        assertThat(err()).contains("--steps must be >= 1");
    }

    @Test
    void threadsBelowOneAreRefusedNamingTheFlag() {
        for (String[] args : new String[][] {{"bench", "train", "--preset", "llama-s", "--threads", "0"},
                                             {"bench", "infer", "--threads", "-2"}}) {
            clearOutput();
            assertThat(Main.run(args)).as(String.join(" ", args)).isEqualTo(1);
            assertThat(err()).contains("lamina: error: --threads must be >= 1, got " + args[args.length - 1])
                    .doesNotContain("Exception");
        }
    }
}
