package dev.lamina.agent;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The agent's audit log: one JSON object a line ({"time", "event", ...}) for every step: the task,
 * each model reply, each tool call with its arguments, its checks (declared, schema, confirmation),
 * result and duration, and the end. Appended and flushed line by line, so a log cut short by a
 * crash still holds every whole step before it.
 */
public final class AuditLog implements AutoCloseable {
    private static final tools.jackson.databind.ObjectWriter LINE = Json.MAPPER.writer().without(tools.jackson.databind.SerializationFeature.INDENT_OUTPUT);
    private final Path file;
    private final OutputStream out;

    private AuditLog(Path file, OutputStream out) {
        this.file = file;
        this.out = out;
    }

    /** Appends to file (created, with its parent folders, when absent). */
    public static AuditLog open(Path file) {
        try {
            if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
            return new AuditLog(file, Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE));
        } catch (IOException e) {
            throw new LaminaException("cannot open the audit log " + file + ": " + e.getMessage());
        }
    }

    public Path file() { return file; }

    /** One line: the time, the event and its fields in order (values JSON-shaped). */
    public synchronized void write(String event, Object... fields) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("time", Instant.now().toString());
        line.put("event", event);
        for (int i = 0; i + 1 < fields.length; i += 2) line.put((String) fields[i], fields[i + 1]);
        try {
            out.write((LINE.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            throw new LaminaException("cannot write the audit log " + file + ": " + e.getMessage());
        }
    }

    @Override
    public synchronized void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new LaminaException("cannot close the audit log " + file + ": " + e.getMessage());
        }
    }
}
