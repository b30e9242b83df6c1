package dev.lamina.research;

import dev.lamina.kernels.KernelSet;
import dev.lamina.model.Parameters;
import dev.lamina.model.Role;

/**
 * Gradient L2 norms per decoder layer, from the gradient buffer as it is after a backward pass.
 * attention = the layer's self_attn.* tensors, mlp = its mlp.* tensors, layer = all of the layer's
 * tensors (the two norms too). other = embeddings, final norm and LM head. Squares add up:
 * Σ layer[l]² + other² = global².
 */
public record LayerGrads(double[] attention, double[] mlp, double[] layer, double other, double global) {

    public static LayerGrads of(KernelSet k, Parameters p, int layers) {
        double[] attn = new double[layers], mlp = new double[layers], all = new double[layers];
        double other = 0;
        for (Parameters.Slot s : p.slots().values()) {
            double sq = k.sumOfSquares(p.grad(s.name()));
            int l = s.layer();
            if (l < 0 || l >= layers) { other += sq; continue; }
            all[l] += sq;
            if (s.role().part() == Role.Part.ATTN) attn[l] += sq;
            else if (s.role().part() == Role.Part.MLP) mlp[l] += sq;
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
