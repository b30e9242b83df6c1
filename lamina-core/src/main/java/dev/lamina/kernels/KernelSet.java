package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;

/**
 * Every numeric kernel the decoder needs, forward and backward side by side (llm.c order:
 * outputs first, then upstream gradients, then saved inputs and weights, then sizes).
 *
 * <p>Two implementations: {@link ScalarKernels}, the plain reference, and {@link VectorKernels}
 * (Vector API), each bound to a thread pool ({@link Kernels#of}). A model, an inference session
 * and a trainer each compute with the kernel set they hold, so one JVM can run a scalar and a
 * vector model side by side, or two thread counts. Every backward <b>accumulates</b> (+=) into its gradient outputs, because a tensor
 * can feed several ops; every forward <b>overwrites</b> its outputs.
 *
 * <p>Shapes: n rows (n = B·T tokens), d features, V vocabulary, H query heads, KV key/value heads,
 * hd head dimension. Weights are stored [out, in] as torch.nn.Linear.
 */
public interface KernelSet {

    /** Implementation name, for logs and benchmark reports. */
    String name();

    /** The name with what shapes this set's speed, for benchmark headers: e.g. "vector (16 lanes, 32 registers, GEMM tile 12x2)". */
    default String describe() { return name(); }

    /** The pool the kernels split their work over. */
    Parallel parallel();

    /** Threads of {@link #parallel()}. */
    default int threads() { return parallel().threads(); }

    /**
     * The first position that position i attends to: 0, or with a sliding window of W (window > 0)
     * max(0, i − W + 1), so that i − W &lt; j ≤ i.
     */
    static int firstVisible(int i, int window) { return window > 0 ? Math.max(0, i - window + 1) : 0; }

    // ---- matmul: the three layouts a training step uses -------------------------------------

    /** y[n,out] = x[n,in] · w[out,in]ᵀ (+ bias[out] when bias != null). in = w.dim(1), out = w.dim(0). */
    default void matmul(Tensor y, Tensor x, Tensor w, Tensor bias) { matmul(y, x, w, bias, dev.lamina.tensor.Precision.FP32); }

    /**
     * As above with w read rounded to wAs (16-bit training reads its float32 master weights so): the
     * same bits as the product with a rounded copy of w, without the copy.
     */
    void matmul(Tensor y, Tensor x, Tensor w, Tensor bias, dev.lamina.tensor.Precision wAs);

    /** dx[n,in] += dy[n,out] · w[out,in]. */
    default void matmulBackwardInput(Tensor dx, Tensor dy, Tensor w) { matmulBackwardInput(dx, dy, w, dev.lamina.tensor.Precision.FP32); }

    /** As above with w read rounded to wAs, as {@link #matmul(Tensor, Tensor, Tensor, Tensor, dev.lamina.tensor.Precision)} reads it. */
    void matmulBackwardInput(Tensor dx, Tensor dy, Tensor w, dev.lamina.tensor.Precision wAs);

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
     * (zeros where masked). Query head h reads KV head h / (H/KV). The scores are formed as
     * {@link AttentionScores} says: scaled, soft-capped when it has a cap, masked to its window.
     */
    void attention(Tensor out, Tensor att, Tensor q, Tensor k, Tensor v, int B, int T, int H, int KV, int hd, AttentionScores scores);

