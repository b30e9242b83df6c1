package dev.lamina.model;

/**
 * One parameter tensor: a role, the layer it belongs to (-1 for the model-wide ones), whether it is
 * the bias, and for a LoRA adapter which low-rank factor of that linear map it is. Its canonical
 * name, initialisation and weight decay follow from these.
 */
public record ParamKey(Role role, int layer, boolean bias, Factor factor, int expert) {

    /**
     * The tensor of a linear map itself, one of a LoRA adapter's factors beside it (A [r, in], B [out, r]),
     * or the LSQ step sizes of its quantization-aware training ([out, groups], {@link Qat}).
     */
    public enum Factor { BASE, LORA_A, LORA_B, STEP }

    public ParamKey {
        if (role.perLayer() != (layer >= 0))
            throw new IllegalArgumentException(role + (role.perLayer() ? " needs a layer" : " has no layer") + ", got " + layer);
        if (factor != Factor.BASE && (role.kind() != Role.Kind.LINEAR || bias))
            throw new IllegalArgumentException("LoRA factors and LSQ steps belong to a linear map's weight, not " + role + (bias ? " bias" : ""));
        if (role.perExpert() != (expert >= 0))
            throw new IllegalArgumentException(role + (role.perExpert() ? " needs an expert" : " has no expert") + ", got " + expert);
    }

    public ParamKey(Role role, int layer, boolean bias, Factor factor) { this(role, layer, bias, factor, -1); }

    public ParamKey(Role role, int layer, boolean bias) { this(role, layer, bias, Factor.BASE); }

    /** Expert e's weight of a per-expert role in layer l. */
    public static ParamKey expert(Role role, int layer, int e) { return new ParamKey(role, layer, false, Factor.BASE, e); }

    /** The weight (gain, table) of a model-wide role. */
    public static ParamKey of(Role role) { return new ParamKey(role, -1, false); }

    /** The weight of a per-layer role. */
    public static ParamKey of(Role role, int layer) { return new ParamKey(role, layer, false); }

    /** This parameter's bias. */
    public ParamKey biasOf() { return new ParamKey(role, layer, true, Factor.BASE, expert); }

    /** This linear weight's LoRA factor A or B. */
    public ParamKey lora(Factor f) { return new ParamKey(role, layer, false, f, expert); }

    /** This linear weight's LSQ step sizes. */
    public ParamKey step() { return new ParamKey(role, layer, false, Factor.STEP, expert); }

    /**
     * {@code layers.3.self_attn.q_proj.weight}: the name in checkpoints, test vectors and Hugging Face
     * Llama files; a LoRA factor is {@code layers.3.self_attn.q_proj.lora_A.weight}, as PEFT names it;
     * LSQ steps are {@code layers.3.self_attn.q_proj.weight_step}.
     */
    public String name() {
        if (factor == Factor.STEP) return role.module(layer, expert) + ".weight_step";
        String f = switch (factor) { case BASE, STEP -> ""; case LORA_A -> ".lora_A"; case LORA_B -> ".lora_B"; };
        return role.module(layer, expert) + f + (bias ? ".bias" : ".weight");
    }

    /**
     * Whether this is a layer map: the weight of a per-layer linear map that computes on the hidden
     * state (attention, MLP and expert maps; not a router or a shared expert's gate). These are what
     * pruning sparsifies and quantization calibrates or trains.
     */
    public boolean layerMap() {
        return role.perLayer() && role.kind() == Role.Kind.LINEAR && !bias && factor == Factor.BASE
                && role != Role.ROUTER && role != Role.SHARED_EXPERT_GATE;
    }

    /** AdamW decays the weights of linear maps (the head and LoRA factors included), never biases, norms, embeddings or LSQ steps. */
    public boolean decays() { return role.kind() == Role.Kind.LINEAR && !bias && factor != Factor.STEP; }

    @Override public String toString() { return name(); }
}
