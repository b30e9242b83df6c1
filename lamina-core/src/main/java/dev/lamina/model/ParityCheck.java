package dev.lamina.model;

import dev.lamina.autograd.Tape;
import dev.lamina.autograd.Var;
import dev.lamina.infer.ContiguousKvCache;
import dev.lamina.infer.KvCache;
import dev.lamina.infer.ModelRunner;
import dev.lamina.io.LaminaException;
import dev.lamina.io.SafeTensors;
import dev.lamina.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Checks the decoder against a PyTorch-made test vector (NAME.json + NAME.safetensors): loads the
 * parameters, runs forward and backward on the tape, and compares logits, loss and every gradient;
 * then runs the same tokens through the inference executor (KV caches, the sequences batched, one
 * token at a time) and compares its logits too. Every case thus checks both executors.
 * Tolerances (architecture.md): relative error ‖out − ref‖/‖ref‖ ≤ 1e-4 per tensor, loss within 1e-5.
 * A reference tensor whose norm is below {@link #ZERO_NORM} is zero in exact arithmetic (the key
 * projection's bias gets no gradient: softmax ignores a constant added to one query's scores), so
 * it is compared absolutely: ‖out − ref‖ ≤ 1e-8.
 */
public final class ParityCheck {
    public static final double TENSOR_TOLERANCE = 1e-4, LOSS_TOLERANCE = 1e-5, ZERO_NORM = 1e-8;

    /** One compared tensor: its relative error (absolute error for the loss) and the bound it must meet. */
    public record TensorResult(String name, double error, double tolerance) {
        public boolean passed() { return error <= tolerance; }
    }

    /** All comparisons of one case. */
    public record CaseResult(String name, List<TensorResult> tensors) {
        public boolean passed() { return tensors.stream().allMatch(TensorResult::passed); }
    }

    private ParityCheck() {}

    /** Every NAME.json that has a NAME.safetensors beside it, sorted by name. */
    public static List<Path> cases(Path dir) {
        if (!Files.isDirectory(dir)) throw new LaminaException(dir + ": not a directory of test vectors");
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".json"))
                    .filter(p -> Files.exists(safetensorsOf(p))).sorted().toList();
        } catch (IOException e) {
            throw new LaminaException(dir + ": cannot list (" + e.getMessage() + ")");
        }
    }

    static Path safetensorsOf(Path json) {
        String n = json.getFileName().toString();
        return json.resolveSibling(n.substring(0, n.length() - ".json".length()) + ".safetensors");
    }

    /** Runs one case given its NAME.json. */
    public static CaseResult run(Path json) {
        ModelConfig config = ModelConfig.read(json);
        Path stFile = safetensorsOf(json);
        String name = json.getFileName().toString().replaceFirst("\\.json$", "");
        try (SafeTensors st = SafeTensors.open(stFile)) {
            Parameters params = Decoder.layout(config).build();
            for (Parameters.Slot s : params.slots().values()) {
                String key = "param." + s.name();
                if (!st.has(key)) throw new LaminaException(stFile + ": missing tensor " + key + " required by " + json.getFileName());
                Tensor ref = st.tensor(key);
                if (ref.size() != s.size()) throw new LaminaException(stFile + ": " + key + " has " + ref.size()
                        + " values, the config needs " + s.size());
                params.value(s.name()).copyFrom(ref);
            }
            TreeSet<String> extra = new TreeSet<>();
            for (String n : st.names()) if (n.startsWith("param.") && !params.has(n.substring(6))) extra.add(n);
            if (!extra.isEmpty()) throw new LaminaException(stFile + ": tensors " + extra + " do not belong to the config in " + json.getFileName());

            int[] shape = st.shape("input_ids");
            int B = shape[0], T = shape[1];
            int[] ids = st.ints("input_ids"), targets = st.ints("target_ids");
            Decoder model = new Decoder(config, params);
            Tape tape = Tape.training();
            TapeExecutor ex = new TapeExecutor(model, tape, ids, B, T);
            Var logits = model.forward(ex);
            List<TensorResult> results = new ArrayList<>();
            results.add(compare("logits", logits.value(), st.tensor("logits")));
            float loss = dev.lamina.autograd.Ops.crossEntropy(tape, logits, targets);
            if (ex.routerLosses() != null) loss += (float) ex.routerLosses().weighted();   // a sparse model's aux and z losses
            results.add(new TensorResult("loss", Math.abs(loss - st.floats("loss")[0]), LOSS_TOLERANCE));
            tape.backward();
            for (Parameters.Slot s : params.slots().values())
                results.add(compare("grad." + s.name(), params.grad(s.name()), st.tensor("grad." + s.name())));
            results.add(compare("inference.logits", inferenceLogits(model, ids, B, T), st.tensor("logits")));
            return new CaseResult(name, results);
        }
    }

    /**
     * logits[B·T, V] from the inference runner: the B sequences decoded together, one token per
     * sequence per call, each with its own KV cache.
     */
    public static Tensor inferenceLogits(Decoder model, int[] ids, int B, int T) {
        int V = model.config().vocabSize();
        Tensor out = Tensor.zeros(B * T, V);
        ModelRunner runner = new ModelRunner(model, B, B);
        List<KvCache> caches = new ArrayList<>();
        for (int b = 0; b < B; b++) caches.add(new ContiguousKvCache(model.config(), T));
        List<ModelRunner.Chunk> chunks = new ArrayList<>();
        for (int t = 0; t < T; t++) {
            chunks.clear();
            for (int b = 0; b < B; b++) chunks.add(new ModelRunner.Chunk(caches.get(b), ids, b * T + t, b * T + t + 1, true));
            Tensor logits = runner.forward(chunks);
            for (int b = 0; b < B; b++) out.rows(b * T + t, b * T + t + 1).copyFrom(logits.rows(b, b + 1));
        }
        for (KvCache c : caches) c.close();
        return out;
    }

    public static TensorResult compare(String name, Tensor out, Tensor ref) {
        return norm(ref) < ZERO_NORM
                ? new TensorResult(name, distance(out, ref), ZERO_NORM)
                : new TensorResult(name, relativeError(out, ref), TENSOR_TOLERANCE);
    }

    private static double norm(Tensor t) {
        double s = 0;
        for (int i = 0; i < t.size(); i++) s += (double) t.get(i) * t.get(i);
        return Math.sqrt(s);
    }

    /** ‖a − b‖. */
    public static double distance(Tensor a, Tensor b) {
        if (a.size() != b.size()) return Double.POSITIVE_INFINITY;
        double s = 0;
        for (int i = 0; i < a.size(); i++) { double d = (double) a.get(i) - b.get(i); s += d * d; }
        return Math.sqrt(s);
    }

    /** ‖a − b‖ / ‖b‖ (absolute ‖a − b‖ when b is zero). */
    public static double relativeError(Tensor a, Tensor b) {
        double ref = norm(b);
        return ref == 0 ? distance(a, b) : distance(a, b) / ref;
    }
}
