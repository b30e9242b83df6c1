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

    public Decoder(ModelConfig config, Parameters params) {
        this.config = config;
        this.params = params;
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

    public ModelConfig config() { return config; }
    public Parameters params() { return params; }
    public float[] ropeCos() { return ropeCos; }
    public float[] ropeSin() { return ropeSin; }

    /** Called with the hidden state x[n,d] entering each layer l (and l = L for the final norm's input). */
    @FunctionalInterface
    public interface HiddenProbe { void accept(int layer, Tensor hidden); }

    /** logits[n,V] for ids[B·T]. */
    public Var forward(Tape tape, int[] ids, int B, int T) { return forward(tape, ids, B, T, l -> false, null); }

    /**
     * The forward pass; layers for which skip tests true are the identity (layer-removal studies),
     * probe (may be null) sees the hidden state entering each layer.
     */
    public Var forward(Tape tape, int[] ids, int B, int T, IntPredicate skip, HiddenProbe probe) {
        return Ops.linear(tape, hidden(tape, ids, B, T, skip, probe), head(), null);
    }

    /** The LM head's weight [V, d] (the token embedding when tied). */
    private Var head() { return params.var(config.tieWordEmbeddings() ? "embed_tokens.weight" : "lm_head.weight"); }

    /** The final normalised hidden states x[n,d], before the LM head. */
    public Var hidden(Tape tape, int[] ids, int B, int T, IntPredicate skip, HiddenProbe probe) {
        if (ids.length != B * T) throw new IllegalArgumentException("ids has " + ids.length + " tokens, expected B·T = " + B * T);
        if (T > config.maxPositionEmbeddings())
            throw new IllegalArgumentException("sequence length " + T + " exceeds max_position_embeddings " + config.maxPositionEmbeddings());
        Var x = Ops.embedding(tape, ids, params.var("embed_tokens.weight"), params.var("embed_positions.weight"), T);
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            if (probe != null) probe.accept(l, x.value());
            if (skip.test(l)) continue;
            x = layer(tape, l, x, B, T);
        }
        if (probe != null) probe.accept(config.numHiddenLayers(), x.value());
        return norm(tape, "norm", x, 1f);
    }

    /** Forward plus mean cross-entropy against targets; on a training tape, backward() then fills every gradient. */
    public float loss(Tape tape, int[] ids, int[] targets, int B, int T) {
        return loss(tape, ids, targets, B, T, l -> false);
    }

    /** As {@link #loss(Tape, int[], int[], int, int)} with the layers where skip is true left out (identity). */
    public float loss(Tape tape, int[] ids, int[] targets, int B, int T, IntPredicate skip) {
        return Ops.linearCrossEntropy(tape, hidden(tape, ids, B, T, skip, null), head(), targets);
    }

    /** One decoder layer on x[n,d]. */
    Var layer(Tape tape, int l, Var x, int B, int T) {
        String p = "layers." + l + ".";
        if (config.isPostLn(l)) {                      // x = N1(x + Attn(x)); x = N2(x + MLP(x))
            x = norm(tape, p + "input_layernorm", Ops.add(tape, x, attention(tape, p, x, B, T)), 1f);
            return norm(tape, p + "post_attention_layernorm", Ops.add(tape, x, mlp(tape, p, x)), 1f);
        }
        float s = config.normScale(l);                 // x = x + Attn(s·N1(x)); x = x + MLP(s·N2(x))
        x = Ops.add(tape, x, attention(tape, p, norm(tape, p + "input_layernorm", x, s), B, T));
        return Ops.add(tape, x, mlp(tape, p, norm(tape, p + "post_attention_layernorm", x, s)));
    }

    private Var norm(Tape tape, String name, Var x, float scale) {
        float eps = (float) config.normEps();
        return config.norm() == Norm.RMSNORM
                ? Ops.rmsnorm(tape, x, params.var(name + ".weight"), eps, scale)
                : Ops.layernorm(tape, x, params.var(name + ".weight"), params.var(name + ".bias"), eps, scale);
    }

    private Var attention(Tape tape, String p, Var x, int B, int T) {
        int H = config.numAttentionHeads(), KV = config.numKeyValueHeads(), hd = config.headDim();
        Var q = linear(tape, p + "self_attn.q_proj", x);    // [B,T,H,hd]
        Var k = linear(tape, p + "self_attn.k_proj", x);    // [B,T,KV,hd]
        Var v = linear(tape, p + "self_attn.v_proj", x);    // [B,T,KV,hd]
        if (config.position() == Position.ROPE) {
            q = Ops.rope(tape, q, T, H, hd, ropeCos, ropeSin);
            k = Ops.rope(tape, k, T, KV, hd, ropeCos, ropeSin);
        }
        Var a = Ops.attention(tape, q, k, v, B, T, H, KV, hd, config.window());
        return linear(tape, p + "self_attn.o_proj", a);
    }

    private Var mlp(Tape tape, String p, Var x) {
        if (config.activation() == Activation.SWIGLU)
            return linear(tape, p + "mlp.down_proj",
                    Ops.swiglu(tape, linear(tape, p + "mlp.gate_proj", x), linear(tape, p + "mlp.up_proj", x)));
        return linear(tape, p + "mlp.down_proj", Ops.gelu(tape, linear(tape, p + "mlp.up_proj", x)));
    }

    private Var linear(Tape tape, String name, Var x) {
        return Ops.linear(tape, x, params.var(name + ".weight"), params.var(name + ".bias"));
    }

    /** Number of parameters. */
    public long parameterCount() { return params.count(); }
}
