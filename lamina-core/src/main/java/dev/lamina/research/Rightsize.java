package dev.lamina.research;

import dev.lamina.data.Dataset;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.train.Batcher;
import dev.lamina.train.Checkpoint;
import dev.lamina.train.Distillation;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * The smallest model that matches a reference: from one trained reference it builds candidates of
 * each size (a share of the reference's layers, or for width pruning the same share of its layer
 * parameters), trains every one on the same number of tokens, and reports which is the smallest whose
 * validation loss comes within the tolerance of the reference's. Five families:
 *
 * <ul>
 *   <li>{@code inheritune}: the reference's first layers (with its embeddings and head), trained on the data;</li>
 *   <li>{@code layer-pruned}: the block of layers angular distance flags removed, healed by distillation from the reference;</li>
 *   <li>{@code width-pruned}: heads and MLP channels removed by activation (all layers kept), healed by distillation;</li>
 *   <li>{@code distilled}: the layer-pruned shape from a fresh initialisation, distilled;</li>
 *   <li>{@code scratch}: the same shape from a fresh initialisation, trained on the data alone.</li>
 * </ul>
 *
 * Beside them it measures what the diagnostics predicted: for each size, the validation loss with every
 * block of that many layers removed, against the block angular distance picks. Every candidate is a
 * normal run directory (OUT/candidates/NAME), reused when already complete.
 */
public final class Rightsize {
    private Rightsize() {}

    public enum Family {
        INHERITUNE("inheritune", "first layers, trained"),
        LAYER_PRUNED("layer-pruned", "angular block removed, distilled"),
        WIDTH_PRUNED("width-pruned", "heads and MLP channels removed, distilled"),
        DISTILLED("distilled", "layer-pruned shape from scratch, distilled"),
        SCRATCH("scratch", "layer-pruned shape from scratch, trained"),
        /** The control: the reference itself trained on the budget too (how much of a healed candidate's gain is the extra tokens). */
        CONTINUED("reference-continued", "control: the reference trained on the budget too");

        public final String id, what;

        Family(String id, String what) { this.id = id; this.what = what; }
    }

    /**
     * @param train      the recipe of every candidate: steps = the token budget / (batch·seq)
     * @param sizes      shares of the reference's layers kept, each in (0, 1)
     * @param tolerance  a candidate matches when its val loss ≤ the reference's · (1 + tolerance)
     * @param evalBatches fixed validation batches every model is scored on
     */
    public record Settings(TrainConfig train, double[] sizes, double tolerance, double alpha, double tau, int evalBatches, boolean speed) {
        public long budget() { return (long) train.steps() * train.batch() * train.seq(); }
    }

    /** A scored model of `layers` layers: family null for the reference; unhealed is the val loss right after pruning (NaN for the others). */
    public record Outcome(String name, Family family, int layers, String shape, double valLoss, double unhealed, double seconds,
                          ModelCost cost, String command) {}

    /** For one size: the val loss with each block of `dropped` layers removed (by its first layer), and the block angular distance picks. */
    public record Prediction(int dropped, double[] angular, double[] lossWithout, int angularPick) {
        public int measuredBest() {
            int b = 0;
            for (int l = 1; l < lossWithout.length; l++) if (lossWithout[l] < lossWithout[b]) b = l;
            return b;
        }

        /** 1 when angular distance picked the block whose removal costs least, 2 for the second, ... */
        public int pickRank() {
            int r = 1;
            for (double v : lossWithout) if (v < lossWithout[angularPick]) r++;
            return r;
        }
    }

    public record Result(Outcome reference, List<Outcome> candidates, List<Prediction> predictions, Outcome smallest) {}

    public interface Listener {
        default void candidate(int index, int count, String name, String what, int steps, boolean reused) {}
        default void step(String name, Trainer.Progress p) {}
        default void note(String line) {}
    }

    /** How to write the reproducing commands: the reference, data and candidate paths as the user gave them. */
    public record Paths(Path reference, Path data, Path out) {}

