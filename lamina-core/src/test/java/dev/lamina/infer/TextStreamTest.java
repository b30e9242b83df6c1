package dev.lamina.infer;

import dev.lamina.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Streaming detokenisation with stop sequences, on the byte tokenizer (one token per byte). */
class TextStreamTest {
    static String feed(TextStream s, String text, StringBuilder streamed) {
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            streamed.append(s.add(b & 0xff));
            if (s.stopped()) break;
        }
        streamed.append(s.finish());
        return s.text();
    }

    @Test
    void aStopSequenceCutsTheTextBeforeIt() {
        StringBuilder streamed = new StringBuilder();
        TextStream s = new TextStream(ByteTokenizer.INSTANCE, List.of("\nUser:", "###"));
        assertThat(feed(s, "Hello there.\nUser: more", streamed)).isEqualTo("Hello there.");
        assertThat(streamed.toString()).isEqualTo("Hello there.");
        assertThat(s.stopped()).isTrue();
        assertThat(s.tokens()).isEqualTo("Hello there.\nUser:".length());   // stops on the token completing it
    }

    @Test
    void theEarliestStopWins() {
        StringBuilder streamed = new StringBuilder();
        assertThat(feed(new TextStream(ByteTokenizer.INSTANCE, List.of("cd", "bcde")), "abcdef", streamed)).isEqualTo("ab");
        assertThat(streamed.toString()).isEqualTo("ab");
    }

    @Test
    void textThatMightStartAStopIsHeldBackThenReleased() {
        TextStream s = new TextStream(ByteTokenizer.INSTANCE, List.of("END"));
        assertThat(s.add('a')).isEqualTo("a");
        assertThat(s.add('E')).isEmpty();                    // could be the start of END
        assertThat(s.add('N')).isEmpty();
        assertThat(s.add('x')).isEqualTo("ENx");             // it was not
        assertThat(s.add('E')).isEmpty();
        assertThat(s.finish()).isEqualTo("E");               // released at the end
        assertThat(s.text()).isEqualTo("aENxE");
    }

    @Test
    void incompleteUtf8IsHeldUntilTheCharacterIsComplete() {
        TextStream s = new TextStream(ByteTokenizer.INSTANCE, List.of());
        byte[] euro = "€".getBytes(StandardCharsets.UTF_8);
        assertThat(s.add(euro[0] & 0xff)).isEmpty();
        assertThat(s.add(euro[1] & 0xff)).isEmpty();
        assertThat(s.add(euro[2] & 0xff)).isEqualTo("€");
    }

    @Test
    void noStopsStreamsEverything() {
        StringBuilder streamed = new StringBuilder();
        assertThat(feed(new TextStream(ByteTokenizer.INSTANCE, null), "plain text", streamed)).isEqualTo("plain text");
        assertThat(streamed.toString()).isEqualTo("plain text");
    }
}
