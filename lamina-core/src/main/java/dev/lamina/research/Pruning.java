package dev.lamina.research;

import dev.lamina.autograd.Tape;
import dev.lamina.data.TokenFile;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Parameters;
import dev.lamina.model.Role;
import dev.lamina.model.TapeExecutor;
import dev.lamina.tensor.Tensor;
import dev.lamina.train.Batcher;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Pruning: which parts of a trained model to remove, and the smaller (or sparser) model without them.
 *
 * <p>By depth:
 * <ul>
 *   <li>{@link #blockByAngle}: Gromov et al.'s rule, a block of n consecutive layers starting where
 *       the angular distance between the hidden state entering the block and the one leaving it,
 *       d(x_l, x_{l+n}), is smallest: the block that changes the representation least.</li>
 *   <li>{@link #byRemovalCost}: the n single layers whose removal raises validation perplexity least
 *       (measured one at a time, as {@code lamina diagnose} reports).</li>
 * </ul>
 *
 * <p>By width ({@link #width}), Minitron-style, scored by activations on calibration tokens
 * ({@link #activations}): attention heads by the L2 norm of their output, MLP channels by the magnitude
 * of their activation; every layer keeps the same number, so the result is a normal config.
 *
 * <p>Unstructured or 2:4 sparsity ({@link #sparsify}): weights zeroed by magnitude or by Wanda's
 * |W_ij|·‖X_j‖₂; the model keeps its shape (the masks then stay applied in training, train.SparsityMask).
 */
public final class Pruning {
    private Pruning() {}

    /** The hidden states entering each layer and the final norm (L + 1 of them, each [n, d]) for ids (B x T). */
    public static List<float[]> states(Decoder model, int[] ids, int B, int T) {
        List<float[]> states = new ArrayList<>();
        model.forward(new TapeExecutor(model, Tape.inference(model.kernels()), ids, B, T).probes(null, (l, x) -> states.add(x.toArray()), null));
        return states;
    }

    /** The n layers [l*, l* + n) with l* = argmin_l d(x_l, x_{l+n}) (angular[l][n] of {@link LayerDiagnostics#hidden}). */
    public static int[] blockByAngle(double[][] angular, int n) {
        int L = angular.length, best = 0;
        check(L, n);
        for (int l = 1; l + n <= L; l++) if (angular[l][n] < angular[best][n]) best = l;
        int[] drop = new int[n];
        for (int i = 0; i < n; i++) drop[i] = best + i;
        return drop;
    }

    /** The n layers whose removal costs least (ties: the deeper layer first), in ascending order. */
    public static int[] byRemovalCost(double[] cost, int n) {
        check(cost.length, n);
        Integer[] order = new Integer[cost.length];
        for (int l = 0; l < order.length; l++) order[l] = l;
        Arrays.sort(order, (a, b) -> cost[a] != cost[b] ? Double.compare(cost[a], cost[b]) : Integer.compare(b, a));
        int[] drop = new int[n];
        for (int i = 0; i < n; i++) drop[i] = order[i];
        Arrays.sort(drop);
        return drop;
    }

    /** The last n layers: Inheritune's cut (the first L − n layers kept). */
    public static int[] last(int L, int n) {
        check(L, n);
        int[] drop = new int[n];
        for (int i = 0; i < n; i++) drop[i] = L - n + i;
        return drop;
    }

    private static void check(int L, int n) {
        if (n < 1 || n >= L)
            throw LaminaException.field("drop-layers", "drop-layers must be between 1 and " + (L - 1) + " (the model has " + L + " layers), got " + n);
    }

    /**
     * model without the layers in drop: a normal model of L − |drop| layers whose layer k holds the
     * k-th kept layer's parameters (embeddings, final norm and head unchanged). Refused when a
     * setting that depends on a layer's index (Mix-LN's Post-LN share, LayerNorm Scaling's 1/√(l+1),
     * a sliding-window pattern, sparse layers every few) would give a kept layer another behaviour at
     * its new index.
     */
    public static Decoder dropLayers(Decoder model, int[] drop) {
        ModelConfig c = model.config();
        int L = c.numHiddenLayers();
        boolean[] dropped = new boolean[L];
        for (int l : drop) {
            if (l < 0 || l >= L) throw LaminaException.field("drop-layers", "layer " + l + " does not exist (the model has " + L + ")");
            dropped[l] = true;
        }
        int[] kept = new int[L - drop.length];
        for (int l = 0, k = 0; l < L; l++) if (!dropped[l]) kept[k++] = l;
        if (kept.length == 0 || kept.length == L)
            throw LaminaException.field("drop-layers", "drop-layers must leave between 1 and " + (L - 1) + " layers");
        ModelConfig p = c.withLayers(kept.length);
        for (int k = 0; k < kept.length; k++) {
            int l = kept[k];
            String differs = c.isPostLn(l) != p.isPostLn(k) ? "norm_placement/mix_alpha (Post-LN or Pre-LN)"
                    : c.normScale(l) != p.normScale(k) ? "layernorm_scaling (1/sqrt(layer + 1))"
                    : c.window(l) != p.window(k) ? "sliding_window_pattern" : c.sparse(l) != p.sparse(k) ? "moe_every" : null;
            if (differs != null)
                throw new LaminaException("layer " + l + " would become layer " + k + " and change behaviour through " + differs
                        + ", which depends on the layer's index; drop other layers, or prune a model without that setting");
        }
        Parameters from = model.params(), to = Decoder.layout(p).build();
        for (Parameters.Slot s : to.slots().values()) {
            ParamKey key = s.key(), old = key.layer() < 0 ? key : new ParamKey(key.role(), kept[key.layer()], key.bias(), key.factor(), key.expert());
            to.value(s.name()).copyFrom(from.value(old.name()));
        }
        return new Decoder(p, to, model.kernels());
    }
    // ---- width: heads and MLP channels ------------------------------------------------------------

    /**
     * Activation statistics over calibration sequences (Minitron's importance, Wanda's input norms).
     * Minitron's best aggregation, the mean over a sequence's positions and the L2 norm over sequences:
     *
     * @param heads      [L][H]: head h's ‖o_h‖₂ (its hd columns of o_proj's input) averaged over each sequence, L2 over sequences
     * @param channels   [L][ff]: MLP channel j's |a_j| (the activation down_proj multiplies; Minitron scores the first map's
     *                   pre-activation, which for a gated MLP leaves out the gate) averaged likewise (null rows for sparse layers)
     * @param inputNorms per linear map of the layers, each input column's ‖X_j‖₂ over all tokens (Wanda)
     * @param tokens     how many tokens were seen
     */
    public record Activations(double[][] heads, double[][] channels, Map<ParamKey, double[]> inputNorms, long tokens) {}

    /** {@link Activations} of model over batches evenly spaced batches of B x T tokens of val. */
    public static Activations activations(Decoder model, TokenFile val, int B, int T, int batches) {
        ModelConfig c = model.config();
        int L = c.numHiddenLayers(), H = c.numAttentionHeads(), hd = c.headDim();
        double[][] heads = new double[L][H], channels = new double[L][];
        Map<ParamKey, double[]> sq = new HashMap<>();
        int[] ids = new int[B * T], tg = new int[B * T];
        Tape tape = Tape.inference(model.kernels());
        TapeExecutor ex = new TapeExecutor(model, tape, ids, B, T).inputs((w, x) -> {
            int in = x.dim(-1), n = x.size() / in, l = w.key().layer();
            if (l < 0) return;
            double[] s = sq.computeIfAbsent(w.key(), k -> new double[in]);
            boolean o = w.key().role() == Role.O, down = w.key().role() == Role.DOWN;
            if (down && channels[l] == null) channels[l] = new double[in];
            float[] a = x.data();
            double[] seqHeads = new double[H], seqChannels = down ? new double[in] : null;
            for (int r = 0; r < n; r++) {
                int base = x.offset() + r * in;
                for (int j = 0; j < in; j++) { double v = a[base + j]; s[j] += v * v; }
                if (down) for (int j = 0; j < in; j++) seqChannels[j] += Math.abs(a[base + j]);
                if (o) for (int h = 0; h < H; h++) {
                    double q = 0;
                    for (int i = h * hd; i < (h + 1) * hd; i++) q += (double) a[base + i] * a[base + i];
                    seqHeads[h] += Math.sqrt(q);
                }
                if ((r + 1) % T == 0) {                 // a sequence ends: its means, squared into the L2 over sequences
                    if (o) for (int h = 0; h < H; h++) { heads[l][h] += (seqHeads[h] / T) * (seqHeads[h] / T); seqHeads[h] = 0; }
                    if (down) for (int j = 0; j < in; j++) { channels[l][j] += (seqChannels[j] / T) * (seqChannels[j] / T); seqChannels[j] = 0; }
                }
            }
        });
        for (int k = 0; k < batches; k++) {
            Batcher.fixed(val, k, batches, B, T, ids, tg);
            tape.reset();
            model.forward(ex);
        }
        for (double[] r : heads) for (int h = 0; h < H; h++) r[h] = Math.sqrt(r[h]);
        for (double[] r : channels) if (r != null) for (int j = 0; j < r.length; j++) r[j] = Math.sqrt(r[j]);
        Map<ParamKey, double[]> norms = new HashMap<>();
        sq.forEach((k, v) -> { double[] q = new double[v.length]; for (int j = 0; j < v.length; j++) q[j] = Math.sqrt(v[j]); norms.put(k, q); });
        return new Activations(heads, channels, norms, (long) batches * B * T);
    }

    /**
     * The query heads each layer keeps (ascending) when the fraction of heads is removed, by score
     * [L][H], the same number in every layer. With as many KV heads as query heads a removed head takes
     * its key and value along; with grouped queries every KV group keeps the same number of its own
     * query heads, so the model stays a GQA model of the same KV heads (a fraction that cannot is refused).
     */
    public static int[][] keptHeads(double[][] score, int H, int KV, double fraction) {
        checkFraction("heads", fraction);
        int g = H / KV;
        int keepPerGroup;
        if (g == 1) keepPerGroup = 1;
        else {
            double removed = g * fraction;
            if (Math.abs(removed - Math.rint(removed)) > 1e-9 || Math.rint(removed) < 1 || Math.rint(removed) >= g)
                throw LaminaException.field("heads", String.format(Locale.ROOT, "--heads %s would remove %.3g of each KV group's %d query heads "
                        + "(%d heads share %d KV heads); remove a whole number between 1 and %d of them: a multiple of 1/%d below 1, e.g. %s",
                        fraction, removed, g, H, KV, g - 1, g, fmt(1.0 / g)));
            keepPerGroup = g - (int) Math.rint(removed);
        }
        int keepGroups = g == 1 ? H - (int) Math.rint(H * fraction) : KV;
        if (g == 1 && (keepGroups < 1 || keepGroups == H))
            throw LaminaException.field("heads", "--heads " + fraction + " removes " + (H - keepGroups) + " of " + H + " heads; choose a fraction that removes between 1 and " + (H - 1));
        int[][] kept = new int[score.length][];
        for (int l = 0; l < score.length; l++) {
            double[] s = score[l];
            if (g == 1) kept[l] = top(s, 0, H, keepGroups);
            else {
                kept[l] = new int[KV * keepPerGroup];
                for (int kv = 0; kv < KV; kv++)
                    System.arraycopy(top(s, kv * g, (kv + 1) * g, keepPerGroup), 0, kept[l], kv * keepPerGroup, keepPerGroup);
            }
        }
        return kept;
    }

    /** The MLP channels each layer keeps (ascending) when the fraction is removed, by score [L][ff]: the same number in every layer. */
    public static int[][] keptChannels(double[][] score, int ff, double fraction) {
        checkFraction("mlp", fraction);
        int keep = ff - (int) Math.rint(ff * fraction);
        if (keep < 1 || keep == ff)
            throw LaminaException.field("mlp", "--mlp " + fraction + " removes " + (ff - keep) + " of " + ff + " channels; choose a fraction that removes between 1 and " + (ff - 1));
        int[][] kept = new int[score.length][];
        for (int l = 0; l < score.length; l++) {
            if (score[l] == null) throw LaminaException.field("mlp", "layer " + l + " has no dense MLP to prune (a sparse layer)");
            kept[l] = top(score[l], 0, ff, keep);
        }
        return kept;
    }

    /**
     * The model with only the kept query heads (heads[l], ascending; null: all) and MLP channels
     * (channels[l]; null: all) of each layer: q rows, o columns (and k, v rows when heads are their own
     * KV heads), gate and up rows, down columns. head_dim is kept, so a config whose hidden size is no
     * longer H·hd records it. A normal, smaller model: it computes what the full model computes with
     * the removed heads' and channels' contributions set to zero.
     */
    public static Decoder width(Decoder model, int[][] heads, int[][] channels) {
        ModelConfig c = model.config();
        if (channels != null && c.moe())
            throw LaminaException.field("mlp", "--mlp prunes dense MLPs; this model has experts (their width is intermediate_size too): prune its heads or layers");
        int H = c.numAttentionHeads(), KV = c.numKeyValueHeads(), hd = c.headDim();
        int H2 = heads == null ? H : heads[0].length, KV2 = heads == null || KV != H ? KV : H2;
        ModelConfig.Builder b = c.toBuilder().numAttentionHeads(H2).numKeyValueHeads(KV2);
        if (c.hiddenSize() % H2 != 0 || c.hiddenSize() / H2 != hd) b.headDim(hd);
        if (channels != null) b.intermediateSize(channels[0].length);
        ModelConfig p = b.build();
        Parameters from = model.params(), to = Decoder.layout(p).build();
        for (Parameters.Slot s : to.slots().values()) {
            ParamKey k = s.key();
            int l = k.layer();
            int[] hs = heads == null || l < 0 ? null : expand(heads[l], hd), cs = channels == null || l < 0 ? null : channels[l];
            int[] rows = null, cols = null;
            switch (k.role()) {
                case Q -> rows = hs;
                case K, V -> rows = KV == H ? hs : null;
                case O -> cols = k.bias() ? null : hs;
                case GATE, UP -> rows = cs;
                case DOWN -> cols = k.bias() ? null : cs;
                default -> { }
            }
            gather(from.value(k.name()), to.value(s.name()), rows, cols);
        }
        return new Decoder(p, to, model.kernels());
    }

    /** dst = src's rows (null: all) and columns (null: all); a vector's elements are its rows. */
    private static void gather(Tensor src, Tensor dst, int[] rows, int[] cols) {
        int in = src.rank() == 2 ? src.dim(1) : 1, out2 = dst.rank() == 2 ? dst.dim(1) : 1, n = dst.size() / out2;
        for (int r = 0; r < n; r++) {
            int sr = rows == null ? r : rows[r];
            for (int j = 0; j < out2; j++) dst.set(r * out2 + j, src.get(sr * in + (cols == null ? j : cols[j])));
        }
    }

    /** Head indices to the indices of their hd elements. */
    private static int[] expand(int[] heads, int hd) {
        int[] e = new int[heads.length * hd];
        for (int i = 0; i < heads.length; i++) for (int j = 0; j < hd; j++) e[i * hd + j] = heads[i] * hd + j;
        return e;
    }

    /** The keep indices in [from, to) with the highest scores (ties: the lower index), ascending. */
    private static int[] top(double[] score, int from, int to, int keep) {
        int[] kept = ranked(score, from, to, keep, true);
        Arrays.sort(kept);
        return kept;
    }

    /** The n indices in [from, to) with the highest (or lowest) scores, best first; ties go to the lower index. */
    private static int[] ranked(double[] score, int from, int to, int n, boolean highest) {
        Integer[] order = new Integer[to - from];
        for (int i = 0; i < order.length; i++) order[i] = from + i;
        Arrays.sort(order, (a, b) -> score[a] != score[b] ? (highest ? Double.compare(score[b], score[a]) : Double.compare(score[a], score[b]))
                : Integer.compare(a, b));
        int[] r = new int[n];
        for (int i = 0; i < n; i++) r[i] = order[i];
        return r;
    }

    private static void checkFraction(String field, double f) {
        if (!(f > 0 && f < 1)) throw LaminaException.field(field, "--" + field + " is the fraction to remove, in (0, 1); got " + f);
    }

    private static String fmt(double v) { return String.format(Locale.ROOT, "%.4g", v); }

    // ---- sparsity ------------------------------------------------------------------------------------

    /** Which weights are zeroed together: any of a row (unstructured), or 2 of every 4 consecutive inputs (2:4, what sparse tensor cores run). */
    public enum Pattern { UNSTRUCTURED, TWO_FOUR }

    /** How a weight is scored: |W_ij|, or Wanda's |W_ij|·‖X_j‖₂ (its input's norm over calibration tokens). */
    public enum Score { MAGNITUDE, WANDA }

    /** Whether sparsity applies to this parameter: the layers' linear maps' weights (not the embeddings, the head, biases or routers). */
    public static boolean sparsifiable(ParamKey k) {
        return k.layerMap();
    }

    /**
     * A copy of model with the lowest-scoring weights of every sparsifiable map set to zero: in each
     * output row the sparsity fraction of them (Wanda's comparison group, used for magnitude too), or
     * with 2:4 the two lowest of every four consecutive inputs. acts supplies Wanda's input norms.
     */
    public static Decoder sparsify(Decoder model, double sparsity, Pattern pattern, Score score, Activations acts) {
        if (!(sparsity > 0 && sparsity < 1)) throw LaminaException.field("sparsity", "--sparsity is the fraction of weights to zero, in (0, 1); got " + sparsity);
        if (pattern == Pattern.TWO_FOUR && sparsity != 0.5)
            throw LaminaException.field("sparsity", "2:4 zeroes exactly half of the weights; use --sparsity 0.5 with --pattern 2:4 (got " + sparsity + ")");
        Parameters p = Decoder.layout(model.config()).build();
        p.copyFrom(model.params());
        for (Parameters.Slot s : p.slots().values()) {
            if (!sparsifiable(s.key())) continue;
            Tensor w = p.value(s.name());
            int out = w.dim(0), in = w.dim(1);
            double[] norm = null;
            if (score == Score.WANDA) {
                norm = acts == null ? null : acts.inputNorms().get(s.key());
                if (norm == null) throw LaminaException.field("score", s.name() + ": no input statistics for Wanda (an expert's map); use --score magnitude");
            }
            if (pattern == Pattern.TWO_FOUR && in % 4 != 0)
                throw LaminaException.field("pattern", s.name() + " has " + in + " inputs, not a multiple of 4; 2:4 needs groups of four");
            double[] sc = new double[in];
            for (int r = 0; r < out; r++) {
                for (int j = 0; j < in; j++) sc[j] = Math.abs(w.get(r * in + j)) * (norm == null ? 1 : norm[j]);
                if (pattern == Pattern.TWO_FOUR) {
                    for (int g = 0; g < in; g += 4) for (int j : ranked(sc, g, g + 4, 2, false)) w.set(r * in + j, 0f);
                } else for (int j : ranked(sc, 0, in, (int) Math.rint(in * sparsity), false)) w.set(r * in + j, 0f);
            }
        }
        return new Decoder(model.config(), p, model.kernels());
    }

    /** The fraction of the sparsifiable weights that are exactly zero. */
    public static double sparsity(Decoder model) {
        long zero = 0, all = 0;
        Parameters p = model.params();
        for (Parameters.Slot s : p.slots().values()) {
            if (!sparsifiable(s.key())) continue;
            Tensor w = p.value(s.name());
            for (int i = 0; i < w.size(); i++) if (w.get(i) == 0f) zero++;
            all += w.size();
        }
        return all == 0 ? 0 : (double) zero / all;
    }
}
