package dev.lamina.cli;

import dev.lamina.gguf.GgmlType;
import dev.lamina.gguf.GgufFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** `lamina export gguf`, its alias `lamina quantize`, and GGUF files as models of `generate`. */
class GgufCommandsTest extends CliTest {
    static final Path HF = Path.of("..", "lamina-core", "src", "test", "resources", "hf", "models");

    @TempDir Path dir;

    @Test
    void exportThenGenerateFromTheFile() {
        Path q8 = dir.resolve("gpt2-q8_0.gguf"), mixed = dir.resolve("gpt2-q4_k_m.gguf");
        assertThat(Main.run("export", "gguf", HF.resolve("gpt2").toString(), "--out", q8.toString(), "--type", "q8_0")).as(err()).isZero();
        assertThat(out()).contains("as GGUF gpt2 (q8_0)");
        try (GgufFile f = GgufFile.open(q8)) {
            assertThat(f.info("blk.0.attn_qkv.weight").type()).isEqualTo(GgmlType.Q8_0);
            assertThat(f.strings("tokenizer.ggml.tokens")).hasSize(300);
        }
        assertThat(Main.run("quantize", HF.resolve("gpt2").toString(), "--out", mixed.toString(), "--type", "Q4_K_M")).as(err()).isZero();
        assertThat(Main.run("generate", "--model", q8.toString(), "--prompt", "The jury", "--max-tokens", "5", "--temperature", "0"))
                .as(err()).isZero();
        assertThat(out()).contains("The jury");
    }

    /** A file whose matrices are all F16 or BF16 is benchmarked as it is served: in 16 bits. */
    @Test
    void aHalfFileIsBenchmarkedInItsFormat() {
        for (String type : new String[] {"f16", "bf16"}) {
            Path f = dir.resolve("llama-" + type + ".gguf");
            assertThat(Main.run("export", "gguf", HF.resolve("llama").toString(), "--out", f.toString(), "--type", type)).as(err()).isZero();
            clearOutput();
            assertThat(Main.run("bench", "infer", "--model", f.toString(), "--prompt", "8", "--tokens", "4", "--repeats", "1",
                    "--concurrency", "1", "--warmup", "0")).as(err()).isZero();
            assertThat(err()).contains("bench infer: llama-" + type + ".gguf " + type + ",");
            assertThat(out()).contains("decode, batch 1:");
            clearOutput();
        }
    }

    @Test
    void badTypeIsAUsageError() {
        assertThat(Main.run("quantize", HF.resolve("gpt2").toString(), "--out", dir.resolve("x.gguf").toString(), "--type", "q3_k")).isEqualTo(1);
        assertThat(err()).contains("--type: unknown GGUF type 'q3_k'");
    }
}
