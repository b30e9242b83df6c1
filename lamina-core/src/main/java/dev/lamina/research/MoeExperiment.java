package dev.lamina.research;

import dev.lamina.data.Dataset;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.kernels.KernelSet;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.train.Checkpoint;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Dense against sparse on the same data, seed and data order: a mixture of experts (E experts, k per
 * token) beside its dense twin of the same active size (one MLP k experts wide) for the same steps,
 * beside a dense model of the MoE's total size given the same training FLOPs, and beside the dense
 * twin given the MoE's wall-clock time; then the MoE without its load-balancing loss, without its
 * z-loss and without both, with each sparse layer's expert load logged every step. Every variant is
 * an ordinary run directory (OUT/runs/NAME), reused when already complete.
 */
public final class MoeExperiment {
    private MoeExperiment() {}

    /** The sparse model (its aux and z coefficients are the default variant's) and the recipe of its run. */
    public record Settings(ModelConfig moe, TrainConfig train) {}

    /** One model to train, for steps. */
    public record Variant(String name, String what, ModelConfig config, int steps) {}

    /** A trained variant: curves, cost, and for sparse ones the expert load of each step [step][sparse layer][expert]. */
    public record Outcome(Variant variant, int[] evalSteps, double[] evalLoss, double[] trainLoss, double seconds, long parameters,
                          long active, double flopsPerToken, long memoryBytes, double[][][] load, double[] aux, double[] z,
                          long dropped) {
        public double finalValLoss() { return evalLoss.length == 0 ? Double.NaN : evalLoss[evalLoss.length - 1]; }
        public double tokensPerSecond(TrainConfig tc) { return (double) variant.steps() * tc.batch() * tc.seq() / seconds; }
        public double trainingFlops(TrainConfig tc) { return flopsPerToken * variant.steps() * tc.batch() * tc.seq(); }
        /** Layer l's largest expert share at the last step (1/E balanced; 1/k when every row picks the same k). */
        public double finalMaxShare(int l) { double m = 0; for (double v : load[load.length - 1][l]) m = Math.max(m, v); return m; }
        /** exp(entropy) of layer l's load at the last step: E when balanced, k when collapsed onto k experts. */
        public double finalEffectiveExperts(int l) { return effective(load[load.length - 1][l]); }
    }

    static double effective(double[] share) {
        double h = 0;
        for (double v : share) if (v > 0) h -= v * Math.log(v);
        return Math.exp(h);
    }

    /** Progress callbacks; all optional. */
    public interface Listener {
        default void variant(int index, int count, Variant v, boolean reused) {}
        default void step(Variant v, Trainer.Progress p) {}
    }

    /** The dense model a token computes as much with: one MLP as wide as its k experts together. */
    public static ModelConfig denseTwin(ModelConfig moe) {
        return moe.toBuilder().numExperts(0).expertsPerToken(0).moeEvery(1).routerAuxLossCoef(0).routerZLossCoef(0).capacityFactor(null)
                .normTopkProb(true).intermediateSize(moe.intermediateSize() * moe.expertsPerToken()).build();
    }

    /** The dense model of the sparse one's total size: one MLP as wide as all its experts. */
    public static ModelConfig denseTotal(ModelConfig moe) {
        return denseTwin(moe).toBuilder().intermediateSize(moe.intermediateSize() * moe.numExperts()).build();
    }

