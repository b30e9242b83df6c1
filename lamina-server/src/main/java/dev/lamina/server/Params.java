package dev.lamina.server;

import dev.lamina.chat.ModelChatTemplate;
import dev.lamina.infer.ChatTemplate;
import dev.lamina.io.Json;
import dev.lamina.tokenizer.Tokenizer;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Typed, validated reads of request fields; a JSON null counts as absent. Failures are 400s naming the field. */
final class Params {
    private Params() {}

    private static JsonNode get(JsonNode o, String f) {
        JsonNode v = o.get(f);
        return v == null || v.isNull() ? null : v;
    }

    static String string(JsonNode o, String f, String def) {
        JsonNode v = get(o, f);
        if (v == null) return def;
        if (!v.isString()) throw ApiException.invalid(f, f + " must be a string, got " + v);
        return v.stringValue();
    }

    static boolean bool(JsonNode o, String f, boolean def) {
        JsonNode v = get(o, f);
        if (v == null) return def;
        if (!v.isBoolean()) throw ApiException.invalid(f, f + " must be true or false, got " + v);
        return v.booleanValue();
    }

    static Integer integer(JsonNode o, String f, Integer def) {
        JsonNode v = get(o, f);
        if (v == null) return def;
        if (!v.isIntegralNumber() || !v.canConvertToInt()) throw ApiException.invalid(f, f + " must be an integer, got " + v);
        return v.intValue();
    }

    static int integer(JsonNode o, String f, int def) { return integer(o, f, (Integer) def); }

    static Long longValue(JsonNode o, String f) {
        JsonNode v = get(o, f);
        if (v == null) return null;
        if (!v.isIntegralNumber() || !v.canConvertToLong()) throw ApiException.invalid(f, f + " must be an integer, got " + v);
        return v.longValue();
    }

    static double number(JsonNode o, String f, double def, double min, double max) {
        JsonNode v = get(o, f);
        if (v == null) return def;
        if (!v.isNumber()) throw ApiException.invalid(f, f + " must be a number, got " + v);
        double d = v.doubleValue();
        if (!(d >= min && d <= max)) throw ApiException.invalid(f, f + " must be between " + fmt(min) + " and " + fmt(max) + ", got " + v);
        return d;
    }

