package dev.lamina.cascade;

import tools.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * An xLLM router, as router.yaml describes it:
 * <pre>
 * name: xllm                    # the model name clients ask for
 * routes:                       # one sub-model per category
 *   - category: dates
 *     model: models/dates-ft    # a local model, or url (+ remote_model, api_key_env) as a cascade tier
 *     cost: {input: 0.0001, output: 0.0001}
 *   - category: arithmetic
 *     url: http://127.0.0.1:8081/v1
 * encoder: models/base          # the model whose hidden states the classifier reads (default: the first local route's)
 * classifier: logistic          # logistic (trained on labelled queries) or centroid (nearest class mean of the hidden states)
 * dir: xllm-router              # where `lamina router train` writes the classifier (default: NAME-router)
 * </pre>
 */
public record RouterConfig(Path file, String name, List<Target> routes, Path encoder, Classifier.Kind classifier, Path dir) {

    public static RouterConfig read(Path file) {
        ConfigFile f = ConfigFile.read(file);
        JsonNode root = f.root();
        f.known(root, "", Set.of("name", "routes", "encoder", "classifier", "dir"));
        String name = f.string(root, "", "name", "router");
        JsonNode rs = root.get("routes");
        if (rs == null || !rs.isArray() || rs.isEmpty()) throw f.error("routes", "must list the categories and their models");
        List<Target> routes = new ArrayList<>();
        for (int i = 0; i < rs.size(); i++) routes.add(Target.parse(f, rs.get(i), "routes[" + i + "]", "category", Set.of()));
        Target.uniqueNames(f, routes, "routes");
        Path encoder = f.path(root, "", "encoder", routes.stream().map(Target::model).filter(java.util.Objects::nonNull).findFirst().orElse(null));
        if (encoder == null) throw f.error("encoder", "is required when no route is a local model (the classifier reads a local model's hidden states)");
        String kind = f.string(root, "", "classifier", "logistic");
        Classifier.Kind k = switch (kind) {
            case "logistic" -> Classifier.Kind.LOGISTIC;
            case "centroid" -> Classifier.Kind.CENTROID;
            default -> throw f.error("classifier", "must be logistic or centroid, got '" + kind + "'");
        };
        Path dir = f.path(root, "", "dir", file.toAbsolutePath().resolveSibling(name + "-router"));
        return new RouterConfig(file, name, List.copyOf(routes), encoder, k, dir);
    }
}
