package dev.lamina.research;

import dev.lamina.data.Dataset;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ModelConfig.Placement;
import dev.lamina.train.Checkpoint;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The depth experiment: the same model trained with several normalisation placements from the same
 * seed (so the same initial weights: the layouts are identical), the same data order and the same
 * step budget, then compared on validation perplexity, speed of convergence and the per-layer
 * diagnostics. Each variant is an ordinary run directory (OUT/runs/NAME), reused when it is already
 * complete, so an interrupted experiment picks up where it stopped.
 */
public final class DepthExperiment {
    private DepthExperiment() {}

    /** Window of the trailing mean used on the training loss. */
    static final int SMOOTH = 20;

    /** A placement to compare: pre, post, mix:ALPHA, lns (Pre-LN with LayerNorm Scaling). */
    public record Variant(String name, Placement placement, double alpha, boolean lns) {
        public static Variant parse(String s) {
            String t = s.trim().toLowerCase(Locale.ROOT);
            if (t.equals("pre")) return new Variant("pre", Placement.PRE, 0, false);
            if (t.equals("post")) return new Variant("post", Placement.POST, 1, false);
            if (t.equals("lns") || t.equals("pre+lns")) return new Variant("lns", Placement.PRE, 0, true);
            if (t.equals("mix") || t.startsWith("mix:")) {
                double a = 0.25;
                if (t.startsWith("mix:")) {
                    try { a = Double.parseDouble(t.substring(4)); } catch (NumberFormatException e) { a = -1; }
                }
                if (!(a >= 0 && a <= 1)) throw LaminaException.field("variants", "variants: '" + s + "' needs an alpha in [0, 1], e.g. mix:0.25");
                return new Variant("mix:" + strip(a), Placement.MIX, a, false);
            }
            throw LaminaException.field("variants", "variants: unknown variant '" + s + "'; use pre, post, mix:ALPHA or lns");
        }

        public static List<Variant> parseList(String csv) {
            List<Variant> v = new ArrayList<>();
            for (String s : csv.split(",")) if (!s.isBlank()) v.add(parse(s));
            if (v.isEmpty()) throw LaminaException.field("variants", "variants: give at least one of pre, post, mix:ALPHA, lns");
            if (v.stream().map(Variant::name).distinct().count() != v.size()) throw LaminaException.field("variants", "variants: a variant is listed twice");
            return v;
        }

        public ModelConfig apply(ModelConfig base) { return base.withPlacement(placement, alpha, lns); }

        /** Directory name (no colon). */
        public String dir() { return name.replace(':', '-'); }

        public String describe(int layers) {
            return switch (placement) {
                case PRE -> lns ? "Pre-LN + LayerNorm Scaling" : "Pre-LN";
                case POST -> "Post-LN";
                case MIX -> "Mix-LN, " + apply(dummy(layers)).postLayers() + " Post-LN layers";
            };
        }

        private static ModelConfig dummy(int layers) {
            return ModelConfig.builder().vocabSize(8).hiddenSize(8).numHiddenLayers(layers).numAttentionHeads(1)
                    .intermediateSize(8).maxPositionEmbeddings(8).mixAlpha(0).build();
        }

        private static String strip(double a) {
            String s = Double.toString(a);
            return s.endsWith(".0") ? s.substring(0, s.length() - 2) : s;
        }
    }

    /** What to train: the base model (its placement is replaced by each variant's), the recipe, the diagnostics. */
    public record Settings(ModelConfig base, TrainConfig train, List<Variant> variants, Double targetLoss,
                           LayerDiagnostics.Options diagnostics) {}

