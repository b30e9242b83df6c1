package dev.lamina.structured;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What constrained decoding enforces: a JSON Schema compiled to the subset Lamina can guarantee, or
 * any JSON object ({@code response_format: json_object}). Objects are written with their properties
 * in the schema's order (each optional one may be left out, every required one appears); output is
 * compact (no whitespace outside strings). A keyword that would be silently ignored is refused
 * instead ({@link #compile}), so a response that passes is a response that validates.
 */
public sealed interface Schema {

    /** Any JSON value (the members of a json_object). */
    record Any() implements Schema {}

    /** An object: props in order; open: any string keys with Any values instead (json_object). */
    record Obj(List<Prop> props, boolean open) implements Schema {}

    /** A property: its name, its key as JSON text ("name" with quotes), its value, whether required. */
    record Prop(String name, byte[] key, Schema value, boolean required) {}

    /** An array of min..max items (max −1: unbounded). */
    record Arr(Schema items, int min, int max) implements Schema {}

    /** A string of min..max characters (max −1: unbounded; counted in UTF-8 characters, an escape as one). */
    record Str(int min, int max) implements Schema {}

    /** A number, or an integer (no fraction or exponent). */
    record Num(boolean integer) implements Schema {}

    /** One of fixed JSON texts, compact (enum, const, boolean, null). */
    record Literals(List<byte[]> values) implements Schema {}

    /** One of several schemas told apart by their first byte (a type list such as ["string", "null"]). */
    record Alt(List<Schema> options) implements Schema {}

    /** Any JSON object: what response_format json_object asks for. */
    static Schema anyObject() { return new Obj(List.of(), true); }

    /** The keywords {@link #compile} understands; annotations are allowed and ignored. */
    Set<String> KEYWORDS = Set.of("type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
            "minLength", "maxLength", "enum", "const");
    Set<String> ANNOTATIONS = Set.of("title", "description", "$schema", "$id", "default", "examples", "$comment", "strict", "name");

    /**
     * Compiles a JSON Schema. Refused, with a one-line message naming the place: keywords outside
     * {@link #KEYWORDS} (anyOf, $ref, pattern, minimum, ...), additionalProperties other than false
     * on an object with properties, a required property that is not declared, empty enums, min above max.
     */
    static Schema compile(JsonNode s) { return compile(s, "schema"); }

    /** The schema in file, compiled; a file that is not JSON or a schema it cannot enforce is an error naming the file. */
    static Schema read(java.nio.file.Path file) {
        try {
            return compile(Json.MAPPER.readTree(dev.lamina.io.TextFiles.read(file)));
        } catch (tools.jackson.core.JacksonException e) {
            throw new LaminaException(file + ": not JSON (" + e.getOriginalMessage() + ")");
        } catch (LaminaException e) {
            throw new LaminaException(file + ": " + e.getMessage());
        }
    }

    private static Schema compile(JsonNode s, String at) {
        if (s == null || !s.isObject()) throw new LaminaException(at + ": a schema must be a JSON object");
        for (String k : s.propertyNames())
            if (!KEYWORDS.contains(k) && !ANNOTATIONS.contains(k))
                throw new LaminaException(at + ": unsupported schema keyword '" + k + "' (supported: " + String.join(", ", KEYWORDS.stream().sorted().toList()) + ")");
        if (s.has("const")) return new Literals(List.of(compact(s.get("const"))));
        if (s.has("enum")) {
            JsonNode e = s.get("enum");
            if (!e.isArray() || e.isEmpty()) throw new LaminaException(at + ".enum: must be a non-empty array");
            List<byte[]> vs = new ArrayList<>();
            for (JsonNode v : e) vs.add(compact(v));
            return new Literals(vs);
        }
        JsonNode type = s.get("type");
        if (type == null) {
            if (s.has("properties")) return object(s, at);
            if (s.has("items")) return array(s, at);
            return new Any();
        }
        if (type.isArray()) {
            List<Schema> options = new ArrayList<>();
            Set<Character> firsts = new HashSet<>();
            for (JsonNode t : type) {
                Schema o = ofType(t, s, at);
                for (char c : firstBytes(o))
                    if (!firsts.add(c)) throw new LaminaException(at + ".type: the types " + type + " can start alike; use one type or types that differ in their first character");
                options.add(o);
            }
            if (options.isEmpty()) throw new LaminaException(at + ".type: an empty list");
            return options.size() == 1 ? options.getFirst() : new Alt(options);
        }
        return ofType(type, s, at);
    }

    private static Schema ofType(JsonNode t, JsonNode s, String at) {
        if (!t.isString()) throw new LaminaException(at + ".type: must be a string or a list of strings");
        return switch (t.asString()) {
            case "object" -> object(s, at);
            case "array" -> array(s, at);
            case "string" -> {
                int min = nonNegative(s, "minLength", 0, at), max = nonNegative(s, "maxLength", -1, at);
                if (max >= 0 && min > max) throw new LaminaException(at + ": minLength " + min + " exceeds maxLength " + max + "; no string satisfies it");
                yield new Str(min, max);
            }
            case "number" -> new Num(false);
            case "integer" -> new Num(true);
            case "boolean" -> new Literals(List.of(bytes("true"), bytes("false")));
            case "null" -> new Literals(List.of(bytes("null")));
            default -> throw new LaminaException(at + ".type: unknown type '" + t.asString() + "'");
        };
    }

    private static Schema object(JsonNode s, String at) {
        JsonNode props = s.get("properties"), extra = s.get("additionalProperties");
        if (props == null || props.isEmpty()) {
            if (extra != null && extra.isBoolean() && !extra.booleanValue()) return new Obj(List.of(), false);   // {} only
            return anyObject();
        }
        if (extra != null && !(extra.isBoolean() && !extra.booleanValue()))
            throw new LaminaException(at + ".additionalProperties: only false is supported beside properties (constrained output has exactly the declared keys)");
        Set<String> required = new HashSet<>();
        if (s.has("required")) for (JsonNode r : s.get("required")) required.add(r.asString());
        List<Prop> out = new ArrayList<>();
        for (String name : props.propertyNames())
            out.add(new Prop(name, compact(Json.MAPPER.getNodeFactory().stringNode(name)), compile(props.get(name), at + ".properties." + name),
                    required.remove(name)));
        if (!required.isEmpty()) throw new LaminaException(at + ".required: " + required + " not among the properties; no object satisfies it");
        return new Obj(List.copyOf(out), false);
    }

    private static Schema array(JsonNode s, String at) {
        int min = nonNegative(s, "minItems", 0, at), max = nonNegative(s, "maxItems", -1, at);
        if (max >= 0 && min > max) throw new LaminaException(at + ": minItems " + min + " exceeds maxItems " + max + "; no array satisfies it");
        return new Arr(s.has("items") ? compile(s.get("items"), at + ".items") : new Any(), min, max);
    }

    private static int nonNegative(JsonNode s, String key, int absent, String at) {
        JsonNode v = s.get(key);
        if (v == null) return absent;
        if (!v.canConvertToInt() || v.intValue() < 0) throw new LaminaException(at + "." + key + ": must be a non-negative integer");
        return v.intValue();
    }

    /** Bytes a value of this schema can start with (to tell a type list's members apart). */
    private static Set<Character> firstBytes(Schema s) {
        return switch (s) {
            case Obj o -> Set.of('{');
            case Arr a -> Set.of('[');
            case Str x -> Set.of('"');
            case Num n -> Set.of('-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9');
            case Literals l -> {
                Set<Character> c = new HashSet<>();
                for (byte[] v : l.values()) c.add((char) v[0]);
                yield c;
            }
            case Alt a -> {
                Set<Character> c = new HashSet<>();
                for (Schema o : a.options()) c.addAll(firstBytes(o));
                yield c;
            }
            case Any any -> Set.of('{', '[', '"', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 't', 'f', 'n');
        };
    }

    /** A JSON value's compact text as UTF-8. */
    static byte[] compact(JsonNode v) { return bytes(Json.MAPPER.writer().without(tools.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValueAsString(v)); }

    private static byte[] bytes(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    /**
     * The fewest bytes a complete value of s takes: what a response must still be able to hold when
     * the token budget runs low.
     */
    static int minLength(Schema s) {
        return switch (s) {
            case Any a -> 1;                                   // 0
            case Num n -> 1;
            case Str x -> 2 + x.min();                         // each character at least one byte
            case Literals l -> l.values().stream().mapToInt(v -> v.length).min().orElseThrow();
            case Alt a -> a.options().stream().mapToInt(Schema::minLength).min().orElseThrow();
            case Arr a -> 2 + a.min() * minLength(a.items()) + Math.max(0, a.min() - 1);
            case Obj o -> {
                int n = 2, members = 0;
                for (Prop p : o.props())
                    if (p.required()) { n += p.key().length + 1 + minLength(p.value()); members++; }
                yield n + Math.max(0, members - 1);
            }
        };
    }
}
