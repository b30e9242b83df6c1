package dev.lamina.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.lamina.cli.FinetuneCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** lamina prune: both rules write a smaller run that trains on; bad input is one line and writes nothing. */
class PruneCommandTest {

    @Test
    void prunesByEitherRuleAndRefusesBadInput(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data"), base = dir.resolve("base");
        assertThat(run("prepare", "--corpus", "brown", "--tokenizer", "bytes", "--out", data.toString()).code()).isZero();
        assertThat(run("train", "--preset", "tiny", "--data", data.toString(), "--out", base.toString(), "--steps", "3", "--batch", "2",
                "--seq", "32").code()).isZero();
        for (String rule : new String[] {"angular", "removal-cost"}) {
            Path out = dir.resolve(rule);
            var r = run("prune", "--model", base.toString(), "--data", data.toString(), "--out", out.toString(), "--drop-layers", "2",
                    "--by", rule, "--batch", "2", "--seq", "32", "--tokens", "256");
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.out()).contains("| before | 4 |").contains("| pruned | 2 |");
            assertThat(Files.readString(out.resolve("config.json"))).contains("\"num_hidden_layers\" : 2");
            assertThat(Files.readString(out.resolve("prune.json"))).contains("\"dropped\"").contains("val_loss_after");
            r = run("train", "--init", out.toString(), "--data", data.toString(), "--out", dir.resolve("healed-" + rule).toString(), "--steps", "2",
                    "--batch", "2", "--seq", "32");
            assertThat(r.code()).as(r.err()).isZero();
        }
        for (String[] bad : new String[][] {{"--drop-layers", "4"}, {"--drop-layers", "0"}, {"--drop-layers", "1", "--by", "random"}}) {
            String[] args = new String[bad.length + 7];
            System.arraycopy(new String[] {"prune", "--model", base.toString(), "--data", data.toString(), "--out", dir.resolve("bad").toString()}, 0, args, 0, 7);
            System.arraycopy(bad, 0, args, 7, bad.length);
            var r = run(args);
            assertThat(r.code()).as(String.join(" ", bad)).isEqualTo(1);
            assertThat(r.err().strip()).startsWith("lamina: error: ").doesNotContain("\n");
            assertThat(dir.resolve("bad")).doesNotExist();
        }
    }
}
