package dev.lamina.model;

import dev.lamina.io.SafeTensors;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The test-vector cases (the shared PyTorch vectors and testvectors-extra) and their models. Every
 * test that runs "each config" takes this one list, so a new vector reaches all of them: parity on
 * both executors, the KV caches, batching.
 */
public final class TestModels {
    private TestModels() {}

    /** Every case's NAME.json, shared vectors first, each directory sorted. */
    public static List<Path> cases() {
        List<Path> all = new ArrayList<>();
        for (String dir : List.of("testvectors", "testvectors-extra")) {
            var url = TestModels.class.getClassLoader().getResource(dir);
            try {
                if (url != null) all.addAll(ParityCheck.cases(Path.of(url.toURI())));
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }
        return all;
    }

    /** The case names (NAME of NAME.json). */
    public static List<String> names() {
        return cases().stream().map(p -> p.getFileName().toString().replaceFirst("\\.json$", "")).toList();
    }

    public static Path vector(String name) {
        for (Path p : cases()) if (p.getFileName().toString().equals(name + ".json")) return p;
        throw new IllegalArgumentException("no test vector " + name);
    }

    public static Decoder load(String name) {
        Path json = vector(name);
        ModelConfig c = ModelConfig.read(json);
        Parameters p = Decoder.layout(c).build();
        try (SafeTensors st = SafeTensors.open(json.resolveSibling(name + ".safetensors"))) {
            for (Parameters.Slot s : p.slots().values()) p.value(s.name()).copyFrom(st.tensor("param." + s.name()));
        }
        return new Decoder(c, p);
    }
}
