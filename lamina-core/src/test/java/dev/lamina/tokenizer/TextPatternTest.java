package dev.lamina.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Oniguruma patterns on java.util.regex, and the ranges a pattern cuts a text into. */
class TextPatternTest {

    static List<String> ranges(TextPattern p, String s) {
        List<String> out = new ArrayList<>();
        p.ranges(s, (a, b, m) -> out.add((m ? "+" : "-") + s.substring(a, b)));
        return out;
    }

    @Test
    void onigurumaSpellingsBecomeJavas() {
        assertThat(TextPattern.toJava("\\p{Han}+|\\P{Latin}")).isEqualTo("\\p{IsHan}+|\\P{IsLatin}");
        assertThat(TextPattern.toJava("\\p{^L}\\p{N}\\p{Lu}")).isEqualTo("\\P{L}\\p{N}\\p{Lu}");
        assertThat(TextPattern.toJava("\\h+\\H")).isEqualTo("[0-9a-fA-F]+[^0-9a-fA-F]");
        assertThat(ranges(TextPattern.regex("\\p{Han}+"), "ab中文cd")).containsExactly("-ab", "+中文", "-cd");
    }

    @Test
    void llama3PatternSplitsAsTokenizersDoes() {
        TextPattern p = TextPattern.regex(PreTokenizerLlama3.PATTERN);
        // as tokenizers 0.23.2 splits it: case-insensitive contractions (ſ folds to s), digits in threes, newlines with punctuation
        assertThat(ranges(p, "I'M ſ'S 1234567 hi!!\n\n  x")).containsExactly(
                "+I", "+'M", "+ ſ", "+'S", "+ ", "+123", "+456", "+7", "+ hi", "+!!\n\n", "+ ", "+ x");
    }

    @Test
    void gpt2PatternUsesTheScannerAndCoversTheText() {
        TextPattern p = TextPattern.regex(Gpt2Pattern.PATTERN);
        assertThat(p.gpt2()).isTrue();
        assertThat(ranges(p, "Hello  world's")).containsExactly("+Hello", "+ ", "+ world", "+'s");
        assertThat(ranges(TextPattern.literal(""), "abc")).containsExactly("-abc");
    }

    /** Llama 3's pre-tokenizer regex as its tokenizer.json spells it. */
    static final class PreTokenizerLlama3 {
        static final String PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    }
}
