package dev.lamina.cli;

import dev.lamina.io.LaminaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** prepare → train → resume → generate → verify through the CLI, and its answers to bad input. */
class CoreCommandsTest extends CliTest {

    /** The PyTorch test vectors kept with the core module's tests. */
    static final Path VECTORS = Path.of("..", "lamina-core", "src", "test", "resources", "testvectors");

    record Result(int code, String out, String err) {}

    Result run(String... args) {
        clearOutput();
        int code = Main.run(args);
        return new Result(code, out(), err());
    }

    @Test
    void everyCommandsHelpRendersWithoutFormatWarnings() {
        java.util.List<java.util.List<String>> paths = new java.util.ArrayList<>();
        collect(new picocli.CommandLine(new Main()), java.util.List.of(), paths);
        assertThat(paths).hasSizeGreaterThan(10);
        for (java.util.List<String> path : paths) {
            java.util.List<String> args = new java.util.ArrayList<>(path);
            args.add("--help");
            Result r = run(args.toArray(String[]::new));
            assertThat(r.code()).as(String.join(" ", args)).isZero();
            assertThat(r.err()).as(String.join(" ", args)).doesNotContain("WARN");   // e.g. an unescaped % in a description
            assertThat(r.out()).as(String.join(" ", args)).contains("Usage: lamina");
        }
    }

    private static void collect(picocli.CommandLine cl, java.util.List<String> path, java.util.List<java.util.List<String>> out) {
        for (var e : cl.getSubcommands().entrySet()) {
            if (e.getValue().getCommandSpec().aliases().length > 0 && java.util.Arrays.asList(e.getValue().getCommandSpec().aliases()).contains(e.getKey()))
                continue;
            java.util.List<String> p = new java.util.ArrayList<>(path);
            p.add(e.getKey());
            out.add(p);
            collect(e.getValue(), p, out);
        }
    }

    @Test
    void endToEndWithTheByteTokenizer(@TempDir Path dir) throws Exception {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 60; i++) text.append("The jury said the election was fair. The city thanked them.\n\n");
        Path corpus = Files.writeString(dir.resolve("c.txt"), text);
        Path data = dir.resolve("data"), run = dir.resolve("run");
        assertThat(run("prepare", "--corpus", corpus.toString(), "--tokenizer", "bytes", "--out", data.toString()).code()).isZero();

        Result train = run("train", "--preset", "tiny", "--data", data.toString(), "--out", run.toString(), "--steps", "6",
                "--seq", "32", "--batch", "2", "--eval-every", "3");
        assertThat(train.code()).as(train.err()).isZero();
        assertThat(train.err()).contains("val loss");
        assertThat(run.resolve("model.safetensors")).exists();
        assertThat(Files.readAllLines(run.resolve("metrics.jsonl"))).hasSize(6);

        Result resumed = run("train", "--resume", run.toString(), "--steps", "8");
        assertThat(resumed.code()).as(resumed.err()).isZero();
        assertThat(resumed.err()).contains("resuming").contains("at step 6 of 8");
        assertThat(Files.readAllLines(run.resolve("metrics.jsonl"))).hasSize(8);
        assertThat(resumed.err()).contains("plots: " + run.resolve("plots/loss.png"));
        assertThat(run.resolve("plots/loss.png")).isNotEmptyFile();
        assertThat(Files.readString(run.resolve("plots/loss.svg"))).contains("<svg");   // (its text is drawn as paths)