    /** One trained variant. diag is null when training diverged (divergedAt > 0). */
    public record Outcome(Variant variant, Path run, int[] evalSteps, double[] evalLoss, double[] trainLoss,
                          List<LayerGradLog.Entry> grads, LayerDiagnostics.Report diag, double seconds, int divergedAt) {
        public double finalValLoss() { return evalLoss.length == 0 || divergedAt > 0 ? Double.NaN : evalLoss[evalLoss.length - 1]; }
        public double[] smoothedTrainLoss() { return LayerDiagnostics.smooth(trainLoss, SMOOTH); }
        /** First step whose smoothed training loss is at most target, or -1. */
        public int stepsTo(double target) {
            double[] s = smoothedTrainLoss();
            for (int i = 0; i < s.length; i++) if (s[i] <= target) return i + 1;
            return -1;
        }
        /** Mean over the logged steps of the coefficient of variation of the per-layer gradient norms. */
        public double meanTrainingCv() { return grads.stream().mapToDouble(e -> e.grads().layerCv()).average().orElse(Double.NaN); }
    }

    /** Progress callbacks; all optional. */
    public interface Listener {
        default void variant(int index, int count, Variant v, boolean reused) {}
        default void step(Variant v, Trainer.Progress p) {}
        default void diverged(Variant v, String message) {}
        default void diagnostics(Variant v, String task, int done, int total) {}
    }

    /** Trains (or reuses) every variant under out/runs and runs the diagnostics on each. */
    public static List<Outcome> run(Dataset data, Settings s, Path out, Listener listener) {
        return run(data, s, out, listener, dev.lamina.kernels.Kernels.defaults(), Figure.Plotter.NONE);
    }

    /** As above; every model computes with kernels, and each variant's diagnostics figures go to plotter. */
    public static List<Outcome> run(Dataset data, Settings s, Path out, Listener listener, dev.lamina.kernels.KernelSet kernels,
                                    Figure.Plotter plotter) {
        if (listener == null) listener = new Listener() {};
        List<Outcome> outcomes = new ArrayList<>();
        int i = 0;
        for (Variant v : s.variants()) {
            Path run = out.resolve("runs").resolve(v.dir());
            ModelConfig mc = v.apply(s.base());
            boolean reuse = complete(run, mc, s.train());
            listener.variant(++i, s.variants().size(), v, reuse);
            double seconds;
            int diverged = 0;
            if (reuse) {
                seconds = readSeconds(run);
            } else {
                long t0 = System.nanoTime();
                Trainer t = Trainer.start(Decoder.create(mc, s.train().seed(), kernels), data, data.dir().toString(), s.train(), run);
                LayerGradLog.attach(t, 1);
                Listener l = listener;
                try {
                    t.train(s.train().steps(), p -> l.step(v, p));
                } catch (LaminaException e) {   // a diverging variant is a result, not a failure of the experiment
                    diverged = t.step() + 1;
                    listener.diverged(v, e.getMessage());
                }
                seconds = (System.nanoTime() - t0) / 1e9;
                ObjectNode o = Json.MAPPER.createObjectNode().put("seconds", seconds).put("diverged_at", diverged);
                AtomicFiles.writeString(run.resolve("variant.json"), Json.MAPPER.writeValueAsString(o));
            }
            if (diverged == 0) diverged = readDiverged(run);
            Outcome o = collect(v, run, data, s, seconds, diverged, listener, kernels, plotter);
            outcomes.add(o);
        }
        return outcomes;
    }

    private static boolean complete(Path run, ModelConfig mc, TrainConfig tc) {
        if (!Files.isRegularFile(run.resolve("variant.json")) || !Checkpoint.hasTrainingState(run)) return false;
        if (readDiverged(run) > 0) return readConfigMatches(run, mc);
        Checkpoint.State st = Checkpoint.readState(run);
        return st.step() == tc.steps() && st.train().equals(tc) && readConfigMatches(run, mc);
    }

    private static boolean readConfigMatches(Path run, ModelConfig mc) {
        try { return ModelConfig.read(run.resolve(Checkpoint.CONFIG)).equals(mc); } catch (LaminaException e) { return false; }
    }

    private static double readSeconds(Path run) { return readVariant(run).get("seconds").doubleValue(); }
    private static int readDiverged(Path run) {
        return Files.isRegularFile(run.resolve("variant.json")) ? readVariant(run).get("diverged_at").intValue() : 0;
    }

