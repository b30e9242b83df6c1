package dev.lamina.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static dev.lamina.cli.FinetuneCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** serve's --lora is refused in one line before anything loads. */
class ServeCommandTest {
    @Test
    void badLoraSpecsAreOneLine(@TempDir Path dir) {
        Path base = FinetuneCommandTest.tinyRun(dir);
        var r = run("serve", "--model", base.toString(), "--port", "0", "--lora", "nodir");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo("lamina: error: --lora must be NAME=DIR, got 'nodir'");
        r = run("serve", "--model", base.toString(), "--port", "0", "--lora", "a=" + dir.resolve("missing"));
        assertThat(r.err().strip()).isEqualTo("lamina: error: --lora a: " + dir.resolve("missing") + " is not a directory");
        r = run("serve", "--model", base.toString(), "--port", "0", "--lora", "a=" + dir, "--lora", "a=" + dir);
        assertThat(r.err().strip()).isEqualTo("lamina: error: --lora: the name 'a' is given twice");
        r = run("serve", "--model", base.toString(), "--port", "0", "--model-name", "m", "--lora", "m=" + dir);
        assertThat(r.err().strip()).contains("adapter name 'm'").doesNotContain("\n");
    }
}
