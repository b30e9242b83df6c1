package dev.lamina.research;

import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.train.Trainer;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * RUN/layer_grads.jsonl: one line per logged training step with the per-layer gradient norms
 * (before clipping), so their evolution over training can be plotted.
 * <pre>{"step":10,"global":1.2,"other":0.4,"attention":[…L],"mlp":[…L],"layer":[…L]}</pre>
 */
public final class LayerGradLog {
    public static final String FILE = "layer_grads.jsonl";

    private LayerGradLog() {}

    /** One logged step. */
    public record Entry(int step, LayerGrads grads) {}

    /**
     * Logs every `every`-th step of the trainer into its run directory. A new run starts the file
     * afresh; a resumed one drops lines past its step, as metrics.jsonl does.
     */
    public static void attach(Trainer trainer, int every) {
        if (every < 1) throw LaminaException.field("logLayerGrads", "logLayerGrads must be >= 1 (log every N steps), got " + every);
        Path f = trainer.run().resolve(FILE);
        int from = trainer.step();
        if (from == 0) {
            try { Files.deleteIfExists(f); } catch (IOException e) { throw new LaminaException(f + ": cannot reset (" + e.getMessage() + ")"); }
        } else {
            List<Entry> keep = read(trainer.run()).stream().filter(e -> e.step() <= from).toList();
            StringBuilder sb = new StringBuilder();
            for (Entry e : keep) sb.append(line(e)).append('\n');
            AtomicFiles.writeString(f, sb.toString());
        }
        int layers = trainer.model().config().numHiddenLayers();
        trainer.onGradients((step, params) -> {
            if (step % every != 0 && step != trainer.config().steps()) return;
            append(f, new Entry(step, LayerGrads.of(trainer.model().kernels(), params, layers)));
        });
    }

    static void append(Path f, Entry e) {
        try {
            Files.writeString(f, line(e) + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException ex) {
            throw new LaminaException(f + ": cannot append (" + ex.getMessage() + ")");
        }
    }

    static String line(Entry e) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("step", e.step()).put("global", e.grads().global()).put("other", e.grads().other());
        array(o.putArray("attention"), e.grads().attention());
        array(o.putArray("mlp"), e.grads().mlp());
        array(o.putArray("layer"), e.grads().layer());
        return Json.MAPPER.writeValueAsString(o).replaceAll("\\s+", "");
    }

    private static void array(ArrayNode a, double[] v) { for (double x : v) a.add(x); }

    /** The entries of RUN/layer_grads.jsonl (empty when there is no such file). */
    public static List<Entry> read(Path run) {
        Path f = run.resolve(FILE);
        List<Entry> out = new ArrayList<>();
        if (!Files.exists(f)) return out;
        try {
            for (String line : Files.readAllLines(f)) {
                if (line.isBlank()) continue;
                JsonNode o = Json.MAPPER.readTree(line);
                out.add(new Entry(o.get("step").intValue(), new LayerGrads(doubles(o.get("attention")), doubles(o.get("mlp")),
                        doubles(o.get("layer")), o.get("other").doubleValue(), o.get("global").doubleValue())));
            }
        } catch (IOException | RuntimeException e) {
            throw new LaminaException(f + ": unreadable (" + e.getMessage() + "); delete it or train again logging layer gradients");
        }
        return out;
    }

    static double[] doubles(JsonNode a) {
        double[] v = new double[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = a.get(i).doubleValue();
        return v;
    }
}