    private static JsonNode readVariant(Path run) {
        try {
            return Json.MAPPER.readTree(Files.readString(run.resolve("variant.json")));
        } catch (IOException e) {
            throw new LaminaException(run.resolve("variant.json") + ": unreadable (" + e.getMessage() + "); delete the run to train it again");
        }
    }

    private static Outcome collect(Variant v, Path run, Dataset data, Settings s, double seconds, int diverged, Listener listener,
                                   dev.lamina.kernels.KernelSet kernels, Figure.Plotter plotter) {
        List<Integer> steps = new ArrayList<>();
        List<Double> val = new ArrayList<>(), train = new ArrayList<>();
        for (JsonNode o : Checkpoint.readMetrics(run)) {
            train.add(o.get("loss").doubleValue());
            if (o.has("val_loss")) { steps.add(o.get("step").intValue()); val.add(o.get("val_loss").doubleValue()); }
        }
        List<LayerGradLog.Entry> grads = LayerGradLog.read(run);
        LayerDiagnostics.Report diag = null;
        if (diverged == 0) {
            Decoder model = Checkpoint.loadModel(run).withKernels(kernels);
            diag = LayerDiagnostics.run(model, data.val(), s.diagnostics(), v.name(), (task, d, n) -> listener.diagnostics(v, task, d, n));
            LayerDiagnostics.write(diag, run.resolve("diagnostics"), grads, plotter);
        }
        return new Outcome(v, run, steps.stream().mapToInt(Integer::intValue).toArray(), val.stream().mapToDouble(Double::doubleValue).toArray(),
                train.stream().mapToDouble(Double::doubleValue).toArray(), grads, diag, seconds, diverged);
    }

    /** The loss every finished variant reaches: the highest final smoothed training loss among them. */
    public static double defaultTarget(List<Outcome> outcomes) {
        double t = Double.NaN;
        for (Outcome o : outcomes) {
            if (o.divergedAt() > 0 || o.trainLoss().length == 0) continue;
            double[] s = o.smoothedTrainLoss();
            t = Double.isNaN(t) ? s[s.length - 1] : Math.max(t, s[s.length - 1]);
        }
        return t;
    }

    // ---- report ------------------------------------------------------------------------------

    /** Writes OUT/report.md, OUT/experiment.json and the comparison figures (through plotter) in OUT. */
    public static void writeReport(Settings s, List<Outcome> outcomes, Path out, String setup, Figure.Plotter plotter) {
        double target = s.targetLoss() != null ? s.targetLoss() : defaultTarget(outcomes);
        plotter.drawAll(out, figures(outcomes));
        AtomicFiles.writeString(out.resolve("experiment.json"), Json.MAPPER.writeValueAsString(json(s, outcomes, target)) + "\n");
        AtomicFiles.writeString(out.resolve("report.md"), markdown(s, outcomes, target, setup, ""));
    }

    static List<Outcome> finished(List<Outcome> outcomes) { return outcomes.stream().filter(o -> o.diag() != null).toList(); }