        Result gen = run("generate", "--model", run.toString(), "--prompt", "The", "--max-tokens", "5", "--temperature", "0");
        assertThat(gen.code()).as(gen.err()).isZero();
        assertThat(gen.out()).startsWith("The");
    }

    @Test
    void sixteenBitTrainingRecordsItsPrecisionAndResumesInIt(@TempDir Path dir) throws Exception {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 60; i++) text.append("The jury said the election was fair. The city thanked them.\n\n");
        Path corpus = Files.writeString(dir.resolve("c.txt"), text);
        Path data = dir.resolve("data"), run = dir.resolve("run");
        assertThat(run("prepare", "--corpus", corpus.toString(), "--tokenizer", "bytes", "--out", data.toString()).code()).isZero();

        Result bad = run("train", "--preset", "tiny", "--data", data.toString(), "--out", run.toString(), "--precision", "fp8");
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err().strip()).doesNotContain("\n").contains("fp32, bf16 or fp16").contains("--precision");
        assertThat(run).doesNotExist();                                   // refused before anything was written

        Result train = run("train", "--preset", "tiny", "--data", data.toString(), "--out", run.toString(), "--steps", "4",
                "--seq", "32", "--batch", "2", "--eval-every", "2", "--precision", "fp16");
        assertThat(train.code()).as(train.err()).isZero();
        assertThat(train.err()).contains("fp16 storage (float32 master weights, dynamic loss scaling)").contains("loss scale");
        var state = dev.lamina.io.Json.MAPPER.readTree(Files.readString(run.resolve("state.json")));
        assertThat(state.get("train").get("precision").stringValue()).isEqualTo("fp16");
        assertThat(state.get("loss_scaler").get("scale").floatValue()).isEqualTo(65536f);
        assertThat(Files.readAllLines(run.resolve("metrics.jsonl")).getFirst()).contains("\"loss_scale\"");

        Result other = run("train", "--resume", run.toString(), "--steps", "6", "--precision", "bf16");
        assertThat(other.code()).isNotZero();
        assertThat(other.err().strip()).doesNotContain("\n").contains("trains in fp16");
        Result resumed = run("train", "--resume", run.toString(), "--steps", "6");
        assertThat(resumed.code()).as(resumed.err()).isZero();
        assertThat(resumed.err()).contains("at step 4 of 6").contains("fp16 storage");
        assertThat(Files.readAllLines(run.resolve("metrics.jsonl"))).hasSize(6);

        Result plan = run("plan", "memory", "--preset", "tiny", "--vocab", "257", "--batch", "2", "--seq", "32", "--precision", "bf16");
        assertThat(plan.code()).as(plan.err()).isZero();
        assertThat(plan.out()).contains("float32 master weights").contains("in 16 bits");
    }

    @Test
    void verifyPassesOnTheSharedVectorsAndCountsCases() throws Exception {
        Path dir = VECTORS;
        Result r = run("verify", dir.toString());
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("verified 7 cases, 0 failed").contains("grad.layers.0.self_attn.q_proj.weight");
    }

    @Test
    void verifyFailsOnATamperedCase(@TempDir Path dir) throws Exception {
        Path src = VECTORS;
        Files.copy(src.resolve("llama_pre.safetensors"), dir.resolve("llama_pre.safetensors"));
        String cfg = Files.readString(src.resolve("llama_pre.json")).replace("\"norm_eps\": 1e-05", "\"norm_eps\": 0.5");
        Files.writeString(dir.resolve("llama_pre.json"), cfg);
        Result r = run("verify", dir.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.out()).contains("FAIL").contains("verified 1 cases, 1 failed");
    }

    @Test
    void libraryErrorsAboutASettingNameTheCommandsFlag() {
        var train = new picocli.CommandLine(new TrainCommand()).getCommandSpec();
        var e = catchThrowableOfType(LaminaException.class, () -> dev.lamina.train.TrainConfig.builder(10, 2, 8).weightDecay(-1).build());
        assertThat(e.getMessage()).doesNotContain("--").startsWith("weightDecay must be >= 0");
        assertThat(Main.message(e, train)).isEqualTo("--weight-decay must be >= 0, got -1.0");
        assertThat(Main.message(LaminaException.field("seq", "training data has 3 tokens, fewer than seq + 2 = 66"), train))
                .isEqualTo("training data has 3 tokens, fewer than seq + 2 = 66 (--seq)");
        assertThat(Main.message(LaminaException.field("growBy", "growBy must be >= 1, got 0"), train))
                .isEqualTo("growBy must be >= 1, got 0"); // train has no --grow-by: the library's words stand
    }

    @Test
    void badInputGivesOneLineAndANonZeroExit(@TempDir Path dir) throws Exception {
        Result r = run("train", "--preset", "nope", "--data", dir.toString(), "--out", dir.resolve("r").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).doesNotContain("\n").contains("not a prepared data directory");

        r = run("train", "--preset", "tiny", "--config", "x.json");
        assertThat(r.code()).isEqualTo(2);

        r = run("train", "--steps", "abc", "--preset", "tiny");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--steps");

        r = run("generate", "--model", dir.toString(), "--prompt", "x");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).doesNotContain("\n").contains("not a model directory");

        Path badWeights = dir.resolve("bad");
        Files.createDirectories(badWeights);
        Files.copy(VECTORS.resolve("llama_pre.json"), badWeights.resolve("config.json"));
        Files.write(badWeights.resolve("model.safetensors"), new byte[]{1, 2, 3});
        r = run("generate", "--model", badWeights.toString(), "--prompt", "x");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).doesNotContain("\n").contains("model.safetensors");
        assertThat(r.err()).doesNotContain("Exception");

        r = run("verify", dir.resolve("missing").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("not a directory of test vectors");

        // data-parallel flags are checked before anything is read or written
        String[][] badFlags = {{"--bucket-mb", "-1"}, {"--rank", "1"}, {"--shard-optimizer"}, {"--peers", "a:1,b", "--rank", "0"},
                {"--peers", "a:1,b:2", "--rank", "2"}, {"--ring-timeout", "0"}};
        String[] errors = {"--bucket-mb must be in [0, 2048]", "--rank needs --peers", "--shard-optimizer shards over data-parallel workers",
                "--peers: 'b' is not HOST:PORT", "--rank must be in [0, 2), got 2", "--ring-timeout must be >= 1 second"};
        for (int i = 0; i < badFlags.length; i++) {
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("train", "--preset", "tiny", "--data", dir.resolve("none").toString(),
                    "--out", dir.resolve("dp").toString()));
            args.addAll(java.util.List.of(badFlags[i]));
            r = run(args.toArray(String[]::new));
            assertThat(r.code()).as(String.join(" ", badFlags[i])).isEqualTo(1);
            assertThat(r.err().strip()).doesNotContain("\n").contains(errors[i]);
            assertThat(dir.resolve("dp")).doesNotExist();
        }
    }

    @Test
    void incompatibleCheckpointIsRefused(@TempDir Path dir) throws Exception {
        Path src = VECTORS;
        Path m = dir.resolve("m");
        Files.createDirectories(m);
        // gpt2 config beside llama weights
        Files.copy(src.resolve("gpt2_pre.json"), m.resolve("config.json"));
        var st = dev.lamina.io.SafeTensors.open(src.resolve("llama_pre.safetensors"));
        var w = new dev.lamina.io.SafeTensors.Writer();
        for (String n : st.names()) if (n.startsWith("param.")) w.putTensor(n.substring(6), st.tensor(n));
        w.write(m.resolve("model.safetensors"));
        st.close();
        Result r = run("generate", "--model", m.toString(), "--prompt", "x");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("incompatible config");
    }
}
