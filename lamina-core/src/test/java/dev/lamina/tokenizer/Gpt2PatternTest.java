package dev.lamina.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;

import static org.assertj.core.api.Assertions.assertThat;

/** The hand-written scanner splits exactly like GPT-2's regex (java.util.regex with Unicode classes). */
class Gpt2PatternTest {

    static List<String> scan(String s) {
        List<String> out = new ArrayList<>();
        Gpt2Pattern.split(s, 0, s.length(), (a, b) -> out.add(s.substring(a, b)));
        return out;
    }

    static List<String> regex(String s) {
        List<String> out = new ArrayList<>();
        Matcher m = Gpt2Pattern.REGEX.matcher(s);
        while (m.find()) out.add(m.group());
        return out;
    }

    @Test
    void examples() {
        assertThat(scan("Hello world's end")).containsExactly("Hello", " world", "'s", " end");
        assertThat(scan("  leading   runs  ")).containsExactly(" ", " leading", "  ", " runs", "  ");
        assertThat(scan("tabs\tand\nnew\n\n\nlines")).containsExactly("tabs", "\t", "and", "\n", "new", "\n\n", "\n", "lines");
        assertThat(scan("I'LL they'll '''s x'sam")).containsExactly("I", "'", "LL", " they", "'ll", " '''", "s", " x", "'s", "am");
        assertThat(scan("3.14 abc123 ½²")).containsExactly("3", ".", "14", " abc", "123", " ½²");
        assertThat(scan("a\u00a0b \u3000c")).containsExactly("a", "\u00a0", "b", " ", "\u3000", "c");
        assertThat(scan("😀🚀 中文, ok?!")).containsExactly("😀🚀", " 中文", ",", " ok", "?!");
        assertThat(scan("")).isEmpty();
    }

    @Test
    void scannerEqualsRegexOnRandomStrings() {
        TextGen gen = new TextGen(42);
        for (int i = 0; i < 20_000; i++) {
            String s = gen.next(24, true);
            assertThat(scan(s)).as("%s", escape(s)).isEqualTo(regex(s));
        }
    }

    @Test
    void scannerEqualsRegexOnEveryBmpCharInContext() {
        StringBuilder sb = new StringBuilder();
        for (int c = 0; c < 0x10000; c++) {
            sb.setLength(0);
            sb.append("x ").append((char) c).append("y").append((char) c).append((char) c).append(" 1").append((char) c).append("  ");
            String s = sb.toString();
            assertThat(scan(s)).as("U+%04X", c).isEqualTo(regex(s));
        }
    }

    @Test
    void piecesRespectTheRange() {
        String s = "ab cd  ";
        List<String> out = new ArrayList<>();
        Gpt2Pattern.split(s, 1, 4, (a, b) -> out.add(s.substring(a, b)));
        assertThat(out).containsExactly("b", " c");  // the range end counts as the end of text
    }

    static String escape(String s) {
        StringBuilder sb = new StringBuilder();
        s.chars().forEach(c -> sb.append(c < 128 && c >= 32 ? String.valueOf((char) c) : String.format("\\u%04x", c)));
        return sb.toString();
    }
}
