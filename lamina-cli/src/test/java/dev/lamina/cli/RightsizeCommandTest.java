package dev.lamina.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.lamina.cli.FinetuneCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** lamina rightsize: five candidates per size and the continued reference as a control, trained on equal tokens, a report with the smallest match; a rerun reuses them; bad input is one line. */
class RightsizeCommandTest {

    @Test
    void buildsTrainsAndReportsTheCandidates(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data"), ref = dir.resolve("ref"), out = dir.resolve("rs");
        assertThat(run("prepare", "--corpus", "brown", "--tokenizer", "bytes", "--out", data.toString()).code()).isZero();
        assertThat(run("train", "--preset", "tiny", "--data", data.toString(), "--out", ref.toString(), "--steps", "20", "--batch", "2",
                "--seq", "32").code()).isZero();
        String[] args = {"rightsize", "--reference", ref.toString(), "--budget", "640", "--sizes", "0.5", "--tolerance", "50%", "--eval-tokens", "128",
                "--no-speed", "--out", out.toString()};
        var r = run(args);
        assertThat(r.code()).as(r.err()).isZero();
        for (String c : new String[] {"inheritune-2of4", "layer-pruned-2of4", "width-pruned-2of4", "distilled-2of4", "scratch-2of4", "reference-continued"}) {
            assertThat(r.out()).contains("| " + c + " |");
            assertThat(out.resolve("candidates").resolve(c).resolve("model.safetensors")).exists();
        }
        assertThat(r.out()).contains("| reference | trained reference | 4 layers, 4 heads (2 KV), MLP 176 |").contains("Reproduce it:")
                .contains("| 2 | layers ");
        var j = dev.lamina.io.Json.MAPPER.readTree(Files.readString(out.resolve("rightsize.json")));
        assertThat(j.get("candidates").size()).isEqualTo(6);
        assertThat(j.get("smallest").asString()).isNotEqualTo("reference-continued");
        assertThat(j.get("smallest").isString()).isTrue();
        assertThat(j.get("block_removal").get(0).get("val_loss_by_start").size()).isEqualTo(3);
        for (String f : new String[] {"rightsize.md", "loss_vs_parameters.png", "loss_vs_parameters.svg", "block_removal.png"})
            assertThat(out.resolve(f)).exists();
        // every candidate saw the same number of tokens: 640 / (2 x 32) = 10 steps
        assertThat(Files.readString(out.resolve("candidates/scratch-2of4/state.json"))).contains("\"step\" : 10");
        r = run(args);
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("complete, reusing");

        for (String[] bad : new String[][] {{"--budget", "100"}, {"--budget", "lots"}, {"--budget", "640", "--tolerance", "150%"},
                {"--budget", "640", "--sizes", "1.5"}, {"--budget", "640", "--sizes", "0.1"}, {"--budget", "640", "--alpha", "2"}}) {
            String[] a = new String[bad.length + 5];
            System.arraycopy(new String[] {"rightsize", "--reference", ref.toString(), "--out", dir.resolve("bad").toString()}, 0, a, 0, 5);
            System.arraycopy(bad, 0, a, 5, bad.length);
            r = run(a);
            assertThat(r.code()).as(String.join(" ", bad)).isEqualTo(1);
            assertThat(r.err().strip()).startsWith("lamina: error: ").doesNotContain("\n");
            assertThat(dir.resolve("bad")).doesNotExist();
        }
    }
}
