package dev.lamina.eval;

import dev.lamina.Lamina;
import dev.lamina.infer.Sampler;
import dev.lamina.infer.SamplingParams;
import dev.lamina.io.LaminaException;
import dev.lamina.io.TextFiles;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Models side by side, for reading: each prompt with each model's continuation (same sampling
 * settings and seed) and each model's perplexity of the prompt. The models must share a tokenizer,
 * so that the same seed draws from comparable distributions and perplexities compare.
 */
public record Comparison(List<String> models, SamplingParams sampling, int maxTokens, List<Row> rows) {
    /** A prompt and its line in the prompts file. */
    public record Prompt(int line, String text) {}

    /** One prompt's results, one cell per model. */
    public record Row(Prompt prompt, List<Cell> cells) {}

    /** A model's continuation and its perplexity of the prompt (NaN for a one-token prompt). */
    public record Cell(String continuation, double perplexity) {}

    /** The prompts of file: one a line, blank lines skipped. */
    public static List<Prompt> readPrompts(Path file) {
        List<String> lines = TextFiles.lines(file);
        List<Prompt> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) if (!lines.get(i).isBlank()) out.add(new Prompt(i + 1, lines.get(i)));
        if (out.isEmpty()) throw new LaminaException(file + ": no prompts (one a line)");
        return out;
    }

    /**
     * Runs every prompt of file through every model; names label the models. onPrompt (may be
     * null) counts prompts done. A model that tokenizes a prompt differently from the first is
     * refused, naming the prompt's file:line.
     */
    public static Comparison run(List<String> names, List<Lamina.Model> models, Path file, List<Prompt> prompts,
                                 SamplingParams sampling, int maxTokens, IntConsumer onPrompt) {
        if (models.size() < 2) throw new IllegalArgumentException("a comparison needs at least two models");
        if (maxTokens < 1) throw LaminaException.field("maxTokens", "maxTokens must be >= 1, got " + maxTokens);
        for (int m = 1; m < models.size(); m++) {
            if (models.get(m).tokenizer().vocabSize() != models.getFirst().tokenizer().vocabSize())
                throw new LaminaException(names.get(m) + ": its tokenizer (" + models.get(m).tokenizer().describe() + ") is not "
                        + names.getFirst() + "'s (" + models.getFirst().tokenizer().describe() + "); compare models that share a tokenizer");
            for (Prompt p : prompts)
                if (!Arrays.equals(models.get(m).tokenizer().encode(p.text()), models.getFirst().tokenizer().encode(p.text())))
                    throw new LaminaException(file + ":" + p.line() + ": " + names.get(m) + " tokenizes this prompt differently from "
                            + names.getFirst() + "; compare models that share a tokenizer");
        }
        List<TokenScorer> scorers = models.stream().map(m -> new TokenScorer(m.decoder())).toList();
        List<Row> rows = new ArrayList<>();
        for (Prompt p : prompts) {
            List<Cell> cells = new ArrayList<>();
            for (int m = 0; m < models.size(); m++) {
                Lamina.Model model = models.get(m);
                String text = model.generator().generate(p.text(), maxTokens, new Sampler(sampling), List.of(), null).text();
                cells.add(new Cell(text, perplexity(scorers.get(m), model.tokenizer().encode(p.text()))));
            }
            rows.add(new Row(p, List.copyOf(cells)));
            if (onPrompt != null) onPrompt.accept(rows.size());
        }
        return new Comparison(List.copyOf(names), sampling, maxTokens, List.copyOf(rows));
    }

    private static double perplexity(TokenScorer scorer, int[] ids) {
        if (ids.length < 2) return Double.NaN;
        int ctx = Math.min(scorer.contextLimit(), ids.length);
        return Perplexity.of(scorer, ids, ctx, Math.max(1, ctx / 2), null).perplexity();
    }
}
