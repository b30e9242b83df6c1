package dev.lamina.research;

import dev.lamina.autograd.Tape;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Parameters;
import dev.lamina.model.TapeExecutor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Structured pruning by depth: which layers to remove, and the smaller model without them.
 *
 * <ul>
 *   <li>{@link #blockByAngle}: Gromov et al.'s rule, a block of n consecutive layers starting where
 *       the angular distance between the hidden state entering the block and the one leaving it,
 *       d(x_l, x_{l+n}), is smallest: the block that changes the representation least.</li>
 *   <li>{@link #byRemovalCost}: the n single layers whose removal raises validation perplexity least
 *       (measured one at a time, as {@code lamina diagnose} reports).</li>
 * </ul>
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
}
