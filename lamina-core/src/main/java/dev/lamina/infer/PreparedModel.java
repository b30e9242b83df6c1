package dev.lamina.infer;

import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.LinearWeights;
import dev.lamina.model.Decoder;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * A decoder with every linear weight prepared once by its kernel set for inference (repacked into
 * panels by the vector kernels, read in place by the scalar reference). Immutable and shared:
 * any number of runners and sessions use one, so generating again does not repack. The decoder's
 * parameters must not change while it is in use (prepare again after training more).
 */
public final class PreparedModel {
    private final Decoder model;
    private final LinearWeights[] weights;                 // by Decoder.Linear.id()
    private final LinearWeights[][] singles;               // {weights[id]}, by id
    private final Map<Decoder.Linear[], LinearWeights[]> groups = new IdentityHashMap<>();

    private PreparedModel(Decoder model) {
        this.model = model;
        KernelSet k = model.kernels();
        Decoder.Linear[] linears = model.linears();
        weights = new LinearWeights[linears.length];
        singles = new LinearWeights[linears.length][];
        for (Decoder.Linear lin : linears) {
            weights[lin.id()] = k.prepare(lin.weight().value(), lin.bias() == null ? null : lin.bias().value());
            singles[lin.id()] = new LinearWeights[] {weights[lin.id()]};
        }
        for (int l = 0; l < model.config().numHiddenLayers(); l++) {
            addGroup(model.layer(l).qkv());
            addGroup(model.layer(l).mlpIn());
        }
    }

    /** Prepares every linear weight of model with its kernels. */
    public static PreparedModel of(Decoder model) { return new PreparedModel(model); }

    private void addGroup(Decoder.Linear[] ws) {
        LinearWeights[] g = new LinearWeights[ws.length];
        for (int i = 0; i < ws.length; i++) g[i] = weights[ws[i].id()];
        groups.put(ws, g);
    }

    public Decoder model() { return model; }

    /** The prepared weights of one linear, as a group of one. */
    LinearWeights[] single(Decoder.Linear w) { return singles[w.id()]; }

    /** The prepared weights of a group the decoder hands the executor (a layer's qkv or mlpIn array). */
    LinearWeights[] group(Decoder.Linear[] ws) {
        LinearWeights[] g = groups.get(ws);
        if (g == null) throw new IllegalArgumentException("not a linear group of this model");
        return g;
    }

    /** Bytes of the prepared copies beyond the parameters (0 with the scalar kernels, which read the weights in place). */
    public long extraBytes() {
        long b = 0;
        for (LinearWeights w : weights) b += w.extraBytes();
        return b;
    }
}
