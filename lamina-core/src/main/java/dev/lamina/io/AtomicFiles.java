package dev.lamina.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes files all or nothing: the bytes go to a hidden temp file in the target's directory, are
 * forced to disk, and only then renamed over the target. A crash or an exception leaves either the
 * old file or the new one, never half a file; the temp file is deleted on failure.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** A body that writes to a stream and may throw IOException. */
    @FunctionalInterface
    public interface IOConsumer<T> { void accept(T t) throws IOException; }

    public static void writeString(Path target, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        write(target, out -> out.write(bytes));
    }

    /** Runs body on a buffered stream to a temp file, then renames it to target (creating parent dirs). */
    public static void write(Path target, IOConsumer<OutputStream> body) {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = dir.resolve("." + abs.getFileName() + "." + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()) + ".tmp");
        boolean done = false;
        try {
            Files.createDirectories(dir);
            // CREATE_NEW, not createTempFile: that one makes the file owner-only (0600)
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
                body.accept(out);
                out.flush();
                ch.force(true);
            }
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            done = true;
        } catch (IOException e) {
            throw new LaminaException(target + ": cannot write (" + e + ")", e);
        } finally {
            if (!done) {
                try { Files.deleteIfExists(tmp); } catch (IOException ignored) { /* best effort */ }
            }
        }
    }
}