    private static String fmt(double d) { return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d); }

    /** stop: a string or an array of up to four strings. */
    static List<String> stop(JsonNode o) {
        JsonNode v = get(o, "stop");
        if (v == null) return List.of();
        List<String> out = new ArrayList<>();
        if (v.isString()) out.add(v.stringValue());
        else if (v.isArray()) {
            for (JsonNode s : v) {
                if (!s.isString()) throw ApiException.invalid("stop", "stop must be a string or an array of strings");
                out.add(s.stringValue());
            }
        } else throw ApiException.invalid("stop", "stop must be a string or an array of strings, got " + v);
        if (out.size() > 4) throw ApiException.invalid("stop", "stop may hold at most 4 sequences, got " + out.size());
        out.removeIf(String::isEmpty);
        return out;
    }

    /** prompt: a string, an array of strings, an array of token ids, or an array of such arrays. */
    static List<int[]> prompts(JsonNode o, Tokenizer tok) {
        JsonNode v = get(o, "prompt");
        if (v == null) throw ApiException.invalid("prompt", "you must provide a prompt");
        List<int[]> out = new ArrayList<>();
        if (v.isString()) out.add(tok.encodePrompt(v.stringValue()));
        else if (v.isArray()) {
            if (v.isEmpty()) throw ApiException.invalid("prompt", "prompt must not be an empty array");
            if (v.get(0).isIntegralNumber()) out.add(ids(v, tok));
            else for (JsonNode p : v) {
                if (p.isString()) out.add(tok.encodePrompt(p.stringValue()));
                else if (p.isArray()) out.add(ids(p, tok));
                else throw ApiException.invalid("prompt", "prompt must be a string, an array of strings or of token ids");
            }
        } else throw ApiException.invalid("prompt", "prompt must be a string, an array of strings or of token ids, got " + v);
        if (out.size() > 64) throw ApiException.invalid("prompt", "at most 64 prompts per request");
        return out;
    }

    private static int[] ids(JsonNode arr, Tokenizer tok) {
        int[] ids = new int[arr.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode t = arr.get(i);
            if (!t.isIntegralNumber() || !t.canConvertToInt() || t.intValue() < 0 || t.intValue() >= tok.vocabSize())
                throw ApiException.invalid("prompt", "token id " + t + " is not in [0, " + tok.vocabSize() + ")");
            ids[i] = t.intValue();
        }
        return ids;
    }

    /** messages: [{role, content}] with content a string or an array of text parts. */
    static List<ChatTemplate.Message> messages(JsonNode o) {
        JsonNode v = get(o, "messages");
        if (v == null) throw ApiException.invalid("messages", "you must provide messages");
        if (!v.isArray() || v.isEmpty()) throw ApiException.invalid("messages", "messages must be a non-empty array");
        List<ChatTemplate.Message> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            JsonNode m = v.get(i);
            String where = "messages[" + i + "]";
            if (!m.isObject()) throw ApiException.invalid(where, where + " must be an object");
            String role = string(m, "role", null);
            if (role == null) throw ApiException.invalid(where + ".role", where + " has no role");
            if (!List.of("system", "developer", "user", "assistant").contains(role))
                throw ApiException.invalid(where + ".role", "unsupported role '" + role + "'; use system, user or assistant");
            JsonNode c = get(m, "content");
            String content;
            if (c == null) content = "";
            else if (c.isString()) content = c.stringValue();
            else if (c.isArray()) {
                StringBuilder s = new StringBuilder();
                for (JsonNode part : c) {
                    if (!part.isObject() || !"text".equals(string(part, "type", null)))
                        throw ApiException.invalid(where + ".content", "only text content parts are supported");
                    s.append(string(part, "text", ""));
                }
                content = s.toString();
            } else throw ApiException.invalid(where + ".content", "content must be a string or an array of text parts");
            out.add(new ChatTemplate.Message(role, content));
        }
        return out;
    }

    /**
     * messages for a model's own chat template: every field kept (tool_calls, tool_call_id, name ...),
     * any role; text-part arrays joined into one string; tool-call arguments given as a JSON string
     * (OpenAI's form) parsed into the object templates expect.
     */
    static List<Map<String, Object>> templateMessages(JsonNode o) {
        JsonNode v = get(o, "messages");
        if (v == null) throw ApiException.invalid("messages", "you must provide messages");
        if (!v.isArray() || v.isEmpty()) throw ApiException.invalid("messages", "messages must be a non-empty array");
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            JsonNode m = v.get(i);
            String where = "messages[" + i + "]";
            if (!m.isObject()) throw ApiException.invalid(where, where + " must be an object");
            if (string(m, "role", null) == null) throw ApiException.invalid(where + ".role", where + " has no role");
            @SuppressWarnings("unchecked") Map<String, Object> message = (Map<String, Object>) ModelChatTemplate.plain(m);
            JsonNode c = get(m, "content");
            if (c != null && c.isArray()) {
                StringBuilder s = new StringBuilder();
                for (JsonNode part : c) {
                    if (!part.isObject() || !"text".equals(string(part, "type", null)))
                        throw ApiException.invalid(where + ".content", "only text content parts are supported");
                    s.append(string(part, "text", ""));
                }
                message.put("content", s.toString());
            }
            if (message.get("tool_calls") instanceof List<?> calls) {
                for (Object call : calls) {
                    if (call instanceof Map<?, ?> cm && cm.get("function") instanceof Map<?, ?> f && f.get("arguments") instanceof String args) {
                        try {
                            JsonNode parsed = Json.MAPPER.readTree(args);
                            if (parsed.isObject()) {
                                @SuppressWarnings("unchecked") Map<Object, Object> fn = (Map<Object, Object>) f;
                                fn.put("arguments", ModelChatTemplate.plain(parsed));
                            }
                        } catch (JacksonException e) {
                            throw ApiException.invalid(where + ".tool_calls", "function arguments must be a JSON object");
                        }
                    }
                }
            }
            out.add(message);
        }
        return out;
    }
}
