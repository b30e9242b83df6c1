package dev.lamina.agent;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.server.OpenAiClient;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * An OpenAI-compatible chat endpoint ({@code POST {base}/v1/chat/completions}): Lamina's own server,
 * or any other (llama.cpp's, vLLM's, OpenAI's). Sends the conversation and the tools, gets back the
 * assistant's message: text, tool calls, or both.
 */
public final class ChatEndpoint {
    private final OpenAiClient api;
    private final String model;

    /** One tool call of a reply: its id, the function's name and its arguments as the model wrote them (JSON text). */
    public record Call(String id, String name, String arguments) {}

    /** The assistant's reply: its text (may be empty), its tool calls, finish_reason, and the message as sent back in the conversation. */
    public record Reply(String content, List<Call> calls, String finishReason, ObjectNode message) {}

    /** base: the server's address (http://host:port, with or without /v1); model null asks the server for its first model. */
    public ChatEndpoint(String base, String apiKey, String model, Duration timeout) {
        this.api = new OpenAiClient(base, apiKey, timeout, "--url");
        this.model = model != null ? model : api.firstModel();
    }

    public String model() { return model; }

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
        JsonNode r = api.post("chat/completions", body);
        JsonNode choice = r.path("choices").path(0), message = choice.get("message");
        if (message == null || !message.isObject()) throw new LaminaException(api.base() + "chat/completions answered without choices[0].message: " + r);
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
}