    /** The comparison charts across variants. */
    public static List<Figure> figures(List<Outcome> outcomes) {
        List<Figure> figs = new ArrayList<>();
        List<Figure.Series> val = new ArrayList<>(), train = new ArrayList<>(), grad = new ArrayList<>(), dist = new ArrayList<>(),
                rms = new ArrayList<>(), rank = new ArrayList<>(), cv = new ArrayList<>();
        Map<String, double[]> removal = new LinkedHashMap<>();
        for (Outcome o : outcomes) {
            String n = o.variant().name();
            val.add(new Figure.Series(n, toDoubles(o.evalSteps()), o.evalLoss()));
            double[] x = new double[o.trainLoss().length];
            for (int i = 0; i < x.length; i++) x[i] = i + 1;
            train.add(new Figure.Series(n, x, o.smoothedTrainLoss()));
            if (!o.grads().isEmpty())
                cv.add(new Figure.Series(n, o.grads().stream().mapToDouble(LayerGradLog.Entry::step).toArray(),
                        LayerDiagnostics.smooth(o.grads().stream().mapToDouble(e -> e.grads().layerCv()).toArray(), SMOOTH)));
            LayerDiagnostics.Report d = o.diag();
            if (d == null) continue;
            grad.add(Figure.overLayers(n, d.grads().layer()));
            dist.add(Figure.overLayers(n, d.adjacentDistance()));
            double[] idx = new double[d.layers() + 1];
            for (int i = 0; i < idx.length; i++) idx[i] = i;
            rms.add(new Figure.Series(n, idx, d.hidden().rms()));
            double[] max = new double[d.layers()];
            for (int l = 0; l < max.length; l++) max[l] = d.attention().maxRank(l);
            rank.add(Figure.overLayers(n, max));
            removal.put(n, d.removalCosts());
        }
        figs.add(new Figure.Lines("val_loss", "Validation loss", "step", "val loss", val, false, true));
        figs.add(new Figure.Lines("train_loss", "Training loss (trailing mean of " + SMOOTH + " steps)", "step", "train loss", train, false, false));
        figs.add(new Figure.Lines("grad_cv", "Coefficient of variation of per-layer gradient norms during training", "step", "CV", cv, false, false));
        if (!grad.isEmpty()) {
            figs.add(new Figure.Lines("grad_norms", "Gradient norm per layer at the end of training", "layer", "L2 norm (log scale)", grad, true, true));
            figs.add(new Figure.Lines("adjacent_distance", "Angular distance between the inputs of layers l and l+1", "layer l", "d(l, l+1)", dist, false, true));
            figs.add(new Figure.Lines("hidden_rms", "Hidden-state RMS after each layer (0 = embeddings)", "after layer (i - 1)", "RMS (log scale)", rms, true, true));
            figs.add(new Figure.Lines("attention_rank", "Attention rank (max over heads, 90% energy)", "layer", "rank", rank, false, true));
            figs.add(new Figure.Bars("removal_cost", "Perplexity increase with layer l removed", "layer removed", "Δ perplexity", removal));
        }
        return figs;
    }

    private static double[] toDoubles(int[] a) { double[] d = new double[a.length]; for (int i = 0; i < a.length; i++) d[i] = a[i]; return d; }

