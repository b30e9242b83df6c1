package dev.lamina.cascade;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.server.ApiException;
import dev.lamina.server.Metrics;
import dev.lamina.server.OpenAiClient;
import dev.lamina.server.VirtualModel;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A FrugalGPT cascade served as one model: a request goes to the cheapest tier first; the scorer
 * reads the query with the answer and estimates the chance it is right; below the tier's threshold
 * the request goes on to the next tier, and the last tier always answers. Repeated deterministic
 * requests (temperature 0 or a seed) are answered from a completion cache at no cost.
 *
 * <p>Each response's usage holds the tokens of every tier tried, their cost in dollars
 * ({@code usage.cost}) and {@code usage.cascade}: the tier that answered, each tier's score, tokens
 * and cost, and whether the cache answered. /metrics counts the same per tier.
 */
public final class Cascade implements VirtualModel {
    /** A tier connected, with its threshold (the last tier's is unused). */
    public record Tier(Fleet.Endpoint endpoint, double threshold) {
        public String name() { return endpoint.target().name(); }
    }

    private final String name;
    private final List<Tier> tiers;
    private final Scorer scorer;                      // null for a single tier
    private final Map<String, ObjectNode> cache;      // request -> response, least recently used first
    private final int cacheSize;
    private final Metrics metrics = new Metrics()
            .describe("lamina_cascade_answers_total", "Requests answered, by the tier that answered (cache: the completion cache).")
            .describe("lamina_cascade_calls_total", "Requests sent to each tier.")
            .describe("lamina_cascade_errors_total", "Requests a tier failed to answer (the next tier was asked).")
            .describe("lamina_cascade_cost_dollars_total", "Dollars spent per tier, at the tier's cost per 1,000 tokens.")
            .describe("lamina_cascade_tokens_total", "Tokens per tier, prompt and completion.");

    public Cascade(String name, List<Tier> tiers, Scorer scorer, int cacheSize) {
        if (tiers.isEmpty()) throw new LaminaException("a cascade needs at least one tier");
        if (tiers.size() > 1 && scorer == null) throw new LaminaException("a cascade of several tiers needs a scorer");
        this.name = name;
        this.tiers = List.copyOf(tiers);
        this.scorer = scorer;
        this.cacheSize = cacheSize;
        this.cache = new LinkedHashMap<>(16, 0.75f, true) {
            @Override protected boolean removeEldestEntry(Map.Entry<String, ObjectNode> e) { return size() > Cascade.this.cacheSize; }
        };
    }

    /**
     * The cascade a config describes, its tiers connected through fleet, its scorer and thresholds
     * from the config's scorer directory (a threshold in the config wins over a learned one).
     */
    public static Cascade open(CascadeConfig c, Fleet fleet) {
        Scorer scorer = null;
        Map<String, Double> learned = Map.of();
        if (c.tiers().size() > 1) {
            Path sf = c.dir().resolve(Scorer.FILE), tf = c.dir().resolve(THRESHOLDS);
            if (!Files.isRegularFile(sf))
                throw new LaminaException(c.file().getFileName() + ": no scorer in " + c.dir() + "; train one: lamina cascade train --config "
                        + c.file() + " --data LABELLED.jsonl");
            scorer = Scorer.load(sf, fleet);
            learned = readThresholds(tf);
            for (String t : learned.keySet())
                if (c.tiers().stream().noneMatch(x -> x.name().equals(t)))
                    throw new LaminaException(tf + ": has a threshold for tier '" + t + "', which " + c.file().getFileName()
                            + " does not have; the tiers changed since training: train again (lamina cascade train)");
        }
        List<Tier> tiers = new ArrayList<>();
        for (int i = 0; i < c.tiers().size(); i++) {
            Target t = c.tiers().get(i);
            Double th = c.thresholds().containsKey(t.name()) ? c.thresholds().get(t.name()) : learned.get(t.name());
            if (th == null && i < c.tiers().size() - 1)
                throw new LaminaException(c.dir().resolve(THRESHOLDS) + ": no threshold for tier '" + t.name()
                        + "'; train again (lamina cascade train) or give the tier a threshold in " + c.file().getFileName());
            tiers.add(new Tier(fleet.connect(t), th == null ? 0 : th));
        }
        return new Cascade(c.name(), tiers, scorer, c.cache());
    }

    static final String THRESHOLDS = "thresholds.json";

    static Map<String, Double> readThresholds(Path file) {
        if (!Files.isRegularFile(file)) return Map.of();
        Map<String, Double> out = new LinkedHashMap<>();
        try {
            JsonNode t = Json.MAPPER.readTree(file.toFile()).get("thresholds");
            for (String k : t.propertyNames()) out.put(k, t.get(k).isNumber() ? t.get(k).asDouble() : Thresholds.NEVER);
        } catch (RuntimeException e) {
            throw new LaminaException(file + ": not a thresholds file (" + e.getMessage() + "); train again");
        }
        return out;
    }

