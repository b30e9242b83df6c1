package dev.lamina.model;

import dev.lamina.io.SafeTensors;

import java.net.URISyntaxException;
import java.nio.file.Path;

/** Loads the parameters of a test-vector case into a decoder. */
public final class TestModels {
    private TestModels() {}

    public static Path vector(String name) {
        try {
            return Path.of(TestModels.class.getClassLoader().getResource("testvectors/" + name + ".json").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
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
