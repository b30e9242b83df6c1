package dev.lamina.model;

import dev.lamina.autograd.Ops;
import dev.lamina.autograd.Tape;
import dev.lamina.autograd.Var;
import dev.lamina.model.ModelConfig.Activation;
import dev.lamina.model.ModelConfig.Norm;
import dev.lamina.model.ModelConfig.Position;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;

import java.util.function.IntPredicate;

/**
 * The one configurable decoder (GPT-2, Llama, Mistral; Pre-LN, Post-LN, Mix-LN, LayerNorm Scaling).
 * Semantics: docs/ARCHITECTURE.md and the PyTorch test vectors.
 *
 * <p>Shapes: B batch, T sequence, n = B·T rows, d hidden, V vocabulary, H query heads, KV key/value
 * heads, hd head dimension, ff MLP width.
 */
public final class Decoder {
    private final ModelConfig config;
    private final Parameters params;
    private final float[] ropeCos, ropeSin; // [maxPos, hd/2]

    /** A weight and its bias (null when the config has none) as autograd nodes over the parameter buffers. */
    private record Weights(Var weight, Var bias) {}

    /** One layer's weights, looked up by name once so that a step builds no names or nodes. */
    private record Layer(Weights inputNorm, Weights q, Weights k, Weights v, Weights o, Weights postNorm,
                         Weights gate, Weights up, Weights down) {}

    private final Var embedTokens, embedPositions, head;
    private final Weights finalNorm;
    private final Layer[] layers;

    public Decoder(ModelConfig config, Parameters params) {
        this.config = config;
        this.params = params;
        embedTokens = params.var("embed_tokens.weight");
        embedPositions = params.var("embed_positions.weight");
        head = params.var(config.tieWordEmbeddings() ? "embed_tokens.weight" : "lm_head.weight");
        finalNorm = weights("norm");
        layers = new Layer[config.numHiddenLayers()];
        for (int l = 0; l < layers.length; l++) {
            String p = "layers." + l + ".";
            layers[l] = new Layer(weights(p + "input_layernorm"), weights(p + "self_attn.q_proj"), weights(p + "self_attn.k_proj"),
                    weights(p + "self_attn.v_proj"), weights(p + "self_attn.o_proj"), weights(p + "post_attention_layernorm"),
                    weights(p + "mlp.gate_proj"), weights(p + "mlp.up_proj"), weights(p + "mlp.down_proj"));
        }
        int half = config.headDim() / 2, maxPos = config.maxPositionEmbeddings();
        ropeCos = new float[maxPos * half];
        ropeSin = new float[maxPos * half];
        for (int p = 0; p < maxPos; p++)
            for (int i = 0; i < half; i++) {
                double angle = p * Math.pow(config.ropeTheta(), -2.0 * i / config.headDim());
                ropeCos[p * half + i] = (float) Math.cos(angle);
                ropeSin[p * half + i] = (float) Math.sin(angle);
            }
    }

    /** A decoder with freshly initialised weights: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)), norms 1. */
    public static Decoder create(ModelConfig config, long seed) {
        Parameters p = layout(config).build();
        Rng rng = new Rng(seed);
        double residualStd = 0.02 / Math.sqrt(2.0 * config.numHiddenLayers());
        for (Parameters.Slot s : p.slots().values()) {
            Tensor t = p.value(s.name());
            String n = s.name();
            if (n.endsWith("layernorm.weight") || n.equals("norm.weight")) t.fill(1f);
            else if (n.endsWith(".bias")) t.fill(0f);
            else {
                double std = n.endsWith("o_proj.weight") || n.endsWith("down_proj.weight") ? residualStd : 0.02;
                for (int i = 0; i < t.size(); i++) t.set(i, (float) (rng.nextGaussian() * std));
            }
        }
        return new Decoder(config, p);
    }