    static ObjectNode json(Settings s, List<Outcome> outcomes, double target) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.set("base_model", s.base().toJson());
        o.set("train", s.train().toJson());
        o.put("target_train_loss", target);
        ArrayNode vs = o.putArray("variants");
        for (Outcome oc : outcomes) {
            ObjectNode v = vs.addObject();
            v.put("name", oc.variant().name()).put("run", oc.run().toString()).put("seconds", oc.seconds()).put("diverged_at", oc.divergedAt());
            ArrayNode ev = v.putArray("evals");
            for (int i = 0; i < oc.evalSteps().length; i++)
                ev.addObject().put("step", oc.evalSteps()[i]).put("val_loss", oc.evalLoss()[i]).put("val_ppl", Math.exp(oc.evalLoss()[i]));
            v.put("steps_to_target", oc.stepsTo(target));
            v.put("mean_training_grad_cv", oc.meanTrainingCv());
            if (oc.diag() != null) v.set("diagnostics", LayerDiagnostics.json(oc.diag()));
        }
        return o;
    }

    static String markdown(Settings s, List<Outcome> outcomes, double target, String setup, String imagePrefix) {
        StringBuilder m = new StringBuilder();
        int L = s.base().numHiddenLayers();
        m.append(setup).append("\n\n");
        m.append("| variant | placement | final val ppl | steps to train loss ").append(String.format(Locale.ROOT, "%.3f", target))
                .append(" | grad-norm CV (end) | grad-norm CV (mean in training) | deepest-quarter d(l, l+1) | mean Δppl if a layer is removed | lazy layers | time |\n");
        m.append("|---|---|---:|---:|---:|---:|---:|---:|---|---:|\n");
        for (Outcome o : outcomes) {
            LayerDiagnostics.Report d = o.diag();
            String lazy = "";
            double meanRemoval = Double.NaN;
            if (d != null) {
                List<Integer> lz = new ArrayList<>();
                for (int l = 0; l < L; l++) if (d.attention().lazy()[l]) lz.add(l);
                lazy = lz.isEmpty() ? "none" : lz.toString();
                meanRemoval = java.util.Arrays.stream(d.removalCosts()).average().orElse(Double.NaN);
            }
            int st = o.stepsTo(target);
            m.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %.3f | %s | %s | %s | %.1f min |%n", o.variant().name(),
                    o.variant().describe(L), o.divergedAt() > 0 ? "diverged at step " + o.divergedAt() : String.format(Locale.ROOT, "%.2f", Math.exp(o.finalValLoss())),
                    st < 0 ? "not reached" : Integer.toString(st), d == null ? "–" : String.format(Locale.ROOT, "%.3f", d.grads().layerCv()),
                    o.meanTrainingCv(), d == null ? "–" : String.format(Locale.ROOT, "%.4f", d.deepQuarterDistance()),
                    d == null ? "–" : String.format(Locale.ROOT, "%.2f", meanRemoval), lazy, o.seconds() / 60));
        }
        // val perplexity at each evaluation
        m.append("\nValidation perplexity at each evaluation:\n\n| step |");
        for (Outcome o : outcomes) m.append(' ').append(o.variant().name()).append(" |");
        m.append("\n|---:|").append("---:|".repeat(outcomes.size())).append('\n');
        int[] steps = outcomes.stream().max(java.util.Comparator.comparingInt(o -> o.evalSteps().length)).map(Outcome::evalSteps).orElse(new int[0]);
        for (int i = 0; i < steps.length; i++) {
            m.append("| ").append(steps[i]).append(" |");
            for (Outcome o : outcomes)
                m.append(i < o.evalLoss().length ? String.format(Locale.ROOT, " %.2f |", Math.exp(o.evalLoss()[i])) : " – |");
            m.append('\n');
        }
        List<Outcome> fin = finished(outcomes);
        if (!fin.isEmpty()) {
            m.append("\nPer layer (end of training): gradient norm / d(l, l+1) / Δppl if removed / attention rank (max over heads):\n\n| layer |");
            for (Outcome o : fin) m.append(' ').append(o.variant().name()).append(" |");
            m.append("\n|---:|").append("---|".repeat(fin.size())).append('\n');
            for (int l = 0; l < L; l++) {
                m.append("| ").append(l).append(" |");
                for (Outcome o : fin) {
                    LayerDiagnostics.Report d = o.diag();
                    m.append(String.format(Locale.ROOT, " %.3g / %.3f / %+.2f / %d%s |", d.grads().layer()[l], d.hidden().angular()[l][1],
                            d.removalCost(l), d.attention().maxRank(l), d.config().isPostLn(l) ? " (post)" : ""));
                }
                m.append('\n');
            }
        }
        m.append("\n");
        for (String[] p : new String[][] {{"val_loss", "Validation loss"}, {"train_loss", "Training loss"},
                {"grad_norms", "Gradient norm per layer"}, {"grad_cv", "Gradient-norm CV during training"},
                {"adjacent_distance", "Angular distance between adjacent layers"}, {"removal_cost", "Layer-removal cost"},
                {"hidden_rms", "Hidden-state growth"}, {"attention_rank", "Attention rank"}})
            m.append("![").append(p[1]).append("](").append(imagePrefix).append(p[0]).append(".png)\n\n");
        m.append("Per-variant diagnostics (heat maps of the angular distance, per-head ranks, gradient norms over training): ");
        for (Outcome o : fin) m.append("`runs/").append(o.variant().dir()).append("/diagnostics/report.md` ");
        m.append("\n");
        return m.toString();
    }
}