    /** Trains (or reuses) the seven variants under out/runs, in order (the later ones' budgets come from the first two). */
    public static List<Outcome> run(Dataset data, Settings s, Path out, Listener listener, KernelSet kernels) {
        if (!s.moe().moe()) throw new LaminaException("the MoE experiment needs a sparse model (num_experts > 0)");
        if (listener == null) listener = new Listener() {};
        ModelConfig moe = s.moe();
        int steps = s.train().steps(), T = s.train().seq();
        List<Outcome> outcomes = new ArrayList<>();
        String shape = moe.numExperts() + " experts, " + moe.expertsPerToken() + " per token";
        Outcome sparse = train(new Variant("moe", shape + ", aux " + moe.routerAuxLossCoef() + ", z " + moe.routerZLossCoef(), moe, steps),
                data, s, out, listener, 1, kernels);
        outcomes.add(sparse);
        ModelConfig twin = denseTwin(moe), total = denseTotal(moe);
        Outcome dense = train(new Variant("dense", "equal active parameters: ff " + twin.intermediateSize() + ", same steps", twin, steps),
                data, s, out, listener, 2, kernels);
        outcomes.add(dense);
        double bigFlops = Trainer.flopsPerToken(new Decoder(total, Decoder.layout(total).build()), T);
        int flopsSteps = Math.max(1, (int) Math.round(steps * sparse.flopsPerToken() / bigFlops));
        outcomes.add(train(new Variant("dense-total", "the MoE's total parameters (ff " + total.intermediateSize()
                + "), equal training FLOPs: " + flopsSteps + " steps", total, flopsSteps), data, s, out, listener, 3, kernels));
        int timeSteps = Math.max(1, (int) Math.round(steps * sparse.seconds() / dense.seconds()));
        outcomes.add(train(new Variant("dense-time", "equal active parameters, the MoE's wall-clock time: " + timeSteps + " steps",
                twin, timeSteps), data, s, out, listener, 4, kernels));
        double aux = moe.routerAuxLossCoef(), z = moe.routerZLossCoef();
        outcomes.add(train(new Variant("moe-no-aux", shape + ", aux 0, z " + z, moe.toBuilder().routerAuxLossCoef(0).build(), steps),
                data, s, out, listener, 5, kernels));
        outcomes.add(train(new Variant("moe-no-z", shape + ", aux " + aux + ", z 0", moe.toBuilder().routerZLossCoef(0).build(), steps),
                data, s, out, listener, 6, kernels));
        outcomes.add(train(new Variant("moe-neither", shape + ", aux 0, z 0", moe.toBuilder().routerAuxLossCoef(0).routerZLossCoef(0).build(),
                steps), data, s, out, listener, 7, kernels));
        return outcomes;
    }

    private static Outcome train(Variant v, Dataset data, Settings s, Path out, Listener listener, int index, KernelSet kernels) {
        Path run = out.resolve("runs").resolve(v.name());
        TrainConfig base = s.train();
        TrainConfig tc = TrainConfig.builder(v.steps(), base.batch(), base.seq()).lr(base.lr()).warmup(Math.max(1, v.steps() / 10))
                .seed(base.seed()).evalEvery(Math.max(1, v.steps() / 10)).evalBatches(base.evalBatches()).build();
        boolean reuse = Files.isRegularFile(run.resolve("variant.json")) && Checkpoint.hasTrainingState(run)
                && Checkpoint.readState(run).step() == v.steps() && configMatches(run, v.config());
        listener.variant(index, 7, v, reuse);
        Decoder model = Decoder.create(v.config(), base.seed(), kernels);
        double flopsPerToken = Trainer.flopsPerToken(model, base.seq());
        if (!reuse) {
            Trainer t = Trainer.start(model, data, data.dir().toString(), tc, run);
            double[] stepSeconds = new double[v.steps()];
            t.train(v.steps(), p -> {
                stepSeconds[p.step() - 1] = (double) base.batch() * base.seq() / p.tokensPerSec();
                listener.step(v, p);
            });
            double[] sorted = stepSeconds.clone();       // the median step: neither the JIT's warm-up nor the evaluations
            java.util.Arrays.sort(sorted);
            double seconds = sorted[sorted.length / 2] * v.steps();
            long memory = 16L * model.params().count() + t.activationBytes();   // parameters, gradients, AdamW's two moments, activations
            ObjectNode o = Json.MAPPER.createObjectNode().put("seconds", seconds).put("memory_bytes", memory).put("steps", v.steps());
            AtomicFiles.writeString(run.resolve("variant.json"), Json.MAPPER.writeValueAsString(o));
        }
        JsonNode info = read(run.resolve("variant.json"));
        return collect(v, run, info.get("seconds").doubleValue(), info.get("memory_bytes").longValue(), model, flopsPerToken);
    }