    /** The parameter layout of a config, in canonical names. Norm weights, biases and embeddings are not decayed. */
    public static Parameters.Layout layout(ModelConfig c) {
        int d = c.hiddenSize(), V = c.vocabSize(), ff = c.intermediateSize(), kv = c.kvDim();
        boolean ln = c.norm() == Norm.LAYERNORM, bias = c.bias();
        Parameters.Layout l = new Parameters.Layout();
        l.add("embed_tokens.weight", false, V, d);
        if (c.position() == Position.LEARNED) l.add("embed_positions.weight", false, c.maxPositionEmbeddings(), d);
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "layers." + i + ".";
            norm(l, p + "input_layernorm", d, ln);
            linear(l, p + "self_attn.q_proj", d, d, bias);
            linear(l, p + "self_attn.k_proj", kv, d, bias);
            linear(l, p + "self_attn.v_proj", kv, d, bias);
            linear(l, p + "self_attn.o_proj", d, d, bias);
            norm(l, p + "post_attention_layernorm", d, ln);
            if (c.activation() == Activation.SWIGLU) {
                linear(l, p + "mlp.gate_proj", ff, d, false);
                linear(l, p + "mlp.up_proj", ff, d, false);
                linear(l, p + "mlp.down_proj", d, ff, false);
            } else {
                linear(l, p + "mlp.up_proj", ff, d, bias);
                linear(l, p + "mlp.down_proj", d, ff, bias);
            }
        }
        norm(l, "norm", d, ln);
        if (!c.tieWordEmbeddings()) l.add("lm_head.weight", true, V, d);
        return l;
    }

    private static void norm(Parameters.Layout l, String name, int d, boolean withBias) {
        l.add(name + ".weight", false, d);
        if (withBias) l.add(name + ".bias", false, d);
    }

    private static void linear(Parameters.Layout l, String name, int out, int in, boolean bias) {
        l.add(name + ".weight", true, out, in);
        if (bias) l.add(name + ".bias", false, out);
    }

    private Weights weights(String name) { return new Weights(params.var(name + ".weight"), params.var(name + ".bias")); }

    public ModelConfig config() { return config; }
    public Parameters params() { return params; }
    public float[] ropeCos() { return ropeCos; }
    public float[] ropeSin() { return ropeSin; }

    /** Called with the hidden state x[n,d] entering each layer l (and l = L for the final norm's input). */
    @FunctionalInterface
    public interface HiddenProbe { void accept(int layer, Tensor hidden); }

    /** Called in each layer with its softmax attention probabilities att[B,H,T,T] (valid only during the call). */
    @FunctionalInterface
    public interface AttentionProbe { void accept(int layer, Tensor att); }

    /** logits[n,V] for ids[B·T]. */
    public Var forward(Tape tape, int[] ids, int B, int T) { return forward(tape, ids, B, T, l -> false, null); }

    /**
     * The forward pass; layers for which skip tests true are the identity (layer-removal studies),
     * probe (may be null) sees the hidden state entering each layer.
     */
    public Var forward(Tape tape, int[] ids, int B, int T, IntPredicate skip, HiddenProbe probe) {
        return forward(tape, ids, B, T, skip, probe, null);
    }

    /** As above; attentionProbe (may be null) sees every layer's attention probabilities. */
    public Var forward(Tape tape, int[] ids, int B, int T, IntPredicate skip, HiddenProbe probe, AttentionProbe attentionProbe) {
        return Ops.linear(tape, hidden(tape, ids, B, T, skip, probe, attentionProbe), head, null);
    }

    /** The final normalised hidden states x[n,d], before the LM head. */
    public Var hidden(Tape tape, int[] ids, int B, int T, IntPredicate skip, HiddenProbe probe, AttentionProbe attentionProbe) {
        if (ids.length != B * T) throw new IllegalArgumentException("ids has " + ids.length + " tokens, expected B·T = " + B * T);
        if (T > config.maxPositionEmbeddings())
            throw new IllegalArgumentException("sequence length " + T + " exceeds max_position_embeddings " + config.maxPositionEmbeddings());
        Var x = Ops.embedding(tape, ids, embedTokens, embedPositions, T);
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            if (probe != null) probe.accept(l, x.value());
            if (skip.test(l)) continue;
            x = layer(tape, l, x, B, T, attentionProbe);
        }
        if (probe != null) probe.accept(config.numHiddenLayers(), x.value());
        return norm(tape, finalNorm, x, 1f);
    }

    /** Forward plus mean cross-entropy against targets; on a training tape, backward() then fills every gradient. */
    public float loss(Tape tape, int[] ids, int[] targets, int B, int T) {
        return loss(tape, ids, targets, B, T, l -> false);
    }

    /** As {@link #loss(Tape, int[], int[], int, int)} with the layers where skip is true left out (identity). */
    public float loss(Tape tape, int[] ids, int[] targets, int B, int T, IntPredicate skip) {
        return Ops.linearCrossEntropy(tape, hidden(tape, ids, B, T, skip, null, null), head, targets);
    }

    /** One decoder layer on x[n,d]. */
    Var layer(Tape tape, int l, Var x, int B, int T, AttentionProbe probe) {
        Layer w = layers[l];
        java.util.function.Consumer<Tensor> att = probe == null ? null : a -> probe.accept(l, a);
        if (config.isPostLn(l)) {                      // x = N1(x + Attn(x)); x = N2(x + MLP(x))
            x = norm(tape, w.inputNorm(), residual(tape, x, w.o(), attention(tape, w, x, B, T, att)), 1f);
            return norm(tape, w.postNorm(), residual(tape, x, w.down(), mlp(tape, w, x)), 1f);
        }
        float s = config.normScale(l);                 // x = x + Attn(s·N1(x)); x = x + MLP(s·N2(x))
        x = residual(tape, x, w.o(), attention(tape, w, norm(tape, w.inputNorm(), x, s), B, T, att));
        return residual(tape, x, w.down(), mlp(tape, w, norm(tape, w.postNorm(), x, s)));
    }

    /** x + h·wᵀ (+ b): the output projection of attention or the MLP, fused with the residual add. */
    private static Var residual(Tape tape, Var x, Weights w, Var h) {
        return Ops.residualLinear(tape, x, h, w.weight(), w.bias());
    }

    private Var norm(Tape tape, Weights w, Var x, float scale) {
        float eps = (float) config.normEps();
        return config.norm() == Norm.RMSNORM
                ? Ops.rmsnorm(tape, x, w.weight(), eps, scale)
                : Ops.layernorm(tape, x, w.weight(), w.bias(), eps, scale);
    }

    /** The attention heads' output [n, H·hd], before w.o(). */
    private Var attention(Tape tape, Layer w, Var x, int B, int T, java.util.function.Consumer<Tensor> probe) {
        int H = config.numAttentionHeads(), KV = config.numKeyValueHeads(), hd = config.headDim();
        Var q = linear(tape, w.q(), x);    // [B,T,H,hd]
        Var k = linear(tape, w.k(), x);    // [B,T,KV,hd]
        Var v = linear(tape, w.v(), x);    // [B,T,KV,hd]
        if (config.position() == Position.ROPE) {
            q = Ops.rope(tape, q, T, H, hd, ropeCos, ropeSin);
            k = Ops.rope(tape, k, T, KV, hd, ropeCos, ropeSin);
        }
        return Ops.attention(tape, q, k, v, B, T, H, KV, hd, config.window(), probe);
    }

    /** The MLP's hidden activation [n,ff], before w.down(). */
    private Var mlp(Tape tape, Layer w, Var x) {
        if (config.activation() == Activation.SWIGLU)
            return Ops.swiglu(tape, linear(tape, w.gate(), x), linear(tape, w.up(), x));
        return Ops.gelu(tape, linear(tape, w.up(), x));
    }

    private static Var linear(Tape tape, Weights w, Var x) { return Ops.linear(tape, x, w.weight(), w.bias()); }

    /** Number of parameters. */
    public long parameterCount() { return params.count(); }
}
