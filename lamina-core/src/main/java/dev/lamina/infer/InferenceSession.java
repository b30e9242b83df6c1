package dev.lamina.infer;

import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.Kernels;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ModelConfig.Activation;
import dev.lamina.model.ModelConfig.Norm;
import dev.lamina.model.ModelConfig.Position;
import dev.lamina.model.Parameters;
import dev.lamina.tensor.Tensor;

/**
 * Incremental decoding of one sequence with a contiguous KV cache: no autograd, each call appends
 * tokens and returns the logits of the last one. Gives the same logits as a full forward pass.
 *
 * <p>Cache per layer: k, v [capacity, KV·hd]. Shapes: n new tokens, d hidden, V vocabulary.
 */
public final class InferenceSession {
    private final Decoder model;
    private final ModelConfig c;
    private final Parameters p;
    private final KernelSet k = Kernels.get();
    private final int capacity;
    private final float[][] keys, values; // [L][capacity · KV · hd]
    private int pos;

    public InferenceSession(Decoder model, int capacity) {
        this.model = model;
        this.c = model.config();
        this.p = model.params();
        this.capacity = Math.min(capacity, c.maxPositionEmbeddings());
        keys = new float[c.numHiddenLayers()][this.capacity * c.kvDim()];
        values = new float[c.numHiddenLayers()][this.capacity * c.kvDim()];
    }

    public int position() { return pos; }
    public int capacity() { return capacity; }
    public void reset() { pos = 0; }

    /** Appends tokens at the current position; returns the logits [V] after the last one. */
    public float[] forward(int... tokens) {
        int n = tokens.length, d = c.hiddenSize(), V = c.vocabSize();
        if (n == 0) throw new IllegalArgumentException("no tokens");
        if (pos + n > capacity)
            throw new IllegalArgumentException("context full: " + (pos + n) + " tokens exceed the capacity " + capacity);
        Tensor x = Tensor.zeros(n, d);
        Tensor posTable = p.has("embed_positions.weight") ? p.value("embed_positions.weight").rows(pos, pos + n) : null;
        k.embedding(x, tokens, p.value("embed_tokens.weight"), posTable, n);
        Scratch s = new Scratch(n, c);
        for (int l = 0; l < c.numHiddenLayers(); l++) layer(l, x, s);
        Tensor last = x.rows(n - 1, n);
        Tensor h = Tensor.zeros(1, d);
        norm("norm", h, last, s, 1f);
        Tensor logits = Tensor.zeros(1, V);
        k.matmul(logits, h, p.value(c.tieWordEmbeddings() ? "embed_tokens.weight" : "lm_head.weight"), null);
        pos += n;
        return logits.data();
    }

    /** Buffers for one call of n tokens. */
    private record Scratch(Tensor h, Tensor q, Tensor kk, Tensor v, Tensor att, Tensor o, Tensor a, Tensor b, Tensor m,
                           Tensor mean, Tensor rstd, float[] scores) {
        Scratch(int n, ModelConfig c) {
            this(Tensor.zeros(n, c.hiddenSize()), Tensor.zeros(n, c.hiddenSize()), Tensor.zeros(n, c.kvDim()),
                    Tensor.zeros(n, c.kvDim()), Tensor.zeros(n, c.hiddenSize()), Tensor.zeros(n, c.hiddenSize()),
                    Tensor.zeros(n, c.intermediateSize()), Tensor.zeros(n, c.intermediateSize()),
                    Tensor.zeros(n, c.intermediateSize()), Tensor.zeros(n), Tensor.zeros(n), new float[c.maxPositionEmbeddings()]);
        }
    }

