package dev.lamina.cascade;

import tools.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A cascade, as cascade.yaml describes it:
 * <pre>
 * name: frugal                  # the model name clients ask for
 * tiers:                        # cheapest first; the last always answers
 *   - name: tiny
 *     model: models/tiny-ft     # a local model (run directory, Hugging Face directory, GGUF file) ...
 *     cost: {input: 0.0001, output: 0.0001}     # dollars per 1,000 tokens
 *   - name: big
 *     url: http://127.0.0.1:8081/v1             # ... or any OpenAI-compatible endpoint
 *     remote_model: big         # its model name (default: the first it lists)
 *     api_key_env: BIG_API_KEY  # where its key is (optional)
 *     cost: {input: 0.001, output: 0.002}
 *     threshold: 0.7            # optional: overrides the learned threshold of a tier
 * scorer:
 *   encoder: models/tiny-ft     # the model whose hidden states the scorer reads (default: the first local tier's)
 *   dir: frugal-scorer          # where `lamina cascade train` writes the scorer and thresholds (default: NAME-scorer)
 * cache: 1000                   # completions kept for repeated deterministic requests (0: none)
 * </pre>
 * Relative paths are relative to the file's folder.
 */
public record CascadeConfig(Path file, String name, List<Target> tiers, Map<String, Double> thresholds, Path encoder, Path dir, int cache) {

    public static CascadeConfig read(Path file) {
        ConfigFile f = ConfigFile.read(file);
        JsonNode root = f.root();
        f.known(root, "", Set.of("name", "tiers", "scorer", "cache"));
        String name = f.string(root, "", "name", "cascade");
        JsonNode ts = root.get("tiers");
        if (ts == null || !ts.isArray() || ts.isEmpty()) throw f.error("tiers", "must list the tiers, cheapest first");
        List<Target> tiers = new ArrayList<>();
        Map<String, Double> thresholds = new LinkedHashMap<>();
        for (int i = 0; i < ts.size(); i++) {
            Target t = Target.parse(f, ts.get(i), "tiers[" + i + "]", "name", Set.of("threshold"));
            tiers.add(t);
            if (ts.get(i).has("threshold")) thresholds.put(t.name(), f.number(ts.get(i), "tiers[" + i + "]", "threshold", Double.NaN, 0, 1));
        }
        Target.uniqueNames(f, tiers, "tiers");
        JsonNode s = root.get("scorer");
        if (s != null && !s.isNull() && !s.isObject()) throw f.error("scorer", "must be a mapping (encoder, dir)");
        if (s == null || s.isNull()) s = tools.jackson.databind.node.JsonNodeFactory.instance.objectNode();
        f.known(s, "scorer", Set.of("encoder", "dir"));
        Path encoder = f.path(s, "scorer", "encoder", tiers.stream().map(Target::model).filter(java.util.Objects::nonNull).findFirst().orElse(null));
        if (encoder == null && tiers.size() > 1)
            throw f.error("scorer.encoder", "is required when no tier is a local model (the scorer reads a local model's hidden states)");
        Path dir = f.path(s, "scorer", "dir", file.toAbsolutePath().resolveSibling(name + "-scorer"));
        int cache = (int) f.number(root, "", "cache", 1000, 0, 10_000_000);
        return new CascadeConfig(file, name, List.copyOf(tiers), Map.copyOf(thresholds), encoder, dir, cache);
    }
}
