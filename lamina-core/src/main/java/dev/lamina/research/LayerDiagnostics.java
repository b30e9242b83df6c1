package dev.lamina.research;

import dev.lamina.autograd.Tape;
import dev.lamina.data.TokenFile;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.TapeExecutor;
import dev.lamina.model.ModelConfig;
import dev.lamina.tensor.Tensor;
import dev.lamina.train.Batcher;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntPredicate;

/**
 * Per-layer diagnostics of a decoder on validation data: what the depth papers measure.
 * <ul>
 * <li>gradient L2 norm per layer (attention, MLP, whole layer) on one fixed batch (Mix-LN, Fig. 3);
 * <li>angular distance arccos(cos)/π between the hidden states entering layers l and l+n, averaged
 *     over tokens (ShortGPT / Mix-LN heat maps); n runs to L, the input of the final norm;
 * <li>layer-removal cost: val perplexity with layer l made the identity minus the full model's;
 * <li>hidden-state RMS and variance after each layer (the growth LayerNorm Scaling targets);
 * <li>attention rank per head: the fewest singular values holding `energy` (90%) of the
 *     batch-averaged attention matrix's squared Frobenius norm (Inheritune); a layer whose heads
 *     all have rank ≤ lazyRank is marked lazy.
 * </ul>
 */
public final class LayerDiagnostics {
    private LayerDiagnostics() {}

    /**
     * @param batch    sequences in the fixed batch (gradients, distances, norms, ranks)
     * @param seq      tokens per sequence; at most 256 for the rank test
     * @param tokens   validation tokens for the removal costs (rounded up to whole batches)
     * @param energy   share of the squared singular values the rank must hold (0.9)
     * @param lazyRank a head with rank ≤ this counts as collapsed (2: "near rank 1")
     */
    public record Options(int batch, int seq, long tokens, double energy, int lazyRank) {
        public Options {
            if (batch < 1) throw LaminaException.field("batch", "batch must be >= 1, got " + batch);
            if (seq < 2 || seq > 256) throw LaminaException.field("seq", "seq must be in [2, 256] for the attention-rank test, got " + seq);
            if (tokens < 1) throw LaminaException.field("tokens", "tokens must be >= 1, got " + tokens);
            if (!(energy > 0 && energy <= 1)) throw new LaminaException("energy must be in (0, 1], got " + energy);
        }

        public static Options defaults(int batch, int seq) { return new Options(batch, seq, 16384, 0.9, 2); }

        public int evalBatches() { return (int) Math.max(1, (tokens + (long) batch * seq - 1) / ((long) batch * seq)); }
    }

    /** Attention ranks rank[l][h], the top singular value's energy share topShare[l][h], and lazy layers. */
    public record Attention(int[][] rank, double[][] topShare, boolean[] lazy) {
        public int maxRank(int l) { int m = 0; for (int r : rank[l]) m = Math.max(m, r); return m; }
        public double meanRank(int l) { double s = 0; for (int r : rank[l]) s += r; return s / rank[l].length; }
    }

    /** Hidden states entering each layer: angular[l][n] (NaN where l + n > L), rms[i], variance[i] for i = 0..L. */
    public record Hidden(double[][] angular, double[] rms, double[] variance) {}

    /** Everything measured; skipLoss[l] is the val loss with layer l removed. */
    public record Report(String model, ModelConfig config, Options options, double valLoss, double[] skipLoss,
                         LayerGrads grads, Hidden hidden, Attention attention) {
        public int layers() { return config.numHiddenLayers(); }
        public double valPerplexity() { return Math.exp(valLoss); }
        /** Perplexity increase when layer l is skipped. */
        public double removalCost(int l) { return Math.exp(skipLoss[l]) - Math.exp(valLoss); }
        public double[] removalCosts() { double[] c = new double[layers()]; for (int l = 0; l < c.length; l++) c[l] = removalCost(l); return c; }
        /** Angular distance between consecutive layers' inputs, d(l, 1), per layer. */
        public double[] adjacentDistance() { double[] d = new double[layers()]; for (int l = 0; l < d.length; l++) d[l] = hidden.angular()[l][1]; return d; }
        /** Mean d(l, 1) over the deepest quarter of layers (at least one). */
        public double deepQuarterDistance() {
            int L = layers(), from = L - Math.max(1, L / 4);
            double s = 0;
            for (int l = from; l < L; l++) s += hidden.angular()[l][1];
            return s / (L - from);
        }
    }

