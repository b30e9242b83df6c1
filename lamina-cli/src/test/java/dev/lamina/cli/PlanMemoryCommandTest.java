package dev.lamina.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static dev.lamina.cli.FinetuneCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** plan memory's breakdown and --fit, its one-line errors, and the check train and finetune make before they start. */
class PlanMemoryCommandTest {

    @Test
    void printsTheBreakdownThePeakAndWhatFits() {
        var r = run("plan", "memory", "--preset", "llama-s", "--vocab", "8192", "--batch", "8", "--seq", "256");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("| weights | 67,653,120 |").contains("| activations |").contains("| temporaries |")
                .contains("| allocator and runtime |").containsPattern("peak_bytes=[0-9]{9}\\n");
        long plain = Long.parseLong(r.out().replaceAll("(?s).*peak_bytes=([0-9]+).*", "$1"));
        r = run("plan", "memory", "--preset", "llama-s", "--vocab", "8192", "--batch", "8", "--seq", "256", "--checkpoint-activations");
        long ck = Long.parseLong(r.out().replaceAll("(?s).*peak_bytes=([0-9]+).*", "$1"));
        assertThat(ck).isLessThan(plain - 250_000_000L);             // 401 MB of activations become 105
        r = run("plan", "memory", "--preset", "llama-s", "--vocab", "8192", "--seq", "256", "--fit", "600MB");
        assertThat(r.out()).containsPattern("\\| train \\| fp32 \\| dp \\| none \\| [1-7] \\|").contains("| train | fp32 | dp | every layer |")
                .contains("fitting_combinations=");
        r = run("plan", "memory", "--config", "../configs/llama-2-7b.json", "--task", "train", "--precision", "bf16", "--target", "pytorch-gpu",
                "--batch", "1", "--seq", "512");
        assertThat(r.out()).contains("float32 master weights").contains("cuBLAS workspace");
    }

    /** Inference of a checkpoint stored in 16 bits is planned as serve runs it (its own precision) unless --precision says otherwise. */
    @Test
    void inferenceOfA16BitCheckpointIsPlannedIn16Bits() {
        Path hf = Path.of("..", "lamina-core", "src", "test", "resources", "hf", "models");
        for (String[] c : new String[][] {{"llama-f16", "the linear maps in float16"}, {"gpt2-bf16", "the linear maps in bfloat16"},
                {"llama", "float32, prepared once"}}) {
            var r = run("plan", "memory", "--model", hf.resolve(c[0]).toString(), "--task", "inference", "--batch", "1", "--seq", "8");
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.out()).as(c[0]).contains(c[1]);
            if (!c[0].equals("llama")) assertThat(r.out()).as(c[0]).contains("one tensor at a time in float32");   // read into 16 bits directly
        }
        var r = run("plan", "memory", "--model", hf.resolve("llama-f16").toString(), "--task", "inference", "--batch", "1", "--seq", "8",
                "--precision", "fp32");
        assertThat(r.out()).contains("float32, prepared once");
    }

    /** A GGUF file served as stored is planned with its tensors as inference holds them, and nothing widened to float32 while loading. */
    @Test
    void aGgufFileIsPlannedAsInferenceHoldsIt(@TempDir Path dir) {
        Path hf = Path.of("..", "lamina-core", "src", "test", "resources", "hf", "models", "llama");
        for (String type : new String[] {"q8_0", "f16"}) {
            Path file = dir.resolve("m-" + type + ".gguf");
            assertThat(dev.lamina.cli.Main.run("export", "gguf", hf.toString(), "--out", file.toString(), "--type", type)).isZero();
            var r = run("plan", "memory", "--model", file.toString(), "--task", "inference", "--batch", "1", "--seq", "8");
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.out()).as(type).contains(String.format(java.util.Locale.ROOT, "| weights | %,d | ", dev.lamina.gguf.GgufModel.servedBytes(file)))
                    .contains("the file's tensors as inference holds them").contains("| loading | 0 |").contains("none: read from the file")
                    .contains("| tokenizer | 0 | ").contains("none: the file holds no vocabulary");
            // the same model as bench memory holds it: loaded as serve loads it, one forward over a cache of --seq positions
            var m = run("bench", "memory", "--model", file.toString(), "--method", "inference", "--seq", "8");
            assertThat(m.code()).as(m.err()).isZero();
            assertThat(m.out()).containsPattern("live_mb=[0-9]+\\n").contains("served weights + tokenizer + f32 KV cache of 8 positions");
        }
        Path gpt2 = dir.resolve("gpt2.gguf");                                 // with its tokenizer: a byte-level BPE's tokens and merges
        assertThat(dev.lamina.cli.Main.run("export", "gguf", hf.resolveSibling("gpt2").toString(), "--out", gpt2.toString(), "--type", "f16")).isZero();
        var r = run("plan", "memory", "--model", gpt2.toString(), "--task", "inference", "--batch", "1", "--seq", "8");
        assertThat(r.out()).containsPattern("\\| tokenizer \\| [1-9][0-9,]* \\| .* \\| held while serving: [1-9][0-9,]* tokens and [1-9][0-9,]* merges \\|");
        Path file = dir.resolve("m-q8_0.gguf");
        for (String[] args : new String[][] {{"--method", "full"}, {"--precision", "bf16", "--method", "inference"}, {"--seq", "100000", "--method", "inference"},
                {"--batch", "4", "--method", "inference"}}) {
            String[] all = new String[args.length + 4];
            all[0] = "bench"; all[1] = "memory"; all[2] = "--model"; all[3] = file.toString();
            System.arraycopy(args, 0, all, 4, args.length);
            var bad = run(all);
            assertThat(bad.code()).as(String.join(" ", args)).isEqualTo(1);
            assertThat(bad.err().strip()).as(String.join(" ", args)).startsWith("lamina: error: ").doesNotContain("\n");
        }
    }

    @Test
    void badInputIsOneLine() {
        for (String[] args : new String[][] {
                {"--preset", "llama-s", "--strategy", "zero4"},
                {"--preset", "llama-s", "--workers", "0"},
                {"--preset", "llama-s", "--workers", "4", "--batch", "6"},
                {"--preset", "llama-s", "--workers", "4", "--strategy", "tp"},
                {"--preset", "llama-s", "--precision", "fp16", "--task", "lora"},
                {"--preset", "llama-s", "--precision", "fp8"},
                {"--preset", "llama-s", "--fit", "12XB"},
                {"--model", "/nonexistent"}}) {
            String[] all = new String[args.length + 2];
            all[0] = "plan";
            all[1] = "memory";
            System.arraycopy(args, 0, all, 2, args.length);
            var r = run(all);
            assertThat(r.code()).as(String.join(" ", args)).isEqualTo(1);
            assertThat(r.err().strip()).as(String.join(" ", args)).startsWith("lamina: error: ").doesNotContain("\n");
        }
    }

    @Test
    void trainingThatCannotFitIsRefusedWithWhatWouldFit(@TempDir Path dir) {
        Path data = dir.resolve("data");
        assertThat(run("prepare", "--corpus", "brown", "--tokenizer", "bytes", "--out", data.toString()).code()).isZero();
        // llama-m at 4096 sequences of 256: terabytes of activations, more than any heap or machine here
        var r = run("train", "--preset", "llama-m", "--data", data.toString(), "--out", dir.resolve("run").toString(), "--batch", "4096",
                "--seq", "256", "--steps", "1");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).doesNotContain("\n").startsWith("lamina: error: training needs about").contains("--force")
                .contains("lamina plan memory");
        assertThat(dir.resolve("run")).doesNotExist();
    }
}
