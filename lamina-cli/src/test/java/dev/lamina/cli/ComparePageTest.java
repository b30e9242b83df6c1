package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.model.Decoder;
import dev.lamina.train.Checkpoint;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** `lamina eval --compare`: the page's contents, and the page as headless Chromium renders it (skipped without Chromium). */
class ComparePageTest extends CliTest {
    @TempDir Path dir;

    /** The gpt2 fixture and a run with the same config and tokenizer but other weights. */
    private Path[] models() {
        Path a = Path.of(EvalCommandTest.GPT2), b = dir.resolve("other");
        Lamina.Model m = Lamina.load(a);
        Checkpoint.saveModel(b, Decoder.create(m.decoder().config(), 7), 0);
        m.tokenizer().save(b.resolve(Checkpoint.TOKENIZER));
        return new Path[]{a, b};
    }

    @Test
    void writesOnePageWithEveryPromptAndModel() throws Exception {
        Path[] ms = models();
        Path prompts = Files.writeString(dir.resolve("prompts.txt"), "The jury said\nA <b>bold</b> & \"quoted\" start\n");
        Path page = dir.resolve("page.html");
        assertThat(Main.run("eval", "--compare", ms[0].toString(), ms[1].toString(), "--prompts", prompts.toString(),
                "--out", page.toString(), "--max-tokens", "8", "--seed", "5")).as(err()).isZero();
        assertThat(out()).contains("wrote " + page + ": 2 prompts, 2 models");
        String html = Files.readString(page);
        assertThat(html).startsWith("<!DOCTYPE html>").contains("<th class=\"model\">" + ms[0] + "</th>", "<th class=\"model\">" + ms[1] + "</th>")
                .contains("A &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; start").doesNotContain("<b>bold")
                .contains("seed 5").doesNotContain("<script", "http://", "https://");
        assertThat(html.split("perplexity ", -1)).hasSize(1 + 4);           // a figure per cell
        assertThat(html).contains("class=\"ppl best\"");

        // the same seed gives the same page
        Path again = dir.resolve("again.html");
        assertThat(Main.run("eval", "--compare", ms[0].toString(), ms[1].toString(), "--prompts", prompts.toString(),
                "--out", again.toString(), "--max-tokens", "8", "--seed", "5")).isZero();
        assertThat(Files.readString(again)).isEqualTo(html);
    }

    @Test
    void rendersInHeadlessChromium() throws Exception {
        String chromium = List.of("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome").stream()
                .filter(p -> Files.isExecutable(Path.of(p))).findFirst().orElse(null);
        Assumptions.assumeTrue(chromium != null, "no Chromium (apt-get install chromium)");
        Path[] ms = models();
        Path prompts = Files.writeString(dir.resolve("prompts.txt"), "The jury said\nAtlanta's recent primary\n");
        Path page = dir.resolve("page.html");
        assertThat(Main.run("eval", "--compare", ms[0].toString(), ms[1].toString(), "--prompts", prompts.toString(),
                "--out", page.toString(), "--max-tokens", "8")).as(err()).isZero();
        // --dump-dom prints the document as the browser parsed it; --offline-like flags keep it off the network
        Process p = new ProcessBuilder(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--user-data-dir=" + dir.resolve("profile"), "--dump-dom", page.toUri().toString())
                .redirectError(dir.resolve("chromium.log").toFile()).start();
        String dom = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(dom).as(Files.readString(dir.resolve("chromium.log"))).contains("<table>", "Side by side", "The jury said", "Atlanta's recent primary");
        assertThat(dom.split("<tr>", -1)).hasSize(1 + 3);                   // header and two prompts
        assertThat(dom.split("class=\"model\"", -1)).hasSize(1 + 2);
    }
}
