package dev.lamina.server;

import dev.lamina.chat.ModelChatTemplate;
import dev.lamina.chat.ToolPrompt;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.structured.Schema;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * OpenAI tool calling on /v1/chat/completions: the request's {@code tools}, {@code tool_choice} and
 * {@code parallel_tool_calls}, checked; the prompt's tool section (the model's chat template renders
 * the tools itself; Lamina's built-in template gets a system message in the Hermes format); and the
 * model's reply parsed into {@code tool_calls}, from Hermes/Qwen {@code <tool_call>{...}</tool_call>}
 * blocks or a Llama 3.1 JSON object ({@code {"name": ..., "parameters": {...}}}). With
 * tool_choice {@code required} or a named function the reply is constrained decoding of the call
 * itself, so it is always a call with valid JSON arguments (a named function's arguments follow its
 * parameters' schema).
 *
 * @param tools    the function definitions, in order (name → its "function" object)
 * @param choice   NONE, AUTO, REQUIRED or NAMED
 * @param named    the function tool_choice names (NAMED only)
 * @param parallel whether a reply may hold several calls
 */
record Tools(Map<String, JsonNode> tools, Choice choice, String named, boolean parallel) {
    enum Choice { NONE, AUTO, REQUIRED, NAMED }

    private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9_-]{1,64}");
    private static final Pattern HERMES = Pattern.compile("<tool_call>\\s*(\\{.*?})\\s*</tool_call>", Pattern.DOTALL);
    private static final SecureRandom RANDOM = new SecureRandom();

    /** The request's tools, or null when it has none (or tool_choice none with none given). */
    static Tools of(JsonNode body) {
        JsonNode ts = body.get("tools");
        JsonNode tc = body.get("tool_choice");
        if (ts == null || ts.isNull() || ts.isArray() && ts.isEmpty()) {
            if (tc != null && !tc.isNull() && !(tc.isString() && tc.asString().equals("none")))
                throw ApiException.invalid("tool_choice", "tool_choice needs tools");
            return null;
        }
        if (!ts.isArray()) throw ApiException.invalid("tools", "tools must be an array of {\"type\": \"function\", \"function\": {...}}");
        Map<String, JsonNode> fns = new LinkedHashMap<>();
        for (int i = 0; i < ts.size(); i++) {
            JsonNode t = ts.get(i);
            String at = "tools[" + i + "]";
            if (!t.isObject() || !"function".equals(t.path("type").asString(null)) || !t.path("function").isObject())
                throw ApiException.invalid("tools", at + " must be {\"type\": \"function\", \"function\": {...}}");
            JsonNode f = t.get("function");
            String name = f.path("name").asString(null);
            if (name == null || !NAME.matcher(name).matches())
                throw ApiException.invalid("tools", at + ".function.name must be 1 to 64 letters, digits, _ or -");
            if (fns.containsKey(name)) throw ApiException.invalid("tools", at + ".function.name '" + name + "' is declared twice");
            JsonNode p = f.get("parameters");
            if (p != null && !p.isNull() && !(p.isObject() && "object".equals(p.path("type").asString("object"))))
                throw ApiException.invalid("tools", at + ".function.parameters must be a JSON Schema of an object");
            fns.put(name, f);
        }
        Choice choice = Choice.AUTO;
        String named = null;
        if (tc != null && !tc.isNull()) {
            if (tc.isString()) {
                choice = switch (tc.asString()) {
                    case "none" -> Choice.NONE;
                    case "auto" -> Choice.AUTO;
                    case "required" -> Choice.REQUIRED;
                    default -> throw ApiException.invalid("tool_choice", "tool_choice must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ...}}");
                };
            } else {
                named = tc.path("function").path("name").asString(null);
                if (!"function".equals(tc.path("type").asString(null)) || named == null)
                    throw ApiException.invalid("tool_choice", "tool_choice must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ...}}");
                if (!fns.containsKey(named)) throw ApiException.invalid("tool_choice", "tool_choice names '" + named + "', which is not among the tools");
                choice = Choice.NAMED;
            }
        }
        boolean parallel = !body.has("parallel_tool_calls") || body.get("parallel_tool_calls").isNull() || body.get("parallel_tool_calls").asBoolean();
        return new Tools(fns, choice, named, parallel);
    }

    /** The tools as the chat template receives them ({"type": "function", "function": {...}} maps). */
    List<Map<String, Object>> forTemplate() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (JsonNode f : tools.values()) {
            ObjectNode t = Json.MAPPER.createObjectNode().put("type", "function");
            t.set("function", f);
            @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) ModelChatTemplate.plain(t);
            out.add(m);
        }
        return out;
    }

    /** The conversation for Lamina's built-in template with these tools ({@link ToolPrompt}). */
    List<dev.lamina.infer.ChatTemplate.Message> builtIn(JsonNode body) {
        try {
            return ToolPrompt.messages(body.get("messages"), tools.values());
        } catch (ToolPrompt.Invalid e) {
            throw ApiException.invalid(e.field, e.getMessage());
        }
    }

    /** Whether replies are constrained to one call (tool_choice required or a named function). */
    boolean constrained() { return choice == Choice.REQUIRED || choice == Choice.NAMED; }

    /**
     * A constrained call's text as it is generated, as OpenAI streams a tool call: once the name is
     * complete, the call's id, type and name with empty arguments; then each new piece of the
     * arguments' JSON. The reply's last character, the call object's closing brace, is held back
     * until the end, so the pieces add up to the arguments' text exactly, as {@link #parse} gives it.
     */
    static final class CallStream {
        private static final Pattern HEAD = Pattern.compile("^\\{\"name\":(\"(?:[^\"\\\\]|\\\\.)*\"),\"(?:arguments|parameters)\":");
        private final StringBuilder text = new StringBuilder();
        private int sent = -1;            // characters of text sent; -1 until the name went

        boolean started() { return sent >= 0; }

        /** The deltas that piece adds (none, the header, an arguments piece, or both). */
        ArrayNode add(String piece) {
            text.append(piece);
            ArrayNode out = Json.MAPPER.createArrayNode();
            if (sent < 0) {
                Matcher m = HEAD.matcher(text);
                if (!m.find()) return out;
                ObjectNode call = out.addObject().put("index", 0).put("id", "call_" + HexFormat.of().formatHex(RANDOM.generateSeed(12))).put("type", "function");
                call.putObject("function").put("name", Json.MAPPER.readTree(m.group(1)).asString()).put("arguments", "");
                sent = m.end();
            }
            arguments(out, text.length() - 1);
            return out;
        }

        /** The last arguments piece, at the end of the reply. */
        ArrayNode finish() {
            ArrayNode out = Json.MAPPER.createArrayNode();
            if (sent >= 0 && text.length() > 0 && text.charAt(text.length() - 1) == '}') arguments(out, text.length() - 1);
            return out;
        }

        private void arguments(ArrayNode out, int end) {
            if (sent < 0 || end <= sent) return;
            out.addObject().put("index", 0).putObject("function").put("arguments", text.substring(sent, end));
            sent = end;
        }
    }

    /**
     * A reply under tool_choice auto, streamed as it comes: it may be text, calls, or text then calls.
     * Text goes out at once, except what could still be the start of a call: a reply that opens with
     * "{" or "<|python_tag|>" (Llama 3.1's form) is held whole, and from a "<tool_call>" tag on (Hermes)
     * the rest is held, as is a tail that could grow into one. At the end the held text becomes calls
     * when it parses as calls ({@link #parse} of the whole reply), else it goes out as text.
     */
    static final class ReplyStream {
        private static final String TAG = "<tool_call>", PYTHON = "<|python_tag|>";
        private final StringBuilder text = new StringBuilder();
        private int sent;                 // characters of text sent as content
        private boolean held;             // from sent on, everything waits for the end

        /** The content this piece releases (may be empty). */
        String add(String piece) {
            text.append(piece);
            if (held) return "";
            if (sent == 0) {                                  // the reply's start decides the Llama 3.1 form
                String t = text.toString().stripLeading();
                if (t.isEmpty()) return "";
                if (t.startsWith("{") || t.startsWith(PYTHON)) { held = true; return ""; }
                if (PYTHON.startsWith(t) || TAG.startsWith(t)) return "";
            }
            int tag = text.indexOf(TAG, Math.max(0, sent - TAG.length()));
            int end = tag >= 0 ? tag : text.length() - partialTag();
            if (tag >= 0) held = true;
            if (end <= sent) return "";
            String out = text.substring(sent, end);
            sent = end;
            return out;
        }

        /** The longest tail of the text that is a proper start of the tag. */
        private int partialTag() {
            for (int k = Math.min(TAG.length() - 1, text.length() - sent); k > 0; k--)
                if (TAG.startsWith(text.substring(text.length() - k))) return k;
            return 0;
        }

        String text() { return text.toString(); }

        /** At the end: the text still held, which is content when the reply held no calls. */
        String rest() { return text.substring(sent); }
    }

    /** Whether the prompt tells the model to write calls in Hermes' tags (else the Llama 3.1 JSON form is forced). */
    static boolean hermes(String prompt) { return prompt.contains("<tool_call>"); }

    /**
     * What the reply must be under tool_choice required or named: the call's JSON, with the function's
     * arguments schema when one function is possible (named, or the only one); with several, any object.
     */
    Schema callSchema(boolean hermes) {
        String only = choice == Choice.NAMED ? named : tools.size() == 1 ? tools.keySet().iterator().next() : null;   // one function: its schema
        List<byte[]> names = new ArrayList<>();
        for (String n : only != null ? List.of(only) : tools.keySet()) names.add(Schema.compact(Json.MAPPER.getNodeFactory().stringNode(n)));
        Schema args = Schema.anyObject();
        if (only != null) {
            JsonNode p = tools.get(only).get("parameters");
            if (p != null && !p.isNull()) {
                try {
                    args = Schema.compile(p);
                } catch (LaminaException e) {
                    throw ApiException.invalid("tools", "function '" + only + "': parameters: " + e.getMessage());
                }
            }
        }
        String key = hermes ? "arguments" : "parameters";
        return new Schema.Obj(List.of(prop("name", new Schema.Literals(names)), prop(key, args)), false);
    }

    private static Schema.Prop prop(String name, Schema value) {
        return new Schema.Prop(name, ("\"" + name + "\"").getBytes(StandardCharsets.UTF_8), value, true);
    }

    /** A call parsed from a reply: the function's name and its arguments as compact JSON text. */
    record Call(String id, String name, String arguments) {}

    /**
     * The calls in a reply: Hermes tags, else the whole reply as one Llama-style JSON object, else (a
     * constrained reply) the call's JSON itself. A call to a function that was not declared, or whose
     * arguments are not a JSON object, is not a call: the reply stays text.
     */
    List<Call> parse(String text) {
        List<Call> calls = new ArrayList<>();
        Matcher m = HERMES.matcher(text);
        while (m.find()) add(calls, m.group(1));
        if (calls.isEmpty()) {
            String t = text.strip();
            if (t.startsWith("<|python_tag|>")) t = t.substring("<|python_tag|>".length()).strip();
            if (t.startsWith("{") && t.endsWith("}")) add(calls, t);
        }
        return parallel || calls.size() <= 1 ? calls : List.of(calls.getFirst());
    }

    private void add(List<Call> calls, String json) {
        JsonNode j;
        try {
            j = Json.MAPPER.readTree(json);
        } catch (JacksonException e) {
            return;
        }
        String name = j.path("name").asString(null);
        String key = j.has("arguments") ? "arguments" : "parameters";
        JsonNode args = j.get(key);
        if (name == null || !tools.containsKey(name) || args == null || !args.isObject()) return;
        calls.add(new Call("call_" + HexFormat.of().formatHex(RANDOM.generateSeed(12)), name, rawValue(json, key)));
    }

    /** The text of json's top-level field key (an object) as written: a constrained stream sends exactly these characters. */
    private static String rawValue(String json, String key) {
        try (JsonParser p = Json.MAPPER.createParser(json)) {
            p.nextToken();                                          // the call object
            for (JsonToken t = p.nextToken(); t == JsonToken.PROPERTY_NAME; t = p.nextToken()) {
                boolean wanted = p.currentName().equals(key);
                p.nextToken();
                int start = (int) p.currentTokenLocation().getCharOffset();
                p.skipChildren();
                if (wanted) return json.substring(start, (int) p.currentTokenLocation().getCharOffset() + 1);
            }
        }
        throw new IllegalStateException("no " + key + " in " + json);
    }

    /** OpenAI's tool_calls array; with index fields for a stream's delta. */
    static ArrayNode json(List<Call> calls, ArrayNode into, boolean indexed) {
        for (int i = 0; i < calls.size(); i++) {
            Call c = calls.get(i);
            ObjectNode o = into.addObject();
            if (indexed) o.put("index", i);
            o.put("id", c.id()).put("type", "function");
            o.putObject("function").put("name", c.name()).put("arguments", c.arguments());
        }
        return into;
    }
}
