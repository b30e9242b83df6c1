package dev.lamina.eval;

import dev.lamina.Lamina;
import dev.lamina.io.LaminaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Sliding-window perplexity against transformers on the tiny HF models (make_eval_fixtures.py). */
class PerplexityTest {
    @Test
    void windowsScoreEachTokenOnce() {
        for (int[] cs : new int[][]{{64, 64}, {64, 16}, {32, 7}, {2, 1}, {5, 5}, {8, 3}}) {
            for (int length : new int[]{2, 3, 7, 64, 65, 419}) {
                boolean[] seen = new boolean[length];
                for (Perplexity.Window w : Perplexity.windows(length, cs[0], cs[1])) {
                    assertThat(w.end() - w.begin()).isLessThanOrEqualTo(cs[0]);
                    assertThat(w.scoredFrom()).isGreaterThan(w.begin());
                    for (int t = w.scoredFrom(); t < w.end(); t++) {
                        assertThat(seen[t]).as("token %d scored twice", t).isFalse();
                        seen[t] = true;
                    }
                }
                // overlapping windows reach every token but the first; disjoint ones lose each window's first
                for (int t = 0; t < length; t++)
                    assertThat(seen[t]).as("token %d of %d, %s", t, length, List.of(cs[0], cs[1]))
                            .isEqualTo(cs[1] < cs[0] ? t > 0 : t % cs[0] != 0);
            }
        }
        // the recipe's windows: begin every stride, the first window scores all but its first token
        assertThat(Perplexity.windows(10, 4, 2)).containsExactly(new Perplexity.Window(0, 4, 1),
                new Perplexity.Window(2, 6, 4), new Perplexity.Window(4, 8, 6), new Perplexity.Window(6, 10, 8));
    }

    @Test
    void matchesTransformersOnText() throws Exception {
        JsonNode ref = EvalFixtures.reference().get("perplexity").get(0);
        Lamina.Model m = EvalFixtures.model("gpt2");
        String text = Files.readString(EvalFixtures.resource("hf/brown-slice.txt")).substring(0, ref.get("text_chars").intValue());
        Perplexity.Text t = Perplexity.Text.of("slice", text, m.tokenizer());
        assertThat(t.ids()).containsExactly(EvalFixtures.ints(ref.get("ids")));
        assertThat(t.bytes()).isEqualTo(ref.get("bytes").longValue());
        assertThat(t.chars()).isEqualTo(ref.get("chars").longValue());
        TokenScorer scorer = new TokenScorer(m.decoder());
        for (JsonNode run : ref.get("runs")) {
            Perplexity.Result r = Perplexity.of(scorer, t, run.get("context").intValue(), run.get("stride").intValue(), null);
            assertThat(r.tokens()).isEqualTo(run.get("tokens").longValue());
            assertThat(r.nll()).as("%s", run).isCloseTo(run.get("nll").doubleValue(), within(1e-5 * run.get("nll").doubleValue()));
            assertThat(r.perplexity()).isCloseTo(run.get("ppl").doubleValue(), within(1e-4 * run.get("ppl").doubleValue()));
            assertThat(r.bitsPerByte()).isCloseTo(run.get("nll").doubleValue() / Math.log(2) / t.bytes(), within(1e-6));
        }
    }

    @Test
    void matchesTransformersOnIdsWithRopeAndSlidingWindow() {
        for (JsonNode ref : EvalFixtures.reference().get("perplexity")) {
            if (ref.get("model").stringValue().equals("gpt2")) continue;
            Lamina.Model m = EvalFixtures.model(ref.get("model").stringValue());
            TokenScorer scorer = new TokenScorer(m.decoder());
            int[] ids = EvalFixtures.ints(ref.get("ids"));
            for (JsonNode run : ref.get("runs")) {
                Perplexity.Result r = Perplexity.of(scorer, ids, run.get("context").intValue(), run.get("stride").intValue(), null);
                assertThat(r.tokens()).isEqualTo(run.get("tokens").longValue());
                assertThat(r.nll()).as("%s %s", ref.get("model"), run).isCloseTo(run.get("nll").doubleValue(), within(1e-5 * run.get("nll").doubleValue()));
            }
        }
    }

    @Test
    void divergenceIsZeroAgainstItselfAndGrowsWithNoise() {
        Lamina.Model m = EvalFixtures.model("gpt2");
        TokenScorer scorer = new TokenScorer(m.decoder());
        int[] ids = new int[40];
        for (int i = 0; i < ids.length; i++) ids[i] = (i * 37 + 11) % m.decoder().config().vocabSize();
        Divergence.Result self = Divergence.of(scorer, scorer, ids, 16, 8, null);
        assertThat(self.tokens()).isEqualTo(ids.length - 1);
        assertThat(self.meanKl()).isCloseTo(0.0, org.assertj.core.api.Assertions.within(1e-9));
        assertThat(self.sameTopFraction()).isEqualTo(1.0);
        assertThat(self.perplexity()).isEqualTo(self.referencePerplexity())
                .isCloseTo(Perplexity.of(scorer, ids, 16, 8, null).perplexity(), org.assertj.core.api.Assertions.within(1e-6));

        dev.lamina.model.Decoder noisy = dev.lamina.model.Decoder.create(m.decoder().config(), 1);   // the same shape
        noisy.params().copyFrom(m.decoder().params());
        float[] w = noisy.params().data();
        java.util.Random r = new java.util.Random(3);
        for (int i = 0; i < w.length; i++) w[i] += (float) (0.05 * r.nextGaussian() * Math.abs(w[i]));
        Divergence.Result d = Divergence.of(scorer, new TokenScorer(noisy), ids, 16, 8, null);
        assertThat(d.meanKl()).isGreaterThan(1e-6);
        assertThat(d.referencePerplexity()).isCloseTo(self.referencePerplexity(), org.assertj.core.api.Assertions.within(1e-9));
    }

    @Test
    void refusesEmptyTextsAndTextsLongerThanTheContextWithoutStride(@TempDir Path dir) throws Exception {
        Lamina.Model m = EvalFixtures.model("gpt2");
        TokenScorer scorer = new TokenScorer(m.decoder());
        Path empty = Files.writeString(dir.resolve("empty.txt"), "");
        assertThatThrownBy(() -> Perplexity.Text.read(empty, m.tokenizer()))
                .isInstanceOf(LaminaException.class).hasMessageContaining("empty.txt").hasMessageContaining("empty");
        Path missing = dir.resolve("missing.txt");
        assertThatThrownBy(() -> Perplexity.Text.read(missing, m.tokenizer()))
                .isInstanceOf(LaminaException.class).hasMessageContaining("missing.txt: file not found");
        Path longText = Files.writeString(dir.resolve("long.txt"), "The jury said it did. ".repeat(20));
        Perplexity.Text t = Perplexity.Text.read(longText, m.tokenizer());
        assertThatThrownBy(() -> Perplexity.of(scorer, t, 64, 0, null))
                .isInstanceOf(LaminaException.class).hasMessageContaining("long.txt").hasMessageContaining("give a stride")
                .extracting(e -> ((LaminaException) e).field()).isEqualTo("stride");
        assertThatThrownBy(() -> Perplexity.of(scorer, t, 65, 32, null))
                .isInstanceOf(LaminaException.class).hasMessageContaining("longer than the model's 64")
                .extracting(e -> ((LaminaException) e).field()).isEqualTo("context");
        // with a stride it is scored: every token but the first
        assertThat(Perplexity.of(scorer, t, 64, 32, null).tokens()).isEqualTo(t.ids().length - 1);
    }
}
