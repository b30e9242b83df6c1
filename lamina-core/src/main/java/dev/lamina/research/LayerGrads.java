package dev.lamina.research;

import dev.lamina.kernels.Kernels;
import dev.lamina.model.Parameters;

/**
 * Gradient L2 norms per decoder layer, from the gradient buffer as it is after a backward pass.
 * attention = the layer's self_attn.* tensors, mlp = its mlp.* tensors, layer = all of the layer's
 * tensors (the two norms too). other = embeddings, final norm and LM head. Squares add up:
 * Σ layer[l]² + other² = global².
 */
public record LayerGrads(double[] attention, double[] mlp, double[] layer, double other, double global) {

    public static LayerGrads of(Parameters p, int layers) {
        double[] attn = new double[layers], mlp = new double[layers], all = new double[layers];
        double other = 0;
        for (Parameters.Slot s : p.slots().values()) {
            double sq = Kernels.get().sumOfSquares(p.grad(s.name()));
            int l = layerOf(s.name());
            if (l < 0 || l >= layers) { other += sq; continue; }
            all[l] += sq;
            if (s.name().contains(".self_attn.")) attn[l] += sq;
            else if (s.name().contains(".mlp.")) mlp[l] += sq;
        }
        double total = other;
        for (int l = 0; l < layers; l++) {
            total += all[l];
            attn[l] = Math.sqrt(attn[l]);
            mlp[l] = Math.sqrt(mlp[l]);
            all[l] = Math.sqrt(all[l]);
        }
        return new LayerGrads(attn, mlp, all, Math.sqrt(other), Math.sqrt(total));
    }

    /** The layer index of a canonical name "layers.{l}.…", or -1. */
    static int layerOf(String name) {
        if (!name.startsWith("layers.")) return -1;
        int dot = name.indexOf('.', 7);
        return Integer.parseInt(name.substring(7, dot));
    }

    /** Coefficient of variation (population std / mean) of the whole-layer norms: 0 when perfectly even. */
    public double layerCv() { return cv(layer); }

    static double cv(double[] x) {
        double mean = 0;
        for (double v : x) mean += v;
        mean /= x.length;
        double var = 0;
        for (double v : x) var += (v - mean) * (v - mean);
        return mean == 0 ? 0 : Math.sqrt(var / x.length) / mean;
    }
}