    private static boolean configMatches(Path run, ModelConfig mc) {
        try { return ModelConfig.read(run.resolve(Checkpoint.CONFIG)).equals(mc); } catch (LaminaException e) { return false; }
    }

    private static JsonNode read(Path f) {
        try {
            return Json.MAPPER.readTree(Files.readString(f));
        } catch (IOException e) {
            throw new LaminaException(f + ": unreadable (" + e.getMessage() + "); delete the run to train it again");
        }
    }

    private static Outcome collect(Variant v, Path run, double seconds, long memory, Decoder model, double flopsPerToken) {
        List<Integer> steps = new ArrayList<>();
        List<Double> val = new ArrayList<>(), train = new ArrayList<>(), aux = new ArrayList<>(), z = new ArrayList<>();
        List<double[][]> load = new ArrayList<>();
        long dropped = 0;
        for (JsonNode o : Checkpoint.readMetrics(run)) {
            train.add(o.get("loss").doubleValue());
            if (o.has("val_loss")) { steps.add(o.get("step").intValue()); val.add(o.get("val_loss").doubleValue()); }
            if (!o.has("expert_load")) continue;
            JsonNode layers = o.get("expert_load");
            double[][] l = new double[layers.size()][];
            for (int i = 0; i < l.length; i++) {
                l[i] = new double[layers.get(i).size()];
                for (int e = 0; e < l[i].length; e++) l[i][e] = layers.get(i).get(e).doubleValue();
            }
            load.add(l);
            aux.add(o.get("aux_loss").doubleValue());
            z.add(o.get("z_loss").doubleValue());
            dropped += o.get("dropped").longValue();
        }
        ModelConfig c = v.config();
        return new Outcome(v, steps.stream().mapToInt(Integer::intValue).toArray(), val.stream().mapToDouble(Double::doubleValue).toArray(),
                train.stream().mapToDouble(Double::doubleValue).toArray(), seconds, c.parameterCount(), c.activeParameterCount(),
                flopsPerToken, memory, load.toArray(double[][][]::new), aux.stream().mapToDouble(Double::doubleValue).toArray(),
                z.stream().mapToDouble(Double::doubleValue).toArray(), dropped);
    }

    // ---- report ------------------------------------------------------------------------------

