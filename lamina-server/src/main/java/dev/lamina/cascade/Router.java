package dev.lamina.cascade;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.server.ApiException;
import dev.lamina.server.Metrics;
import dev.lamina.server.OpenAiClient;
import dev.lamina.server.VirtualModel;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An xLLM router served as one model: a classifier over the encoder model's hidden states of the
 * query picks a category, and the category's sub-model answers. Each response's usage holds
 * {@code router}: the category, the classifier's confidence and the sub-model; and {@code cost}.
 */
public final class Router implements VirtualModel {
    static final String FILE = "router.json";

    private final String name;
    private final Map<String, Fleet.Endpoint> routes;
    private final Encoder encoder;
    private final Classifier classifier;
    private final Metrics metrics = new Metrics()
            .describe("lamina_router_answers_total", "Requests answered, by the category routed to.")
            .describe("lamina_router_cost_dollars_total", "Dollars spent per category's sub-model.");

    public Router(String name, Map<String, Fleet.Endpoint> routes, Encoder encoder, Classifier classifier) {
        for (String label : classifier.labels())
            if (!routes.containsKey(label)) throw new LaminaException("the router's classifier knows category '" + label + "', which has no route");
        this.name = name;
        this.routes = Map.copyOf(routes);
        this.encoder = encoder;
        this.classifier = classifier;
    }

    /** The router a config describes, its classifier from the config's directory. */
    public static Router open(RouterConfig c, Fleet fleet) {
        Path f = c.dir().resolve(FILE);
        if (!Files.isRegularFile(f))
            throw new LaminaException(c.file().getFileName() + ": no classifier in " + c.dir() + "; train one: lamina router train --config "
                    + c.file() + " --data LABELLED.jsonl");
        JsonNode o;
        try {
            o = Json.MAPPER.readTree(f.toFile());
        } catch (RuntimeException e) {
            throw new LaminaException(f + ": not JSON; train the router again");
        }
        Classifier cl = Classifier.fromJson(o.path("classifier"), f.toString());
        Map<String, Fleet.Endpoint> routes = new LinkedHashMap<>();
        for (Target t : c.routes()) routes.put(t.name(), fleet.connect(t));
        return new Router(c.name(), routes, new Encoder(fleet.model(c.encoder())), cl);
    }

    @Override public String name() { return name; }

    /** The category of a query's text and the classifier's confidence in it. */
    public Map.Entry<String, Double> route(String text) {
        float[] x;
        synchronized (encoder) { x = encoder.text(text); }
        double[] p = classifier.probabilities(x);
        int best = 0;
        for (int k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
        return Map.entry(classifier.labels().get(best), p[best]);
    }

    @Override
    public ObjectNode answer(String endpoint, JsonNode body) {
        Map.Entry<String, Double> r = route(Query.queryText(endpoint, body));
        Fleet.Endpoint e = routes.get(r.getKey());
        JsonNode resp;
        try {
            resp = e.post(endpoint, (ObjectNode) body);
        } catch (LaminaException x) {
            if (x instanceof OpenAiClient.HttpError h && h.status() / 100 == 4) throw Cascade.passOn(h);
            throw new ApiException(502, "server_error", "route_failed", null, "router '" + name + "', category '" + r.getKey() + "': " + x.getMessage());
        }
        ObjectNode out = ((ObjectNode) resp.deepCopy()).put("model", name);
        ObjectNode usage = out.has("usage") && out.get("usage").isObject() ? (ObjectNode) out.get("usage") : out.putObject("usage");
        double cost = e.target().cost().of(usage.path("prompt_tokens").asLong(0), usage.path("completion_tokens").asLong(0));
        usage.put("cost", cost);
        usage.putObject("router").put("category", r.getKey()).put("confidence", r.getValue()).put("route", e.target().name());
        metrics.add("lamina_router_answers_total", 1, "router", name, "category", r.getKey());
        metrics.add("lamina_router_cost_dollars_total", cost, "router", name, "category", r.getKey());
        return out;
    }

    @Override
    public void metrics(StringBuilder out) { metrics.write(out); }

    public List<String> categories() { return classifier.labels(); }
}
