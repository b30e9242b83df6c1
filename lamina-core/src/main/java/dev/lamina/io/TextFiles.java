package dev.lamina.io;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/** Text files users hand in (texts, prompts, tasks, examples), read with the one-line errors they deserve. */
public final class TextFiles {
    private TextFiles() {}

    /** The whole file as UTF-8 text: a missing file, invalid UTF-8 or an unreadable file is a one-line error naming it. */
    public static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new LaminaException(file + ": file not found");
        } catch (CharacterCodingException e) {
            throw new LaminaException(file + ": not valid UTF-8; save it as UTF-8");
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    /** The file's lines (split at \n, \r\n or \r, as Files.readAllLines does), line i + 1 at index i. */
    public static List<String> lines(Path file) {
        String s = read(file);
        List<String> lines = List.of(s.split("\r\n|\n|\r", -1));
        return s.isEmpty() || s.endsWith("\n") || s.endsWith("\r") ? lines.subList(0, lines.size() - 1) : lines;
    }
}