    public static Result run(Decoder reference, Tokenizer referenceTokens, Dataset data, Settings s, Paths paths, Listener listener) {
        ModelConfig rc = reference.config();
        int L = rc.numHiddenLayers();
        TrainConfig tc = s.train();
        int B = tc.batch(), T = tc.seq();
        if (T > Math.min(rc.maxPositionEmbeddings(), rc.contextLimit()))
            throw LaminaException.field("seq", "seq " + T + " exceeds the reference's context " + Math.min(rc.maxPositionEmbeddings(), rc.contextLimit()));
        Distillation.of(reference, referenceTokens, data.tokenizer(), rc.vocabSize(), s.alpha(), s.tau());     // refuses another tokenizer early
        int[] keep = new int[s.sizes().length];
        for (int i = 0; i < keep.length; i++) {
            keep[i] = (int) Math.rint(L * s.sizes()[i]);
            if (keep[i] < 1 || keep[i] >= L)
                throw LaminaException.field("sizes", "size " + s.sizes()[i] + " keeps " + keep[i] + " of the reference's " + L + " layers; choose shares that keep between 1 and " + (L - 1));
        }
        keep = Arrays.stream(keep).distinct().sorted().toArray();
        double refLoss = Trainer.evaluate(reference, data.val(), B, T, s.evalBatches());
        listener.note(String.format(Locale.ROOT, "reference: %d layers, %,d parameters, val loss %.4f", L, reference.parameterCount(), refLoss));
        Outcome ref = new Outcome("reference", null, L, shape(rc), refLoss, Double.NaN, Double.NaN, ModelCost.of(reference), "");

        // what the diagnostics predicted, against what removing each block measures
        int[] ids = new int[B * T], tg = new int[B * T];
        Batcher.fixed(data.val(), 0, 1, B, T, ids, tg);
        double[][] angular = LayerDiagnostics.hidden(Pruning.states(reference, ids, B, T), rc.hiddenSize()).angular();
        Pruning.Activations acts = Pruning.activations(reference, data.val(), B, T, Math.max(1, s.evalBatches() / 4));
        List<Prediction> predictions = new ArrayList<>();
        for (int n : keep) {
            int drop = L - n;
            double[] d = new double[L - drop + 1], loss = new double[d.length];
            for (int l = 0; l < d.length; l++) {
                int from = l;
                d[l] = angular[l][drop];
                loss[l] = LayerDiagnostics.loss(reference, data.val(), B, T, s.evalBatches(), k -> k >= from && k < from + drop);
            }
            predictions.add(new Prediction(drop, d, loss, Pruning.blockByAngle(angular, drop)[0]));
        }

        List<Candidate> plan = new ArrayList<>();
        for (int i = 0; i < keep.length; i++) {
            int n = keep[i], drop = L - n;
            Prediction pr = predictions.get(i);
            String tag = "-" + n + "of" + L;
            int[] last = new int[drop], block = new int[drop];
            for (int k = 0; k < drop; k++) { last[k] = n + k; block[k] = pr.angularPick() + k; }
            String prune = "lamina prune --model " + paths.reference() + " --data " + paths.data() + " --out PRUNED ";
            plan.add(new Candidate(Family.INHERITUNE.id + tag, Family.INHERITUNE, n, () -> Pruning.dropLayers(reference, last), false,
                    prune + "--drop-layers " + drop + " --by last && lamina train --init PRUNED"));
            plan.add(new Candidate(Family.LAYER_PRUNED.id + tag, Family.LAYER_PRUNED, n, () -> Pruning.dropLayers(reference, block), true,
                    prune + "--drop-layers " + drop + " --by angular && lamina distill --student PRUNED"));
            double[] fr = widthFractions(rc, (double) n / L);
            plan.add(new Candidate(Family.WIDTH_PRUNED.id + tag, Family.WIDTH_PRUNED, n, () -> Pruning.width(reference,
                    fr[0] > 0 ? Pruning.keptHeads(acts.heads(), rc.numAttentionHeads(), rc.numKeyValueHeads(), fr[0]) : null,
                    fr[1] > 0 ? Pruning.keptChannels(acts.channels(), rc.intermediateSize(), fr[1]) : null), true,
                    prune + (fr[0] > 0 ? "--heads " + fmt(fr[0]) + " " : "") + (fr[1] > 0 ? "--mlp " + fmt(fr[1]) : "") + " && lamina distill --student PRUNED"));
            ModelConfig small = rc.withLayers(n);
            plan.add(new Candidate(Family.DISTILLED.id + tag, Family.DISTILLED, n, () -> Decoder.create(small, tc.seed(), reference.kernels()), true,
                    "lamina distill --config CONFIG"));
            plan.add(new Candidate(Family.SCRATCH.id + tag, Family.SCRATCH, n, () -> Decoder.create(small, tc.seed(), reference.kernels()), false,
                    "lamina train --config CONFIG"));
        }

        plan.add(new Candidate(Family.CONTINUED.id, Family.CONTINUED, L, () -> copy(reference), false,
                "lamina train --init " + paths.reference()));
        List<Outcome> outcomes = new ArrayList<>();
        for (int i = 0; i < plan.size(); i++) {
            Candidate c = plan.get(i);
            outcomes.add(train(c, reference, referenceTokens, data, s, paths, listener, i + 1, plan.size()));
        }
        if (s.speed()) {                    // one pass at the end, the reference first, so every model is timed in the same conditions
            listener.note("measuring prefill and decode speed of the reference and the " + outcomes.size() + " candidates");
            ref = withCost(ref, ModelCost.timed(warm(reference)));
            for (int i = 0; i < outcomes.size(); i++) {
                Outcome o = outcomes.get(i);
                outcomes.set(i, withCost(o, ModelCost.timed(Checkpoint.loadModel(paths.out().resolve("candidates").resolve(o.name())).withKernels(reference.kernels()))));
            }
        }
        double limit = refLoss * (1 + s.tolerance());
        Outcome smallest = outcomes.stream().filter(o -> o.family() != Family.CONTINUED && o.valLoss() <= limit)
                .min(Comparator.comparingLong((Outcome o) -> o.cost().parameters()).thenComparingDouble(Outcome::valLoss)).orElse(null);
        return new Result(ref, List.copyOf(outcomes), predictions, smallest);
    }

