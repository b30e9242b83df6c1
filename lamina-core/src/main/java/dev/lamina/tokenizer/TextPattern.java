package dev.lamina.tokenizer;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A tokenizer.json pattern: {@code {"String": "..."}} (a literal) or {@code {"Regex": "..."}}
 * (Oniguruma syntax, run here on java.util.regex after {@link #toJava} translation). GPT-2's
 * pattern runs on the hand scanner {@link Gpt2Pattern} instead.
 */
record TextPattern(String source, boolean regex, Pattern compiled, boolean gpt2) {

    /** Receives the ranges of a text in order, matches and the gaps between them. */
    @FunctionalInterface
    interface RangeSink { void range(int start, int end, boolean match); }

    static TextPattern literal(String s) {
        return new TextPattern(s, false, s.isEmpty() ? null : Pattern.compile(Pattern.quote(s)), false);
    }

    /** Throws PatternSyntaxException when the regex does not compile. */
    static TextPattern regex(String onig) {
        boolean gpt2 = onig.equals(Gpt2Pattern.PATTERN);
        return new TextPattern(onig, true, Pattern.compile(toJava(onig), Pattern.UNICODE_CHARACTER_CLASS), gpt2);
    }

    String replaceAll(String s, String content) {
        if (compiled == null) return s;
        return compiled.matcher(s).replaceAll(Matcher.quoteReplacement(content));
    }

    /**
     * Cuts s into matches and the gaps between them, as tokenizers' find_matches does: an empty
     * text gives one empty gap; empty matches are reported (callers drop empty ranges).
     */
    void ranges(String s, RangeSink sink) {
        if (s.isEmpty() || compiled == null) { sink.range(0, s.length(), false); return; }
        if (gpt2) {   // every char belongs to some piece, so the pieces are all matches
            Gpt2Pattern.split(s, 0, s.length(), (a, b) -> sink.range(a, b, true));
            return;
        }
        int prev = 0;
        Matcher m = compiled.matcher(s);
        while (m.find()) {
            if (m.start() != prev) sink.range(prev, m.start(), false);
            sink.range(m.start(), m.end(), true);
            prev = m.end();
        }
        if (prev != s.length()) sink.range(prev, s.length(), false);
    }

    /**
     * An Oniguruma pattern in java.util.regex syntax. The two engines agree on what tokenizer
     * regexes use ({@code \p{L}}, {@code \p{N}}, {@code (?i:...)}, {@code (?!...)}, possessive and
     * atomic groups, {@code \s} as White_Space with UNICODE_CHARACTER_CLASS); Java spells script
     * properties {@code \p{IsHan}} where Oniguruma writes {@code \p{Han}}, and reads {@code \h} as
     * horizontal space where Oniguruma means a hex digit.
     */
    static String toJava(String onig) {
        StringBuilder sb = new StringBuilder(onig.length() + 8);
        for (int i = 0; i < onig.length(); i++) {
            char c = onig.charAt(i);
            if (c != '\\' || i + 1 >= onig.length()) { sb.append(c); continue; }
            char d = onig.charAt(++i);
            if ((d == 'p' || d == 'P') && i + 1 < onig.length() && onig.charAt(i + 1) == '{') {
                int close = onig.indexOf('}', i);
                if (close < 0) throw new PatternSyntaxException("unclosed property", onig, i);
                String name = onig.substring(i + 2, close);
                boolean negated = name.startsWith("^");
                if (negated) name = name.substring(1);
                sb.append('\\').append(negated ? (d == 'p' ? 'P' : 'p') : d).append('{').append(javaProperty(name)).append('}');
                i = close;
            } else if (d == 'h') {
                sb.append("[0-9a-fA-F]");
            } else if (d == 'H') {
                sb.append("[^0-9a-fA-F]");
            } else {
                sb.append('\\').append(d);
            }
        }
        return sb.toString();
    }

    /** General categories (L, Lu, N, ...) pass; other names are taken as scripts or binary properties. */
    private static String javaProperty(String name) {
        if (name.length() <= 2 && Character.isUpperCase(name.charAt(0))) return name;
        if (name.contains("=") || name.startsWith("Is") || name.startsWith("In")) return name;
        return "Is" + name;
    }
}
