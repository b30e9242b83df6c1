package dev.lamina.agent;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;

import java.util.Map;

/**
 * A tool the agent may call: its name, what it does, the JSON Schema of its arguments (an object),
 * whether calling it changes anything outside the conversation (then the user confirms each call
 * unless told not to ask), where it comes from (an MCP server, or "java"), and the call itself.
 *
 * @param parameters JSON Schema of the arguments, as a JSON-shaped map ({"type": "object", ...})
 */
public record AgentTool(String name, String description, Map<String, Object> parameters, boolean sideEffects, String origin, Call call) {

    /** Runs the tool on arguments that passed the schema; returns its result as text (an exception is reported to the model). */
    @FunctionalInterface
    public interface Call {
        String call(Map<String, Object> arguments) throws Exception;
    }

    public AgentTool {
        if (name == null || !name.matches("[A-Za-z0-9_-]{1,64}"))
            throw new LaminaException("tool name '" + name + "' must be 1-64 letters, digits, '_' or '-' (OpenAI's rule for function names)");
        if (parameters == null || !"object".equals(parameters.get("type")))
            throw new LaminaException("tool '" + name + "': its parameters must be a JSON Schema of type object");
        description = description == null ? "" : description;
    }

    /**
     * A Java method as a tool, for the library API: parametersJson is the JSON Schema of its
     * arguments, e.g. {@code {"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}.
     */
    @SuppressWarnings("unchecked")
    public static AgentTool of(String name, String description, String parametersJson, boolean sideEffects, Call call) {
        Map<String, Object> schema;
        try {
            schema = Json.MAPPER.readValue(parametersJson, Map.class);
        } catch (RuntimeException e) {
            throw new LaminaException("tool '" + name + "': its parameters are not JSON: " + e.getMessage());
        }
        return new AgentTool(name, description, schema, sideEffects, "java", call);
    }
}