    /** A candidate to build (make) and train, with or without the reference as teacher; command: how the CLI does the same. */
    private record Candidate(String name, Family family, int layers, java.util.function.Supplier<Decoder> make, boolean distill, String command) {}

    private static Outcome train(Candidate c, Decoder reference, Tokenizer referenceTokens, Dataset data, Settings s, Paths paths,
                                 Listener listener, int index, int count) {
        Path run = paths.out().resolve("candidates").resolve(c.name());
        Path record = run.resolve("candidate.json");
        TrainConfig tc = s.train();
        boolean reuse = Files.isRegularFile(record) && Checkpoint.hasTrainingState(run) && Checkpoint.readState(run).step() == tc.steps();
        listener.candidate(index, count, c.name(), c.family().what, tc.steps(), reuse);
        if (!reuse) {
            Decoder model = c.make().get();
            double unhealed = c.family() == Family.DISTILLED || c.family() == Family.SCRATCH || c.family() == Family.CONTINUED ? Double.NaN
                    : Trainer.evaluate(model, data.val(), tc.batch(), tc.seq(), s.evalBatches());
            Trainer t = Trainer.start(model, data, data.dir().toString(), tc, run);
            if (c.distill()) t.distilling(Distillation.of(reference, referenceTokens, data.tokenizer(), model.config().vocabSize(), s.alpha(), s.tau()));
            double[] stepSeconds = new double[tc.steps()];
            t.train(tc.steps(), p -> {
                stepSeconds[p.step() - 1] = (double) tc.batch() * tc.seq() / p.tokensPerSec();
                listener.step(c.name(), p);
            });
            double[] sorted = stepSeconds.clone();         // the median step: neither the JIT's warm-up nor the evaluations
            Arrays.sort(sorted);
            double val = Trainer.evaluate(model, data.val(), tc.batch(), tc.seq(), s.evalBatches());
            ModelCost cost = ModelCost.of(model);
            String cmd = command(c, paths, s, run);
            ObjectNode o = Json.MAPPER.createObjectNode().put("name", c.name()).put("family", c.family().id).put("layers", c.layers())
                    .put("shape", shape(model.config())).put("val_loss", val).put("seconds", sorted[sorted.length / 2] * tc.steps()).put("command", cmd);
            if (!Double.isNaN(unhealed)) o.put("unhealed_val_loss", unhealed);
            o.set("cost", cost.json());
            AtomicFiles.writeString(record, o.toPrettyString());
        }
        JsonNode j = read(record);
        JsonNode cost = j.get("cost");
        ModelCost mc = new ModelCost(cost.get("parameters").asLong(), cost.get("weight_bytes").asLong(), cost.get("kv_cache_bytes_per_token").asLong(),
                cost.has("prefill_tokens_per_s") ? cost.get("prefill_tokens_per_s").asDouble() : Double.NaN,
                cost.has("decode_tokens_per_s") ? cost.get("decode_tokens_per_s").asDouble() : Double.NaN);
        return new Outcome(c.name(), c.family(), c.layers(), j.get("shape").asString(), j.get("val_loss").asDouble(),
                j.has("unhealed_val_loss") ? j.get("unhealed_val_loss").asDouble() : Double.NaN, j.get("seconds").asDouble(), mc, j.get("command").asString());
    }

