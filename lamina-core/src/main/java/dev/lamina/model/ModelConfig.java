package dev.lamina.model;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/**
 * The whole decoder architecture in one record; field names follow the Hugging Face config and the
 * test vectors (docs: ../shared/spec/architecture.md). Validated on construction.
 *
 * @param vocabSize              V
 * @param hiddenSize             d
 * @param numHiddenLayers        L
 * @param numAttentionHeads      H; headDim = d / H
 * @param numKeyValueHeads       KV; divides H (KV = H: multi-head, KV = 1: multi-query)
 * @param intermediateSize       MLP width ff
 * @param maxPositionEmbeddings  the longest context (and the learned position table's length)
 * @param normEps                added to the variance
 * @param mixAlpha               Post-LN share of layers for {@link Placement#MIX}
 * @param slidingWindow          null, or W: position i attends to j with i − W &lt; j ≤ i
 * @param layernormScaling       Pre-LN norm outputs times 1/sqrt(l+1) ("Curse of Depth")
 * @param ropeScaling            null for plain RoPE, else how the rotary frequencies are stretched (Llama 3.1, YaRN, ...)
 * @param explicitHeadDim        null: hd = d / H; else hd, and the attention is H·hd wide (Qwen3, Gemma)
 * @param qkNorm                 RMSNorm over each query and key head before RoPE (Qwen3)
 * @param scaleEmbeddings        token embeddings times sqrt(d), rounded to float32, as Gemma does
 * @param slidingWindowPattern   null: every layer attends through slidingWindow; n: layer l attends to everything when
 *                               (l + 1) is a multiple of n, through the window otherwise (Gemma 2: 2, Gemma 3: 6)
 * @param queryPreAttnScalar     null: scores scaled by 1/sqrt(hd); else by 1/sqrt(this) (Gemma 2)
 * @param attnLogitSoftcapping   null, or c: attention scores become c·tanh(s/c) before the mask and softmax (Gemma 2)
 * @param finalLogitSoftcapping  null, or c: logits become c·tanh(z/c) (Gemma 2)
 * @param sandwichNorms          Pre-LN with a second norm on each sublayer's output before the residual add (Gemma 2):
 *                               x + N_ao(Attn(N1(x))), then x + N_mo(MLP(N2(x)))
 * @param ropeLocalBaseFreq      null: every layer's RoPE is ropeTheta with ropeScaling; else the windowed layers use
 *                               plain RoPE with this base (Gemma 3: 10000, while its global layers have 1e6 and a scaling)
 * @param numExperts             0: dense MLPs; E: the MLP of each sparse layer is E expert MLPs behind a router (Mixtral: 8)
 * @param expertsPerToken        k of a sparse layer's top-k routing (softmax over all experts, top k, renormalised; 1 = Switch)
 * @param moeEvery               layer l is sparse when (l + 1) is a multiple of this: 1 every layer, 2 GLaM's alternation
 * @param routerAuxLossCoef      the load-balancing loss's weight in the training loss (transformers' load_balancing_loss_func)
 * @param routerZLossCoef        the router z-loss's weight (ST-MoE: mean squared log-sum-exp of the router logits)
 * @param capacityFactor         null: every routed token is computed; c: in training an expert takes at most
 *                               ceil(c·rows·k/E) of a layer's tokens, in order, the rest dropped (they keep the residual)
 * @param normTopkProb           the k chosen experts' probabilities renormalised to sum to 1 (Mixtral, true), or used as
 *                               the softmax over all experts gave them (Grok-1, Qwen-MoE: false; the weights sum to less than 1)
 * @param moeIntermediateSize    null: each expert is intermediate_size wide; else its own width (Qwen-MoE: dense layers
 *                               keep intermediate_size)
 * @param sharedExpertIntermediateSize 0: none; s: a sparse layer also runs a shared SwiGLU expert of width s on every
 *                               token, added with the weight sigmoid(x·g) (Qwen-MoE)
 */