    /** Progress of the long parts (the removal costs). */
    @FunctionalInterface
    public interface Progress { void update(String task, int done, int total); }

    /** Runs every diagnostic. */
    public static Report run(Decoder model, TokenFile val, Options o, String name, Progress progress) {
        ModelConfig c = model.config();
        int B = o.batch(), T = o.seq(), L = c.numHiddenLayers();
        if (T > Math.min(c.maxPositionEmbeddings(), c.contextLimit()))
            throw LaminaException.field("seq", "seq " + T + " exceeds the model's context of " + Math.min(c.maxPositionEmbeddings(), c.contextLimit()));
        if (val.size() < T + 2) throw LaminaException.field("seq", val.file() + ": " + val.size() + " validation tokens, fewer than seq + 2 = " + (T + 2));
        if (progress == null) progress = (t, d, n) -> {};
        int[] ids = new int[B * T], tg = new int[B * T];
        Batcher.fixed(val, 0, 1, B, T, ids, tg);

        progress.update("gradients", 0, 1);
        LayerGrads grads = gradients(model, ids, tg, B, T);
        progress.update("hidden states and attention", 0, 1);
        List<float[]> states = new ArrayList<>();
        Attention att = attention(model, ids, B, T, o.energy(), o.lazyRank(), states);
        Hidden hidden = hidden(states, c.hiddenSize());

        int batches = o.evalBatches();
        double[] skip = new double[L];
        progress.update("layer removal", 0, L + 1);
        double full = loss(model, val, B, T, batches, l -> false);
        for (int l = 0; l < L; l++) {
            int removed = l;
            skip[l] = loss(model, val, B, T, batches, k -> k == removed);
            progress.update("layer removal", l + 2, L + 1);
        }
        return new Report(name, c, o, full, skip, grads, hidden, att);
    }

    /** Gradient norms per layer after one forward/backward on (ids, targets). Overwrites the model's gradients. */
    public static LayerGrads gradients(Decoder model, int[] ids, int[] targets, int B, int T) {
        Tape tape = Tape.training(model.kernels());
        model.params().zeroGrad();
        model.loss(tape, ids, targets, B, T);
        tape.backward();
        LayerGrads g = LayerGrads.of(model.kernels(), model.params(), model.config().numHiddenLayers());
        model.params().zeroGrad();
        return g;
    }

    /**
     * One inference pass: ranks of every head's batch-averaged attention matrix; the hidden states
     * entering each layer (and the final norm) are copied into states when it is not null.
     */
    public static Attention attention(Decoder model, int[] ids, int B, int T, double energy, int lazyRank, List<float[]> states) {
        ModelConfig c = model.config();
        int L = c.numHiddenLayers(), H = c.numAttentionHeads();
        int[][] rank = new int[L][H];
        double[][] top = new double[L][H];
        TapeExecutor.AttentionProbe probe = (l, att) -> {
            for (int h = 0; h < H; h++) {
                double[][] a = averageHead(att, B, H, T, h);
                double[] s2 = Jacobi.squaredSingularValues(a);
                rank[l][h] = Jacobi.energyRank(s2, energy);
                double total = 0;
                for (double v : s2) total += v;
                top[l][h] = total == 0 ? 0 : s2[0] / total;
            }
        };
        TapeExecutor.HiddenProbe hp = states == null ? null : (l, x) -> states.add(x.toArray());
        model.forward(new TapeExecutor(model, Tape.inference(model.kernels()), ids, B, T).probes(null, hp, probe));
        boolean[] lazy = new boolean[L];
        for (int l = 0; l < L; l++) {
            lazy[l] = true;
            for (int h = 0; h < H; h++) lazy[l] &= rank[l][h] <= lazyRank;
        }
        return new Attention(rank, top, lazy);
    }

