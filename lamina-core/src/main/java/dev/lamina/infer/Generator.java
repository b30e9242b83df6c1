package dev.lamina.infer;

import dev.lamina.model.Decoder;
import dev.lamina.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.function.Consumer;

/** Text in, text out: encodes a prompt, decodes with a KV cache, and streams the new text. */
public final class Generator {
    private final Decoder model;
    private final Tokenizer tokenizer;

    public Generator(Decoder model, Tokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** Generates up to maxTokens after prompt (stopping at end-of-text); onText receives text as it forms. */
    public String generate(String prompt, int maxTokens, Sampler sampler, Consumer<String> onText) {
        int[] promptIds = tokenizer.encode(prompt);
        if (promptIds.length == 0) promptIds = new int[]{tokenizer.eotId() >= 0 ? tokenizer.eotId() : 0};
        int ctx = model.config().maxPositionEmbeddings();
        if (promptIds.length >= ctx) promptIds = Arrays.copyOfRange(promptIds, promptIds.length - ctx + 1, promptIds.length);
        InferenceSession session = new InferenceSession(model, ctx);
        float[] logits = session.forward(promptIds);
        int[] out = new int[maxTokens];
        int n = 0, emitted = 0;
        StringBuilder text = new StringBuilder();
        while (n < maxTokens && session.position() < session.capacity()) {
            int next = sampler.sample(logits);
            if (next == tokenizer.eotId()) break;
            out[n++] = next;
            String s = tokenizer.decode(Arrays.copyOf(out, n));
            int stable = s.length();
            while (stable > emitted && s.charAt(stable - 1) == '\uFFFD') stable--; // a character still being formed
            if (stable > emitted) {
                if (onText != null) onText.accept(s.substring(emitted, stable));
                emitted = stable;
            }
            text.setLength(0);
            text.append(s);
            if (session.position() >= session.capacity()) break;
            logits = session.forward(next);
        }
        if (text.length() > emitted && onText != null) onText.accept(text.substring(emitted));
        return text.toString();
    }
}