    private void layer(int l, Tensor x, Scratch s) {
        String pre = "layers." + l + ".";
        if (c.isPostLn(l)) {                               // x = N1(x + Attn(x)); x = N2(x + MLP(x))
            attention(l, pre, x, s);
            k.add(s.o(), x, s.o());
            norm(pre + "input_layernorm", x, s.o(), s, 1f);
            mlp(pre, x, s);
            k.add(s.o(), x, s.o());
            norm(pre + "post_attention_layernorm", x, s.o(), s, 1f);
        } else {                                           // x += Attn(s·N1(x)); x += MLP(s·N2(x))
            float scale = c.normScale(l);
            norm(pre + "input_layernorm", s.h(), x, s, scale);
            attention(l, pre, s.h(), s);
            k.accumulate(x, s.o());
            norm(pre + "post_attention_layernorm", s.h(), x, s, scale);
            mlp(pre, s.h(), s);
            k.accumulate(x, s.o());
        }
    }

    /** s.o() = Attn(in) for the new tokens, reading and extending layer l's cache. */
    private void attention(int l, String pre, Tensor in, Scratch s) {
        int n = in.dim(0), H = c.numAttentionHeads(), KV = c.numKeyValueHeads(), hd = c.headDim(), kvDim = c.kvDim();
        linear(pre + "self_attn.q_proj", s.q(), in);
        linear(pre + "self_attn.k_proj", s.kk(), in);
        linear(pre + "self_attn.v_proj", s.v(), in);
        if (c.position() == Position.ROPE) {
            k.rope(s.q(), n, H, hd, pos, model.ropeCos(), model.ropeSin(), false);
            k.rope(s.kk(), n, KV, hd, pos, model.ropeCos(), model.ropeSin(), false);
        }
        System.arraycopy(s.kk().data(), 0, keys[l], pos * kvDim, n * kvDim);
        System.arraycopy(s.v().data(), 0, values[l], pos * kvDim, n * kvDim);
        float scale = (float) (1.0 / Math.sqrt(hd));
        int group = H / KV, window = c.window();
        float[] out = s.att().data(), sc = s.scores();
        java.util.Arrays.fill(out, 0f);
        for (int i = 0; i < n; i++) {
            int at = pos + i, lo = window > 0 ? Math.max(0, at - window + 1) : 0;
            for (int h = 0; h < H; h++) {
                int kh = h / group, qo = i * c.hiddenSize() + h * hd;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = lo; j <= at; j++) {
                    sc[j] = k.dot(s.q().data(), qo, keys[l], j * kvDim + kh * hd, hd) * scale;
                    max = Math.max(max, sc[j]);
                }
                float sum = 0;
                for (int j = lo; j <= at; j++) { sc[j] = (float) Math.exp(sc[j] - max); sum += sc[j]; }
                for (int j = lo; j <= at; j++) {
                    float a = sc[j] / sum;
                    int vo = j * kvDim + kh * hd;
                    for (int e = 0; e < hd; e++) out[qo + e] += a * values[l][vo + e];
                }
            }
        }
        linear(pre + "self_attn.o_proj", s.o(), s.att());
    }

    /** s.o() = MLP(in). */
    private void mlp(String pre, Tensor in, Scratch s) {
        if (c.activation() == Activation.SWIGLU) {
            linear(pre + "mlp.gate_proj", s.a(), in);
            linear(pre + "mlp.up_proj", s.b(), in);
            k.swiglu(s.m(), s.a(), s.b());
        } else {
            linear(pre + "mlp.up_proj", s.a(), in);
            k.gelu(s.m(), s.a());
        }
        linear(pre + "mlp.down_proj", s.o(), s.m());
    }

    private void linear(String name, Tensor y, Tensor x) {
        k.matmul(y, x, p.value(name + ".weight"), p.has(name + ".bias") ? p.value(name + ".bias") : null);
    }

    private void norm(String name, Tensor y, Tensor x, Scratch s, float scale) {
        int n = x.dim(0);
        Tensor rstd = s.rstd().rows(0, n), mean = s.mean().rows(0, n);
        if (c.norm() == Norm.RMSNORM) k.rmsnorm(y, rstd, x, p.value(name + ".weight"), (float) c.normEps(), scale);
        else k.layernorm(y, mean, rstd, x, p.value(name + ".weight"), p.value(name + ".bias"), (float) c.normEps(), scale);
    }
}
