package dev.lamina.research;

import dev.lamina.data.Dataset;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ModelConfig.Placement;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Parameters;
import dev.lamina.model.Role;
import dev.lamina.model.Role.Part;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.tokenizer.Tokenizers;
import dev.lamina.train.Batcher;
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
import java.util.EnumSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Inheritune (Sanyal et al., arXiv 2404.08634): a student made of the first n layers of a trained
 * k-layer reference (plus its embeddings and head) is trained on the same data; while its val loss
 * is worse than the reference's it grows by more of the reference's layers and trains again.
 *
 * <p>Rounds continue from the previous round's trained student: growing appends the reference's
 * next layers and keeps everything the student has learnt. The baseline is the final student's
 * size trained from scratch for the same total number of steps.
 *
 * <p>Placement: a student keeps the reference's leading Post-LN layers (Mix-LN). Since the config
 * derives the Post-LN count as floor(mix_alpha · L) from the current L, the student gets its own
 * alpha, chosen so the count comes out the same ({@link #studentConfig}).
 */
public final class Inheritune {
    private Inheritune() {}

    /** The parts named in csv (attn, mlp, norms, embeddings, head, positions, final-norm): which tensors a student takes from the reference. */
    public static Set<Part> parseParts(String csv) {
        Set<Part> s = EnumSet.noneOf(Part.class);
        for (String p : csv.split(",")) {
            if (p.isBlank()) continue;
            String t = p.trim().toUpperCase(Locale.ROOT).replace('-', '_');
            try {
                s.add(Part.valueOf(t));
            } catch (IllegalArgumentException e) {
                throw new LaminaException("unknown part '" + p.trim() + "' to inherit; use attn, mlp, norms, embeddings, head, positions, final-norm");
            }
        }
        return s;
    }

    /** The default: whole blocks, token and position embeddings and the head; the final norm starts fresh. */
    public static final Set<Part> DEFAULT_PARTS = EnumSet.of(Part.ATTN, Part.MLP, Part.NORMS, Part.EMBEDDINGS, Part.HEAD, Part.POSITIONS);

    /** The reference's config with `layers` layers and the same leading Post-LN layers (as many as fit). */
    public static ModelConfig studentConfig(ModelConfig ref, int layers) {
        if (layers < 1) throw LaminaException.field("layers", "layers must be >= 1, got " + layers);
        ModelConfig c = ref.withLayers(layers);
        if (ref.normPlacement() != Placement.MIX) return c;
        int post = Math.min(ref.postLayers(), layers);
        return c.withPlacement(Placement.MIX, alphaFor(post, layers), ref.layernormScaling());
    }

    /** The smallest alpha ≥ post/layers (in double) for which floor(alpha · layers) == post. */
    static double alphaFor(int post, int layers) {
        double a = (double) post / layers;
        while ((int) Math.floor(a * layers) < post) a = Math.nextUp(a);
        return Math.min(1, a);
    }

    /**
     * Checks that a student config can take whole tensors from the reference: every field but the
     * depth (and the mix alpha that encodes it) must match, and each shared layer must have the same
     * placement.
     */
    public static void checkCompatible(ModelConfig ref, ModelConfig student, String refSource) {
        ObjectNode a = ref.toJson(), b = student.toJson();
        List<String> diff = new ArrayList<>();
        for (Iterator<String> it = a.propertyNames().iterator(); it.hasNext(); ) {
            String k = it.next();
            if (k.equals("num_hidden_layers") || k.equals("mix_alpha") || k.equals("norm_placement")) continue;
            if (!a.get(k).equals(b.get(k))) diff.add(k + " " + a.get(k) + " vs " + b.get(k));
        }
        if (!diff.isEmpty())
            throw new LaminaException(refSource + ": reference config differs from the student's in " + String.join(", ", diff)
                    + "; Inheritune copies whole tensors, so only the number of layers may differ");
        int shared = Math.min(ref.numHiddenLayers(), student.numHiddenLayers());
        for (int l = 0; l < shared; l++)
            if (ref.isPostLn(l) != student.isPostLn(l))
                throw new LaminaException(refSource + ": layer " + l + " is " + (ref.isPostLn(l) ? "Post-LN" : "Pre-LN")
                        + " in the reference but not in the student; build the student with Inheritune.studentConfig");
    }

    /** A student of the reference's first `layers` layers with the chosen parts; the rest freshly initialised from seed. */
    public static Decoder inherit(Decoder ref, int layers, Set<Part> parts, long seed) {
        int k = ref.config().numHiddenLayers();
        if (layers > k) throw LaminaException.field("layers", "layers " + layers + " exceeds the reference's " + k + " layers");
        ModelConfig sc = studentConfig(ref.config(), layers);
        checkCompatible(ref.config(), sc, "reference");
        Decoder s = Decoder.create(sc, seed, ref.kernels());
        copy(ref.params(), s.params(), parts, 0, layers, true);
        return s;
    }

    /**
     * The student grown by `add` layers: its own tensors as they are, then the reference's layers
     * n..n+add-1 (the chosen parts; the rest fresh from seed).
     */
    public static Decoder grow(Decoder student, Decoder ref, int add, Set<Part> parts, long seed) {
        int n = student.config().numHiddenLayers(), k = ref.config().numHiddenLayers();
        if (add < 1) throw LaminaException.field("growBy", "growBy must be >= 1, got " + add);
        if (n + add > k) throw new LaminaException("cannot grow to " + (n + add) + " layers: the reference has " + k);
        checkCompatible(ref.config(), student.config(), "reference");
        ModelConfig gc = studentConfig(ref.config(), n + add);
        Decoder g = Decoder.create(gc, seed, student.kernels());
        for (Parameters.Slot s : student.params().slots().values()) g.params().value(s.name()).copyFrom(student.params().value(s.name()));
        copy(ref.params(), g.params(), parts, n, n + add, false);
        return g;
    }

    /** Copies the chosen layer parts of layers [from, to) and, when globals, the chosen non-layer tensors. */
    private static void copy(Parameters src, Parameters dst, Set<Part> parts, int from, int to, boolean globals) {
        boolean tied = !dst.has(ParamKey.of(Role.HEAD));
        for (Parameters.Slot s : dst.slots().values()) {
            int l = s.layer();
            if (l >= 0 ? l < from || l >= to : !globals) continue;
            Part p = s.role() == Role.EMBEDDING && tied && parts.contains(Part.HEAD) ? Part.HEAD : s.role().part();
            if (parts.contains(p)) dst.value(s.name()).copyFrom(src.value(s.name()));
        }
    }

    // ---- the procedure -----------------------------------------------------------------------

    /**
     * @param layers    first student size (0: half the reference's layers)
     * @param growBy    layers added per round
     * @param steps     training steps per round (0: the reference's)
     * @param maxRounds rounds at most
     * @param baseline  also train the final size from scratch for the same total steps
     */
    public record Settings(int layers, int growBy, int steps, int maxRounds, Set<Part> parts, boolean baseline) {
        public Settings {
            if (growBy < 1) throw LaminaException.field("growBy", "growBy must be >= 1, got " + growBy);
            if (maxRounds < 1) throw LaminaException.field("maxRounds", "maxRounds must be >= 1, got " + maxRounds);
            if (steps < 0) throw LaminaException.field("steps", "steps must be >= 1, got " + steps);
        }
    }

    /** One trained model: its size, how long it trained, its val loss; evalSteps/evalLoss from its metrics. */
    public record Round(String name, int layers, long params, int steps, double valLoss, Path run, int[] evalSteps, double[] evalLoss) {}

    public record Result(Path reference, ModelConfig refConfig, long refParams, int refSteps, double refValLoss,
                         LayerDiagnostics.Attention refAttention, int rankSeq, TrainConfig train, Set<Part> parts,
                         List<Round> rounds, Round baseline) {
        public boolean parity() { return !rounds.isEmpty() && rounds.getLast().valLoss() <= refValLoss; }
    }

    /** Progress callbacks; all optional. */
    public interface Listener {
        default void started(String name, int layers, long params, int steps) {}
        default void step(String name, Trainer.Progress p) {}
        default void finished(Round r, double refValLoss) {}
    }

    /**
     * Runs Inheritune from refRun on data; every model is saved as a run directory under out. refRun is a
     * Lamina run (its training recipe is reused) or any model directory without one, such as a Hugging
     * Face checkpoint or an imported run (then s.steps() is required and the rest are TrainConfig's defaults).
     */
    public static Result run(Path refRun, Dataset data, Settings s, Path out, Listener listener) {
        return run(refRun, data, s, out, listener, dev.lamina.kernels.Kernels.defaults());
    }

    /** As above; every model computes with kernels. */
    public static Result run(Path refRun, Dataset data, Settings s, Path out, Listener listener, dev.lamina.kernels.KernelSet kernels) {
        if (listener == null) listener = new Listener() {};
        Decoder ref = Checkpoint.loadModel(refRun).withKernels(kernels);
        TrainConfig tc;
        int refSteps;
        if (Checkpoint.hasTrainingState(refRun)) {       // a Lamina run: reuse its recipe
            Checkpoint.State st = Checkpoint.readState(refRun);
            tc = s.steps() > 0 ? st.train().withSteps(s.steps()) : st.train();
            refSteps = st.step();
        } else {                                         // a Hugging Face directory or an imported run: no recipe
            if (s.steps() < 1)
                throw LaminaException.field("steps", refRun + ": no state.json with the reference's training recipe; give the "
                        + "number of steps (the other settings are the training defaults: batch 16, lr 1e-3, 10% warm-up)");
            tc = TrainConfig.defaults(s.steps(), 16, Math.min(256, ref.config().maxPositionEmbeddings()));
            refSteps = 0;
        }
        checkTokenizer(refRun, data);
        int k = ref.config().numHiddenLayers();
        int n = s.layers() > 0 ? s.layers() : Math.max(1, k / 2);
        if (n > k) throw LaminaException.field("layers", "layers " + n + " exceeds the reference's " + k + " layers (" + refRun.resolve(Checkpoint.CONFIG) + ")");

        double refVal = Trainer.evaluate(ref, data.val(), tc.batch(), tc.seq(), tc.evalBatches());
        int rankSeq = Math.min(256, tc.seq());
        int[] ids = new int[tc.batch() * rankSeq], tg = new int[tc.batch() * rankSeq];
        Batcher.fixed(data.val(), 0, 1, tc.batch(), rankSeq, ids, tg);
        LayerDiagnostics.Attention att = LayerDiagnostics.attention(ref, ids, tc.batch(), rankSeq, 0.9, 2, null);

        List<Round> rounds = new ArrayList<>();
        Decoder student = inherit(ref, n, s.parts(), tc.seed());
        int total = 0;
        for (int r = 1; r <= s.maxRounds(); r++) {
            String name = "round-" + r;
            Round round = train(name, student, data, tc, out.resolve(name), listener);
            total += tc.steps();
            rounds.add(round);
            listener.finished(round, refVal);
            student = Checkpoint.loadModel(round.run()).withKernels(kernels);
            int L = student.config().numHiddenLayers();
            if (round.valLoss() <= refVal || L >= k || r == s.maxRounds()) break;
            student = grow(student, ref, Math.min(s.growBy(), k - L), s.parts(), tc.seed() + r);
        }
        Round base = null;
        if (s.baseline()) {
            ModelConfig bc = student.config();
            String name = "scratch-" + bc.numHiddenLayers();
            base = train(name, Decoder.create(bc, tc.seed(), kernels), data, tc.withSteps(total), out.resolve(name), listener);
            listener.finished(base, refVal);
        }
        return new Result(refRun, ref.config(), ref.parameterCount(), refSteps, refVal, att, rankSeq, tc, s.parts(), rounds, base);
    }

    private static void checkTokenizer(Path refRun, Dataset data) {
        Path dir = refRun.resolve(Checkpoint.TOKENIZER);
        if (!Files.isDirectory(dir)) return;
        Tokenizer t = Tokenizers.load(dir);
        if (t.vocabSize() != data.tokenizer().vocabSize() || !t.describe().equals(data.tokenizer().describe()))
            throw new LaminaException(data.dir() + ": tokenizer " + data.tokenizer().describe() + " differs from the reference's "
                    + t.describe() + " (" + dir + "); train the student on the reference's data");
    }

    private static Round train(String name, Decoder model, Dataset data, TrainConfig tc, Path run, Listener listener) {
        listener.started(name, model.config().numHiddenLayers(), model.parameterCount(), tc.steps());
        Trainer t = Trainer.start(model, data, data.dir().toString(), tc, run);
        Consumer<Trainer.Progress> on = p -> listener.step(name, p);
        t.train(tc.steps(), on);
        double val = t.evaluate();
        List<int[]> steps = new ArrayList<>();
        List<Double> losses = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(run.resolve(Checkpoint.METRICS))) {
                if (line.isBlank()) continue;
                JsonNode o = Json.MAPPER.readTree(line);
                if (o.has("val_loss")) { steps.add(new int[] {o.get("step").intValue()}); losses.add(o.get("val_loss").doubleValue()); }
            }
        } catch (IOException e) {
            throw new LaminaException(run.resolve(Checkpoint.METRICS) + ": unreadable (" + e.getMessage() + ")");
        }
        return new Round(name, model.config().numHiddenLayers(), model.parameterCount(), tc.steps(), val, run,
                steps.stream().mapToInt(a -> a[0]).toArray(), losses.stream().mapToDouble(Double::doubleValue).toArray());
    }

    // ---- report ------------------------------------------------------------------------------

    /** Writes OUT/report.md, OUT/inheritune.json and the figures (through plotter). */
    public static void writeReport(Result r, Path out, Figure.Plotter plotter) {
        plotter.drawAll(out, figures(r));
        AtomicFiles.writeString(out.resolve("inheritune.json"), Json.MAPPER.writeValueAsString(json(r)) + "\n");
        AtomicFiles.writeString(out.resolve("report.md"), markdown(r, ""));
    }

    /** Validation loss of the rounds beside the reference and the scratch baseline; the reference's attention ranks. */
    public static List<Figure> figures(Result r) {
        List<Figure> figs = new ArrayList<>();
        List<Figure.Series> curves = new ArrayList<>();
        List<Double> xs = new ArrayList<>(), ys = new ArrayList<>();
        int offset = 0;
        for (Round round : r.rounds()) {
            for (int i = 0; i < round.evalSteps().length; i++) { xs.add((double) offset + round.evalSteps()[i]); ys.add(round.evalLoss()[i]); }
            offset += round.steps();
        }
        curves.add(new Figure.Series("Inheritune (rounds in sequence)", xs.stream().mapToDouble(Double::doubleValue).toArray(),
                ys.stream().mapToDouble(Double::doubleValue).toArray()));
        if (r.baseline() != null)
            curves.add(new Figure.Series(r.baseline().layers() + " layers from scratch", toDoubles(r.baseline().evalSteps()), r.baseline().evalLoss()));
        curves.add(new Figure.Series(r.refConfig().numHiddenLayers() + "-layer reference", new double[] {0, Math.max(1, offset)},
                new double[] {r.refValLoss(), r.refValLoss()}));
        figs.add(new Figure.Lines("val_loss", "Validation loss: Inheritune vs reference and scratch", "student step (all rounds)", "val loss", curves, false, true));
        int L = r.refConfig().numHiddenLayers();
        double[] max = new double[L], mean = new double[L];
        for (int l = 0; l < L; l++) { max[l] = r.refAttention().maxRank(l); mean[l] = r.refAttention().meanRank(l); }
        figs.add(new Figure.Lines("reference_attention_rank", "Reference attention rank at 90% energy (T = " + r.rankSeq() + ")", "layer", "rank",
                List.of(Figure.overLayers("max over heads", max), Figure.overLayers("mean over heads", mean)), false, true));
        return figs;
    }

    private static double[] toDoubles(int[] a) { double[] d = new double[a.length]; for (int i = 0; i < a.length; i++) d[i] = a[i]; return d; }

    static ObjectNode json(Result r) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("reference", r.reference().toString()).put("reference_layers", r.refConfig().numHiddenLayers())
                .put("reference_params", r.refParams()).put("reference_steps", r.refSteps()).put("reference_val_loss", r.refValLoss());
        o.set("train", r.train().toJson());
        ArrayNode parts = o.putArray("inherit");
        for (Part p : r.parts()) parts.add(p.name().toLowerCase(Locale.ROOT));
        ArrayNode rounds = o.putArray("rounds");
        for (Round x : r.rounds()) round(rounds.addObject(), x, r.refValLoss());
        if (r.baseline() != null) round(o.putObject("scratch"), r.baseline(), r.refValLoss());
        o.put("parity", r.parity());
        ArrayNode ranks = o.putArray("reference_attention_rank");
        for (int[] row : r.refAttention().rank()) { ArrayNode a = ranks.addArray(); for (int v : row) a.add(v); }
        ArrayNode lazy = o.putArray("reference_lazy_layers");
        for (int l = 0; l < r.refAttention().lazy().length; l++) if (r.refAttention().lazy()[l]) lazy.add(l);
        return o;
    }

    private static void round(ObjectNode o, Round x, double ref) {
        o.put("name", x.name()).put("layers", x.layers()).put("params", x.params()).put("steps", x.steps())
                .put("val_loss", x.valLoss()).put("gap", x.valLoss() - ref).put("run", x.run().toString());
    }

    static String markdown(Result r, String imagePrefix) {
        StringBuilder m = new StringBuilder();
        ModelConfig c = r.refConfig();
        TrainConfig tc = r.train();
        m.append(String.format(Locale.ROOT, "# Inheritune%n%nReference: %s, %d layers (%s), %,d parameters, trained %d steps; val loss %.4f "
                        + "(perplexity %.2f) on %d fixed validation batches of %d × %d tokens. Each round trains %d steps with the reference's "
                        + "recipe (AdamW lr %.1e, warm-up %d, weight decay %.2g, clip %.1f, seed %d). Inherited: %s.%n%n",
                r.reference(), c.numHiddenLayers(), placement(c), r.refParams(), r.refSteps(), r.refValLoss(), Math.exp(r.refValLoss()),
                tc.evalBatches(), tc.batch(), tc.seq(), tc.steps(), tc.lr(), tc.warmup(), tc.weightDecay(), tc.clip(), tc.seed(),
                r.parts().stream().map(p -> p.name().toLowerCase(Locale.ROOT).replace('_', '-')).toList()));
        m.append("| model | layers | parameters | steps (total) | val loss | gap to reference | val perplexity |\n|---|---:|---:|---:|---:|---:|---:|\n");
        m.append(String.format(Locale.ROOT, "| reference | %d | %,d | %d | %.4f | – | %.2f |%n", c.numHiddenLayers(), r.refParams(), r.refSteps(),
                r.refValLoss(), Math.exp(r.refValLoss())));
        int total = 0;
        for (Round x : r.rounds()) {
            total += x.steps();
            m.append(String.format(Locale.ROOT, "| Inheritune %s | %d | %,d | %d (%d) | %.4f | %+.4f | %.2f |%n", x.name(), x.layers(), x.params(),
                    x.steps(), total, x.valLoss(), x.valLoss() - r.refValLoss(), Math.exp(x.valLoss())));
        }
        if (r.baseline() != null) {
            Round b = r.baseline();
            m.append(String.format(Locale.ROOT, "| from scratch | %d | %,d | %d | %.4f | %+.4f | %.2f |%n", b.layers(), b.params(), b.steps(),
                    b.valLoss(), b.valLoss() - r.refValLoss(), Math.exp(b.valLoss())));
        }
        Round last = r.rounds().getLast();
        m.append(String.format(Locale.ROOT, "%n%s%n%n", r.parity()
                ? String.format(Locale.ROOT, "Parity reached with %d of %d layers (%.0f%% of the reference's parameters).", last.layers(),
                        c.numHiddenLayers(), 100.0 * last.params() / r.refParams())
                : String.format(Locale.ROOT, "Parity not reached: the last student (%d layers) is %.4f above the reference's val loss.",
                        last.layers(), last.valLoss() - r.refValLoss())));
        m.append("Reference attention rank per layer (90% energy of the batch-averaged attention matrix, T = ").append(r.rankSeq())
                .append("; lazy = every head's rank ≤ 2):\n\n| layer | ranks per head | max | lazy |\n|---:|---|---:|---|\n");
        for (int l = 0; l < c.numHiddenLayers(); l++)
            m.append(String.format(Locale.ROOT, "| %d | %s | %d | %s |%n", l, java.util.Arrays.toString(r.refAttention().rank()[l]),
                    r.refAttention().maxRank(l), r.refAttention().lazy()[l] ? "yes" : ""));
        m.append("\n![Validation loss](").append(imagePrefix).append("val_loss.png)\n\n![Reference attention rank](").append(imagePrefix)
                .append("reference_attention_rank.png)\n");
        return m.toString();
    }

    private static String placement(ModelConfig c) {
        return switch (c.normPlacement()) {
            case PRE -> c.layernormScaling() ? "Pre-LN + LayerNorm Scaling" : "Pre-LN";
            case POST -> "Post-LN";
            case MIX -> "Mix-LN, " + c.postLayers() + " Post-LN layers";
        };
    }
}
