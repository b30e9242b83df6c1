package dev.lamina.cascade;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One labelled query of a training or evaluation set, a JSONL line: {@code prompt} (a completion) or
 * {@code messages} (a chat) or {@code query} (a chat of one user message); {@code reference}, the
 * right answer (exact match after trimming whitespace); optional {@code stop}, {@code max_tokens} and
 * {@code category} (a router's label). The evaluation tasks' files ({"prompt", "reference", "stop"})
 * are such sets as they are.
 */
public record Query(String prompt, JsonNode messages, String reference, List<String> stop, int maxTokens, String category) {

    /** "completions" or "chat/completions". */
    public String endpoint() { return prompt != null ? "completions" : "chat/completions"; }

    /** The request: greedy, at most maxTokens, its stops. */
    public ObjectNode body() {
        ObjectNode b = JsonNodeFactory.instance.objectNode();
        if (prompt != null) b.put("prompt", prompt);
        else b.set("messages", messages.deepCopy());
        b.put("max_tokens", maxTokens).put("temperature", 0);
        if (!stop.isEmpty()) stop.forEach(b.putArray("stop")::add);
        return b;
    }

    /** What a scorer or router reads of it. */
    public String text() { return queryText(endpoint(), body()); }

    public boolean correct(String answer) { return reference != null && answer.strip().equals(reference.strip()); }

    /** The text of a request a scorer or router reads: the prompt, or the chat's user messages, a line each. */
    public static String queryText(String endpoint, JsonNode body) {
        if (endpoint.equals("completions")) {
            JsonNode p = body.get("prompt");
            if (p == null || p.isNull()) return "";
            if (p.isString()) return p.asString();
            if (p.isArray() && !p.isEmpty() && p.get(0).isString()) return p.get(0).asString();
            return p.toString();
        }
        StringBuilder s = new StringBuilder();
        for (JsonNode m : body.path("messages")) {
            if (!"user".equals(m.path("role").asString(""))) continue;
            JsonNode c = m.get("content");
            String text = c == null ? "" : c.isString() ? c.asString() : c.isArray() ? parts(c) : c.toString();
            if (!s.isEmpty()) s.append('\n');
            s.append(text);
        }
        return s.toString();
    }

    private static String parts(JsonNode content) {
        StringBuilder s = new StringBuilder();
        for (JsonNode part : content) if (part.path("text").isString()) s.append(part.get("text").asString());
        return s.toString();
    }

    /** The answer's text in a response: the completion's text, the message's content, or its tool calls' JSON. */
    public static String answerText(JsonNode response) {
        JsonNode c = response.path("choices").path(0);
        if (c.has("text")) return c.get("text").asString("");
        JsonNode m = c.path("message");
        if (m.path("tool_calls").isArray() && !m.path("tool_calls").isEmpty()) return m.get("tool_calls").toString();
        return m.path("content").isString() ? m.get("content").asString() : "";
    }

    /** 0..n-1 shuffled by seed (Fisher–Yates): the splits of a labelled set. */
    static int[] permutation(int n, long seed) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        java.util.Random r = new java.util.Random(seed);
        for (int i = n - 1; i > 0; i--) { int j = r.nextInt(i + 1), t = order[i]; order[i] = order[j]; order[j] = t; }
        return order;
    }

    /** Reads a JSONL set; every line needs a reference when references are required, a category when categories are. */
    public static List<Query> read(Path file, int defaultMaxTokens, boolean needReference, boolean needCategory) {
        List<Query> out = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            for (int n = 1; (line = r.readLine()) != null; n++) {
                if (line.isBlank()) continue;
                String where = file.getFileName() + ":" + n;
                JsonNode o;
                try {
                    o = Json.MAPPER.readTree(line);
                } catch (RuntimeException e) {
                    throw new LaminaException(where + ": not JSON");
                }
                if (!o.isObject()) throw new LaminaException(where + ": must be a JSON object");
                String prompt = o.path("prompt").isString() ? o.get("prompt").asString() : null;
                JsonNode messages = o.get("messages");
                if (messages == null && o.path("query").isString()) {
                    ArrayNode ms = JsonNodeFactory.instance.arrayNode();
                    ms.addObject().put("role", "user").put("content", o.get("query").asString());
                    messages = ms;
                }
                if ((prompt == null) == (messages == null))
                    throw new LaminaException(where + ": needs exactly one of \"prompt\" (a string), \"messages\" or \"query\"");
                if (messages != null && (!messages.isArray() || messages.isEmpty()))
                    throw new LaminaException(where + ": \"messages\" must be a non-empty array");
                String reference = o.path("reference").isString() ? o.get("reference").asString()
                        : o.path("answer").isString() ? o.get("answer").asString() : null;
                if (needReference && reference == null) throw new LaminaException(where + ": needs a \"reference\" (the right answer, a string)");
                String category = o.path("category").isString() ? o.get("category").asString() : null;
                if (needCategory && (category == null || category.isBlank())) throw new LaminaException(where + ": needs a \"category\" (a string)");
                List<String> stop = new ArrayList<>();
                JsonNode s = o.get("stop");
                if (s != null && s.isString()) stop.add(s.asString());
                else if (s != null && s.isArray()) s.forEach(x -> stop.add(x.asString()));
                int max = o.path("max_tokens").isInt() ? o.get("max_tokens").asInt() : defaultMaxTokens;
                if (max < 1) throw new LaminaException(where + ": max_tokens must be at least 1");
                out.add(new Query(prompt, messages, reference, List.copyOf(stop), max, category));
            }
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot read (" + e.getMessage() + ")");
        }
        if (out.isEmpty()) throw new LaminaException(file + ": no queries");
        return out;
    }
}
