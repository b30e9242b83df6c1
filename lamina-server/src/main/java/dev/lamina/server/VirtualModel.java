package dev.lamina.server;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * A model name the server answers through other models rather than its own: a FrugalGPT cascade,
 * an xLLM router. It answers a whole request at once; the server streams the answer when asked.
 */
public interface VirtualModel {
    /** The name clients put in a request's model field. */
    String name();

    /**
     * Answers a request body (its model field is this name; stream is false; n is 1) to the endpoint
     * "completions" or "chat/completions": OpenAI's response object, usage included. Bad requests are
     * {@link ApiException}s.
     */
    ObjectNode answer(String endpoint, JsonNode body);

    /** Its /metrics lines, in Prometheus' text format. */
    void metrics(StringBuilder out);
}
