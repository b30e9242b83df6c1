package dev.lamina.train;

import dev.lamina.gguf.GgufModel;
import dev.lamina.hf.HfCheckpoint;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.io.SafeTensors;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Parameters;
import dev.lamina.tensor.Tensor;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A run directory: {@code config.json} (the model), {@code model.safetensors} (canonical names),
 * {@code tokenizer/}, and for training {@code optimizer.safetensors} (AdamW moments) and
 * {@code state.json} (step, RNG state, hyper-parameters). Every file is written atomically; each of
 * the three training files records its step, and a resume refuses files from different steps.
 */
public final class Checkpoint {
    public static final String CONFIG = "config.json", MODEL = "model.safetensors", OPTIMIZER = "optimizer.safetensors",
            STATE = "state.json", TOKENIZER = "tokenizer", METRICS = "metrics.jsonl";

    private Checkpoint() {}

    /** Training position saved beside the weights; scaler is fp16's loss scaling (null in other precisions). */
    public record State(int step, long rngState, TrainConfig train, String data, LossScaler scaler) {
        public State(int step, long rngState, TrainConfig train, String data) { this(step, rngState, train, data, null); }
    }

    /** Writes config.json and model.safetensors. */
    public static void saveModel(Path dir, Decoder model, int step) {
        Parameters p = model.params();
        SafeTensors.Writer w = new SafeTensors.Writer().metadata("format", "lamina").metadata("step", Integer.toString(step));
        for (Parameters.Slot s : p.slots().values()) w.putTensor(s.name(), new Tensor(p.data(), s.offset(), s.shape()));
        AtomicFiles.writeString(dir.resolve(CONFIG), model.config().toJsonString());
        w.write(dir.resolve(MODEL));
    }

    /**
     * Loads a model from a run directory (or any directory with config.json + model.safetensors),
     * or from a Hugging Face directory (its config.json has a model_type), or a GGUF file, converted on load.
     */
    public static Decoder loadModel(Path dir) {
        if (GgufModel.isGguf(dir)) return GgufModel.load(dir).decoder();
        if (HfCheckpoint.isHfDirectory(dir)) return HfCheckpoint.load(dir);
        Path cfgFile = dir.resolve(CONFIG), weights = dir.resolve(MODEL);
        if (!Files.isRegularFile(cfgFile) || !Files.isRegularFile(weights))
            throw new LaminaException(dir + ": not a model directory (needs " + CONFIG + " and " + MODEL
                    + "; train one with `lamina train`)");
        ModelConfig config = ModelConfig.read(cfgFile);
        Parameters p = Decoder.layout(config).build();
        try (SafeTensors st = SafeTensors.open(weights)) {
            for (Parameters.Slot s : p.slots().values()) {
                if (!st.has(s.name()))
                    throw new LaminaException(weights + ": missing tensor " + s.name() + " required by " + cfgFile
                            + " (checkpoint from an incompatible config?)");
                int[] shape = st.shape(s.name());
                if (!java.util.Arrays.equals(shape, s.shape()))
                    throw new LaminaException(weights + ": tensor " + s.name() + " has shape " + java.util.Arrays.toString(shape)
                            + " but " + cfgFile + " needs " + java.util.Arrays.toString(s.shape()) + " (incompatible config)");
                Tensor dst = p.value(s.name());
                st.floatsInto(s.name(), dst.data(), dst.offset());
            }
            for (String n : st.names())
                if (!p.has(n)) throw new LaminaException(weights + ": tensor " + n + " is not part of the model in " + cfgFile
                        + " (incompatible config)");
        }
        return new Decoder(config, p);
    }

    /** Writes the optimizer moments and the training state (state.json last). */
    public static void saveTraining(Path dir, AdamW opt, Parameters p, State state) {
        saveTraining(dir, opt.m(), opt.v(), opt.stepsTaken(), p, state);
    }