    @Override public String name() { return name; }
    public List<Tier> tiers() { return tiers; }

    @Override
    public ObjectNode answer(String endpoint, JsonNode body) {
        ObjectNode request = ((ObjectNode) body).deepCopy();
        request.remove("model");
        request.remove("user");
        boolean deterministic = request.path("temperature").isNumber() && request.get("temperature").asDouble() == 0 || request.path("seed").isNumber();
        String key = cacheSize > 0 && deterministic ? endpoint + " " + Json.compact(request) : null;
        if (key != null) {
            ObjectNode hit;
            synchronized (cache) { hit = cache.get(key); }
            if (hit != null) {
                metrics.add("lamina_cascade_answers_total", 1, "cascade", name, "tier", "cache");
                ObjectNode r = hit.deepCopy();
                ObjectNode usage = (ObjectNode) r.get("usage");
                usage.put("cost", 0.0);
                ((ObjectNode) usage.get("cascade")).put("cached", true);
                return r;
            }
        }
        String query = Query.queryText(endpoint, request);
        ArrayNode tried = Json.MAPPER.createArrayNode();
        long prompt = 0, completion = 0;
        double cost = 0;
        for (int i = 0; i < tiers.size(); i++) {
            Tier t = tiers.get(i);
            boolean last = i == tiers.size() - 1;
            ObjectNode entry = tried.addObject().put("tier", t.name());
            JsonNode resp;
            metrics.add("lamina_cascade_calls_total", 1, "cascade", name, "tier", t.name());
            try {
                resp = t.endpoint().post(endpoint, request);
            } catch (LaminaException e) {                    // a 4xx is the request's fault; anything else, the tier's
                if (e instanceof OpenAiClient.HttpError h && h.status() / 100 == 4) throw passOn(h);
                if (last) throw new ApiException(502, "server_error", "tier_failed", null, "cascade '" + name + "': the last tier failed: " + e.getMessage());
                metrics.add("lamina_cascade_errors_total", 1, "cascade", name, "tier", t.name());
                entry.put("error", e.getMessage());
                continue;
            }
            long p = resp.path("usage").path("prompt_tokens").asLong(0), c = resp.path("usage").path("completion_tokens").asLong(0);
            double spent = t.endpoint().target().cost().of(p, c);
            prompt += p;
            completion += c;
            cost += spent;
            metrics.add("lamina_cascade_tokens_total", p, "cascade", name, "tier", t.name(), "kind", "prompt");
            metrics.add("lamina_cascade_tokens_total", c, "cascade", name, "tier", t.name(), "kind", "completion");
            metrics.add("lamina_cascade_cost_dollars_total", spent, "cascade", name, "tier", t.name());
            entry.put("prompt_tokens", p).put("completion_tokens", c).put("cost", spent);
            boolean keep = last;
            if (!last) {
                double s = scorer.score(query, Query.answerText(resp));
                entry.put("score", s);
                if (t.threshold() == Thresholds.NEVER) entry.putNull("threshold"); else entry.put("threshold", t.threshold());
                keep = s >= t.threshold();
            }
            entry.put("accepted", keep);
            if (!keep) continue;
            metrics.add("lamina_cascade_answers_total", 1, "cascade", name, "tier", t.name());
            ObjectNode out = ((ObjectNode) resp.deepCopy()).put("model", name);
            ObjectNode usage = out.putObject("usage");
            usage.put("prompt_tokens", prompt).put("completion_tokens", completion).put("total_tokens", prompt + completion).put("cost", cost);
            usage.putObject("cascade").put("tier", t.name()).put("cached", false).set("tiers", tried);
            if (key != null) synchronized (cache) { cache.put(key, out.deepCopy()); }
            return out;
        }
        throw new IllegalStateException("unreachable: the last tier always answers");
    }

    /** A tier's or route's 4xx: the request's fault, answered as the tier answered it. */
    static ApiException passOn(OpenAiClient.HttpError e) {
        String message = e.getMessage();
        try {
            JsonNode err = Json.MAPPER.readTree(e.body()).path("error");
            if (err.path("message").isString()) return new ApiException(e.status(), err.path("type").asString("invalid_request_error"),
                    err.path("code").isString() ? err.get("code").asString() : null, err.path("param").isString() ? err.get("param").asString() : null,
                    err.get("message").asString());
        } catch (RuntimeException ignored) {
            // not OpenAI's error shape: the whole line
        }
        return new ApiException(e.status(), "invalid_request_error", null, null, message);
    }

    @Override
    public void metrics(StringBuilder out) { metrics.write(out); }

    /** The counters, for reports and tests. */
    public Metrics counters() { return metrics; }
}
