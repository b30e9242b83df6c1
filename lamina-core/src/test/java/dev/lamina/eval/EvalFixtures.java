package dev.lamina.eval;

import dev.lamina.Lamina;
import dev.lamina.io.Json;
import tools.jackson.databind.JsonNode;

import java.net.URISyntaxException;
import java.nio.file.Path;

/** The tiny HF models under resources/hf/models and the figures make_eval_fixtures.py computed for them. */
final class EvalFixtures {
    private EvalFixtures() {}

    static Path resource(String path) {
        try {
            return Path.of(EvalFixtures.class.getClassLoader().getResource(path).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Lamina.Model model(String name) { return Lamina.load(resource("hf/models/" + name)); }

    static JsonNode reference() { return Json.MAPPER.readTree(resource("eval/reference.json").toFile()); }

    static int[] ints(JsonNode arr) {
        int[] a = new int[arr.size()];
        for (int i = 0; i < a.length; i++) a[i] = arr.get(i).intValue();
        return a;
    }
}
