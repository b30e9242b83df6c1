package dev.lamina.data;

import dev.lamina.io.LaminaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CorpusTest {
    @TempDir Path dir;

    @Test
    void documentsAreRunsOfLinesBetweenBlankLines() {
        assertThat(Corpus.documents("\n\na\nb\n\n\n\nc\n  \t\nd\r\ne\n")).containsExactly("a\nb", "c", "d\ne");
        assertThat(Corpus.documents("one line, no newline")).containsExactly("one line, no newline");
        assertThat(Corpus.documents("  indented\nkept  \n\n")).containsExactly("  indented\nkept  ");
        assertThat(Corpus.documents("\n \n")).isEmpty();
    }

    @Test
    void readsUtf8FileAndCountsBytes() throws IOException {
        Path f = dir.resolve("c.txt");
        byte[] bom = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
        byte[] body = "héllo\n\nwörld\n".getBytes(StandardCharsets.UTF_8);
        byte[] all = new byte[bom.length + body.length];
        System.arraycopy(bom, 0, all, 0, 3);
        System.arraycopy(body, 0, all, 3, body.length);
        Files.write(f, all);
        Corpus.Source s = Corpus.read(f);
        assertThat(s.name()).isEqualTo(f.toString());
        assertThat(s.documents()).containsExactly("héllo", "wörld");
        assertThat(s.bytes()).isEqualTo(body.length);
    }

    @Test
    void invalidUtf8NamesTheFileAndOffset() throws IOException {
        Path f = dir.resolve("latin1.txt");
        Files.write(f, "caf\u00e9 ok".getBytes(StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> Corpus.read(f)).isInstanceOf(LaminaException.class)
                .hasMessage(f + ": invalid UTF-8 at byte offset 3; the corpus must be UTF-8 text");
        Files.write(f, new byte[] {'a', (byte) 0xE2, (byte) 0x82});  // truncated 3-byte sequence at the end
        assertThatThrownBy(() -> Corpus.read(f)).hasMessageContaining("invalid UTF-8 at byte offset 1");
    }

    @Test
    void missingEmptyAndDirectory() throws IOException {
        assertThatThrownBy(() -> Corpus.read(dir.resolve("nope.txt"))).hasMessage(dir.resolve("nope.txt") + ": corpus file not found");
        Path empty = Files.writeString(dir.resolve("empty.txt"), "");
        assertThatThrownBy(() -> Corpus.read(empty)).hasMessageContaining("empty.txt: no text");
        Path blank = Files.writeString(dir.resolve("blank.txt"), "\n  \n\n");
        assertThatThrownBy(() -> Corpus.read(blank)).hasMessageContaining("blank.txt: no text");
        assertThatThrownBy(() -> Corpus.read(dir)).hasMessageContaining("is a directory");
    }

    @Test
    void bundledBrownHas500Samples() throws IOException {
        Corpus.Source brown = BundledCorpus.source();
        assertThat(brown.documents()).hasSize(500);
        assertThat(brown.documents().getFirst()).startsWith("The Fulton County Grand Jury said Friday");
        assertThat(brown.bytes()).isBetween(5_900_000L, 6_100_000L);
        Path f = BundledCorpus.unpack(dir);
        assertThat(f).isEqualTo(dir.resolve("brown.txt"));
        assertThat(Corpus.read(f).documents()).isEqualTo(brown.documents());
    }
}
