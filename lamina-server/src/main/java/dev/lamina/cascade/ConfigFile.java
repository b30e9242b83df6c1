package dev.lamina.cascade;

import dev.lamina.io.LaminaException;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * A YAML (or JSON) configuration file read into a tree, with getters whose errors name the file and
 * the field: {@code cascade.yaml: tiers[1].cost.input must be a number >= 0, got "cheap"}.
 */
record ConfigFile(Path file, JsonNode root) {
    private static final YAMLMapper YAML = YAMLMapper.builder().build();

    static ConfigFile read(Path file) {
        if (!Files.isRegularFile(file)) throw new LaminaException(file + ": no such file");
        JsonNode root;
        try {
            root = YAML.readTree(file.toFile());
        } catch (JacksonException e) {
            throw new LaminaException(file + ": not valid YAML (" + e.getOriginalMessage().lines().findFirst().orElse("") + ")");
        }
        if (root == null || !root.isObject()) throw new LaminaException(file + ": must be a mapping of fields (name, tiers, ...)");
        return new ConfigFile(file, root);
    }

    LaminaException error(String field, String what) { return new LaminaException(file.getFileName() + ": " + field + " " + what); }

    /** Fails on a field this config does not know (a typo would otherwise be silently ignored). */
    void known(JsonNode node, String where, Set<String> fields) {
        for (String f : node.propertyNames())
            if (!fields.contains(f))
                throw error(where.isEmpty() ? f : where + "." + f, "is not a known field; known: " + String.join(", ", fields.stream().sorted().toList()));
    }

    String string(JsonNode node, String where, String field, String fallback) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            if (fallback == null) throw error(path(where, field), "is required");
            return fallback;
        }
        if (!v.isString() && !v.isNumber()) throw error(path(where, field), "must be a string");
        String s = v.asString().strip();
        if (s.isEmpty()) throw error(path(where, field), "must not be empty");
        return s;
    }

    double number(JsonNode node, String where, String field, double fallback, double min, double max) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            if (Double.isNaN(fallback)) throw error(path(where, field), "is required");
            return fallback;
        }
        if (!v.isNumber() || v.asDouble() < min || v.asDouble() > max)
            throw error(path(where, field), "must be a number in [" + min + ", " + max + "], got " + v);
        return v.asDouble();
    }

    /** A path relative to the config file's folder. */
    Path path(JsonNode node, String where, String field, Path fallback) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) return fallback;
        Path p = Path.of(string(node, where, field, null));
        Path dir = file.toAbsolutePath().getParent();
        return p.isAbsolute() || dir == null ? p : dir.resolve(p).normalize();
    }

    static String path(String where, String field) { return where.isEmpty() ? field : where + "." + field; }
}
