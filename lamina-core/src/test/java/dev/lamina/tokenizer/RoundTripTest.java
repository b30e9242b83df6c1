package dev.lamina.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** decode(encode(s)) == s for valid Unicode; lone surrogates become U+FFFD. */
class RoundTripTest {
    static BpeTokenizer gpt2, small;

    @BeforeAll
    static void load() throws Exception {
        gpt2 = BpeTokenizer.load(Gpt2ParityTest.resource("gpt2"));
        // a tokenizer that has learned few merges: most text falls back to single bytes
        small = BpeTrainer.trainOnTexts(List.of("the cat sat on the mat. the end\n"), 280, 1, List.of(BpeTokenizer.EOT), ProgressListener.NONE).tokenizer();
    }

    @Test
    void randomValidUnicodeRoundTrips() {
        TextGen gen = new TextGen(7);
        for (int i = 0; i < 5_000; i++) {
            String s = gen.next(30, false);
            for (BpeTokenizer t : List.of(gpt2, small)) {
                assertThat(t.decode(t.encode(s))).as("%s", Gpt2PatternTest.escape(s)).isEqualTo(s);
                assertThat(t.decode(t.encode(s, false))).isEqualTo(s);
            }
        }
    }

    @Test
    void everyCodePointRoundTrips() {
        StringBuilder sb = new StringBuilder();
        for (int cp = 0; cp < 0x110000; cp++) {
            if (Character.getType(cp) == Character.SURROGATE) continue;
            sb.appendCodePoint(cp);
            if (sb.length() > 4000 || cp == 0x10FFFF) {
                String s = sb.toString();
                assertThat(gpt2.decode(gpt2.encode(s))).isEqualTo(s);
                sb.setLength(0);
            }
        }
    }

    @Test
    void whitespaceRunsAndLineBreaks() {
        for (String s : List.of("\r\n\r\n", "a \r\n b", "   ", " \t \n\u00a0\u3000x", "x\n\n\n", "\u2028\u2029\u0085")) {
            assertThat(gpt2.decode(gpt2.encode(s))).isEqualTo(s);
        }
    }

    @Test
    void loneSurrogatesBecomeReplacementCharacters() {
        String high = "a\uD83Db", low = "\uDE00x", reversed = "\uDE00\uD83D", end = "ok\uD83D";
        assertThat(gpt2.decode(gpt2.encode(high))).isEqualTo("a\uFFFDb");
        assertThat(gpt2.decode(gpt2.encode(low))).isEqualTo("\uFFFDx");
        assertThat(gpt2.decode(gpt2.encode(reversed))).isEqualTo("\uFFFD\uFFFD");
        assertThat(gpt2.decode(gpt2.encode(end))).isEqualTo("ok\uFFFD");
        assertThat(gpt2.encode(high)).containsExactly(gpt2.encode("a\uFFFDb"));
        TextGen gen = new TextGen(11);
        for (int i = 0; i < 2_000; i++) {
            String s = gen.next(20, true);
            assertThat(gpt2.decode(gpt2.encode(s))).isEqualTo(BpeTokenizer.replaceLoneSurrogates(s));
        }
    }

    @Test
    void replaceLoneSurrogatesKeepsPairs() {
        assertThat(BpeTokenizer.replaceLoneSurrogates("😀")).isEqualTo("😀");
        assertThat(BpeTokenizer.replaceLoneSurrogates("\uD83D😀\uDE00")).isEqualTo("\uFFFD😀\uFFFD");
    }

    @Test
    void partialUtf8DecodesToReplacementCharacter() {
        int leadByte = gpt2.model().id(String.valueOf(ByteLevel.charOf(0xE4)));   // first byte of a 3-byte character
        assertThat(gpt2.decode(new int[] {leadByte})).isEqualTo("\uFFFD");
        assertThat(gpt2.decode(new int[] {leadByte, gpt2.encode("x")[0]})).isEqualTo("\uFFFDx");
    }

    @Test
    void unknownIdsAreRejected() {
        assertThatThrownBy(() -> gpt2.decode(new int[] {1, 50257})).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("50257");
        assertThatThrownBy(() -> gpt2.decode(new int[] {-1})).isInstanceOf(IllegalArgumentException.class);
    }
}
