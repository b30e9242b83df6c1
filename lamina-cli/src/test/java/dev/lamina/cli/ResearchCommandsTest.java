package dev.lamina.cli;

import dev.lamina.research.LayerGradLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** diagnose, experiment depth, inherit and train --log-layer-grads on tiny budgets. */
class ResearchCommandsTest extends CliTest {
    @TempDir Path dir;

    private Path data() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 40; i++) sb.append("the cat sat on the mat number ").append(i).append(". the dog ate the bone.\n\n");
        Path corpus = Files.writeString(dir.resolve("c.txt"), sb.toString());
        Path d = dir.resolve("data");
        assertThat(Main.run("prepare", "--corpus", corpus.toString(), "--tokenizer", "bytes", "--out", d.toString(),
                "--val-fraction", "0.2")).as(err()).isZero();
        return d;
    }

    private Path train(Path data, String... extra) {
        Path run = dir.resolve("run");
        String[] base = {"train", "--preset", "tiny", "--data", data.toString(), "--out", run.toString(), "--steps", "6", "--batch", "2",
                "--seq", "32", "--eval-every", "3", "--eval-batches", "2"};
        String[] args = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        assertThat(Main.run(args)).as(err()).isZero();
        return run;
    }

    @Test
    void trainLogsLayerGradientsAndDiagnoseWritesItsReport() throws IOException {
        Path run = train(data(), "--log-layer-grads", "2");
        assertThat(LayerGradLog.read(run)).extracting(LayerGradLog.Entry::step).containsExactly(2, 4, 6);
        assertThat(Main.run("diagnose", "--model", run.toString(), "--tokens", "128")).as(err()).isZero();
        assertThat(out()).contains("report.md");
        Path diag = run.resolve("diagnostics");
        assertThat(Files.readString(diag.resolve("report.md"))).contains("# Layer diagnostics").contains("grad_norms_training.png");
        assertThat(diag.resolve("diagnostics.json")).isNotEmptyFile();
        assertThat(diag.resolve("angular_distance.svg")).isNotEmptyFile();
    }

    @Test
    void trainWithoutTheFlagWritesNoLayerLog() throws IOException {
        Path run = train(data());
        assertThat(run.resolve(LayerGradLog.FILE)).doesNotExist();
    }

    @Test
    void depthExperimentComparesVariantsAndReusesFinishedRuns() throws IOException {
        Path d = data(), o = dir.resolve("exp");
        String[] args = {"experiment", "depth", "--preset", "tiny", "--layers", "2", "--steps", "4", "--batch", "2", "--seq", "32",
                "--tokens", "64", "--eval-every", "2", "--variants", "pre,mix:0.5,lns", "--data", d.toString(), "--out", o.toString()};
        assertThat(Main.run(args)).as(err()).isZero();
        String report = Files.readString(o.resolve("report.md"));
        assertThat(report).contains("| pre | Pre-LN |").contains("| mix:0.5 | Mix-LN, 1 Post-LN layers |")
                .contains("| lns | Pre-LN + LayerNorm Scaling |").contains("![Validation loss](val_loss.png)");
        for (String f : new String[] {"val_loss.png", "val_loss.svg", "removal_cost.png", "experiment.json", "runs/mix-0.5/diagnostics/report.md"})
            assertThat(o.resolve(f)).isNotEmptyFile();
        long trained = Files.getLastModifiedTime(o.resolve("runs/pre/model.safetensors")).toMillis();
        assertThat(Main.run(args)).as(err()).isZero();
        assertThat(err()).contains("complete, reusing");
        assertThat(Files.getLastModifiedTime(o.resolve("runs/pre/model.safetensors")).toMillis()).isEqualTo(trained);
    }

    @Test
    void badVariantIsAOneLineError() throws IOException {
        assertThat(Main.run("experiment", "depth", "--variants", "pre,sandwich", "--data", data().toString(), "--out", dir.resolve("x").toString()))
                .isEqualTo(1);
        assertThat(err()).contains("unknown variant 'sandwich'");
    }

    @Test
    void inheritFromATrainCheckpoint() throws IOException {
        Path d = data();
        Path run = train(d);
        Path o = dir.resolve("inh");
        assertThat(Main.run("inherit", "--reference", run.toString(), "--steps", "3", "--max-rounds", "2", "--grow-by", "1",
                "--out", o.toString())).as(err()).isZero();
        String report = Files.readString(o.resolve("report.md"));
        assertThat(report).contains("# Inheritune").contains("| Inheritune round-1 | 2 |").contains("Reference attention rank per layer");
        assertThat(o.resolve("round-1/config.json")).exists();
        assertThat(Main.run("inherit", "--reference", run.toString(), "--inherit", "attn,wings", "--out", o.toString())).isEqualTo(1);
        assertThat(err()).contains("unknown part 'wings'");
    }
}
