package dev.lamina.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AtomicFilesTest {
    @TempDir Path dir;

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void writesAndReplacesLeavingOnlyTheTarget() throws IOException {
        Path f = dir.resolve("sub/a.txt");
        AtomicFiles.writeString(f, "one");
        AtomicFiles.writeString(f, "two ü");
        assertThat(Files.readString(f)).isEqualTo("two ü");
        try (Stream<Path> s = Files.list(f.getParent())) {
            assertThat(s).containsExactly(f);
        }
    }

    @Test
    void failingWriterKeepsTheOldFileAndDeletesTheTemp() throws IOException {
        Path f = dir.resolve("a.bin");
        AtomicFiles.writeString(f, "old");
        assertThatThrownBy(() -> AtomicFiles.write(f, out -> {
            out.write(new byte[200_000]);  // past the buffer: bytes reached the temp file
            throw new IOException("disk full");
        })).isInstanceOf(LaminaException.class).hasMessageContaining("a.bin").hasMessageContaining("disk full");
        assertThat(Files.readString(f)).isEqualTo("old");
        assertThat(listing()).containsExactly("a.bin");
    }

    @Test
    void runtimeFailurePropagatesAndLeavesNothing() throws IOException {
        Path f = dir.resolve("new.bin");
        assertThatThrownBy(() -> AtomicFiles.write(f, out -> {
            out.write(1);
            throw new IllegalStateException("boom");
        })).isInstanceOf(IllegalStateException.class).hasMessage("boom");
        assertThat(listing()).isEmpty();
    }
}
