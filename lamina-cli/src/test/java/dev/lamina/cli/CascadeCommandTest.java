package dev.lamina.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.lamina.cli.FinetuneCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** Bad cascade and router configs and flags: one line each, exit 1, nothing written. */
class CascadeCommandTest {
    @Test
    void badConfigsAndFlagsAreOneLine(@TempDir Path dir) throws Exception {
        Path model = Files.createDirectories(dir.resolve("model"));
        Path unknownTier = dir.resolve("c.yaml");
        Files.writeString(unknownTier, "name: c\ntiers:\n  - name: a\n    model: model\n  - name: b\n    model: gone\n");
        String[][] cases = {
                {"lamina: error: --config FILE.yaml is required", "cascade", "x"},
                {"lamina: error: c.yaml: tiers[1].model '" + dir.resolve("gone") + "' is not a run directory, Hugging Face directory or GGUF file",
                        "cascade", "--config", unknownTier.toString(), "x"},
                {"lamina: error: --budget must be a cost > 0 in dollars per query, got -1.0",
                        "cascade", "train", "--config", unknownTier.toString(), "--data", "d.jsonl", "--budget", "-1"},
                {"lamina: error: --split must be two fractions > 0 with a sum < 1 (scorer, thresholds), e.g. 0.5,0.25; got '0.9,0.2'",
                        "cascade", "train", "--config", unknownTier.toString(), "--data", "d.jsonl", "--split", "0.9,0.2"},
                {"lamina: error: " + dir.resolve("nope.yaml") + ": no such file", "router", "--config", dir.resolve("nope.yaml").toString(), "x"},
                {"lamina: error: " + dir.resolve("nope.yaml") + ": no such file", "serve", "--cascade", dir.resolve("nope.yaml").toString()},
        };
        for (String[] c : cases) {
            var r = run(java.util.Arrays.copyOfRange(c, 1, c.length));
            assertThat(r.code()).as(String.join(" ", c)).isEqualTo(1);
            assertThat(r.err().strip()).isEqualTo(c[0]);
        }
        Path twoTiers = dir.resolve("two.yaml");
        Files.writeString(twoTiers, "name: two\ntiers:\n  - name: a\n    model: model\n  - name: b\n    model: model\n");
        var r = run("cascade", "--config", twoTiers.toString(), "x");
        assertThat(r.err().strip()).startsWith("lamina: error: two.yaml: no scorer in " + dir.resolve("two-scorer"))
                .endsWith("lamina cascade train --config " + twoTiers + " --data LABELLED.jsonl").doesNotContain("\n");
        assertThat(model).isEmptyDirectory();
        assertThat(dir.resolve("two-scorer")).doesNotExist();
    }
}