    /** dq, dk, dv += gradients of attention, given dout and the saved att (a soft cap's derivative from the recomputed scores). */
    void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor att,
                           int B, int T, int H, int KV, int hd, AttentionScores scores);

    /** In place: a[off + i] = cap·tanh(a[off + i]/cap) for i < len (Gemma 2's soft cap of logits and scores). */
    void softcap(float[] a, int off, int len, float cap);

    /** In place: g *= 1 − (y/cap)², the derivative of a soft cap whose output was y (g: dy in, dx out). */
    void softcapBackward(Tensor g, Tensor y, float cap);

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

    /** A target that counts for nothing (a prompt token in fine-tuning): loss 0 and a zero gradient row. Hugging Face's -100. */
    int IGNORE = -100;

    // ---- elementwise and reductions ---------------------------------------------------------

    /** y = a + b (y may alias a or b). */
    void add(Tensor y, Tensor a, Tensor b);

    /** y += x. */
    void accumulate(Tensor y, Tensor x);

    /** out[rows·cols] = the NF4 matrix w, dequantized (QLoRA's frozen base, one matrix at a time). */
    void nf4Dequantize(Nf4Weights w, Tensor out);

    /** y *= s. */
    void scale(Tensor y, float s);

    /** y = a ∘ b, elementwise (y may alias a or b). */
    void mul(Tensor y, Tensor a, Tensor b);

    /** y += a ∘ b, elementwise. */
    void multiplyAdd(Tensor y, Tensor a, Tensor b);

    /** Σ x², accumulated in double. */
    double sumOfSquares(Tensor x);

    /** Elements per block of {@link #squaresByBlock}. */
    int SQUARES_BLOCK = 1 << 12;

    /**
     * out[b] = Σ x[i]² over block b, the elements [b·SQUARES_BLOCK, (b+1)·SQUARES_BLOCK) ∩ [0, n), for
     * b < ceil(n / SQUARES_BLOCK). {@link #sumOfSquares} is exactly the in-order double sum of these,
     * so any split of x at block boundaries (one worker's shard of the gradient) gives the same total.
     */
    void squaresByBlock(Tensor x, double[] out);

    /**
     * x rounded in place to precision p's nearest value, ties to even, kept as float32 (a 16-bit
     * store and load: {@link dev.lamina.tensor.Precision#round}); FP32 leaves x as it is.
     */
    void round(Tensor x, dev.lamina.tensor.Precision p);

    /**
     * dst[i] = src[i] in p's 16 bits (BF16 or FP16) when every src[i] is exact in them, and returns
     * true; returns false otherwise (dst then holds no meaning). {@link dev.lamina.tensor.Half} is the reference.
     */
    default boolean pack16(float[] src, short[] dst, dev.lamina.tensor.Precision p) { return pack16(src, 0, dst, 0, src.length, p); }

    /** {@link #pack16} of n values, src from srcOff into dst from dstOff. */
    boolean pack16(float[] src, int srcOff, short[] dst, int dstOff, int n, dev.lamina.tensor.Precision p);

    /** dst[i] = the float32 value of src[i] in p's 16 bits. */
    default void unpack16(short[] src, float[] dst, dev.lamina.tensor.Precision p) { unpack16(src, 0, dst, 0, dst.length, p); }

    /** {@link #unpack16} of n values, src from srcOff into dst from dstOff. */
    void unpack16(short[] src, int srcOff, float[] dst, int dstOff, int n, dev.lamina.tensor.Precision p);

    /** Σ a[aOff+i]·b[bOff+i] for i < len. */
    float dot(float[] a, int aOff, float[] b, int bOff, int len);

    /**
     * {@link #dot} with b in p's 16 bits (BF16 or FP16, finite): the same sum, bit for bit, as dot over
     * b's float32 values (a 16-bit KV cache's keys).
     */
    float dot(float[] a, int aOff, short[] b, int bOff, int len, dev.lamina.tensor.Precision p);

    /**
     * Attention scores of one query over count key rows: out[oOff+j] = {@link #dot}(q from qOff, row_j, len)·scale for
     * j < count, row_j = idx[idxOff+j] + add when idx != null (cached keys by slot), else add + j·stride (a chunk's
     * own). Each score is the chain dot computes, whatever count; kernels may compute several at once.
     */
    default void scores(float[] q, int qOff, float[] K, int[] idx, int idxOff, int add, int stride, int count, float scale,
                        float[] out, int oOff, int len) {
        for (int j = 0; j < count; j++) out[oOff + j] = dot(q, qOff, K, idx != null ? idx[idxOff + j] + add : add + j * stride, len) * scale;
    }

    /** {@link #scores} over cached key rows row_j = idx[idxOff+j] + add in format's 16 bits: each the chain of the 16-bit dot. */
    default void scores(float[] q, int qOff, short[] K, dev.lamina.tensor.Precision format, int[] idx, int idxOff, int add, int count,
                        float scale, float[] out, int oOff, int len) {
        for (int j = 0; j < count; j++) out[oOff + j] = dot(q, qOff, K, idx[idxOff + j] + add, len, format) * scale;
    }

    /**
     * One AdamW step on p (decoupled weight decay): m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
     * p −= lr·( (m/bc1) / (sqrt(v/bc2) + eps) + wd·p ), with bc1 = 1 − β1^t, bc2 = 1 − β2^t.
     */
    void adamw(Tensor p, Tensor g, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
               float weightDecay, float bc1, float bc2);

    // ---- inference: linear layers prepared once, attention over a KV cache -------------------

    /** w[out,in] and bias[out] (may be null) prepared for {@link #project} (packed by the vector kernels). */
    LinearWeights prepare(Tensor w, Tensor bias);

    /**
     * w prepared in a storage format: {@link WeightFormat#F32} as {@link #prepare(Tensor, Tensor)},
     * {@link WeightFormat#BF16} and {@link WeightFormat#F16} rounded into {@link HalfWeights}, {@link WeightFormat#Q8_0} quantized into
     * {@link Q8Weights}, which every kernel set's project reads.
     */
    default LinearWeights prepare(Tensor w, Tensor bias, WeightFormat format) {
        return switch (format) {
            case F32, STORED -> prepare(w, bias);
            case BF16 -> HalfWeights.pack(parallel(), w, bias, dev.lamina.tensor.Precision.BF16);
            case F16 -> HalfWeights.pack(parallel(), w, bias, dev.lamina.tensor.Precision.FP16);
            case Q8_0 -> Q8Weights.quantize(parallel(), w, bias);
        };
    }

    /**
     * ys[m][i, o] = Σ_k x[i, k]·ws[m][o, k] (+ bias) for rows i < n and each matrix m (all with the
     * input width of x, each y [n, out_m] from its offset), in one parallel region. Every output is
     * summed in one order whatever n, the row's place in the batch or the thread count, so a row's
     * result never depends on what else is in the batch. ws must come from this kernel set's prepare.
     */
    void project(int n, Tensor x, LinearWeights[] ws, Tensor[] ys);

    /**
     * ys[m] = xs[m]·ws[m]ᵀ (+ bias) for n[m] rows of each, every map with its own input rows (a
     * mixture of experts: each expert's group of rows through its own maps), in one parallel region;
     * each output equals {@link #project} of that map alone. A map with n[m] = 0 does nothing.
     */
    default void projectEach(int[] n, Tensor[] xs, LinearWeights[] ws, Tensor[] ys) {
        for (int m = 0; m < ws.length; m++)
            if (n[m] > 0) project(n[m], xs[m], new LinearWeights[] {ws[m]}, new Tensor[] {ys[m]});
    }

    /** In place: a[off, off+len) = softmax(a[off, off+len)). len >= 1. */
    void softmax(float[] a, int off, int len);

    /**
     * out[oOff, oOff+hd) += Σ_j p[pOff+j] · V[row_j, row_j+hd) for j < count, in j order, where
     * row_j = idx[idxOff+j] + add when idx != null, else add + j·stride (cached values by slot, or
     * a chunk's own rows).
     */
    void weightedRows(float[] p, int pOff, int count, float[] V, int[] idx, int idxOff, int add, int stride,
                      float[] out, int oOff, int hd);

    /**
     * {@link #weightedRows} over cached rows row_j = idx[idxOff+j] + add of V in format's 16 bits (BF16 or FP16,
     * finite): the same sums, bit for bit, as over V's float32 values (a 16-bit KV cache's values).
     */
    void weightedRows(float[] p, int pOff, int count, short[] V, dev.lamina.tensor.Precision format, int[] idx, int idxOff, int add,
                      float[] out, int oOff, int hd);
}