    /** Writes OUT/report.md and its figures (through plotter). */
    public static void writeReport(Settings s, List<Outcome> outcomes, Path out, String setup, Figure.Plotter plotter) {
        TrainConfig tc = s.train();
        List<Figure> figures = new ArrayList<>();
        List<Figure.Series> byFlops = new ArrayList<>(), byTime = new ArrayList<>();
        for (Outcome o : outcomes) {
            double[] x = new double[o.evalSteps().length], t = new double[x.length], ppl = new double[x.length];
            double perStep = o.seconds() / o.variant().steps();
            for (int i = 0; i < x.length; i++) {
                x[i] = o.flopsPerToken() * o.evalSteps()[i] * tc.batch() * tc.seq() / 1e12;
                t[i] = perStep * o.evalSteps()[i];
                ppl[i] = Math.exp(o.evalLoss()[i]);
            }
            byFlops.add(new Figure.Series(o.variant().name(), x, ppl));
            byTime.add(new Figure.Series(o.variant().name(), t, ppl));
        }
        figures.add(new Figure.Lines("val_ppl_by_flops", "Validation perplexity by training compute", "training TFLOP", "perplexity", byFlops, true, true));
        figures.add(new Figure.Lines("val_ppl_by_time", "Validation perplexity by wall-clock time", "seconds", "perplexity", byTime, true, true));
        List<Outcome> sparse = outcomes.stream().filter(o -> o.load().length > 0).toList();
        var effective = Figure.bars();
        for (Outcome o : sparse) {
            int layers = o.load()[0].length;
            List<Figure.Series> max = new ArrayList<>();
            for (int l = 0; l < layers; l++) {
                double[] y = new double[o.load().length], x = new double[y.length];
                for (int i = 0; i < y.length; i++) {
                    x[i] = i + 1;
                    for (double v : o.load()[i][l]) y[i] = Math.max(y[i], v);
                }
                max.add(new Figure.Series("layer " + l, x, LayerDiagnostics.smooth(y, 10)));
            }
            figures.add(new Figure.Lines("expert_load_" + o.variant().name(), o.variant().name() + ": largest expert share per layer (1/"
                    + s.moe().numExperts() + " balanced, 1/" + s.moe().expertsPerToken() + " collapsed)", "step", "largest share of top-k picks",
                    max, false, false));
            double[] eff = new double[layers];
            for (int l = 0; l < layers; l++) eff[l] = o.finalEffectiveExperts(l);
            effective.put(o.variant().name(), eff);
        }
        if (!sparse.isEmpty())
            figures.add(new Figure.Bars("effective_experts", "Effective experts per layer at the end (exp of the load's entropy)", "sparse layer",
                    "experts", effective));
        plotter.drawAll(out, figures);

        StringBuilder r = new StringBuilder(setup).append("\n\n## Dense against sparse\n\n");
        r.append("| variant | model | parameters (active) | steps | training TFLOP | training s | tok/s | training memory MB | val perplexity |\n");
        r.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (Outcome o : outcomes)
            r.append(String.format(Locale.ROOT, "| %s | %s | %.2fM (%.2fM) | %d | %.2f | %.0f | %.0f | %.0f | %.2f |%n", o.variant().name(),
                    o.variant().what(), o.parameters() / 1e6, o.active() / 1e6, o.variant().steps(), o.trainingFlops(tc) / 1e12, o.seconds(),
                    o.tokensPerSecond(tc), o.memoryBytes() / 1e6, Math.exp(o.finalValLoss())));
        r.append("\nTraining seconds: the median step's time × steps (the first run's JIT warm-up and the evaluations left out); ")
                .append("training memory: parameters, gradients and AdamW's two moments (16 bytes a parameter) plus the tape's activations.\n");
        r.append("\n![](val_ppl_by_flops.png)\n\n![](val_ppl_by_time.png)\n\n## Routing: balance and the router losses\n\n");
        r.append("Load = each expert's share of a layer's top-k picks in the step's batch; balanced is 1/E each (effective experts E), ")
                .append("and a layer whose rows all pick the same k experts has a largest share of 1/k (effective experts k).\n\n");
        r.append("| variant | aux loss (final) | z-loss (final) | largest share per layer (final) | effective experts per layer (final) | tokens dropped |\n");
        r.append("| --- | ---: | ---: | --- | --- | ---: |\n");
        for (Outcome o : sparse) {
            StringBuilder max = new StringBuilder(), eff = new StringBuilder();
            for (int l = 0; l < o.load()[0].length; l++) {
                max.append(l == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.2f", o.finalMaxShare(l)));
                eff.append(l == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.1f", o.finalEffectiveExperts(l)));
            }
            r.append(String.format(Locale.ROOT, "| %s | %.3f | %.2f | %s | %s | %d |%n", o.variant().name(), mean(o.aux(), 20), mean(o.z(), 20),
                    max, eff, o.dropped()));
        }
        r.append("\n(aux and z: means over the last 20 steps.)\n\n![](effective_experts.png)\n\n");
        for (Outcome o : sparse) r.append("![](expert_load_").append(o.variant().name()).append(".png)\n\n");
        AtomicFiles.writeString(out.resolve("report.md"), r.toString());
    }

    private static double mean(double[] v, int last) {
        double s = 0;
        int n = Math.min(last, v.length);
        for (int i = v.length - n; i < v.length; i++) s += v[i];
        return n == 0 ? Double.NaN : s / n;
    }
}
