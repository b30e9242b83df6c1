package dev.lamina.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * A pre-tokenizer of Hugging Face's tokenizer.json ({@code "pre_tokenizer"}): cuts normalized
 * text into the pieces the model encodes one by one, and may rewrite them (Metaspace turns spaces
 * into "▁", ByteLevel turns bytes into GPT-2's characters).
 */
sealed interface PreTokenizer {

    /** A piece of text; first when it begins at offset 0 of the original input (Metaspace's "first" scheme). */
    record Piece(String text, boolean first) {}

    /** Appends the pieces of in to out, in order. */
    void split(Piece in, List<Piece> out);

    /** How a pattern's matches join the surrounding text (tokenizers' SplitDelimiterBehavior). */
    enum Behavior { REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS }

    /** Where Metaspace puts a leading replacement character. */
    enum PrependScheme { ALWAYS, FIRST, NEVER }

    /** Each pre-tokenizer in order, each applied to every piece of the one before. */
    record Sequence(List<PreTokenizer> steps) implements PreTokenizer {
        public Sequence { steps = List.copyOf(steps); }

        @Override public void split(Piece in, List<Piece> out) {
            List<Piece> cur = List.of(in);
            for (PreTokenizer p : steps) {
                List<Piece> next = new ArrayList<>(cur.size() * 2);
                for (Piece piece : cur) p.split(piece, next);
                cur = next;
            }
            out.addAll(cur);
        }
    }

    /** Splits at a pattern (inverted: the pattern describes the pieces, not the delimiters). */
    record Split(TextPattern pattern, Behavior behavior, boolean invert) implements PreTokenizer {
        @Override public void split(Piece in, List<Piece> out) { splitBy(in, out, behavior, sink -> pattern.ranges(in.text(), (a, b, m) -> sink.range(a, b, m != invert))); }
    }

    /** Spaces become the replacement character ("▁"), which may be prepended and may start each piece. */
    record Metaspace(char replacement, PrependScheme prependScheme, boolean splitPieces) implements PreTokenizer {
        @Override public void split(Piece in, List<Piece> out) {
            String s = in.text().replace(' ', replacement);
            boolean prepend = prependScheme == PrependScheme.ALWAYS || (prependScheme == PrependScheme.FIRST && in.first());
            if (prepend && !s.startsWith(String.valueOf(replacement))) s = replacement + s;
            if (!splitPieces) { out.add(new Piece(s, in.first())); return; }
            String text = s;
            splitBy(new Piece(text, in.first()), out, Behavior.MERGED_WITH_NEXT, sink -> charRanges(text, c -> c == replacement, sink));
        }
    }

    /**
     * GPT-2's byte-level step: an optional space in front, the GPT-2 pattern (use_regex), then
     * every piece rewritten as the {@link ByteLevel} characters of its UTF-8 bytes.
     */
    record ByteLevelSplit(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        @Override public void split(Piece in, List<Piece> out) {
            String s = addPrefixSpace && !in.text().startsWith(" ") ? " " + in.text() : in.text();
            if (!useRegex) { if (!s.isEmpty()) out.add(new Piece(ByteLevel.toTokenString(utf8(s)), in.first())); return; }
            Gpt2Pattern.split(s, 0, s.length(), (a, b) -> out.add(new Piece(ByteLevel.toTokenString(utf8(s.substring(a, b))), in.first() && a == 0)));
        }
    }

    /** Digits apart from the rest: each digit alone (individual) or runs of digits. */
    record Digits(boolean individual) implements PreTokenizer {
        @Override public void split(Piece in, List<Piece> out) {
            splitBy(in, out, individual ? Behavior.ISOLATED : Behavior.CONTIGUOUS, sink -> charRanges(in.text(), PreTokenizer::isNumeric, sink));
        }
    }

    /** Punctuation characters apart from the rest. */
    record Punctuation(Behavior behavior) implements PreTokenizer {
        @Override public void split(Piece in, List<Piece> out) {
            splitBy(in, out, behavior, sink -> charRanges(in.text(), PreTokenizer::isPunctuation, sink));
        }
    }

    /** Splits at whitespace, which is dropped. */
    record WhitespaceSplit() implements PreTokenizer {
        @Override public void split(Piece in, List<Piece> out) {
            splitBy(in, out, Behavior.REMOVED, sink -> charRanges(in.text(), Gpt2Pattern::isWhiteSpace, sink));
        }
    }

    private static boolean isNumeric(int cp) {
        return switch (Character.getType(cp)) {
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> true;
            default -> false;
        };
    }

    private static boolean isPunctuation(int cp) {
        if (cp < 128) return cp > 32 && cp < 127 && !Character.isLetterOrDigit(cp);
        return switch (Character.getType(cp)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                 Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    private static byte[] utf8(String s) { return s.getBytes(java.nio.charset.StandardCharsets.UTF_8); }

    /** Every character with the property is one match; the rest are gaps. */
    private static void charRanges(String s, java.util.function.IntPredicate p, TextPattern.RangeSink sink) {
        if (s.isEmpty()) { sink.range(0, 0, false); return; }
        int gap = 0;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i), n = Character.charCount(cp);
            if (p.test(cp)) {
                if (gap < i) sink.range(gap, i, false);
                sink.range(i, i + n, true);
                gap = i + n;
            }
            i += n;
        }
        if (gap < s.length()) sink.range(gap, s.length(), false);
    }

    /** Ranges with a match flag, produced by a pattern; collected by {@link #splitBy}. */
    @FunctionalInterface
    interface Ranges { void feed(TextPattern.RangeSink sink); }

    /** tokenizers' NormalizedString::split: groups the ranges by behavior, drops removed and empty pieces. */
    private static void splitBy(Piece in, List<Piece> out, Behavior behavior, Ranges ranges) {
        List<int[]> r = new ArrayList<>();   // {start, end, match}
        ranges.feed((a, b, m) -> r.add(new int[] {a, b, m ? 1 : 0}));
        List<int[]> pieces = new ArrayList<>(r.size());   // {start, end, remove}
        switch (behavior) {
            case ISOLATED -> { for (int[] x : r) pieces.add(new int[] {x[0], x[1], 0}); }
            case REMOVED -> pieces.addAll(r);
            case CONTIGUOUS -> {
                boolean prevMatch = false;
                for (int[] x : r) {
                    boolean m = x[2] == 1;
                    if (m == prevMatch && !pieces.isEmpty()) pieces.getLast()[1] = x[1];
                    else pieces.add(new int[] {x[0], x[1], 0});
                    prevMatch = m;
                }
            }
            case MERGED_WITH_PREVIOUS -> {
                boolean prevMatch = false;
                for (int[] x : r) {
                    boolean m = x[2] == 1;
                    if (m && !prevMatch && !pieces.isEmpty()) pieces.getLast()[1] = x[1];
                    else pieces.add(new int[] {x[0], x[1], 0});
                    prevMatch = m;
                }
            }
            case MERGED_WITH_NEXT -> {
                boolean prevMatch = false;
                for (int k = r.size() - 1; k >= 0; k--) {
                    int[] x = r.get(k);
                    boolean m = x[2] == 1;
                    if (m && !prevMatch && !pieces.isEmpty()) pieces.getLast()[0] = x[0];
                    else pieces.add(new int[] {x[0], x[1], 0});
                    prevMatch = m;
                }
                java.util.Collections.reverse(pieces);
            }
        }
        String s = in.text();
        for (int[] p : pieces) {
            if (p[2] == 1 || p[0] == p[1]) continue;
            out.add(new Piece(s.substring(p[0], p[1]), in.first() && p[0] == 0));
        }
    }
}
