package dev.lamina.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TextFilesTest {
    @Test
    void linesSplitAsReadAllLinesDoes(@TempDir Path dir) throws Exception {
        for (String text : new String[] {"", "a", "a\n", "a\r\nb\rc\n\nd", "\n\n", "x\u2028y\n"}) {
            Path f = dir.resolve("t.txt");
            Files.writeString(f, text);
            assertThat(TextFiles.lines(f)).as("%s", text.replace("\n", "\\n").replace("\r", "\\r")).isEqualTo(Files.readAllLines(f));
        }
    }

    @Test
    void badFilesAreOneLineErrorsNamingTheFile(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> TextFiles.read(dir.resolve("none.txt"))).isInstanceOf(LaminaException.class)
                .hasMessage(dir.resolve("none.txt") + ": file not found");
        Files.write(dir.resolve("bad.txt"), new byte[] {'a', (byte) 0xC3, 'b'});
        assertThatThrownBy(() -> TextFiles.read(dir.resolve("bad.txt"))).hasMessage(dir.resolve("bad.txt") + ": not valid UTF-8; save it as UTF-8");
    }
}
