package dev.lamina.train;

import dev.lamina.hf.PeftAdapter;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.io.SafeTensors;
import dev.lamina.model.Decoder;
import dev.lamina.model.Lora;
import dev.lamina.model.Parameters;
import dev.lamina.tokenizer.Tokenizer;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * A fine-tuning run directory, kept like {@code train}'s: at each checkpoint the tuned weights (PEFT
 * adapter files for LoRA, config.json + model.safetensors + tokenizer/ for full tuning; for QAT the
 * weights on their grid, an ordinary model, and {@code qat.safetensors}, the float weights and steps),
 * {@code optimizer.safetensors} (AdamW moments) and {@code state.json} (step, the data order's RNG
 * state, the settings); {@code metrics.jsonl} (a line per step, eval losses on their step); and
 * {@code best/}, the weights of the lowest eval loss so far. Every file is written atomically and
 * records its step, so a resume refuses a mix. Running again into the same directory with the same
 * settings continues from the last checkpoint, bitwise as if never interrupted.
 *
 * @param dir       the run directory
 * @param base      the base model's path, recorded in the adapter files and the state
 * @param tokenizer saved beside a fully tuned model
 * @param data      the training data's path, recorded in the state
 */
public record FineTuneRun(Path dir, String base, Tokenizer tokenizer, String data) {
    public static final String BEST = "best";
    /** One JSON object per line. */
    private static final tools.jackson.databind.ObjectWriter LINE =
            Json.MAPPER.writer().without(tools.jackson.databind.SerializationFeature.INDENT_OUTPUT);

    /** Whether dir holds a checkpoint to continue from. */
    public boolean resumable() { return Checkpoint.hasTrainingState(dir); }

    /**
     * Loads the last checkpoint into the trainable parameters (the adapter's, or the model's for
     * full tuning) and the optimizer; checks it was made with these settings. Returns its step and
     * the data order's RNG state then.
     */
    Checkpoint.State restore(FineTune.Method method, Lora.Adapter adapter, Decoder model, AdamW opt, TrainConfig c) {
        Checkpoint.State st = Checkpoint.readState(dir);
        if (!st.train().withCheckpointEvery(c.checkpointEvery()).equals(c))      // checkpointing may change: it changes no number
            throw new LaminaException(dir + ": the run was started with other settings (" + st.train().toJson() + "); continue it with "
                    + "those or write to a new directory");
        boolean lora = PeftAdapter.isAdapter(dir), qat = Files.exists(dir.resolve(QAT_STATE));
        if (lora != (adapter != null) || qat != (model.qat() != null))
            throw new LaminaException(dir + ": holds a " + (lora ? "LoRA adapter" : qat ? "quantization-aware run" : "fully tuned model") + ", not a "
                    + method.name().toLowerCase(Locale.ROOT) + " run; write to a new directory");
        Path weights = dir.resolve(lora ? PeftAdapter.WEIGHTS : Checkpoint.MODEL);
        int saved = stepOf(weights);
        if (saved != st.step())
            throw new LaminaException(weights + ": written at step " + saved + " but state.json says " + st.step()
                    + " (an interrupted save); the run cannot be resumed exactly");
        Parameters trainable;
        if (lora) {
            Lora.Adapter last = PeftAdapter.load(dir, model);
            if (!last.config().equals(adapter.config()))
                throw new LaminaException(dir.resolve(PeftAdapter.CONFIG) + ": the adapter was made with " + last.config()
                        + ", not " + adapter.config() + "; continue with those settings or write to a new directory");
            System.arraycopy(last.params().data(), 0, adapter.params().data(), 0, last.params().count());
            trainable = adapter.params();
        } else if (qat) {
            restoreQat(model, st.step());
            trainable = model.params();
        } else {
            Decoder last = Checkpoint.loadModel(dir);
            if (!last.config().equals(model.config()))
                throw new LaminaException(dir.resolve(Checkpoint.CONFIG) + ": another model than the base given; write to a new directory");
            model.params().copyFrom(last.params());
            trainable = model.params();
        }
        Checkpoint.loadOptimizer(dir, opt, trainable, st.step());
        truncateMetrics(st.step());
        return st;
    }

    /** A quantization-aware run's float weights and LSQ steps (model.safetensors holds the quantized weights a reader uses). */
    public static final String QAT_STATE = "qat.safetensors";

    /** Loads qat.safetensors into model's parameters, checking its step and that it was made with the same grid. */
    private void restoreQat(Decoder model, int step) {
        Path f = dir.resolve(QAT_STATE);
        Parameters p = model.params();
        try (SafeTensors st = SafeTensors.open(f)) {
            String saved = st.metadata().get("qat");
            if (!model.qat().toString().equals(saved))
                throw new LaminaException(f + ": the run trains " + saved + ", not " + model.qat() + "; continue with those settings or write to a new directory");
            String s = st.metadata().get("step");
            if (s == null || Integer.parseInt(s) != step)
                throw new LaminaException(f + ": written at step " + s + " but state.json says " + step + " (an interrupted save); the run cannot be resumed exactly");
            for (Parameters.Slot slot : p.slots().values()) {
                if (!st.has(slot.name())) throw new LaminaException(f + ": missing tensor " + slot.name() + "; the run cannot be resumed");
                st.floatsInto(slot.name(), p.data(), slot.offset());
            }
        }
    }

