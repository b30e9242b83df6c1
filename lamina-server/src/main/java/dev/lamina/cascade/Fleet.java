package dev.lamina.cascade;

import dev.lamina.Lamina;
import dev.lamina.io.LaminaException;
import dev.lamina.server.LaminaServer;
import dev.lamina.server.OpenAiClient;
import dev.lamina.server.ServerOptions;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The models a cascade or a router sends requests to, connected. Every target is reached the same
 * way, as an OpenAI-compatible endpoint: a local model is loaded once (however many targets name it)
 * and served in-process on a loopback port with a random API key; an endpoint is used as it is.
 */
public final class Fleet implements AutoCloseable {
    /** A connected target: requests go to its model at its address. */
    public record Endpoint(Target target, OpenAiClient client, String model) {
        /** POSTs body (its model set to this endpoint's) to "completions" or "chat/completions". */
        public JsonNode post(String endpoint, ObjectNode body) {
            ObjectNode b = body.deepCopy().put("model", model);
            return client.post(endpoint, b);
        }
    }

    private final Function<Path, Lamina.Model> loader;
    private final Map<Path, Lamina.Model> models = new LinkedHashMap<>();
    private final Map<Path, LaminaServer> servers = new LinkedHashMap<>();
    private final Map<Path, String> keys = new LinkedHashMap<>();
    private final Map<String, Endpoint> endpoints = new LinkedHashMap<>();

    /** loader loads a local model (run directory, Hugging Face directory, GGUF file). */
    public Fleet(Function<Path, Lamina.Model> loader) { this.loader = loader; }

    /** The model at path, loaded once. */
    public synchronized Lamina.Model model(Path path) {
        Path p = path.toAbsolutePath().normalize();
        Lamina.Model m = models.get(p);
        if (m == null) {
            try {
                m = loader.apply(p);
            } catch (LaminaException e) {
                throw new LaminaException("cannot load " + p + ": " + e.getMessage());
            }
            models.put(p, m);
        }
        return m;
    }

    /** Connects a target (a local one is loaded and served on first use); its name must be new. */
    public synchronized Endpoint connect(Target t) {
        Endpoint e = endpoints.get(t.name());
        if (e != null) return e;
        if (t.model() != null) {
            Path p = t.model().toAbsolutePath().normalize();
            LaminaServer s = servers.get(p);
            if (s == null) {
                Lamina.Model m = model(p);
                String key = HexFormat.of().formatHex(new SecureRandom().generateSeed(16));
                String name = p.getFileName() == null ? "model" : p.getFileName().toString();
                s = LaminaServer.start(ServerOptions.defaults(name).withPort(0).withApiKey(key).withMaxTokens(4096), () -> m);
                if (!s.awaitReady(Duration.ofMinutes(10))) {
                    s.close();
                    throw new LaminaException("cannot serve " + p + ": " + s.loadError());
                }
                servers.put(p, s);
                keys.put(p, key);
            }
            e = new Endpoint(t, new OpenAiClient(s.baseUrl(), keys.get(p), t.timeout(), t.name()), s.options().modelName());
        } else {
            OpenAiClient c = new OpenAiClient(t.url(), t.apiKeyEnv() == null ? null : System.getenv(t.apiKeyEnv()), t.timeout(), t.name() + ".url");
            e = new Endpoint(t, c, t.remoteModel() != null ? t.remoteModel() : c.firstModel());
        }
        endpoints.put(t.name(), e);
        return e;
    }

    public List<Endpoint> connect(List<Target> targets) {
        List<Endpoint> out = new ArrayList<>();
        for (Target t : targets) out.add(connect(t));
        return out;
    }

    @Override
    public synchronized void close() {
        servers.values().forEach(LaminaServer::close);
        servers.clear();
    }
}
