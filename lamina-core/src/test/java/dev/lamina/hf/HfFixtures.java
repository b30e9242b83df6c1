package dev.lamina.hf;

import dev.lamina.autograd.Tape;
import dev.lamina.io.SafeTensors;
import dev.lamina.model.Decoder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** The tiny Hugging Face checkpoints under resources/hf/models (made by src/test/python/make_hf_fixtures.py). */
final class HfFixtures {
    private HfFixtures() {}

    static final String[] NAMES = {"gpt2", "gpt2-bf16", "llama", "llama-f16", "llama-sharded", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3", "phi3-longrope",
            "llama-rope-linear", "llama-rope-dynamic", "llama-rope-llama3", "llama-rope-yarn", "mixtral", "mixtral-bf16", "qwen2-moe"};

    static Path dir(String name) {
        try {
            return Path.of(HfFixtures.class.getClassLoader().getResource("hf/models/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A writable copy of a fixture, to break it in a test. */
    static Path copy(String name, Path to) {
        Path from = dir(name);
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.sorted(Comparator.naturalOrder()).toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return to;
    }

    /** Reference ids [B, T] and logits [B, T, V] of a fixture. */
    record Reference(int[] ids, int batch, int seq, float[] logits) {}

    static Reference reference(Path dir) {
        try (SafeTensors st = SafeTensors.open(dir.resolve("reference.safetensors"))) {
            int[] shape = st.shape("input_ids");
            return new Reference(st.ints("input_ids"), shape[0], shape[1], st.floats("logits"));
        }
    }

    static float[] logits(Decoder d, int[] ids, int batch, int seq) {
        return d.forward(Tape.inference(), ids, batch, seq).value().toArray();
    }

    /** ||a − b|| / ||b||. */
    static double relativeError(float[] a, float[] b) {
        if (a.length != b.length) throw new IllegalArgumentException(a.length + " vs " + b.length);
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            num += d * d;
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }
}