    /** Head h of att[B,H,T,T] averaged over the batch, as a T×T double matrix. */
    static double[][] averageHead(Tensor att, int B, int H, int T, int h) {
        double[][] a = new double[T][T];
        float[] d = att.data();
        for (int b = 0; b < B; b++) {
            int base = att.offset() + (b * H + h) * T * T;
            for (int i = 0; i < T; i++) for (int j = 0; j < T; j++) a[i][j] += d[base + i * T + j];
        }
        for (double[] row : a) for (int j = 0; j < T; j++) row[j] /= B;
        return a;
    }

    /** Angular distances and norms of the states x_0..x_L (each [n, d]). */
    public static Hidden hidden(List<float[]> states, int d) {
        int S = states.size(), L = S - 1, n = states.get(0).length / d;
        double[][] norm = new double[S][n];
        double[] rms = new double[S], var = new double[S];
        for (int s = 0; s < S; s++) {
            float[] x = states.get(s);
            for (int t = 0; t < n; t++) {
                double sq = 0, sum = 0;
                for (int i = 0; i < d; i++) { double v = x[t * d + i]; sq += v * v; sum += v; }
                norm[s][t] = Math.sqrt(sq);
                rms[s] += Math.sqrt(sq / d);
                double mean = sum / d;
                var[s] += sq / d - mean * mean;
            }
            rms[s] /= n;
            var[s] /= n;
        }
        double[][] ang = new double[L][L + 1];
        for (double[] row : ang) java.util.Arrays.fill(row, Double.NaN);
        for (int l = 0; l < L; l++)
            for (int k = 1; l + k <= L; k++) {
                float[] a = states.get(l), b = states.get(l + k);
                double sum = 0;
                int counted = 0;
                for (int t = 0; t < n; t++) {
                    double na = norm[l][t], nb = norm[l + k][t];
                    if (na == 0 || nb == 0) continue;
                    double dot = 0;
                    for (int i = 0; i < d; i++) dot += (double) a[t * d + i] * b[t * d + i];
                    sum += Math.acos(Math.clamp(dot / (na * nb), -1, 1)) / Math.PI;
                    counted++;
                }
                ang[l][k] = counted == 0 ? 0 : sum / counted;
            }
        return new Hidden(ang, rms, var);
    }

    /** Mean val loss over the fixed evaluation windows (as Trainer.evaluate), with some layers skipped. */
    public static double loss(Decoder model, TokenFile val, int B, int T, int batches, IntPredicate skip) {
        Tape tape = Tape.inference(model.kernels());
        int[] ids = new int[B * T], tg = new int[B * T];
        TapeExecutor ex = new TapeExecutor(model, tape, ids, B, T).probes(skip, null, null);
        double sum = 0;
        for (int k = 0; k < batches; k++) {
            Batcher.fixed(val, k, batches, B, T, ids, tg);
            tape.reset();
            sum += dev.lamina.autograd.Ops.crossEntropy(tape, model.forward(ex), tg);
        }
        return sum / batches;
    }

    // ---- output ----------------------------------------------------------------------------

    /** Writes report.md, diagnostics.json and the figures (through plotter) into dir; history (may be empty) from layer_grads.jsonl. */
    public static void write(Report r, Path dir, List<LayerGradLog.Entry> history, Figure.Plotter plotter) {
        plotter.drawAll(dir, figures(r, history));
        AtomicFiles.writeString(dir.resolve("diagnostics.json"), Json.MAPPER.writeValueAsString(json(r)) + "\n");
        AtomicFiles.writeString(dir.resolve("report.md"), markdown(r, !history.isEmpty()));
    }

