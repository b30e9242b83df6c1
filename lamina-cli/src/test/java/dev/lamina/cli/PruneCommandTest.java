package dev.lamina.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.lamina.cli.FinetuneCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** lamina prune: layers, heads and channels give a smaller run that trains on, sparsity one whose zeros stay; bad input is one line and writes nothing. */
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
                    "--by", rule, "--batch", "2", "--seq", "32", "--tokens", "256", "--no-speed");
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.out()).contains("| before | 4 |").contains("| pruned | 2 |");
            assertThat(Files.readString(out.resolve("config.json"))).contains("\"num_hidden_layers\" : 2");
            assertThat(Files.readString(out.resolve("prune.json"))).contains("\"dropped\"").contains("val_loss_after");
            r = run("train", "--init", out.toString(), "--data", data.toString(), "--out", dir.resolve("healed-" + rule).toString(), "--steps", "2",
                    "--batch", "2", "--seq", "32");
            assertThat(r.code()).as(r.err()).isZero();
        }

        // width: heads and MLP channels, measured before and after
        Path narrow = dir.resolve("narrow");
        var r = run("prune", "--model", base.toString(), "--data", data.toString(), "--out", narrow.toString(), "--heads", "0.5", "--mlp", "0.5",
                "--batch", "2", "--seq", "32", "--tokens", "256");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("| before | 4 | 4 | 176 |").contains("| pruned | 4 | 2 | 88 |").contains("kept 2 of 4 attention heads");
        var prune = dev.lamina.io.Json.MAPPER.readTree(Files.readString(narrow.resolve("prune.json")));
        assertThat(prune.path("after").path("weight_bytes").asLong()).isLessThan(prune.path("before").path("weight_bytes").asLong());
        assertThat(prune.path("after").path("decode_tokens_per_s").asDouble()).isPositive();
        assertThat(prune.path("kept_heads").size()).isEqualTo(4);
        assertThat(run("train", "--init", narrow.toString(), "--data", data.toString(), "--out", dir.resolve("healed-narrow").toString(), "--steps", "2",
                "--batch", "2", "--seq", "32").code()).isZero();

        // sparsity: the zeros stay zeros while the model trains on, and on resume
        Path sparse = dir.resolve("sparse"), healed = dir.resolve("healed-sparse");
        r = run("prune", "--model", base.toString(), "--data", data.toString(), "--out", sparse.toString(), "--sparsity", "0.5", "--pattern", "2:4",
                "--batch", "2", "--seq", "32", "--tokens", "256", "--no-speed");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("set 50.0% of the layers' weights to zero (2:4, by wanda)");
        r = run("train", "--init", sparse.toString(), "--data", data.toString(), "--out", healed.toString(), "--steps", "2", "--batch", "2", "--seq", "32");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("pruned weights at zero (2:4 sparsity 0.5");
        var pruned = dev.lamina.train.Checkpoint.loadModel(sparse);
        var trained = dev.lamina.train.Checkpoint.loadModel(healed);
        assertThat(dev.lamina.research.Pruning.sparsity(trained)).isEqualTo(0.5);
        float[] a = pruned.params().data(), b = trained.params().data();
        int moved = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] == 0f && dev.lamina.research.Pruning.sparsifiable(keyAt(pruned, i))) assertThat(b[i]).isZero();
            if (a[i] != b[i]) moved++;
        }
        assertThat(moved).isGreaterThan(a.length / 4);
        r = run("train", "--resume", healed.toString(), "--steps", "3");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(dev.lamina.research.Pruning.sparsity(dev.lamina.train.Checkpoint.loadModel(healed))).isEqualTo(0.5);

        for (String[] bad : new String[][] {{"--drop-layers", "4"}, {"--drop-layers", "0"}, {"--drop-layers", "1", "--by", "random"},
                {"--heads", "0.3"}, {"--heads", "1.5"}, {"--mlp", "0"}, {"--sparsity", "0.6", "--pattern", "2:4"}, {"--sparsity", "0.5", "--pattern", "3:8"},
                {"--sparsity", "0.5", "--score", "random"}, {"--batch", "2"}}) {
            String[] args = new String[bad.length + 7];
            System.arraycopy(new String[] {"prune", "--model", base.toString(), "--data", data.toString(), "--out", dir.resolve("bad").toString()}, 0, args, 0, 7);
            System.arraycopy(bad, 0, args, 7, bad.length);
            r = run(args);
            assertThat(r.code()).as(String.join(" ", bad)).isEqualTo(1);
            assertThat(r.err().strip()).startsWith("lamina: error: ").doesNotContain("\n");
            assertThat(dir.resolve("bad")).doesNotExist();
        }
    }

    private static dev.lamina.model.ParamKey keyAt(dev.lamina.model.Decoder m, int i) {
        for (var s : m.params().slots().values()) if (i >= s.offset() && i < s.offset() + s.size()) return s.key();
        throw new IllegalArgumentException("no parameter at " + i);
    }
}
