package dev.lamina.agent;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * An OpenAI-compatible chat endpoint ({@code POST {base}/v1/chat/completions}): Lamina's own server,
 * or any other (llama.cpp's, vLLM's, OpenAI's). Sends the conversation and the tools, gets back the
 * assistant's message: text, tool calls, or both.
 */
public final class ChatEndpoint {
    private static final tools.jackson.databind.ObjectWriter BODY = Json.MAPPER.writer().without(tools.jackson.databind.SerializationFeature.INDENT_OUTPUT);
    private final URI base;
    private final String apiKey, model;
    private final Duration timeout;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    /** One tool call of a reply: its id, the function's name and its arguments as the model wrote them (JSON text). */
    public record Call(String id, String name, String arguments) {}

    /** The assistant's reply: its text (may be empty), its tool calls, finish_reason, and the message as sent back in the conversation. */
    public record Reply(String content, List<Call> calls, String finishReason, ObjectNode message) {}

    /** base: the server's address (http://host:port, with or without /v1); model null asks the server for its first model. */
    public ChatEndpoint(String base, String apiKey, String model, Duration timeout) {
        String b = base.replaceAll("/+$", "");
        if (b.endsWith("/v1")) b = b.substring(0, b.length() - 3);
        try {
            this.base = URI.create(b + "/");
        } catch (IllegalArgumentException e) {
            throw new LaminaException("--url '" + base + "' is not a URL: " + e.getMessage());
        }
        if (this.base.getScheme() == null || !this.base.getScheme().matches("https?"))
            throw new LaminaException("--url '" + base + "' must start with http:// or https://");
        this.apiKey = apiKey;
        this.timeout = timeout;
        this.model = model != null ? model : firstModel();
    }

    public String model() { return model; }

    private String firstModel() {
        JsonNode r = send(HttpRequest.newBuilder(base.resolve("v1/models")).GET(), "GET /v1/models");
        JsonNode data = r.get("data");
        if (data == null || !data.isArray() || data.isEmpty() || data.get(0).get("id") == null)
            throw new LaminaException(base + "v1/models lists no model; name one with --model-name");
        return data.get(0).get("id").asString();
    }

    /** One completion of messages with tools (may be empty); toolChoice "auto", "required" or "none". */
    public Reply chat(List<ObjectNode> messages, List<AgentTool> tools, String toolChoice, double temperature, int maxTokens) {
        ObjectNode body = Json.MAPPER.createObjectNode().put("model", model).put("temperature", temperature).put("max_tokens", maxTokens);
        ArrayNode ms = body.putArray("messages");
        messages.forEach(ms::add);
        if (!tools.isEmpty()) {
            ArrayNode ts = body.putArray("tools");
            for (AgentTool t : tools) {
                ObjectNode f = ts.addObject().put("type", "function").putObject("function");
                f.put("name", t.name()).put("description", t.description());
                f.set("parameters", Json.MAPPER.valueToTree(t.parameters()));
            }
            body.put("tool_choice", toolChoice);
        }
        JsonNode r = send(HttpRequest.newBuilder(base.resolve("v1/chat/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(BODY.writeValueAsString(body))), "POST /v1/chat/completions");
        JsonNode choice = r.path("choices").path(0), message = choice.get("message");
        if (message == null || !message.isObject()) throw new LaminaException(base + "v1/chat/completions answered without choices[0].message: " + r);
        String content = message.path("content").isString() ? message.get("content").asString() : "";
        List<Call> calls = new ArrayList<>();
        for (JsonNode c : message.path("tool_calls")) {
            JsonNode f = c.path("function");
            calls.add(new Call(c.path("id").asString("call_" + calls.size()), f.path("name").asString(""), f.path("arguments").asString("")));
        }
        ObjectNode sent = Json.MAPPER.createObjectNode().put("role", "assistant").put("content", content);
        if (!calls.isEmpty()) sent.set("tool_calls", message.get("tool_calls"));
        return new Reply(content, List.copyOf(calls), choice.path("finish_reason").asString(""), sent);
    }

    private JsonNode send(HttpRequest.Builder req, String what) {
        req.timeout(timeout);
        if (apiKey != null) req.header("Authorization", "Bearer " + apiKey);
        HttpResponse<String> resp;
        try {
            resp = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new LaminaException(what + " to " + base + " failed: " + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LaminaException(what + " to " + base + " was interrupted");
        }
        if (resp.statusCode() / 100 != 2) {
            String body = resp.body().length() > 300 ? resp.body().substring(0, 300) + "..." : resp.body();
            throw new LaminaException(what + " to " + base + " answered HTTP " + resp.statusCode() + ": " + body.strip());
        }
        try {
            return Json.MAPPER.readTree(resp.body());
        } catch (RuntimeException e) {
            throw new LaminaException(what + " to " + base + " answered something that is not JSON");
        }
    }
}