    /** The report's charts: gradient norms, angular distances, removal costs, hidden-state growth, attention ranks. */
    public static List<Figure> figures(Report r, List<LayerGradLog.Entry> history) {
        List<Figure> figs = new ArrayList<>();
        int L = r.layers();
        LayerGrads g = r.grads();
        figs.add(new Figure.Lines("grad_norms", "Gradient norm per layer: " + r.model(), "layer", "L2 norm of the gradient",
                List.of(Figure.overLayers("layer", g.layer()), Figure.overLayers("attention", g.attention()),
                        Figure.overLayers("MLP", g.mlp())), false, true));
        int[] xs = new int[L], ys = new int[L];
        double[][] v = new double[L][L];
        for (int l = 0; l < L; l++) { xs[l] = l; ys[l] = l + 1; }
        for (int l = 0; l < L; l++) for (int k = 1; k <= L; k++) v[l][k - 1] = r.hidden().angular()[l][k];
        figs.add(new Figure.Heatmap("angular_distance", "Angular distance d(l, l+n): " + r.model(), "layer l", "n", xs, ys, v));
        Map<String, double[]> removal = Figure.bars();
        removal.put("perplexity increase", r.removalCosts());
        figs.add(new Figure.Bars("removal_cost", "Perplexity increase with layer l removed: " + r.model(), "layer removed", "Δ perplexity", removal));
        double[] idx = new double[L + 1];
        for (int i = 0; i <= L; i++) idx[i] = i;
        figs.add(new Figure.Lines("hidden_norms", "Hidden state after each layer (0 = embeddings): " + r.model(), "after layer (i - 1)",
                "value (log scale)", List.of(new Figure.Series("RMS", idx, r.hidden().rms()),
                        new Figure.Series("variance", idx, r.hidden().variance())), true, true));
        double[] max = new double[L], mean = new double[L];
        for (int l = 0; l < L; l++) { max[l] = r.attention().maxRank(l); mean[l] = r.attention().meanRank(l); }
        figs.add(new Figure.Lines("attention_rank", String.format(Locale.ROOT, "Attention rank at %.0f%% energy (T = %d): %s",
                        100 * r.options().energy(), r.options().seq(), r.model()), "layer", "rank",
                List.of(Figure.overLayers("max over heads", max), Figure.overLayers("mean over heads", mean)), false, true));
        if (!history.isEmpty()) {
            List<Figure.Series> s = new ArrayList<>();
            double[] steps = history.stream().mapToDouble(LayerGradLog.Entry::step).toArray();
            for (int l = 0; l < L; l++) {
                int layer = l;
                s.add(new Figure.Series("layer " + l, steps, smooth(history.stream().mapToDouble(e -> e.grads().layer()[layer]).toArray(), 20)));
            }
            figs.add(new Figure.Lines("grad_norms_training", "Per-layer gradient norm during training (mean of 20 logs): " + r.model(),
                    "step", "L2 norm (log scale)", s, true, false));
        }
        return figs;
    }

    /** Trailing mean over a window. */
    static double[] smooth(double[] y, int window) {
        double[] out = new double[y.length];
        double sum = 0;
        for (int i = 0; i < y.length; i++) {
            sum += y[i];
            if (i >= window) sum -= y[i - window];
            out[i] = sum / Math.min(i + 1, window);
        }
        return out;
    }

