package dev.lamina.chat;

import dev.lamina.infer.ChatTemplate;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.SerializationFeature;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * A conversation with tools for Lamina's built-in chat template, which has no tool syntax of its
 * own: the functions go into the system message in Hermes' format, assistant calls become
 * {@code <tool_call>{"name": ..., "arguments": ...}</tool_call>} tags and tool results user turns in
 * {@code <tool_response>} tags. The server prompts with it and fine-tuning trains on it, so a model
 * tuned on OpenAI-style conversations sees at serving time exactly what it learned.
 */
public final class ToolPrompt {
    private ToolPrompt() {}

    /** A message that cannot be rendered: field names it as OpenAI's API does ("messages[2].role"). */
    public static final class Invalid extends LaminaException {
        public final String field;

        Invalid(String field, String message) {
            super(message);
            this.field = field;
        }
    }

    /** The system text that tells a model what it may call and how; functions are the requests' "function" objects. */
    public static String system(Collection<JsonNode> functions) {
        StringBuilder s = new StringBuilder("You may call functions to help with the user's request. The functions, as JSON schemas:\n<tools>\n");
        for (JsonNode f : functions) s.append(compact(f)).append('\n');
        return s.append("</tools>\nTo call one, reply with <tool_call>{\"name\": <function name>, \"arguments\": <arguments object>}</tool_call>.")
                .toString();
    }

    /** One call as the model writes it; arguments are JSON text. */
    public static String call(String name, String arguments) {
        return "<tool_call>{\"name\": " + compact(Json.MAPPER.getNodeFactory().stringNode(name)) + ", \"arguments\": " + arguments + "}</tool_call>";
    }

    /** ms (OpenAI's messages: system, user, assistant with tool_calls, tool) for the built-in template, the tool section first. */
    public static List<ChatTemplate.Message> messages(JsonNode ms, Collection<JsonNode> functions) {
        if (ms == null || !ms.isArray() || ms.isEmpty()) throw new Invalid("messages", "messages must be a non-empty array");
        List<ChatTemplate.Message> out = new ArrayList<>();
        String system = system(functions);
        int i = 0;
        if ("system".equals(ms.get(0).path("role").asString(null)) || "developer".equals(ms.get(0).path("role").asString(null))) {
            system = text(ms.get(0), 0) + "\n\n" + system;
            i = 1;
        }
        out.add(new ChatTemplate.Message("system", system));
        for (; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            String role = m.path("role").asString(null);
            if (role == null) throw new Invalid("messages[" + i + "].role", "messages[" + i + "] has no role");
            switch (role) {
                case "tool" -> out.add(new ChatTemplate.Message("user", "<tool_response>\n" + text(m, i) + "\n</tool_response>"));
                case "assistant" -> {
                    StringBuilder s = new StringBuilder(m.path("content").isString() ? m.get("content").asString() : "");
                    for (JsonNode call : m.path("tool_calls")) {
                        JsonNode f = call.path("function");
                        String args = f.path("arguments").isString() ? f.get("arguments").asString() : compact(f.path("arguments"));
                        s.append(call(f.path("name").asString(""), args));
                    }
                    out.add(new ChatTemplate.Message("assistant", s.toString()));
                }
                case "system", "developer", "user" -> out.add(new ChatTemplate.Message(role, text(m, i)));
                default -> throw new Invalid("messages[" + i + "].role", "unsupported message role '" + role + "'");
            }
        }
        return out;
    }

    /** A message's text: a string, or the text parts of a list. */
    private static String text(JsonNode m, int i) {
        JsonNode c = m.get("content");
        if (c != null && c.isString()) return c.asString();
        if (c != null && c.isArray()) {
            StringBuilder s = new StringBuilder();
            for (JsonNode part : c) s.append(part.path("text").asString(""));
            return s.toString();
        }
        throw new Invalid("messages[" + i + "].content", "messages[" + i + "] needs text content");
    }

    public static String compact(JsonNode n) {
        return Json.MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT).writeValueAsString(n);
    }
}