    /** Starts a new run: the directory created, earlier metrics dropped. */
    void start() {
        try {
            Files.createDirectories(dir);
            Files.deleteIfExists(dir.resolve(Checkpoint.METRICS));
        } catch (IOException e) {
            throw new LaminaException(dir + ": cannot create the run directory (" + e.getMessage() + ")");
        }
    }

    /** Writes the checkpoint of a step: the weights, then the optimizer and state.json last. */
    void save(int step, Lora.Adapter adapter, Decoder model, AdamW opt, TrainConfig c, long rngState) {
        saveWeights(dir, step, adapter, model);
        if (model.qat() != null) {                    // the float weights and steps training continues from
            SafeTensors.Writer w = new SafeTensors.Writer().metadata("format", "lamina").metadata("step", Integer.toString(step))
                    .metadata("qat", model.qat().toString());
            for (Parameters.Slot s : model.params().slots().values()) w.putTensor(s.name(), model.params().value(s.name()));
            w.write(dir.resolve(QAT_STATE));
        }
        Checkpoint.saveTraining(dir, opt, adapter != null ? adapter.params() : model.params(), new Checkpoint.State(step, rngState, c, data));
    }

    /** Writes the weights of the best eval loss so far into best/. */
    void saveBest(int step, double evalLoss, Lora.Adapter adapter, Decoder model) {
        Path best = dir.resolve(BEST);
        saveWeights(best, step, adapter, model);
        var o = Json.MAPPER.createObjectNode().put("step", step).put("eval_loss", evalLoss);
        AtomicFiles.writeString(best.resolve("best.json"), LINE.writeValueAsString(o) + "\n");
    }

    private void saveWeights(Path to, int step, Lora.Adapter adapter, Decoder model) {
        try {
            Files.createDirectories(to);
        } catch (IOException e) {
            throw new LaminaException(to + ": cannot create (" + e.getMessage() + ")");
        }
        if (adapter != null) {
            PeftAdapter.save(adapter, to, base, step);
            return;
        }
        Checkpoint.saveModel(to, model.quantized(), step);     // QAT: the weights on their grid, an ordinary model
        tokenizer.save(to.resolve(Checkpoint.TOKENIZER));
    }

    /** Appends one step's line: loss, gradient norm, learning rate, and the eval loss when scored. */
    void log(FineTune.Step s, double evalLoss) {
        var o = Json.MAPPER.createObjectNode();
        o.put("step", s.step()).put("loss", s.loss()).put("grad_norm", s.gradNorm()).put("lr", s.lr());
        if (!Double.isNaN(evalLoss)) o.put("eval_loss", evalLoss);
        Path f = dir.resolve(Checkpoint.METRICS);
        try {
            Files.writeString(f, LINE.writeValueAsString(o) + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new LaminaException(f + ": cannot append (" + e.getMessage() + ")");
        }
    }

    /** The lowest eval loss and its step (NaN and -1: none yet). */
    public record Best(double evalLoss, int step) {}

    /** The lowest eval loss in metrics.jsonl so far. */
    Best best() {
        Best best = new Best(Double.NaN, -1);
        for (JsonNode j : metrics())
            if (j.has("eval_loss") && !(j.get("eval_loss").doubleValue() >= best.evalLoss()))
                best = new Best(j.get("eval_loss").doubleValue(), j.get("step").intValue());
        return best;
    }

    /** Every line of metrics.jsonl, parsed. */
    public java.util.List<JsonNode> metrics() {
        Path f = dir.resolve(Checkpoint.METRICS);
        java.util.List<JsonNode> out = new java.util.ArrayList<>();
        if (!Files.exists(f)) return out;
        try {
            for (String line : Files.readAllLines(f)) if (!line.isBlank()) out.add(Json.MAPPER.readTree(line));
        } catch (IOException | RuntimeException e) {
            throw new LaminaException(f + ": unreadable metrics (" + e.getMessage() + ")");
        }
        return out;
    }

    /** Drops metric lines past the resumed step (the interrupted tail). */
    private void truncateMetrics(int step) {
        StringBuilder keep = new StringBuilder();
        for (JsonNode j : metrics())
            if (j.get("step").intValue() <= step) keep.append(LINE.writeValueAsString(j)).append('\n');
        AtomicFiles.writeString(dir.resolve(Checkpoint.METRICS), keep.toString());
    }

    private static int stepOf(Path weights) {
        if (!Files.isRegularFile(weights)) throw new LaminaException(weights + ": missing; the run cannot be resumed");
        try (SafeTensors st = SafeTensors.open(weights)) {
            String s = st.metadata().get("step");
            return s == null ? -1 : Integer.parseInt(s);
        }
    }
}