public record ModelConfig(
        int vocabSize, int hiddenSize, int numHiddenLayers, int numAttentionHeads, int numKeyValueHeads,
        int intermediateSize, int maxPositionEmbeddings, Norm norm, double normEps, Placement normPlacement,
        double mixAlpha, Position position, double ropeTheta, Activation activation, boolean bias,
        boolean tieWordEmbeddings, Integer slidingWindow, boolean layernormScaling, RopeScaling ropeScaling,
        Integer explicitHeadDim, boolean qkNorm, boolean scaleEmbeddings, Integer slidingWindowPattern,
        Double queryPreAttnScalar, Double attnLogitSoftcapping, Double finalLogitSoftcapping, boolean sandwichNorms,
        Double ropeLocalBaseFreq, int numExperts, int expertsPerToken, int moeEvery, double routerAuxLossCoef,
        double routerZLossCoef, Double capacityFactor, boolean normTopkProb, Integer moeIntermediateSize,
        int sharedExpertIntermediateSize) {

    public enum Norm { RMSNORM, LAYERNORM }
    public enum Placement { PRE, POST, MIX }
    public enum Position { LEARNED, ROPE }
    /** GELU (tanh approximation); SwiGLU: silu(gate)·up; GeGLU: gelu(gate)·up (Gemma). */
    public enum Activation { GELU, SWIGLU, GEGLU }

    public ModelConfig {
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("num_hidden_layers", numHiddenLayers);
        positive("num_attention_heads", numAttentionHeads);
        positive("num_key_value_heads", numKeyValueHeads);
        positive("intermediate_size", intermediateSize);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (norm == null || normPlacement == null || position == null || activation == null)
            throw new LaminaException("model config: norm, norm_placement, position and activation must be set");
        if (explicitHeadDim != null && explicitHeadDim < 1)
            throw new LaminaException("model config: head_dim must be a positive integer, got " + explicitHeadDim);
        if (explicitHeadDim == null && hiddenSize % numAttentionHeads != 0)
            throw new LaminaException("model config: hidden_size " + hiddenSize + " is not divisible by num_attention_heads "
                    + numAttentionHeads + "; choose heads that divide it");
        if (numAttentionHeads % numKeyValueHeads != 0)
            throw new LaminaException("model config: num_key_value_heads " + numKeyValueHeads
                    + " must divide num_attention_heads " + numAttentionHeads);
        int hd = explicitHeadDim != null ? explicitHeadDim : hiddenSize / numAttentionHeads;
        if (position == Position.ROPE && hd % 2 != 0)
            throw new LaminaException("model config: rope needs an even head dimension, got " + hd);
        if (qkNorm && norm != Norm.RMSNORM) throw new LaminaException("model config: qk_norm needs rmsnorm");
        if (!(normEps > 0) || normEps > 1) throw new LaminaException("model config: norm_eps must be in (0, 1], got " + normEps);
        if (!(mixAlpha >= 0 && mixAlpha <= 1)) throw new LaminaException("model config: mix_alpha must be in [0, 1], got " + mixAlpha);
        if (!(ropeTheta > 0)) throw new LaminaException("model config: rope_theta must be positive, got " + ropeTheta);
        if (ropeScaling != null && position != Position.ROPE)
            throw new LaminaException("model config: rope_scaling is set but position is " + position.name().toLowerCase(Locale.ROOT));
        if (slidingWindow != null && slidingWindow < 1)
            throw new LaminaException("model config: sliding_window must be null or >= 1, got " + slidingWindow);
        if (slidingWindowPattern != null && (slidingWindowPattern < 2 || slidingWindow == null))
            throw new LaminaException("model config: sliding_window_pattern must be null or >= 2, with a sliding_window, got "
                    + slidingWindowPattern + " (sliding_window " + slidingWindow + ")");
        positiveOrNull("query_pre_attn_scalar", queryPreAttnScalar);
        positiveOrNull("attn_logit_softcapping", attnLogitSoftcapping);
        positiveOrNull("final_logit_softcapping", finalLogitSoftcapping);
        positiveOrNull("rope_local_base_freq", ropeLocalBaseFreq);
        if (ropeLocalBaseFreq != null && (position != Position.ROPE || slidingWindow == null))
            throw new LaminaException("model config: rope_local_base_freq needs rotary positions and a sliding_window");
        if (sandwichNorms && normPlacement != Placement.PRE)
            throw new LaminaException("model config: sandwich_norms needs norm_placement pre");
        if (numExperts < 0) throw new LaminaException("model config: num_experts must be 0 (dense) or a positive integer, got " + numExperts);
        if (numExperts > 0 && (expertsPerToken < 1 || expertsPerToken > numExperts))
            throw new LaminaException("model config: experts_per_token must be between 1 and num_experts " + numExperts
                    + ", got " + expertsPerToken);
        if (numExperts == 0 && expertsPerToken != 0)
            throw new LaminaException("model config: experts_per_token " + expertsPerToken + " needs num_experts > 0");
        if (moeEvery < 1) throw new LaminaException("model config: moe_every must be a positive integer, got " + moeEvery);
        if (!(routerAuxLossCoef >= 0 && routerAuxLossCoef < Double.POSITIVE_INFINITY))
            throw new LaminaException("model config: router_aux_loss_coef must be a finite number >= 0, got " + routerAuxLossCoef);
        if (!(routerZLossCoef >= 0 && routerZLossCoef < Double.POSITIVE_INFINITY))
            throw new LaminaException("model config: router_z_loss_coef must be a finite number >= 0, got " + routerZLossCoef);
        positiveOrNull("capacity_factor", capacityFactor);
        if (moeIntermediateSize != null && moeIntermediateSize < 1)
            throw new LaminaException("model config: moe_intermediate_size must be null or a positive integer, got " + moeIntermediateSize);
        if (sharedExpertIntermediateSize < 0)
            throw new LaminaException("model config: shared_expert_intermediate_size must be 0 (none) or positive, got " + sharedExpertIntermediateSize);
        if ((moeIntermediateSize != null || sharedExpertIntermediateSize > 0) && numExperts == 0)
            throw new LaminaException("model config: moe_intermediate_size and shared_expert_intermediate_size need num_experts > 0");
        if (sharedExpertIntermediateSize > 0 && activation == Activation.GELU)
            throw new LaminaException("model config: a shared expert needs a gated activation (swiglu or geglu)");
    }

    /** The width of one expert's MLP: moe_intermediate_size, else intermediate_size. */
    public int expertSize() { return moeIntermediateSize != null ? moeIntermediateSize : intermediateSize; }

    private static void positiveOrNull(String field, Double v) {
        if (v != null && !(v > 0 && v < Double.POSITIVE_INFINITY))
            throw new LaminaException("model config: " + field + " must be null or a positive number, got " + v);
    }

    private static void positive(String field, int v) {
        if (v <= 0) throw new LaminaException("model config: " + field + " must be a positive integer, got " + v);
    }

    // ---- derived sizes --------------------------------------------------------------------

    public int headDim() { return explicitHeadDim != null ? explicitHeadDim : hiddenSize / numAttentionHeads; }
    /** What token embeddings are multiplied by: sqrt(d) in float32 with scaleEmbeddings (Gemma), else 1. */
    public float embeddingScale() { return scaleEmbeddings ? (float) Math.sqrt(hiddenSize) : 1f; }

    /** Width of the attention: H·hd (d unless head_dim is set otherwise). */
    public int qDim() { return numAttentionHeads * headDim(); }
    public int kvDim() { return numKeyValueHeads * headDim(); }
    /**
     * The window every layer attends through, 0 when some layer sees the whole context: how much of
     * a sequence a KV cache must keep (a rolling cache needs it positive).
     */
    public int cacheWindow() { return slidingWindow == null || slidingWindowPattern != null ? 0 : slidingWindow; }

    /**
     * The longest sequence the model runs: max_position_embeddings; unbounded for a RoPE model whose
     * every layer is windowed (a rolling cache keeps the window, positions are computed; not with
     * dynamic scaling, whose frequencies change past the context); with longrope, its
     * original_max_position_embeddings (past it transformers switches every position to the long
     * factors, which a KV cache cannot follow).
     */
    public int contextLimit() {
        if (ropeScaling != null && ropeScaling.type() == RopeScaling.Type.LONGROPE)
            return Math.min(maxPositionEmbeddings, ropeScaling.originalMaxPositionEmbeddings());
        if (cacheWindow() > 0 && position == Position.ROPE && (ropeScaling == null || ropeScaling.type() != RopeScaling.Type.DYNAMIC))
            return Integer.MAX_VALUE;
        return maxPositionEmbeddings;
    }

    /** The window layer l attends through, 0 for none. */
    public int window(int layer) {
        if (slidingWindow == null || slidingWindowPattern != null && (layer + 1) % slidingWindowPattern == 0) return 0;
        return slidingWindow;
    }

    /** Whether layer l has a RoPE table of its own: a windowed layer of a model with rope_local_base_freq (Gemma 3). */
    public boolean localRope(int layer) { return ropeLocalBaseFreq != null && window(layer) > 0; }

    /** What attention scores q·k are multiplied by: 1/sqrt(query_pre_attn_scalar), else 1/sqrt(hd), in float32. */
    public float attentionScale() { return (float) (1.0 / Math.sqrt(queryPreAttnScalar != null ? queryPreAttnScalar : headDim())); }

    /** The attention scores' soft cap as a float, 0 for none. */
    public float attentionSoftcap() { return attnLogitSoftcapping == null ? 0f : attnLogitSoftcapping.floatValue(); }

    /** The logits' soft cap as a float, 0 for none. */
    public float logitSoftcap() { return finalLogitSoftcapping == null ? 0f : finalLogitSoftcapping.floatValue(); }

    /** Parameters of this config, computed (no weights needed: Mixtral-8x7B's and Grok-1's counts on paper). */
    public long parameterCount() { return parameterCounts().total(); }

    /** Parameters one token computes with: a sparse layer's router and k of its E experts (the total for a dense model). */
    public long activeParameterCount() { return parameterCounts().active(); }

    /**
     * A config's parameters by part. experts holds every expert of the sparse layers, activeExperts the
     * k of them a token uses; a tied head counts in embeddings only.
     */
    public record ParameterCounts(long embeddings, long attention, long mlp, long experts, long activeExperts, long routers,
                                  long norms, long head) {
        public long total() { return embeddings + attention + mlp + experts + routers + norms + head; }
        public long active() { return total() - experts + activeExperts; }
    }

    public ParameterCounts parameterCounts() {
        long d = hiddenSize;
        long normSize = norm == Norm.LAYERNORM ? 2 * d : d, attention = 0, mlp = 0, experts = 0, active = 0, routers = 0, norms = normSize;
        long embeddings = (long) vocabSize * d + (position == Position.LEARNED ? (long) maxPositionEmbeddings * d : 0);
        for (int l = 0; l < numHiddenLayers; l++) {
            LayerCounts c = layerCounts(l);
            attention += c.attention();
            norms += c.norms();
            mlp += c.mlp();
            experts += c.experts();
            active += c.activeExperts();
            routers += c.routers();
        }
        return new ParameterCounts(embeddings, attention, mlp, experts, active, routers, norms, tieWordEmbeddings ? 0 : (long) vocabSize * d);
    }

    /** Parameters of layer l: its norms, attention, and dense MLP or experts and router. */
    public long layerParameterCount(int l) {
        LayerCounts c = layerCounts(l);
        return c.attention() + c.norms() + c.mlp() + c.experts() + c.routers();
    }

    private record LayerCounts(long attention, long norms, long mlp, long experts, long activeExperts, long routers) {}

    private LayerCounts layerCounts(int l) {
        long d = hiddenSize, ff = intermediateSize, hd = headDim();
        boolean gated = activation != Activation.GELU;
        long normSize = norm == Norm.LAYERNORM ? 2 * d : d;
        long attention = d * qDim() + 2 * d * kvDim() + (long) qDim() * d + (bias ? qDim() + 2L * kvDim() + d : 0);
        long norms = 2 * normSize + (qkNorm ? 2 * hd : 0) + (sandwichNorms ? 2 * normSize : 0);
        long dense = (gated ? 3 : 2) * d * ff, expert = (gated ? 3 : 2) * d * expertSize();
        if (!sparse(l)) return new LayerCounts(attention, norms, dense + (bias && !gated ? ff + d : 0), 0, 0, 0);
        long shared = sharedExpertIntermediateSize > 0 ? 3 * d * sharedExpertIntermediateSize + d : 0;   // and its gate [1, d]
        return new LayerCounts(attention, norms, 0, numExperts * expert + shared, expertsPerToken * expert + shared, numExperts * d);
    }

    /** Whether layer l's MLP is a mixture of experts. */
    public boolean sparse(int layer) { return numExperts > 0 && (layer + 1) % moeEvery == 0; }

    /** Whether any layer is a mixture of experts. */
    public boolean moe() { return numExperts > 0; }

    /** Number of leading Post-LN layers: L for post, floor(mix_alpha·L) for mix, 0 for pre. */
    public int postLayers() {
        return switch (normPlacement) {
            case PRE -> 0;
            case POST -> numHiddenLayers;
            case MIX -> (int) Math.floor(mixAlpha * numHiddenLayers);
        };
    }

    /** Whether layer l normalises after the residual add. */
    public boolean isPostLn(int layer) { return layer < postLayers(); }

    /** Norm output multiplier of layer l: 1/sqrt(l+1) for Pre-LN layers with LayerNorm Scaling, else 1. */
    public float normScale(int layer) {
        return layernormScaling && !isPostLn(layer) ? (float) (1.0 / Math.sqrt(layer + 1)) : 1f;
    }

    /** This config with another number of layers (every other field kept). */
    public ModelConfig withLayers(int layers) { return toBuilder().numHiddenLayers(layers).build(); }

    public ModelConfig withVocabSize(int v) { return toBuilder().vocabSize(v).build(); }

    public ModelConfig withPlacement(Placement p, double alpha, boolean lns) {
        return toBuilder().normPlacement(p).mixAlpha(alpha).layernormScaling(lns).build();
    }

    // ---- building by name ---------------------------------------------------------------------

    /**
     * A builder with Llama's defaults: RMSNorm (eps 1e-5), Pre-LN, rotary positions (θ 10000), SwiGLU,
     * no biases, an untied head, as many key/value heads as query heads, no sliding window. Sizes
     * have no default; build() validates as the constructor does.
     */
    public static Builder builder() { return new Builder(); }

    /** A builder holding this config's fields. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.vocabSize = vocabSize; b.hiddenSize = hiddenSize; b.numHiddenLayers = numHiddenLayers;
        b.numAttentionHeads = numAttentionHeads; b.numKeyValueHeads = numKeyValueHeads; b.intermediateSize = intermediateSize;
        b.maxPositionEmbeddings = maxPositionEmbeddings; b.norm = norm; b.normEps = normEps; b.normPlacement = normPlacement;
        b.mixAlpha = mixAlpha; b.position = position; b.ropeTheta = ropeTheta; b.activation = activation; b.bias = bias;
        b.tieWordEmbeddings = tieWordEmbeddings; b.slidingWindow = slidingWindow; b.layernormScaling = layernormScaling;
        b.ropeScaling = ropeScaling; b.headDim = explicitHeadDim; b.qkNorm = qkNorm; b.scaleEmbeddings = scaleEmbeddings;
        b.slidingWindowPattern = slidingWindowPattern; b.queryPreAttnScalar = queryPreAttnScalar;
        b.attnLogitSoftcapping = attnLogitSoftcapping; b.finalLogitSoftcapping = finalLogitSoftcapping; b.sandwichNorms = sandwichNorms;
        b.ropeLocalBaseFreq = ropeLocalBaseFreq;
        b.numExperts = numExperts; b.expertsPerToken = expertsPerToken; b.moeEvery = moeEvery;
        b.routerAuxLossCoef = routerAuxLossCoef; b.routerZLossCoef = routerZLossCoef; b.capacityFactor = capacityFactor;
        b.normTopkProb = normTopkProb;
        b.moeIntermediateSize = moeIntermediateSize; b.sharedExpertIntermediateSize = sharedExpertIntermediateSize;
        return b;
    }

    /** Named fields for a {@link ModelConfig}; each setter is named as the record component (and the HF field). */
    public static final class Builder {
        private int vocabSize, hiddenSize, numHiddenLayers, numAttentionHeads, intermediateSize, maxPositionEmbeddings;
        private Integer numKeyValueHeads;
        private Norm norm = Norm.RMSNORM;
        private double normEps = 1e-5, mixAlpha = 0.25, ropeTheta = 10000;
        private Placement normPlacement = Placement.PRE;
        private Position position = Position.ROPE;
        private Activation activation = Activation.SWIGLU;
        private boolean bias, tieWordEmbeddings, layernormScaling;
        private Integer slidingWindow;
        private RopeScaling ropeScaling;
        private Integer headDim;
        private boolean qkNorm, scaleEmbeddings, sandwichNorms;
        private Integer slidingWindowPattern;
        private Double queryPreAttnScalar, attnLogitSoftcapping, finalLogitSoftcapping, ropeLocalBaseFreq;
        private int numExperts, expertsPerToken, moeEvery = 1;
        private double routerAuxLossCoef, routerZLossCoef;
        private Double capacityFactor;
        private boolean normTopkProb = true;
        private Integer moeIntermediateSize;
        private int sharedExpertIntermediateSize;

        private Builder() {}

        public Builder vocabSize(int v) { vocabSize = v; return this; }
        public Builder hiddenSize(int v) { hiddenSize = v; return this; }
        public Builder numHiddenLayers(int v) { numHiddenLayers = v; return this; }
        public Builder numAttentionHeads(int v) { numAttentionHeads = v; return this; }
        public Builder numKeyValueHeads(int v) { numKeyValueHeads = v; return this; }
        public Builder intermediateSize(int v) { intermediateSize = v; return this; }
        public Builder maxPositionEmbeddings(int v) { maxPositionEmbeddings = v; return this; }
        public Builder norm(Norm v) { norm = v; return this; }
        public Builder normEps(double v) { normEps = v; return this; }
        public Builder normPlacement(Placement v) { normPlacement = v; return this; }
        public Builder mixAlpha(double v) { mixAlpha = v; return this; }
        public Builder position(Position v) { position = v; return this; }
        public Builder ropeTheta(double v) { ropeTheta = v; return this; }
        public Builder activation(Activation v) { activation = v; return this; }
        public Builder bias(boolean v) { bias = v; return this; }
        public Builder tieWordEmbeddings(boolean v) { tieWordEmbeddings = v; return this; }
        public Builder slidingWindow(Integer v) { slidingWindow = v; return this; }
        public Builder layernormScaling(boolean v) { layernormScaling = v; return this; }
        public Builder ropeScaling(RopeScaling v) { ropeScaling = v; return this; }
        /** An explicit head dimension (null: hidden_size / num_attention_heads). */
        public Builder headDim(Integer v) { headDim = v; return this; }
        public Builder qkNorm(boolean v) { qkNorm = v; return this; }
        public Builder scaleEmbeddings(boolean v) { scaleEmbeddings = v; return this; }
        public Builder slidingWindowPattern(Integer v) { slidingWindowPattern = v; return this; }
        public Builder queryPreAttnScalar(Double v) { queryPreAttnScalar = v; return this; }
        public Builder attnLogitSoftcapping(Double v) { attnLogitSoftcapping = v; return this; }
        public Builder finalLogitSoftcapping(Double v) { finalLogitSoftcapping = v; return this; }
        public Builder sandwichNorms(boolean v) { sandwichNorms = v; return this; }
        public Builder ropeLocalBaseFreq(Double v) { ropeLocalBaseFreq = v; return this; }
        public Builder numExperts(int v) { numExperts = v; return this; }
        public Builder expertsPerToken(int v) { expertsPerToken = v; return this; }
        public Builder moeEvery(int v) { moeEvery = v; return this; }
        public Builder routerAuxLossCoef(double v) { routerAuxLossCoef = v; return this; }
        public Builder routerZLossCoef(double v) { routerZLossCoef = v; return this; }
        public Builder capacityFactor(Double v) { capacityFactor = v; return this; }
        public Builder normTopkProb(boolean v) { normTopkProb = v; return this; }
        public Builder moeIntermediateSize(Integer v) { moeIntermediateSize = v; return this; }
        public Builder sharedExpertIntermediateSize(int v) { sharedExpertIntermediateSize = v; return this; }

        /** GPT-2's choices: LayerNorm, learned positions, GELU, biases and a head tied to the embeddings. */
        public Builder gpt2Style() {
            return norm(Norm.LAYERNORM).position(Position.LEARNED).activation(Activation.GELU).bias(true).tieWordEmbeddings(true);
        }

        public ModelConfig build() {
            return new ModelConfig(vocabSize, hiddenSize, numHiddenLayers, numAttentionHeads,
                    numKeyValueHeads != null ? numKeyValueHeads : numAttentionHeads, intermediateSize, maxPositionEmbeddings,
                    norm, normEps, normPlacement, mixAlpha, position, ropeTheta, activation, bias, tieWordEmbeddings,
                    slidingWindow, layernormScaling, ropeScaling, headDim, qkNorm, scaleEmbeddings, slidingWindowPattern,
                    queryPreAttnScalar, attnLogitSoftcapping, finalLogitSoftcapping, sandwichNorms, ropeLocalBaseFreq,
                    numExperts, expertsPerToken, moeEvery, routerAuxLossCoef, routerZLossCoef, capacityFactor, normTopkProb,
                    moeIntermediateSize, sharedExpertIntermediateSize);
        }
    }

    // ---- JSON (field names as in the test vectors) ----------------------------------------

    private static final Set<String> FIELDS = Set.of("vocab_size", "hidden_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "intermediate_size", "max_position_embeddings", "norm",
            "norm_eps", "norm_placement", "mix_alpha", "position", "rope_theta", "activation", "bias",
            "tie_word_embeddings", "sliding_window", "layernorm_scaling", "rope_scaling", "head_dim", "qk_norm", "scale_embeddings",
            "sliding_window_pattern", "query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping", "sandwich_norms",
            "rope_local_base_freq", "num_experts", "experts_per_token", "moe_every", "router_aux_loss_coef", "router_z_loss_coef",
            "capacity_factor", "norm_topk_prob", "moe_intermediate_size", "shared_expert_intermediate_size");

    public ObjectNode toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("vocab_size", vocabSize);
        o.put("hidden_size", hiddenSize);
        o.put("num_hidden_layers", numHiddenLayers);
        o.put("num_attention_heads", numAttentionHeads);
        o.put("num_key_value_heads", numKeyValueHeads);
        o.put("intermediate_size", intermediateSize);
        o.put("max_position_embeddings", maxPositionEmbeddings);
        o.put("norm", lower(norm));
        o.put("norm_eps", normEps);
        o.put("norm_placement", lower(normPlacement));
        o.put("mix_alpha", mixAlpha);
        o.put("position", lower(position));
        o.put("rope_theta", ropeTheta);
        o.put("activation", lower(activation));
        o.put("bias", bias);
        o.put("tie_word_embeddings", tieWordEmbeddings);
        if (slidingWindow == null) o.putNull("sliding_window"); else o.put("sliding_window", slidingWindow);
        o.put("layernorm_scaling", layernormScaling);
        if (ropeScaling != null) o.set("rope_scaling", ropeScaling.toJson());     // absent: plain RoPE (older files have none)
        if (explicitHeadDim != null) o.put("head_dim", explicitHeadDim);          // absent: d / H
        if (qkNorm) o.put("qk_norm", true);
        if (scaleEmbeddings) o.put("scale_embeddings", true);
        if (slidingWindowPattern != null) o.put("sliding_window_pattern", slidingWindowPattern);
        if (queryPreAttnScalar != null) o.put("query_pre_attn_scalar", queryPreAttnScalar);
        if (attnLogitSoftcapping != null) o.put("attn_logit_softcapping", attnLogitSoftcapping);
        if (finalLogitSoftcapping != null) o.put("final_logit_softcapping", finalLogitSoftcapping);
        if (sandwichNorms) o.put("sandwich_norms", true);
        if (ropeLocalBaseFreq != null) o.put("rope_local_base_freq", ropeLocalBaseFreq);
        if (numExperts > 0) {                                                       // absent: dense
            o.put("num_experts", numExperts);
            o.put("experts_per_token", expertsPerToken);
            o.put("moe_every", moeEvery);
            o.put("router_aux_loss_coef", routerAuxLossCoef);
            o.put("router_z_loss_coef", routerZLossCoef);
            if (capacityFactor != null) o.put("capacity_factor", capacityFactor);
            if (!normTopkProb) o.put("norm_topk_prob", false);
            if (moeIntermediateSize != null) o.put("moe_intermediate_size", moeIntermediateSize);
            if (sharedExpertIntermediateSize > 0) o.put("shared_expert_intermediate_size", sharedExpertIntermediateSize);
        }
        return o;
    }

    public String toJsonString() { return Json.MAPPER.writeValueAsString(toJson()); }

    /** Reads a config; `source` names the file in error messages. Unknown fields are rejected. */
    public static ModelConfig fromJson(JsonNode o, String source) {
        if (o == null || !o.isObject()) throw new LaminaException(source + ": expected a JSON object with the model config");
        Set<String> unknown = new LinkedHashSet<>();
        for (Iterator<String> it = o.propertyNames().iterator(); it.hasNext(); ) {
            String k = it.next();
            if (!FIELDS.contains(k)) unknown.add(k);
        }
        if (!unknown.isEmpty())
            throw new LaminaException(source + ": unknown field(s) " + unknown + "; valid fields are " + new java.util.TreeSet<>(FIELDS));
        int heads = reqInt(o, "num_attention_heads", source);
        try {
            return new ModelConfig(
                    reqInt(o, "vocab_size", source), reqInt(o, "hidden_size", source), reqInt(o, "num_hidden_layers", source),
                    heads, optInt(o, "num_key_value_heads", heads, source), reqInt(o, "intermediate_size", source),
                    reqInt(o, "max_position_embeddings", source),
                    en(o, "norm", Norm.class, Norm.RMSNORM, source), optDouble(o, "norm_eps", 1e-5, source),
                    en(o, "norm_placement", Placement.class, Placement.PRE, source), optDouble(o, "mix_alpha", 0.25, source),
                    en(o, "position", Position.class, Position.ROPE, source), optDouble(o, "rope_theta", 10000.0, source),
                    en(o, "activation", Activation.class, Activation.SWIGLU, source), optBool(o, "bias", false, source),
                    optBool(o, "tie_word_embeddings", false, source),
                    o.has("sliding_window") && !o.get("sliding_window").isNull() ? reqInt(o, "sliding_window", source) : null,
                    optBool(o, "layernorm_scaling", false, source), ropeScaling(o, source),
                    o.has("head_dim") && !o.get("head_dim").isNull() ? reqInt(o, "head_dim", source) : null,
                    optBool(o, "qk_norm", false, source), optBool(o, "scale_embeddings", false, source),
                    o.has("sliding_window_pattern") && !o.get("sliding_window_pattern").isNull() ? reqInt(o, "sliding_window_pattern", source) : null,
                    optNum(o, "query_pre_attn_scalar", source), optNum(o, "attn_logit_softcapping", source),
                    optNum(o, "final_logit_softcapping", source), optBool(o, "sandwich_norms", false, source),
                    optNum(o, "rope_local_base_freq", source), optInt(o, "num_experts", 0, source),
                    optInt(o, "experts_per_token", 0, source), optInt(o, "moe_every", 1, source),
                    optDouble(o, "router_aux_loss_coef", 0, source), optDouble(o, "router_z_loss_coef", 0, source),
                    optNum(o, "capacity_factor", source), optBool(o, "norm_topk_prob", true, source),
                    o.has("moe_intermediate_size") && !o.get("moe_intermediate_size").isNull() ? reqInt(o, "moe_intermediate_size", source) : null,
                    optInt(o, "shared_expert_intermediate_size", 0, source));
        } catch (LaminaException e) {
            throw e.getMessage().startsWith("model config:")
                    ? new LaminaException(source + e.getMessage().substring("model config".length())) : e;
        }
    }

    public static ModelConfig read(Path file) {
        JsonNode node;
        try {
            node = Json.MAPPER.readTree(Files.readString(file));
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot read (" + e.getMessage() + ")");
        } catch (tools.jackson.core.JacksonException e) {
            throw new LaminaException(file + ": malformed JSON (" + e.getOriginalMessage() + ")");
        }
        return fromJson(node, file.toString());
    }

    private static String lower(Enum<?> e) { return e.name().toLowerCase(Locale.ROOT); }

    private static RopeScaling ropeScaling(JsonNode o, String src) {
        JsonNode v = o.get("rope_scaling");
        if (v == null || v.isNull()) return null;
        if (!v.isObject() || !v.has("rope_type") || !v.get("rope_type").isString())
            throw new LaminaException(src + ": field 'rope_scaling' must be an object with a rope_type, got " + v);
        return RopeScaling.fromJson(v.get("rope_type").stringValue(), v, reqInt(o, "max_position_embeddings", src), src + ": rope_scaling");
    }

    private static int reqInt(JsonNode o, String f, String src) {
        JsonNode v = o.get(f);
        if (v == null || v.isNull()) throw new LaminaException(src + ": missing required field '" + f + "'");
        if (!v.isIntegralNumber() || !v.canConvertToInt())
            throw new LaminaException(src + ": field '" + f + "' must be an integer, got " + v);
        return v.intValue();
    }

    private static int optInt(JsonNode o, String f, int def, String src) {
        return o.has(f) && !o.get(f).isNull() ? reqInt(o, f, src) : def;
    }

    private static double optDouble(JsonNode o, String f, double def, String src) {
        JsonNode v = o.get(f);
        if (v == null || v.isNull()) return def;
        if (!v.isNumber()) throw new LaminaException(src + ": field '" + f + "' must be a number, got " + v);
        return v.doubleValue();
    }

    private static Double optNum(JsonNode o, String f, String src) {
        JsonNode v = o.get(f);
        return v == null || v.isNull() ? null : optDouble(o, f, 0, src);
    }

    private static boolean optBool(JsonNode o, String f, boolean def, String src) {
        JsonNode v = o.get(f);
        if (v == null || v.isNull()) return def;
        if (!v.isBoolean()) throw new LaminaException(src + ": field '" + f + "' must be true or false, got " + v);
        return v.booleanValue();
    }

    private static <E extends Enum<E>> E en(JsonNode o, String f, Class<E> type, E def, String src) {
        JsonNode v = o.get(f);
        if (v == null || v.isNull()) return def;
        String s = v.isString() ? v.stringValue() : v.toString();
        for (E e : type.getEnumConstants()) if (e.name().equalsIgnoreCase(s)) return e;
        StringBuilder allowed = new StringBuilder();
        for (E e : type.getEnumConstants()) allowed.append(allowed.isEmpty() ? "" : ", ").append(lower(e));
        throw new LaminaException(src + ": field '" + f + "' must be one of " + allowed + ", got " + v);
    }
}