    static ObjectNode json(Report r) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("model", r.model());
        o.set("config", r.config().toJson());
        o.put("batch", r.options().batch()).put("seq", r.options().seq()).put("eval_tokens", (long) r.options().evalBatches() * r.options().batch() * r.options().seq())
                .put("energy", r.options().energy()).put("lazy_rank", r.options().lazyRank());
        o.put("val_loss", r.valLoss()).put("val_ppl", r.valPerplexity());
        arr(o.putArray("skip_loss"), r.skipLoss());
        arr(o.putArray("removal_cost_ppl"), r.removalCosts());
        ObjectNode g = o.putObject("grad_norms");
        arr(g.putArray("attention"), r.grads().attention());
        arr(g.putArray("mlp"), r.grads().mlp());
        arr(g.putArray("layer"), r.grads().layer());
        g.put("other", r.grads().other()).put("global", r.grads().global()).put("layer_cv", r.grads().layerCv());
        ArrayNode ang = o.putArray("angular_distance");   // [l][n-1] for n = 1..L-l
        for (double[] row : r.hidden().angular()) {
            ArrayNode a = ang.addArray();
            for (int k = 1; k < row.length; k++) if (!Double.isNaN(row[k])) a.add(row[k]);
        }
        o.put("deep_quarter_adjacent_distance", r.deepQuarterDistance());
        arr(o.putArray("hidden_rms"), r.hidden().rms());
        arr(o.putArray("hidden_variance"), r.hidden().variance());
        ArrayNode ranks = o.putArray("attention_rank");
        for (int[] row : r.attention().rank()) { ArrayNode a = ranks.addArray(); for (int v : row) a.add(v); }
        ArrayNode tops = o.putArray("attention_top_share");
        for (double[] row : r.attention().topShare()) arr(tops.addArray(), row);
        ArrayNode lazy = o.putArray("lazy_layers");
        for (int l = 0; l < r.layers(); l++) if (r.attention().lazy()[l]) lazy.add(l);
        return o;
    }

    private static void arr(ArrayNode a, double[] v) { for (double x : v) a.add(Double.isFinite(x) ? x : 0); }

    static String markdown(Report r, boolean history) {
        StringBuilder s = new StringBuilder();
        ModelConfig c = r.config();
        Options o = r.options();
        s.append("# Layer diagnostics: ").append(r.model()).append("\n\n");
        s.append(String.format(Locale.ROOT, "Model: %d layers, d %d, %d heads, placement %s%s%s. Val loss %.4f, perplexity %.2f "
                        + "on %,d validation tokens. Gradients, distances, norms and ranks on one fixed batch of %d × %d tokens.%n%n",
                c.numHiddenLayers(), c.hiddenSize(), c.numAttentionHeads(), c.normPlacement().name().toLowerCase(Locale.ROOT),
                c.normPlacement() == ModelConfig.Placement.MIX ? String.format(Locale.ROOT, " (alpha %.3f: %d Post-LN layers)", c.mixAlpha(), c.postLayers()) : "",
                c.layernormScaling() ? " with LayerNorm Scaling" : "", r.valLoss(), r.valPerplexity(),
                (long) o.evalBatches() * o.batch() * o.seq(), o.batch(), o.seq()));
        s.append(String.format(Locale.ROOT, "Gradient norm: global %.4g; coefficient of variation across layers %.3f. "
                + "Mean angular distance d(l, l+1) over the deepest quarter of layers: %.4f.%n%n", r.grads().global(),
                r.grads().layerCv(), r.deepQuarterDistance()));
        List<Integer> lazy = new ArrayList<>();
        for (int l = 0; l < r.layers(); l++) if (r.attention().lazy()[l]) lazy.add(l);
        s.append("Lazy layers (every head's attention rank ≤ ").append(o.lazyRank()).append(" at ")
                .append(String.format(Locale.ROOT, "%.0f", 100 * o.energy())).append("% energy): ")
                .append(lazy.isEmpty() ? "none" : lazy.toString()).append(".\n\n");
        s.append("| layer | placement | grad attn | grad MLP | grad layer | d(l, l+1) | Δppl if removed | hidden RMS after | rank max / mean | top σ² share (mean) | lazy |\n");
        s.append("|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---|\n");
        for (int l = 0; l < r.layers(); l++) {
            double top = 0;
            for (double v : r.attention().topShare()[l]) top += v;
            top /= r.attention().topShare()[l].length;
            s.append(String.format(Locale.ROOT, "| %d | %s | %.4g | %.4g | %.4g | %.4f | %+.3f | %.4g | %d / %.1f | %.3f | %s |%n", l,
                    c.isPostLn(l) ? "post" : "pre", r.grads().attention()[l], r.grads().mlp()[l], r.grads().layer()[l],
                    r.hidden().angular()[l][1], r.removalCost(l), r.hidden().rms()[l + 1], r.attention().maxRank(l),
                    r.attention().meanRank(l), top, r.attention().lazy()[l] ? "yes" : ""));
        }
        s.append(String.format(Locale.ROOT, "%nHidden RMS of the embeddings (input of layer 0): %.4g.%n%n", r.hidden().rms()[0]));
        for (String[] p : new String[][] {{"grad_norms", "Gradient norm per layer"}, {"angular_distance", "Angular distance heat map"},
                {"removal_cost", "Layer-removal cost"}, {"hidden_norms", "Hidden-state growth"}, {"attention_rank", "Attention rank"}})
            s.append("![").append(p[1]).append("](").append(p[0]).append(".png)\n\n");
        if (history) s.append("![Gradient norms during training](grad_norms_training.png)\n\n");
        s.append("The same numbers are in diagnostics.json; every plot is also an SVG.\n");
        return s.toString();
    }
}
