package dev.lamina.eval;

import dev.lamina.Lamina;
import dev.lamina.infer.Sampler;
import dev.lamina.infer.SamplingParams;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ComparisonTest {
    static final Lamina.Model A = EvalFixtures.model("gpt2");
    static final Lamina.Model B = new Lamina.Model(Decoder.create(A.decoder().config(), 7), A.tokenizer());

    @Test
    void eachModelContinuesEachPromptAtTheSameSeedAndScoresIt(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("prompts.txt"), "The jury said\n\n  \nAtlanta's recent primary\nA\n");
        List<Comparison.Prompt> prompts = Comparison.readPrompts(file);
        assertThat(prompts).extracting(Comparison.Prompt::line).containsExactly(1, 4, 5);
        SamplingParams s = SamplingParams.of(0.8, 40, 0.95, 11);
        Comparison c = Comparison.run(List.of("a", "b"), List.of(A, B), file, prompts, s, 6, null);
        assertThat(c.rows()).hasSize(3);
        for (Comparison.Row r : c.rows()) {
            for (int m = 0; m < 2; m++) {
                Lamina.Model model = m == 0 ? A : B;
                Comparison.Cell cell = r.cells().get(m);
                assertThat(cell.continuation()).isEqualTo(model.generator().generate(r.prompt().text(), 6, new Sampler(s), List.of(), null).text());
                int[] ids = model.tokenizer().encode(r.prompt().text());
                if (ids.length < 2) assertThat(cell.perplexity()).isNaN();
                else assertThat(cell.perplexity()).isEqualTo(Perplexity.of(new TokenScorer(model.decoder()), ids, ids.length, 1, null).perplexity());
            }
            assertThat(r.cells().get(0).continuation()).isNotEqualTo(r.cells().get(1).continuation());   // different weights
        }
    }

    @Test
    void modelsThatTokenizeAPromptDifferentlyAreRefusedAtItsLine(@TempDir Path dir) throws Exception {
        Tokenizer base = A.tokenizer();
        Tokenizer other = new Tokenizer() {                  // the same vocabulary, another split of "jury"
            public int vocabSize() { return base.vocabSize(); }
            public int[] encode(String text) {
                int[] ids = base.encode(text);
                return text.contains("jury") ? java.util.Arrays.copyOf(ids, ids.length + 1) : ids;
            }
            public String decode(int[] ids) { return base.decode(ids); }
            public int eotId() { return base.eotId(); }
            public void save(Path d) { base.save(d); }
            public String describe() { return "other"; }
        };
        Path file = Files.writeString(dir.resolve("p.txt"), "Atlanta\nThe jury said\n");
        Lamina.Model c = new Lamina.Model(B.decoder(), other);
        assertThatThrownBy(() -> Comparison.run(List.of("a", "c"), List.of(A, c), file, Comparison.readPrompts(file), SamplingParams.GREEDY, 4, null))
                .isInstanceOf(LaminaException.class).hasMessage(file + ":2: c tokenizes this prompt differently from a; compare models that share a tokenizer");
        Lamina.Model bytes = new Lamina.Model(EvalFixtures.model("llama").decoder(), dev.lamina.tokenizer.ByteTokenizer.INSTANCE);
        assertThatThrownBy(() -> Comparison.run(List.of("a", "bytes"), List.of(A, bytes), file, Comparison.readPrompts(file), SamplingParams.GREEDY, 4, null))
                .isInstanceOf(LaminaException.class).hasMessageStartingWith("bytes: its tokenizer (bytes) is not a's");
        Path empty = Files.writeString(dir.resolve("e.txt"), "\n \n");
        assertThatThrownBy(() -> Comparison.readPrompts(empty)).isInstanceOf(LaminaException.class).hasMessage(empty + ": no prompts (one a line)");
    }
}
