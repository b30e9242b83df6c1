package dev.lamina.data;

import dev.lamina.io.LaminaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TokenFileTest {
    @TempDir Path dir;

    private static int[] random(int n, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        Arrays.setAll(t, i -> r.nextInt(vocab));
        return t;
    }

    @Test
    void uint16RoundTrip() throws IOException {
        int[] t = random(100_000, 65536, 1);
        t[0] = 65535;
        t[1] = 0;
        Path f = dir.resolve("a.bin");
        TokenFile.write(f, t, 65536);
        assertThat(Files.size(f)).isEqualTo(24 + 2L * t.length);
        try (TokenFile tf = TokenFile.open(f)) {
            assertThat(tf.size()).isEqualTo(t.length);
            assertThat(tf.vocabSize()).isEqualTo(65536);
            assertThat(tf.get(0)).isEqualTo(65535);
            assertThat(tf.get(t.length - 1)).isEqualTo(t[t.length - 1]);
            int[] dst = new int[1010];
            tf.read(40_000, dst, 5, 1000);
            assertThat(Arrays.copyOfRange(dst, 5, 1005)).containsExactly(Arrays.copyOfRange(t, 40_000, 41_000));
            assertThat(tf.toArray()).containsExactly(t);
            assertThatThrownBy(() -> tf.get(t.length)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> tf.read(t.length - 5, dst, 0, 10)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    @Test
    void int32RoundTripFromParts() throws IOException {
        int[] a = random(5000, 100_000, 2), b = {99_999, 65536, 0};
        Path f = dir.resolve("b.bin");
        assertThat(TokenFile.write(f, List.of(a, new int[0], b), 100_000)).isEqualTo(5003);
        assertThat(Files.size(f)).isEqualTo(24 + 4L * 5003);
        try (TokenFile tf = TokenFile.open(f)) {
            assertThat(tf.vocabSize()).isEqualTo(100_000);
            assertThat(tf.get(5001)).isEqualTo(65536);
            int[] dst = new int[5];
            tf.read(4999, dst, 1, 4);
            assertThat(dst).containsExactly(0, a[4999], 99_999, 65536, 0);
        }
    }

    @Test
    void emptyFile() {
        Path f = dir.resolve("e.bin");
        TokenFile.write(f, new int[0], 257);
        try (TokenFile tf = TokenFile.open(f)) {
            assertThat(tf.size()).isZero();
        }
    }

    @Test
    void outOfVocabularyIdIsRejectedAndNothingWritten() throws IOException {
        Path f = dir.resolve("c.bin");
        assertThatThrownBy(() -> TokenFile.write(f, new int[] {1, 2, 257}, 257))
                .isInstanceOf(LaminaException.class).hasMessageContaining("c.bin").hasMessageContaining("token id 257 at index 2");
        try (var files = Files.list(dir)) {
            assertThat(files).isEmpty();
        }
    }

    private Path good() {
        Path f = dir.resolve("g.bin");
        TokenFile.write(f, new int[] {1, 2, 3, 4}, 257);
        return f;
    }

    private static void assertBad(Path f, String fragment) {
        assertThatThrownBy(() -> TokenFile.open(f).close()).isInstanceOf(LaminaException.class)
                .hasMessageStartingWith(f + ": ").hasMessageContaining(fragment).hasMessageContaining("run `lamina prepare`");
    }

    @Test
    void badMagic() throws IOException {
        Path f = dir.resolve("text.bin");
        Files.writeString(f, "hello world, this is not a token file");
        assertBad(f, "not a Lamina token file");
        Files.write(f, new byte[2]);
        assertBad(f, "not a Lamina token file");
    }

    @Test
    void badVersion() throws IOException {
        Path f = good();
        byte[] b = Files.readAllBytes(f);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 7);
        Files.write(f, b);
        assertBad(f, "version 7 is not supported");
    }

    @Test
    void truncated() throws IOException {
        Path f = good();
        byte[] b = Files.readAllBytes(f);
        Files.write(f, Arrays.copyOf(b, b.length - 1));
        assertBad(f, "header says 4 tokens of 2 bytes, the file has 7 data bytes");
        Files.write(f, Arrays.copyOf(b, 10));
        assertBad(f, "truncated token file (10 bytes");
    }

    @Test
    void corruptHeader() throws IOException {
        Path f = good();
        byte[] b = Files.readAllBytes(f);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(12, 100_000);  // vocab too big for uint16
        Files.write(f, b);
        assertBad(f, "corrupt token file header");
    }

    @Test
    void missing() {
        assertBad(dir.resolve("none.bin"), "token file not found");
    }
}
