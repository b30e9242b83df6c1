package dev.lamina.hf;

import dev.lamina.io.LaminaException;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The Hugging Face architectures Lamina reads and writes, by their {@code model_type}. */
public enum HfArch {
    GPT2("gpt2", "GPT2LMHeadModel", "transformer."),
    LLAMA("llama", "LlamaForCausalLM", "model."),
    MISTRAL("mistral", "MistralForCausalLM", "model."),
    /** Llama with biases on q, k and v (none on o): imported with a zero o bias, exported as llama. */
    QWEN2("qwen2", "Qwen2ForCausalLM", "model."),
    /** Llama with an RMSNorm over each query and key head before RoPE, and its own head_dim. */
    QWEN3("qwen3", "Qwen3ForCausalLM", "model."),
    /** Llama's names with GeGLU, embeddings times sqrt(d), a tied head and RMSNorm weights stored as w − 1. */
    GEMMA("gemma", "GemmaForCausalLM", "model."),
    /**
     * Gemma with sandwich norms (its post_attention_layernorm is on the attention's output, pre_ and
     * post_feedforward_layernorm around the MLP), sliding and global attention alternating, soft-capped
     * attention scores and logits, and scores scaled by 1/sqrt(query_pre_attn_scalar).
     */
    GEMMA2("gemma2", "Gemma2ForCausalLM", "model."),
    /**
     * Gemma 3's text model (270M, 1B; the text tower of the larger ones): Gemma 2's layers with q/k
     * norms, no soft caps by default, one global layer in six, and the windowed layers' own RoPE base.
     */
    GEMMA3("gemma3_text", "Gemma3ForCausalLM", "model."),
    /** Llama with q, k, v in one qkv_proj and gate, up in one gate_up_proj (split on import, fused on export). */
    PHI3("phi3", "Phi3ForCausalLM", "model."),
    /** Mistral with every layer's MLP a mixture of experts (block_sparse_moe: a router and experts w1, w3, w2). */
    MIXTRAL("mixtral", "MixtralForCausalLM", "model."),
    /**
     * Qwen2's attention with sparse layers every decoder_sparse_step-th layer (the others dense):
     * experts of moe_intermediate_size, top-k optionally renormalised, and a shared expert weighted by
     * sigmoid(x·g) (Qwen1.5-MoE, Qwen2-MoE).
     */
    QWEN2_MOE("qwen2_moe", "Qwen2MoeForCausalLM", "model.");

    /** What Lamina's norm weight is to the file's: Gemma's RMSNorm multiplies by (1 + w). */
    public float normOffset() { return this == GEMMA || this == GEMMA2 || this == GEMMA3 ? 1f : 0f; }

    /** The config's {@code model_type}. */
    public final String modelType;
    /** The class written to {@code architectures} on export. */
    public final String causalLm;
    /** The prefix of the base model's tensors in a *ForCausalLM checkpoint (optional on import). */
    public final String prefix;

    HfArch(String modelType, String causalLm, String prefix) {
        this.modelType = modelType;
        this.causalLm = causalLm;
        this.prefix = prefix;
    }

    /** The architecture of a model_type; source names the file in the error. */
    public static HfArch of(String modelType, String source) {
        for (HfArch a : values()) if (a.modelType.equals(modelType)) return a;
        if (modelType.equals("gemma3"))
            throw new LaminaException(source + ": model_type 'gemma3' is Gemma 3 with its vision tower (Gemma3ForConditionalGeneration), "
                    + "which Lamina does not run; it reads text-only Gemma 3 checkpoints (model_type gemma3_text: Gemma 3 270M and 1B)");
        throw new LaminaException(source + ": model_type '" + modelType + "' is not supported; Lamina reads "
                + Arrays.stream(values()).map(a -> a.modelType).collect(Collectors.joining(", ")));
    }

    @Override public String toString() { return modelType.toLowerCase(Locale.ROOT); }
}
