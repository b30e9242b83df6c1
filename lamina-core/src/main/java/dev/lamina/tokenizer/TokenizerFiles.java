package dev.lamina.tokenizer;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** File helpers shared by the tokenizer readers and writers: one-line errors, atomic writes. */
final class TokenizerFiles {
    private TokenizerFiles() {}

    static byte[] readBytes(Path file, String what) {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new LaminaException(file + ": not found (" + what + ")");
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    static JsonNode readJson(Path file, String what) {
        byte[] bytes = readBytes(file, what);
        try {
            return Json.MAPPER.readTree(bytes);
        } catch (JacksonException e) {
            var loc = e.getLocation();
            throw new LaminaException(file + ": not valid JSON" + (loc == null ? "" : " at line " + loc.getLineNr() + " column " + loc.getColumnNr())
                    + " (" + firstLine(e.getOriginalMessage()) + "); replace it with an intact " + what);
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "parse error";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** Writes content to file through a temporary file in the same directory and an atomic rename. */
    static void writeAtomically(Path file, byte[] content) {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = dir.resolve(file.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        try {
            Files.createDirectories(dir);
            try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                out.write(content);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            try { Files.deleteIfExists(tmp); } catch (IOException ignored) { /* best effort */ }
            throw new LaminaException(file + ": cannot write (" + e + "); check the directory is writable");
        }
    }
}