    /** The command line that builds and trains this candidate on its own. */
    private static String command(Candidate c, Paths paths, Settings s, Path run) {
        TrainConfig tc = s.train();
        String recipe = String.format(Locale.ROOT, " --data %s --out RUN --steps %d --batch %d --seq %d --lr %s --seed %d", paths.data(), tc.steps(),
                tc.batch(), tc.seq(), tc.lr(), tc.seed());
        String teacher = c.distill() ? String.format(Locale.ROOT, " --teacher %s --alpha %s --temperature %s", paths.reference(), s.alpha(), s.tau()) : "";
        return c.command().replace("PRUNED", run + "-pruned").replace("CONFIG", run.resolve(Checkpoint.CONFIG).toString()) + recipe + teacher;
    }

    /**
     * The heads and MLP fractions that leave all layers with keptShare of their parameters (what the
     * layer-pruned candidate of the same size keeps): heads first, in the steps GQA allows (a multiple
     * of 1/group, none when that would remove too much), the MLP taking up the rest.
     */
    static double[] widthFractions(ModelConfig c, double keptShare) {
        int H = c.numAttentionHeads(), KV = c.numKeyValueHeads(), g = H / KV, hd = c.headDim(), d = c.hiddenSize(), ff = c.intermediateSize();
        int maps = c.activation() == ModelConfig.Activation.GELU ? 2 : 3;
        Function<Integer, Double> attn = h -> (double) d * hd * (2.0 * h + 2.0 * (g == 1 ? h : KV));
        double full = attn.apply(H) + (double) maps * d * ff, target = keptShare * full;
        double removed = 1 - keptShare;
        double heads = g == 1 ? Math.floor(H * removed) / H : Math.floor(g * removed + 1e-9) / g;
        if (heads >= 1) heads = g == 1 ? (H - 1.0) / H : (g - 1.0) / g;
        double attnKept = attn.apply((int) Math.rint(H * (1 - heads)));
        int ffKept = (int) Math.max(1, Math.min(ff, Math.rint((target - attnKept) / (maps * d))));
        return new double[] {heads, ff == ffKept ? 0 : (double) (ff - ffKept) / ff};
    }

    private static Outcome withCost(Outcome o, ModelCost c) {
        return new Outcome(o.name(), o.family(), o.layers(), o.shape(), o.valLoss(), o.unhealed(), o.seconds(), c, o.command());
    }

    private static Decoder copy(Decoder m) {
        dev.lamina.model.Parameters p = Decoder.layout(m.config()).build();
        p.copyFrom(m.params());
        return new Decoder(m.config(), p, m.kernels());
    }

    private static Decoder warm(Decoder m) {
        ModelCost.timed(m);             // a first run compiles the kernels
        return m;
    }

    /** "12 layers, 8 heads (4 KV), MLP 688". */
    public static String shape(ModelConfig c) {
        return String.format(Locale.ROOT, "%d layers, %d heads (%d KV), MLP %d", c.numHiddenLayers(), c.numAttentionHeads(), c.numKeyValueHeads(), c.intermediateSize());
    }

    private static String fmt(double v) { return String.format(Locale.ROOT, "%.6g", v); }

    private static JsonNode read(Path f) {
        try {
            return Json.MAPPER.readTree(Files.readString(f));
        } catch (IOException e) {
            throw new LaminaException(f + ": unreadable (" + e.getMessage() + "); delete the candidate's directory to train it again");
        }
    }

    // ---- report --------------------------------------------------------------------------------

