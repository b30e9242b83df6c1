package dev.lamina.kernels;

import dev.lamina.tensor.Tensor;

/**
 * Every numeric kernel the decoder needs, forward and backward side by side (llm.c order:
 * outputs first, then upstream gradients, then saved inputs and weights, then sizes).
 *
 * <p>Two implementations: {@link ScalarKernels}, the plain reference, and {@link VectorKernels}
 * (Vector API). {@link Kernels#get()} picks one; {@code -Dlamina.kernels=scalar} forces the
 * reference. Every backward <b>accumulates</b> (+=) into its gradient outputs, because a tensor
 * can feed several ops; every forward <b>overwrites</b> its outputs.
 *
 * <p>Shapes: n rows (n = B·T tokens), d features, V vocabulary, H query heads, KV key/value heads,
 * hd head dimension. Weights are stored [out, in] as torch.nn.Linear.
 */
public interface KernelSet {

    /** Implementation name, for logs and benchmark reports. */
    String name();

    // ---- matmul: the three layouts a training step uses -------------------------------------

    /** y[n,out] = x[n,in] · w[out,in]ᵀ (+ bias[out] when bias != null). in = w.dim(1), out = w.dim(0). */
    void matmul(Tensor y, Tensor x, Tensor w, Tensor bias);

    /** dx[n,in] += dy[n,out] · w[out,in]. */
    void matmulBackwardInput(Tensor dx, Tensor dy, Tensor w);

    /** dw[out,in] += dy[n,out]ᵀ · x[n,in]; dbias[out] += Σ_rows dy when dbias != null. */
    void matmulBackwardWeight(Tensor dw, Tensor dbias, Tensor dy, Tensor x);

    // ---- norms (d = w.size(); n = x.size()/d). The output is multiplied by scale (LayerNorm Scaling).

    /** y = scale · x / sqrt(mean(x²) + eps) · w; rstd[n] receives 1/sqrt(mean(x²) + eps). */
    void rmsnorm(Tensor y, Tensor rstd, Tensor x, Tensor w, float eps, float scale);

    /** dx += ∂/∂x, dw += ∂/∂w of rmsnorm, given dy and the saved rstd. */
    void rmsnormBackward(Tensor dx, Tensor dw, Tensor dy, Tensor x, Tensor w, Tensor rstd, float scale);

    /** y = scale · ((x − mean) · rstd · w + b), biased variance; b may be null; mean[n], rstd[n] saved. */
    void layernorm(Tensor y, Tensor mean, Tensor rstd, Tensor x, Tensor w, Tensor b, float eps, float scale);

    /** dx, dw, db (db may be null) += gradients of layernorm. */
    void layernormBackward(Tensor dx, Tensor dw, Tensor db, Tensor dy, Tensor x, Tensor w, Tensor mean, Tensor rstd, float scale);

    // ---- positions and attention ------------------------------------------------------------

    /**
     * Rotary embedding in place on x[B,T,heads,hd] ("rotate-half": dim i pairs with i + hd/2),
     * token t at position pos0 + t. cos/sin are tables [maxPos, hd/2] of cos(p·f_i), sin(p·f_i).
     * inverse = true rotates by the negative angle, which is exactly the backward of the forward.
     */
    void rope(Tensor x, int T, int heads, int hd, int pos0, float[] cos, float[] sin, boolean inverse);

    /**
     * Causal (optionally sliding-window) multi-head attention with grouped-query heads.
     * q[B,T,H,hd], k/v[B,T,KV,hd] → out[B,T,H,hd]; att[B,H,T,T] receives the softmax probabilities
     * (zeros where masked). Query head h reads KV head h / (H/KV). window ≤ 0 means no window;
     * otherwise position i attends to j with i − window < j ≤ i. Scores scaled by 1/sqrt(hd).
     */
    void attention(Tensor out, Tensor att, Tensor q, Tensor k, Tensor v, int B, int T, int H, int KV, int hd, int window);

    /** dq, dk, dv += gradients of attention, given dout and the saved att. */
    void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor att,
                           int B, int T, int H, int KV, int hd, int window);

    // ---- activations ------------------------------------------------------------------------

    /** y = gelu_tanh(x) = 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))). */
    void gelu(Tensor y, Tensor x);

    /** dx += dy · gelu_tanh'(x). */
    void geluBackward(Tensor dx, Tensor dy, Tensor x);

    /** y = silu(gate) ⊙ up, silu(g) = g·sigmoid(g). */
    void swiglu(Tensor y, Tensor gate, Tensor up);

    /** dgate += dy ⊙ up ⊙ silu'(gate); dup += dy ⊙ silu(gate). */
    void swigluBackward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up);

    // ---- embeddings and the loss ------------------------------------------------------------

    /** y[n,d] = table[ids[i]] (+ positions[i mod T] when positions != null), n = ids.length. */
    void embedding(Tensor y, int[] ids, Tensor table, Tensor positions, int T);

    /** dtable[ids[i]] += dy[i]; dpositions[i mod T] += dy[i] when dpositions != null. Deterministic. */
    void embeddingBackward(Tensor dtable, Tensor dpositions, Tensor dy, int[] ids, int T);

    /**
     * Softmax cross-entropy over rows of logits[n,V]: losses[i] = logsumexp(row) − row[targets[i]].
     * When dlogits != null it receives (softmax − onehot(target)) · gradScale, overwriting; it may be
     * the same tensor as logits (the logits are then consumed).
     */
    void crossEntropy(Tensor losses, Tensor dlogits, Tensor logits, int[] targets, float gradScale);

    // ---- elementwise and reductions ---------------------------------------------------------

    /** y = a + b (y may alias a or b). */
    void add(Tensor y, Tensor a, Tensor b);

    /** y += x. */
    void accumulate(Tensor y, Tensor x);

    /** y *= s. */
    void scale(Tensor y, float s);

    /** Σ x², accumulated in double. */
    double sumOfSquares(Tensor x);

    /** Σ a[aOff+i]·b[bOff+i] for i < len. */
    float dot(float[] a, int aOff, float[] b, int bOff, int len);

    /**
     * One AdamW step on p (decoupled weight decay): m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
     * p −= lr·( (m/bc1) / (sqrt(v/bc2) + eps) + wd·p ), with bc1 = 1 − β1^t, bc2 = 1 − β2^t.
     */
    void adamw(Tensor p, Tensor g, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
               float weightDecay, float bc1, float bc2);
}
