package dev.lamina.infer;

import dev.lamina.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * Turns generated tokens into text as it becomes final, and applies stop sequences: text is held
 * back while it ends inside an incomplete UTF-8 character or could still be the start of a stop
 * sequence; when a stop sequence appears, the text ends just before it (the stop sequence is not
 * part of the output, as in OpenAI's API).
 */
public final class TextStream {
    private final Tokenizer tokenizer;
    private final List<String> stops;
    private final int longestStop;
    private int[] ids = new int[64];
    private int count;
    private String text = "";     // final text emitted so far
    private boolean stopped;

    public TextStream(Tokenizer tokenizer, List<String> stops) {
        this.tokenizer = tokenizer;
        this.stops = stops == null ? List.of() : stops.stream().filter(s -> !s.isEmpty()).toList();
        this.longestStop = this.stops.stream().mapToInt(String::length).max().orElse(0);
    }

    /** Whether a stop sequence has been seen (no more text will come). */
    public boolean stopped() { return stopped; }

    /** The final text so far. */
    public String text() { return text; }

    /** Number of tokens added. */
    public int tokens() { return count; }

    /** Adds a token; returns the text that became final (possibly empty). */
    public String add(int token) {
        if (stopped) return "";
        if (count == ids.length) ids = Arrays.copyOf(ids, count * 2);
        ids[count++] = token;
        String all = tokenizer.decode(Arrays.copyOf(ids, count));
        int stable = all.length();
        while (stable > text.length() && all.charAt(stable - 1) == '\uFFFD') stable--;   // a character still forming
        if (!stops.isEmpty()) {
            int from = Math.max(0, text.length() - longestStop + 1), cut = -1;
            for (String s : stops) {
                int i = all.indexOf(s, from);
                if (i >= 0 && (cut < 0 || i < cut)) cut = i;
            }
            if (cut >= 0) {
                stopped = true;
                return emit(all, Math.max(cut, text.length()));
            }
            stable = Math.max(text.length(), stable - heldForStop(all, stable));
        }
        return emit(all, stable);
    }

    /** Ends the stream (length limit, end of text): returns whatever was held back. */
    public String finish() {
        if (stopped || count == 0) return "";
        stopped = true;
        return emit(tokenizer.decode(Arrays.copyOf(ids, count)), Integer.MAX_VALUE);
    }

    private String emit(String all, int end) {
        end = Math.min(end, all.length());
        if (end <= text.length()) return "";
        String delta = all.substring(text.length(), end);
        text = all.substring(0, end);
        return delta;
    }

    /** Length of the longest suffix of all[0, end) that is a proper prefix of a stop sequence. */
    private int heldForStop(String all, int end) {
        int held = 0;
        for (String s : stops)
            for (int k = Math.min(s.length() - 1, end); k > held; k--)
                if (all.regionMatches(end - k, s, 0, k)) { held = k; break; }
        return held;
    }
}
