package dev.lamina.train;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.research.Figure;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The curves of a run, read from its metrics.jsonl: loss (train every step, validation at each
 * evaluation) and, when the run scored tasks, every task metric over the evaluations. A resumed
 * run may log a step twice (the steps after its last checkpoint); the later line wins.
 */
public final class TrainingCurves {
    /** Per-step fields that are not task metrics. */
    private static final Set<String> STEP_FIELDS = Set.of("step", "loss", "lr", "grad_norm", "tokens_per_s", "mfu", "val_loss", "val_ppl",
            "kl", "ce", "aux_loss", "z_loss", "dropped", "routed", "expert_load",     // distillation's and a sparse model's figures per step
            "loss_scale", "skipped", "skipped_total",                                 // fp16's loss scaling
            "workers", "allreduce_ms", "allreduce_wait_ms", "allreduce_buckets");     // a data-parallel run's

    private TrainingCurves() {}

    /** loss (and tasks, when any) figures of the run directory's metrics.jsonl; empty when there is none. */
    public static List<Figure> figures(Path run) {
        Path file = run.resolve(Checkpoint.METRICS);
        if (!Files.exists(file)) return List.of();
        TreeMap<Integer, JsonNode> byStep = new TreeMap<>();
        try {
            int line = 0;
            for (String text : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                line++;
                if (text.isBlank()) continue;
                JsonNode o;
                try {
                    o = Json.MAPPER.readTree(text);
                } catch (JacksonException e) {
                    throw new LaminaException(file + ":" + line + ": not a JSON object; the run's metrics are damaged");
                }
                if (o.path("step").isInt()) byStep.put(o.get("step").asInt(), o);
            }
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot read (" + e.getMessage() + ")");
        }
        List<Figure> figures = new ArrayList<>();
        if (byStep.isEmpty()) return figures;
        List<Figure.Series> loss = new ArrayList<>();
        loss.add(series("train", byStep, "loss"));
        Figure.Series val = series("validation", byStep, "val_loss");
        if (val.x().length > 0) loss.add(val);
        Figure.Series ce = series("train cross-entropy", byStep, "ce"), kl = series("train KL to the teacher", byStep, "kl");
        if (ce.x().length > 0) {                      // a distillation run: its loss mixes the two
            loss.set(0, series("train (alpha·tau²·KL + (1 - alpha)·CE)", byStep, "loss"));
            loss.add(ce);
            loss.add(kl);
        }
        figures.add(new Figure.Lines("loss", "Loss", "step", "cross-entropy (nats/token)", loss, false, false));
        Map<String, Boolean> taskNames = new LinkedHashMap<>();
        for (JsonNode o : byStep.values())
            for (String n : o.propertyNames()) if (!STEP_FIELDS.contains(n)) taskNames.put(n, true);
        if (!taskNames.isEmpty()) {
            List<Figure.Series> tasks = new ArrayList<>();
            for (String n : taskNames.keySet()) tasks.add(series(n, byStep, n));
            figures.add(new Figure.Lines("tasks", "Task metrics at each evaluation", "step", "value", tasks, false, true));
        }
        return figures;
    }

    private static Figure.Series series(String name, TreeMap<Integer, JsonNode> byStep, String field) {
        List<double[]> points = new ArrayList<>();
        byStep.forEach((step, o) -> { if (o.path(field).isNumber()) points.add(new double[]{step, o.get(field).asDouble()}); });
        double[] x = new double[points.size()], y = new double[points.size()];
        for (int i = 0; i < x.length; i++) { x[i] = points.get(i)[0]; y[i] = points.get(i)[1]; }
        return new Figure.Series(name, x, y);
    }
}
