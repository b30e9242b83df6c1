package dev.lamina.infer;

import dev.lamina.model.Decoder;
import dev.lamina.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * Text in, text out for one sequence: encodes a prompt, prefills it, decodes token by token with
 * the model's default KV cache ({@link InferenceSession#forModel}) and streams the new text.
 */
public final class Generator {
    private final PreparedModel model;
    private final Tokenizer tokenizer;

    /** A generator that prepares the model's weights (once, for all its calls). */
    public Generator(Decoder model, Tokenizer tokenizer) { this(PreparedModel.of(model), tokenizer); }

    public Generator(PreparedModel model, Tokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** Why generation ended. */
    public enum Finish { STOP, LENGTH }

    /** The generated text, its token count and why it ended. */
    public record Result(String text, int promptTokens, int completionTokens, Finish finish) {}

    /** Generates up to maxTokens after prompt (stopping at end-of-text); onText receives text as it forms. */
    public String generate(String prompt, int maxTokens, Sampler sampler, Consumer<String> onText) {
        return generate(prompt, maxTokens, sampler, List.of(), onText).text();
    }

    /**
     * Generates up to maxTokens after prompt, stopping at end-of-text or at the first of the stop
     * sequences (which is not included). A prompt longer than the context keeps its end.
     */
    public Result generate(String prompt, int maxTokens, Sampler sampler, List<String> stop, Consumer<String> onText) {
        return generate(prompt, maxTokens, sampler, stop, null, onText);
    }

    /**
     * As above; with json (may be null) the output is constrained to its schema (a fresh constraint,
     * {@link dev.lamina.structured.JsonConstraint#sharing}): it ends, complete and valid, as soon as
     * the value is, and stop sequences do not apply.
     */
    public Result generate(String prompt, int maxTokens, Sampler sampler, List<String> stop, dev.lamina.structured.JsonConstraint json,
                           Consumer<String> onText) {
        dev.lamina.structured.JsonConstraint c = json == null ? null : json.sharing();
        int[] ids = tokenizer.encodePrompt(prompt);
        if (ids.length == 0) ids = new int[]{tokenizer.eotId() >= 0 ? tokenizer.eotId() : 0};
        try (InferenceSession session = InferenceSession.forModel(model)) {
            int ctx = session.capacity();
            if (ids.length >= ctx) ids = Arrays.copyOfRange(ids, ids.length - ctx + 1, ids.length);
            sampler.prompt(ids);
            TextStream text = new TextStream(tokenizer, c != null ? List.of() : stop);
            float[] logits = session.forward(ids);
            int n = 0;
            Finish finish = Finish.LENGTH;
            while (n < maxTokens) {
                if (c != null) c.mask(logits, 0, logits.length, Math.min(maxTokens - n, session.capacity() - session.position() + 1));
                int next = sampler.sample(logits);
                if (c != null) c.accept(next);
                if (next == tokenizer.eotId()) { finish = Finish.STOP; break; }
                n++;
                String delta = text.add(next);
                if (onText != null && !delta.isEmpty()) onText.accept(delta);
                if (text.stopped() || c != null && c.done()) { finish = Finish.STOP; break; }
                if (n == maxTokens || session.position() >= session.capacity()) break;
                logits = session.forward(next);
            }
            String rest = text.finish();
            if (onText != null && !rest.isEmpty()) onText.accept(rest);
            return new Result(text.text(), ids.length, n, finish);
        }
    }
}
