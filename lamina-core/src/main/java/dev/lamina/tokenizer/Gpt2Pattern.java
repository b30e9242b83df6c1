package dev.lamina.tokenizer;

import java.util.regex.Pattern;

/**
 * GPT-2's pre-tokenisation: splits text into the pieces BPE merges within, exactly as the regex
 * {@link #PATTERN} with Unicode classes ({@code \s} is the Unicode White_Space property, as in
 * Python's {@code regex} module and Hugging Face's Oniguruma). Hand-written as a scanner because
 * it is about three times faster than java.util.regex on the Brown corpus (docs/BENCHMARKS.md);
 * tests compare the two on random strings.
 *
 * <p>Pieces: the contractions {@code 's 't 're 've 'm 'll 'd} (case-sensitive), then an optional
 * single space followed by a run of letters, of numbers, or of other non-space characters; then
 * whitespace runs, where a run followed by a non-space gives up its last character (so that
 * character, if a space, can prefix the next word).
 */
final class Gpt2Pattern {
    private Gpt2Pattern() {}

    static final String PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    /** The reference implementation, for tests. */
    static final Pattern REGEX = Pattern.compile(PATTERN, Pattern.UNICODE_CHARACTER_CLASS);

    /** Receives pieces as [start, end) char offsets into the scanned text. */
    @FunctionalInterface
    interface Sink { void piece(int start, int end); }

    private static final byte LETTER = 0, NUMBER = 1, SPACE = 2, OTHER = 3;
    private static final byte[] ASCII = new byte[128];

    static {
        for (int c = 0; c < 128; c++) ASCII[c] = classify(c);
    }

    private static byte classify(int cp) {
        if (Character.isLetter(cp)) return LETTER;
        return switch (Character.getType(cp)) {
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> NUMBER;
            // White_Space = Zs, Zl, Zp, U+0009..U+000D and U+0085 (java.util.regex's definition)
            case Character.SPACE_SEPARATOR, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR -> SPACE;
            default -> (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 ? SPACE : OTHER;
        };
    }

    /** Whether cp has the Unicode White_Space property. */
    static boolean isWhiteSpace(int cp) { return classify(cp) == SPACE; }

    /** The code point at i, not reading past end (a high surrogate at end-1 stands alone). */
    private static int codePoint(CharSequence s, int i, int end) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c) && i + 1 < end && Character.isLowSurrogate(s.charAt(i + 1)))
            return Character.toCodePoint(c, s.charAt(i + 1));
        return c;
    }

    private static byte classAt(CharSequence s, int i, int end) {
        char c = s.charAt(i);
        return c < 128 ? ASCII[c] : classify(codePoint(s, i, end));
    }

    /** End of the run of class cls starting at i. */
    private static int runEnd(CharSequence s, int i, int end, byte cls) {
        while (i < end) {
            char c = s.charAt(i);
            if (c < 128) {
                if (ASCII[c] != cls) break;
                i++;
            } else {
                int cp = codePoint(s, i, end);
                if (classify(cp) != cls) break;
                i += Character.charCount(cp);
            }
        }
        return i;
    }

    /** Length of the contraction suffix after an apostrophe at i-1, or 0. */
    private static int contraction(CharSequence s, int i, int end) {
        if (i >= end) return 0;
        char c = s.charAt(i);
        if (c == 's' || c == 't' || c == 'm' || c == 'd') return 1;
        if (i + 1 >= end) return 0;
        char d = s.charAt(i + 1);
        return (c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l') ? 2 : 0;
    }

    /** Splits s[from, to) into pieces, in order; the pieces cover the range exactly. */
    static void split(CharSequence s, int from, int to, Sink sink) {
        int i = from;
        while (i < to) {
            char c = s.charAt(i);
            int end;
            if (c == '\'' && contraction(s, i + 1, to) > 0) {
                end = i + 1 + contraction(s, i + 1, to);
            } else {
                byte cls = classAt(s, i, to);
                if (cls != SPACE) {
                    end = runEnd(s, i, to, cls);
                } else if (c == ' ' && i + 1 < to && classAt(s, i + 1, to) != SPACE) {
                    end = runEnd(s, i + 1, to, classAt(s, i + 1, to));
                } else {
                    end = runEnd(s, i, to, SPACE);
                    // \s+(?!\S): leave the last whitespace character (all are one char) for the next piece
                    if (end < to && end - i > 1) end--;
                }
            }
            sink.piece(i, end);
            i = end;
        }
    }
}
