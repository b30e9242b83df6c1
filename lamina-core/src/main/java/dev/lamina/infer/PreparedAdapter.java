package dev.lamina.infer;

import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.LinearWeights;
import dev.lamina.model.Decoder;
import dev.lamina.model.Lora;
import dev.lamina.model.ParamKey;

/**
 * A LoRA adapter prepared for inference beside an unmerged base ({@link PreparedModel}): its A and
 * B of each targeted linear prepared by the base's kernel set, so the runner adds s·(x·Aᵀ)·Bᵀ to
 * the rows of the sequences that use it. Several adapters share one base and one batch this way
 * (each sequence names its own, or none), where {@link PreparedModel#merged} folds one adapter into
 * the weights for a model that serves only it. Immutable and shared.
 */
public final class PreparedAdapter {
    private final PreparedModel base;
    private final Lora.Adapter adapter;
    private final LinearWeights[][] a, b;      // by Decoder.Linear.id(): {A [r, in]} and {B [out, r]}, null where not targeted
    private final int rank;
    private final float scale;

    private PreparedAdapter(PreparedModel base, Lora.Adapter adapter) {
        this.base = base;
        this.adapter = adapter;
        Decoder model = base.model();
        KernelSet k = model.kernels();
        Decoder.Linear[] linears = model.linears();
        a = new LinearWeights[linears.length][];
        b = new LinearWeights[linears.length][];
        for (Decoder.Linear lin : linears) {
            if (!Lora.TARGETABLE.contains(lin.key().role()) || !adapter.covers(lin.key())) continue;   // the head never carries one
            a[lin.id()] = new LinearWeights[] {k.prepare(adapter.params().value(lin.key().lora(ParamKey.Factor.LORA_A).name()), null)};
            b[lin.id()] = new LinearWeights[] {k.prepare(adapter.params().value(lin.key().lora(ParamKey.Factor.LORA_B).name()), null)};
        }
        rank = adapter.config().rank();
        scale = adapter.config().scale();
    }

    /**
     * The adapter prepared beside base (whose model must carry no adapter of its own: the base stays
     * unmerged). The adapter must have been made or loaded for base's model.
     */
    public static PreparedAdapter of(PreparedModel base, Lora.Adapter adapter) {
        if (base.model().adapter() != null)
            throw new IllegalArgumentException("the base already folds in an adapter; prepare the plain base model");
        return new PreparedAdapter(base, adapter);
    }

    public PreparedModel base() { return base; }
    public Lora.Adapter adapter() { return adapter; }
    public int rank() { return rank; }
    public float scale() { return scale; }

    /** The prepared A of a linear as a group of one, or null when the adapter leaves it alone. */
    LinearWeights[] a(Decoder.Linear w) { return a[w.id()]; }

    /** The prepared B of a linear as a group of one (null when A is). */
    LinearWeights[] b(Decoder.Linear w) { return b[w.id()]; }
}
