package dev.lamina.eval;

import dev.lamina.io.LaminaException;
import dev.lamina.io.TextFiles;

import dev.lamina.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * Perplexity of a token sequence with Hugging Face's sliding window ("Perplexity of fixed-length
 * models"): windows of up to context tokens start every stride tokens; each scores only the tokens
 * the window before did not reach, with everything before them in the window as context. With
 * stride = context the windows are disjoint; a smaller stride gives each token more context.
 *
 * <p>Each token is scored once, from the second on (the first has nothing to be predicted from),
 * and the negative log-likelihoods are summed exactly. (The docs' loop weights each window's mean
 * loss by its target count minus one, which differs by one token per window after the first.)
 */
public final class Perplexity {
    private Perplexity() {}

    /** One forward pass: tokens [begin, end) with those in [scoredFrom, end) scored. */
    public record Window(int begin, int end, int scoredFrom) {}

    /**
     * What a text scored: tokens scored, their summed negative log-likelihood in nats, and the UTF-8
     * bytes and characters of the text they cover (0 when unknown, as for bare token files).
     */
    public record Result(long tokens, double nll, long bytes, long chars) {
        public static final Result EMPTY = new Result(0, 0, 0, 0);

        public double meanNll() { return nll / tokens; }
        public double perplexity() { return Math.exp(meanNll()); }
        /** Bits per UTF-8 byte of the scored text: comparable across tokenizers. */
        public double bitsPerByte() { return bytes == 0 ? Double.NaN : nll / Math.log(2) / bytes; }
        /** Bits per character (Unicode code point) of the scored text. */
        public double bitsPerChar() { return chars == 0 ? Double.NaN : nll / Math.log(2) / chars; }

        public Result plus(Result o) { return new Result(tokens + o.tokens, nll + o.nll, bytes + o.bytes, chars + o.chars); }
        public Result withText(long bytes, long chars) { return new Result(tokens, nll, bytes, chars); }
    }

    /** The windows covering length tokens (context >= 2, 1 <= stride <= context). */
    public static List<Window> windows(int length, int context, int stride) {
        if (context < 2) throw LaminaException.field("context", "context must be at least 2 tokens, got " + context);
        if (stride < 1 || stride > context)
            throw LaminaException.field("stride", "stride must be between 1 and the context (" + context + "), got " + stride);
        List<Window> out = new ArrayList<>();
        int prevEnd = 0;
        for (int begin = 0; begin < length; begin += stride) {
            int end = Math.min(begin + context, length);
            int from = Math.max(prevEnd, begin + 1);
            if (from < end) out.add(new Window(begin, end, from));
            prevEnd = end;
            if (end == length) break;
        }
        return out;
    }

    /** Scores ids window by window; onWindow (may be null) receives the running result after each. */
    public static Result of(TokenScorer scorer, int[] ids, int context, int stride, Consumer<Result> onWindow) {
        long tokens = 0;
        double nll = 0;
        for (Window w : windows(ids.length, context, stride)) {
            int[] window = Arrays.copyOfRange(ids, w.begin(), w.end());
            for (double lp : scorer.logprobs(window, w.scoredFrom() - w.begin())) nll -= lp;
            tokens += w.end() - w.scoredFrom();
            if (onWindow != null) onWindow.accept(new Result(tokens, nll, 0, 0));
        }
        return new Result(tokens, nll, 0, 0);
    }

    /**
     * A text to score: its tokens and the UTF-8 bytes and characters of the part that gets scored
     * (everything after the first token).
     */
    public record Text(String name, int[] ids, long bytes, long chars) {
        /** Tokens that get scored. */
        public long scored() { return Math.max(0, ids.length - 1); }

        /** The text of file, tokenized; an empty file (or one token) is refused. */
        public static Text read(Path file, Tokenizer tokenizer) {
            return of(file.toString(), TextFiles.read(file), tokenizer);
        }

        /** A text from a string; name is what errors call it. */
        public static Text of(String name, String text, Tokenizer tokenizer) {
            int[] ids = tokenizer.encode(text);
            if (ids.length < 2)
                throw new LaminaException(name + ": " + (text.isEmpty() ? "the text is empty" : "the text is a single token")
                        + "; perplexity needs at least two tokens");
            String first = tokenizer.decode(new int[]{ids[0]});
            long bytes = text.getBytes(StandardCharsets.UTF_8).length - (long) first.getBytes(StandardCharsets.UTF_8).length;
            long chars = text.codePointCount(0, text.length()) - (long) first.codePointCount(0, first.length());
            return new Text(name, ids, Math.max(0, bytes), Math.max(0, chars));
        }

        /** Prepared tokens (a token file); bytes and characters from their decoded text. */
        public static Text ofTokens(String name, int[] ids, Tokenizer tokenizer) {
            if (ids.length < 2) throw new LaminaException(name + ": fewer than two tokens; perplexity needs at least two");
            String scored = tokenizer.decode(Arrays.copyOfRange(ids, 1, ids.length));
            return new Text(name, ids, scored.getBytes(StandardCharsets.UTF_8).length, scored.codePointCount(0, scored.length()));
        }
    }

    /**
     * Scores a text in windows of context tokens every stride tokens (stride 0: the text must fit in
     * one window). The result carries the text's bytes and characters.
     */
    public static Result of(TokenScorer scorer, Text text, int context, int stride, Consumer<Result> onWindow) {
        if (context > scorer.contextLimit())
            throw LaminaException.field("context", "context " + context + " is longer than the model's " + scorer.contextLimit() + " positions");
        if (stride == 0) {
            if (text.ids().length > context)
                throw LaminaException.field("stride", text.name() + ": " + text.ids().length + " tokens do not fit in a context of "
                        + context + "; give a stride (the sliding window's step, e.g. " + Math.max(1, context / 2) + ")");
            stride = context;
        }
        return of(scorer, text.ids(), context, stride, onWindow).withText(text.bytes(), text.chars());
    }
}
