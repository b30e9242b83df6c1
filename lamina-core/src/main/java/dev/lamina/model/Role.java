package dev.lamina.model;

/**
 * What a parameter is for. This one table decides initialisation and weight decay
 * ({@link ParamKey}), the canonical names, the Hugging Face and GGUF name mappings (hf/, gguf/),
 * the grouping of per-layer diagnostics and the parts Inheritune copies: no code looks at a
 * name's spelling to decide behaviour. A new kind of parameter (an expert's projection, a LoRA
 * factor) is a new row here.
 */
public enum Role {
    EMBEDDING("embed_tokens", Part.EMBEDDINGS, Kind.TABLE, false),
    POSITIONS("embed_positions", Part.POSITIONS, Kind.TABLE, false),
    INPUT_NORM("input_layernorm", Part.NORMS, Kind.NORM, true),
    Q("self_attn.q_proj", Part.ATTN, Kind.LINEAR, true),
    K("self_attn.k_proj", Part.ATTN, Kind.LINEAR, true),
    V("self_attn.v_proj", Part.ATTN, Kind.LINEAR, true),
    O("self_attn.o_proj", Part.ATTN, Kind.LINEAR, true),
    /** Qwen3's RMSNorm over each query head and each key head [hd], before RoPE. */
    Q_NORM("self_attn.q_norm", Part.NORMS, Kind.NORM, true),
    K_NORM("self_attn.k_norm", Part.NORMS, Kind.NORM, true),
    /** Sandwich norms (Gemma 2): on the attention's output, before the residual add. */
    ATTN_OUT_NORM("attn_output_layernorm", Part.NORMS, Kind.NORM, true),
    /** The MLP's input norm (Llama's name; Gemma 2's pre_feedforward_layernorm). */
    POST_NORM("post_attention_layernorm", Part.NORMS, Kind.NORM, true),
    GATE("mlp.gate_proj", Part.MLP, Kind.LINEAR, true),
    UP("mlp.up_proj", Part.MLP, Kind.LINEAR, true),
    DOWN("mlp.down_proj", Part.MLP, Kind.LINEAR, true),
    /** A sparse layer's router [E, d]: one logit per expert. */
    ROUTER("mlp.gate", Part.MLP, Kind.LINEAR, true),
    /** Expert e's SwiGLU/GeGLU gate [ff, d], up [ff, d] and down [d, ff] in a sparse layer (a ParamKey names the expert). */
    EXPERT_GATE("gate_proj", Part.MLP, Kind.LINEAR, true),
    EXPERT_UP("up_proj", Part.MLP, Kind.LINEAR, true),
    EXPERT_DOWN("down_proj", Part.MLP, Kind.LINEAR, true),
    /** A sparse layer's shared expert (Qwen-MoE): every token's SwiGLU of width s, weighted by sigmoid(x·g) with g [1, d]. */
    SHARED_GATE("mlp.shared_expert.gate_proj", Part.MLP, Kind.LINEAR, true),
    SHARED_UP("mlp.shared_expert.up_proj", Part.MLP, Kind.LINEAR, true),
    SHARED_DOWN("mlp.shared_expert.down_proj", Part.MLP, Kind.LINEAR, true),
    SHARED_EXPERT_GATE("mlp.shared_expert_gate", Part.MLP, Kind.LINEAR, true),
    /** Sandwich norms (Gemma 2): on the MLP's output, before the residual add. */
    MLP_OUT_NORM("mlp_output_layernorm", Part.NORMS, Kind.NORM, true),
    FINAL_NORM("norm", Part.FINAL_NORM, Kind.NORM, false),
    HEAD("lm_head", Part.HEAD, Kind.LINEAR, false);

    /** The groups diagnostics report and Inheritune copies. */
    public enum Part { ATTN, MLP, NORMS, EMBEDDINGS, HEAD, POSITIONS, FINAL_NORM }

    /** A lookup table [rows, d], a linear map's weight [out, in] (and bias [out]), or a norm's gain [d] (and bias). */
    public enum Kind { TABLE, LINEAR, NORM }

    private final String path;
    private final Part part;
    private final Kind kind;
    private final boolean perLayer;

    Role(String path, Part part, Kind kind, boolean perLayer) {
        this.path = path;
        this.part = part;
        this.kind = kind;
        this.perLayer = perLayer;
    }

    public Part part() { return part; }
    public Kind kind() { return kind; }
    public boolean perLayer() { return perLayer; }

    /** The canonical module name, as Hugging Face's Llama writes it: {@code layers.3.self_attn.q_proj}, {@code norm}. */
    public String module(int layer) { return perLayer ? "layers." + layer + "." + path : path; }

    /** An expert's module: {@code layers.3.mlp.experts.5.gate_proj}. */
    public String module(int layer, int expert) {
        return expert < 0 ? module(layer) : "layers." + layer + ".mlp.experts." + expert + "." + path;
    }

    /**
     * Whether inference may hold this role's weight outside the float parameters, as a file stores
     * it (quantized blocks or 16 bits): every linear map's, and the token table's (its rows read on lookup).
     */
    public boolean heldAsStored() { return kind == Kind.LINEAR || this == EMBEDDING; }

    /** Whether the role belongs to a sparse layer's MLP (router, experts, shared expert). */
    public boolean sparse() { return this == ROUTER || perExpert() || this == SHARED_GATE || this == SHARED_UP || this == SHARED_DOWN || this == SHARED_EXPERT_GATE; }

    /** Whether each expert of a sparse layer has its own tensor of this role. */
    public boolean perExpert() { return this == EXPERT_GATE || this == EXPERT_UP || this == EXPERT_DOWN; }

    /** Whether the role writes into the residual stream (attention's and the MLP's output projections). */
    public boolean residualOutput() { return this == O || this == DOWN || this == EXPERT_DOWN || this == SHARED_DOWN; }
}
