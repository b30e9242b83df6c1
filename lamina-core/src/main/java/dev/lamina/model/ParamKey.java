package dev.lamina.model;

/**
 * One parameter tensor: a role, the layer it belongs to (-1 for the model-wide ones) and whether
 * it is the bias. Its canonical name, initialisation and weight decay follow from the role.
 */
public record ParamKey(Role role, int layer, boolean bias) {
    public ParamKey {
        if (role.perLayer() != (layer >= 0))
            throw new IllegalArgumentException(role + (role.perLayer() ? " needs a layer" : " has no layer") + ", got " + layer);
    }

    /** The weight (gain, table) of a model-wide role. */
    public static ParamKey of(Role role) { return new ParamKey(role, -1, false); }

    /** The weight of a per-layer role. */
    public static ParamKey of(Role role, int layer) { return new ParamKey(role, layer, false); }

    /** This parameter's bias. */
    public ParamKey biasOf() { return new ParamKey(role, layer, true); }

    /** {@code layers.3.self_attn.q_proj.weight}: the name in checkpoints, test vectors and Hugging Face Llama files. */
    public String name() { return role.module(layer) + (bias ? ".bias" : ".weight"); }

    /** AdamW decays the weights of linear maps (the head included), never biases, norms or embeddings. */
    public boolean decays() { return role.kind() == Role.Kind.LINEAR && !bias; }

    @Override public String toString() { return name(); }
}