    /** OUT/rightsize.md, OUT/rightsize.json and the figures (through plotter): the table, the smallest match, predictions against measurements. */
    public static String writeReport(Result r, Settings s, Path out, String setup, Figure.Plotter plotter) {
        Outcome ref = r.reference();
        double limit = ref.valLoss() * (1 + s.tolerance());
        StringBuilder md = new StringBuilder(setup).append("\n\n");
        if (r.smallest() != null) {
            Outcome w = r.smallest();
            md.append(String.format(Locale.ROOT, "**Smallest within %s of the reference's validation loss (%.4f, so at most %.4f): `%s`**, "
                            + "%,d parameters (%.0f%% of the reference's), val loss %.4f, decode %s tok/s against %s.%n%nReproduce it:%n%n```%n%s%n```%n%n",
                    pct(s.tolerance()), ref.valLoss(), limit, w.name(), w.cost().parameters(), 100.0 * w.cost().parameters() / ref.cost().parameters(),
                    w.valLoss(), tps(w.cost().decode()), tps(ref.cost().decode()), w.command()));
        } else md.append(String.format(Locale.ROOT, "**No candidate came within %s of the reference's validation loss (%.4f, so at most %.4f)** "
                + "at this budget; the closest is listed first below. Give a larger --budget or --tolerance.%n%n", pct(s.tolerance()), ref.valLoss(), limit));
        Outcome control = r.candidates().stream().filter(o -> o.family() == Family.CONTINUED).findFirst().orElse(null);
        if (control != null)
            md.append(String.format(Locale.ROOT, "The control, the reference itself trained on the same %,d tokens, reaches %.4f: a healed candidate "
                    + "starts from the reference's training and adds the budget to it, so compare it with this row as well as with the reference.%n%n",
                    s.budget(), control.valLoss()));
        md.append("| candidate | how | shape | parameters | weights MB | KV KB/token | prefill tok/s | decode tok/s | val loss after pruning | val loss | vs reference | within |\n");
        md.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |\n");
        md.append(row(ref, "trained reference", ref.valLoss(), limit));
        List<Outcome> sorted = new ArrayList<>(r.candidates());
        sorted.sort(Comparator.comparingDouble(Outcome::valLoss));
        for (Outcome o : sorted) md.append(row(o, o.family().what, ref.valLoss(), limit));
        md.append("\n![val loss against parameters](loss_vs_parameters.png)\n\n");

        md.append("## What the diagnostics predicted, and what removing each block measured\n\n");
        md.append("For each size, every block of that many consecutive layers was removed from the reference in turn (no healing) and the "
                + "validation loss measured; angular distance (Gromov et al.: the block whose input and output are closest) picks one without measuring.\n\n");
        md.append("| layers removed | angular pick | its val loss | best block measured | its val loss | rank of the pick | deepest block (Inheritune's cut) val loss |\n");
        md.append("| ---: | --- | ---: | --- | ---: | ---: | ---: |\n");
        for (Prediction p : r.predictions()) {
            int best = p.measuredBest(), deep = p.lossWithout().length - 1;
            md.append(String.format(Locale.ROOT, "| %d | %s | %.4f | %s | %.4f | %d of %d | %.4f |%n", p.dropped(), span(p.angularPick(), p.dropped()),
                    p.lossWithout()[p.angularPick()], span(best, p.dropped()), p.lossWithout()[best], p.pickRank(), p.lossWithout().length, p.lossWithout()[deep]));
        }
        md.append("\n![val loss with each block removed](block_removal.png)\n");

        List<Figure> figures = new ArrayList<>();
        List<Figure.Series> series = new ArrayList<>();
        for (Family f : Family.values()) {
            List<Outcome> fo = r.candidates().stream().filter(o -> o.family() == f).sorted(Comparator.comparingLong(o -> o.cost().parameters())).toList();
            if (!fo.isEmpty()) series.add(new Figure.Series(f.id, fo.stream().mapToDouble(o -> o.cost().parameters() / 1e6).toArray(),
                    fo.stream().mapToDouble(Outcome::valLoss).toArray()));
        }
        List<Outcome> front = pareto(r.candidates(), ref);
        series.add(new Figure.Series("Pareto front", front.stream().mapToDouble(o -> o.cost().parameters() / 1e6).toArray(),
                front.stream().mapToDouble(Outcome::valLoss).toArray()));
        series.add(new Figure.Series("reference", new double[] {ref.cost().parameters() / 1e6}, new double[] {ref.valLoss()}));
        series.add(new Figure.Series(String.format(Locale.ROOT, "reference + %s", pct(s.tolerance())), new double[] {0, ref.cost().parameters() / 1e6},
                new double[] {limit, limit}));
        figures.add(new Figure.Lines("loss_vs_parameters", "Validation loss against parameters (equal training tokens)", "parameters (M)", "val loss",
                series, false, true));
        List<Figure.Series> blocks = new ArrayList<>();
        for (Prediction p : r.predictions()) {
            double[] x = new double[p.lossWithout().length];
            for (int l = 0; l < x.length; l++) x[l] = l;
            blocks.add(new Figure.Series(p.dropped() + " layers removed", x, p.lossWithout()));
        }
        figures.add(new Figure.Lines("block_removal", "Val loss with a block of layers removed (unhealed), by its first layer", "first layer of the block",
                "val loss", blocks, false, true));
        plotter.drawAll(out, figures);
        AtomicFiles.writeString(out.resolve("rightsize.md"), md.toString());
        AtomicFiles.writeString(out.resolve("rightsize.json"), json(r, s).toPrettyString());
        return md.toString();
    }