    /** As above with the moments of every parameter given (a sharded optimizer's, gathered). */
    public static void saveTraining(Path dir, float[] m, float[] v, int adamSteps, Parameters p, State state) {
        SafeTensors.Writer w = new SafeTensors.Writer().metadata("step", Integer.toString(state.step()))
                .metadata("adam_steps", Integer.toString(adamSteps));
        for (Parameters.Slot s : p.slots().values()) {
            w.putTensor("m." + s.name(), new Tensor(m, s.offset(), s.shape()));
            w.putTensor("v." + s.name(), new Tensor(v, s.offset(), s.shape()));
        }
        w.write(dir.resolve(OPTIMIZER));
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("step", state.step());
        o.put("rng_state", state.rngState());
        o.put("data", state.data());
        o.set("train", state.train().toJson());
        if (state.scaler() != null) o.set("loss_scaler", state.scaler().toJson());
        AtomicFiles.writeString(dir.resolve(STATE), Json.MAPPER.writeValueAsString(o));
    }

    public static boolean hasTrainingState(Path dir) { return Files.isRegularFile(dir.resolve(STATE)); }

    public static State readState(Path dir) {
        Path f = dir.resolve(STATE);
        try {
            JsonNode o = Json.MAPPER.readTree(Files.readString(f));
            return new State(o.get("step").intValue(), o.get("rng_state").longValue(), TrainConfig.fromJson(o.get("train")),
                    o.get("data").stringValue(), o.has("loss_scaler") ? LossScaler.fromJson(o.get("loss_scaler")) : null);
        } catch (IOException | RuntimeException e) {
            throw new LaminaException(f + ": unreadable training state (" + e.getMessage() + "); the run cannot be resumed");
        }
    }

    /** Loads the AdamW moments; checks they were written at the same step as state.json. */
    public static void loadOptimizer(Path dir, AdamW opt, Parameters p, int step) {
        Path f = dir.resolve(OPTIMIZER);
        if (!Files.isRegularFile(f)) throw new LaminaException(f + ": missing; the run cannot be resumed");
        try (SafeTensors st = SafeTensors.open(f)) {
            String saved = st.metadata().get("step");
            if (saved == null || Integer.parseInt(saved) != step)
                throw new LaminaException(f + ": written at step " + saved + " but state.json says " + step
                        + " (an interrupted save); the run cannot be resumed exactly");
            for (Parameters.Slot s : p.slots().values()) {
                readMoment(st, f, "m." + s.name(), s, opt.m());
                readMoment(st, f, "v." + s.name(), s, opt.v());
            }
            opt.setStepsTaken(Integer.parseInt(st.metadata().getOrDefault("adam_steps", saved)));
        }
    }

    /** One AdamW moment tensor into its slot of the flat buffer; refused by name if missing or of another size. */
    private static void readMoment(SafeTensors st, Path f, String name, Parameters.Slot s, float[] dst) {
        if (!st.has(name)) throw new LaminaException(f + ": missing tensor " + name + "; the run cannot be resumed");
        if (Tensor.count(st.shape(name)) != s.size())
            throw new LaminaException(f + ": tensor " + name + " has shape " + java.util.Arrays.toString(st.shape(name))
                    + ", expected " + java.util.Arrays.toString(s.shape()) + "; the run cannot be resumed");
        st.floatsInto(name, dst, s.offset());
    }

    /** The step recorded in model.safetensors, or -1. */
    public static int modelStep(Path dir) {
        try (SafeTensors st = SafeTensors.open(dir.resolve(MODEL))) {
            String s = st.metadata().get("step");
            return s == null ? -1 : Integer.parseInt(s);
        }
    }

    /** The lines of a run's metrics.jsonl, one JSON object per logged step. */
    public static java.util.List<tools.jackson.databind.JsonNode> readMetrics(java.nio.file.Path run) {
        java.nio.file.Path f = run.resolve(METRICS);
        java.util.List<tools.jackson.databind.JsonNode> out = new java.util.ArrayList<>();
        try {
            for (String line : java.nio.file.Files.readAllLines(f)) if (!line.isBlank()) out.add(dev.lamina.io.Json.MAPPER.readTree(line));
        } catch (java.io.IOException | tools.jackson.core.JacksonException e) {
            throw new dev.lamina.io.LaminaException(f + ": unreadable (" + e.getMessage() + ")");
        }
        return out;
    }
}
