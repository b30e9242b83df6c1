package dev.lamina.cascade;

import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;

/**
 * A model a cascade tier or a router route sends requests to: a Lamina model (run directory,
 * Hugging Face directory or GGUF file, served in-process) or any OpenAI-compatible endpoint.
 *
 * @param name        the tier's or route's name, as responses and /metrics report it
 * @param model       a local model, or null
 * @param url         an endpoint (http://host:port[/v1]), or null
 * @param remoteModel the model name at the endpoint (null: its first)
 * @param apiKeyEnv   the environment variable holding the endpoint's API key, or null
 * @param cost        dollars per 1,000 input and output tokens
 * @param timeout     how long one request may take
 */
public record Target(String name, Path model, String url, String remoteModel, String apiKeyEnv, Cost cost, Duration timeout) {
    static final Set<String> FIELDS = Set.of("name", "model", "url", "remote_model", "api_key_env", "cost", "timeout_seconds");

    /** Dollars per 1,000 tokens read (input) and written (output). */
    public record Cost(double input, double output) {
        public static final Cost FREE = new Cost(0, 0);
        public double of(long promptTokens, long completionTokens) { return (promptTokens * input + completionTokens * output) / 1000; }
    }

    static Target parse(ConfigFile f, JsonNode node, String where, String nameField, Set<String> extra) {
        if (node == null || !node.isObject()) throw f.error(where, "must be a mapping (name, model or url, cost)");
        java.util.Set<String> known = new java.util.HashSet<>(FIELDS);
        known.remove("name");
        known.add(nameField);
        known.addAll(extra);
        f.known(node, where, known);
        String name = f.string(node, where, nameField, null);
        Path model = f.path(node, where, "model", null);
        String url = node.has("url") ? f.string(node, where, "url", null) : null;
        if ((model == null) == (url == null)) throw f.error(where, "needs exactly one of model (a local model) and url (an OpenAI-compatible endpoint)");
        if (model != null && !Files.isDirectory(model) && !dev.lamina.gguf.GgufModel.isGguf(model))
            throw f.error(ConfigFile.path(where, "model"), "'" + model + "' is not a run directory, Hugging Face directory or GGUF file");
        String remote = node.has("remote_model") ? f.string(node, where, "remote_model", null) : null;
        String keyEnv = node.has("api_key_env") ? f.string(node, where, "api_key_env", null) : null;
        if (model != null && (remote != null || keyEnv != null))
            throw f.error(where, "remote_model and api_key_env belong with url, not with a local model");
        if (keyEnv != null && System.getenv(keyEnv) == null)
            throw f.error(ConfigFile.path(where, "api_key_env"), "names $" + keyEnv + ", which is not set");
        Cost cost = Cost.FREE;
        JsonNode c = node.get("cost");
        if (c != null && !c.isNull()) {
            String cw = ConfigFile.path(where, "cost");
            if (!c.isObject()) throw f.error(cw, "must be {input: DOLLARS_PER_1K_TOKENS, output: DOLLARS_PER_1K_TOKENS}");
            f.known(c, cw, Set.of("input", "output"));
            cost = new Cost(f.number(c, cw, "input", Double.NaN, 0, 1e6), f.number(c, cw, "output", Double.NaN, 0, 1e6));
        }
        double timeout = f.number(node, where, "timeout_seconds", 120, 0.001, 86400);
        return new Target(name, model, url, remote, keyEnv, cost, Duration.ofMillis((long) (timeout * 1000)));
    }

    static void uniqueNames(ConfigFile f, java.util.List<Target> targets, String what) {
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (Target t : targets)
            if (!seen.add(t.name())) throw f.error(what, "names '" + t.name() + "' twice");
        if (targets.isEmpty()) throw new LaminaException(f.file().getFileName() + ": " + what + " lists nothing");
    }
}