    /** The candidates no other beats on both parameters and val loss, by parameters, with the reference. */
    static List<Outcome> pareto(List<Outcome> candidates, Outcome ref) {
        List<Outcome> all = new ArrayList<>(candidates.stream().filter(o -> o.family() != Family.CONTINUED).toList());
        all.add(ref);
        all.sort(Comparator.comparingLong((Outcome o) -> o.cost().parameters()).thenComparingDouble(Outcome::valLoss));
        List<Outcome> front = new ArrayList<>();
        double best = Double.POSITIVE_INFINITY;
        for (Outcome o : all) if (o.valLoss() < best) { front.add(o); best = o.valLoss(); }
        return front;
    }

    private static ObjectNode json(Result r, Settings s) {
        ObjectNode j = Json.MAPPER.createObjectNode().put("budget_tokens", s.budget()).put("tolerance", s.tolerance())
                .put("reference_val_loss", r.reference().valLoss()).put("smallest", r.smallest() == null ? null : r.smallest().name());
        j.set("reference", outcome(r.reference()));
        ArrayNode cs = j.putArray("candidates");
        for (Outcome o : r.candidates()) cs.add(outcome(o));
        ArrayNode ps = j.putArray("block_removal");
        for (Prediction p : r.predictions()) {
            ObjectNode o = ps.addObject().put("dropped", p.dropped()).put("angular_pick", p.angularPick()).put("measured_best", p.measuredBest());
            o.set("angular_distance_by_start", Json.MAPPER.valueToTree(p.angular()));
            o.set("val_loss_by_start", Json.MAPPER.valueToTree(p.lossWithout()));
        }
        return j;
    }

    private static ObjectNode outcome(Outcome o) {
        ObjectNode j = Json.MAPPER.createObjectNode().put("name", o.name()).put("family", o.family() == null ? "reference" : o.family().id)
                .put("shape", o.shape()).put("val_loss", o.valLoss()).put("command", o.command());
        if (!Double.isNaN(o.unhealed())) j.put("unhealed_val_loss", o.unhealed());
        j.set("cost", o.cost().json());
        return j;
    }

    private static String row(Outcome o, String how, double refLoss, double limit) {
        ModelCost c = o.cost();
        return String.format(Locale.ROOT, "| %s | %s | %s | %,d | %.1f | %.1f | %s | %s | %s | %.4f | %+.2f%% | %s |%n", o.name(), how, o.shape(), c.parameters(),
                c.weightBytes() / 1e6, c.kvBytesPerToken() / 1024.0, tps(c.prefill()), tps(c.decode()),
                Double.isNaN(o.unhealed()) ? "-" : String.format(Locale.ROOT, "%.4f", o.unhealed()), o.valLoss(), 100 * (o.valLoss() / refLoss - 1),
                o.valLoss() <= limit ? "yes" : "no");
    }

    private static String tps(double v) { return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.0f", v); }

    private static String pct(double v) { return String.format(Locale.ROOT, "%.3g%%", 100 * v); }

    private static String span(int from, int n) { return n == 1 ? "layer " + from : "layers " + from + "-" + (from + n - 1); }
}
