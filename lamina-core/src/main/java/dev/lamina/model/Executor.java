package dev.lamina.model;

import dev.lamina.autograd.Var;

/**
 * The operations a decoder is made of. The decoder's structure (norm placement, attention, MLP,
 * residuals) is written once, in {@link Decoder#hidden} and the methods it calls, against this
 * interface; two executors run it:
 *
 * <ul>
 *   <li>{@link TapeExecutor}: autograd ops on a {@link dev.lamina.autograd.Tape} (training,
 *       evaluation, the research probes), X = {@link Var};</li>
 *   <li>the inference runner ({@code infer.ModelRunner}): linear weights prepared once by the kernel
 *       set, attention over KV caches, X = a tensor of the rows of this call.</li>
 * </ul>
 *
 * A new layer kind (a mixture of experts, a LoRA adapter, a quantized linear) is a method or a
 * branch here, so the compiler puts it on both paths; the parity tests then run every config
 * through both (ParityTest: {@link ParityCheck} compares the training forward and the inference
 * runner with PyTorch on every test vector it finds).
 *
 * <p>X is an activation [rows, width]. An executor may reuse or update an input in place once the
 * decoder has passed it on: the decoder never reads an activation after giving it to
 * {@link #residual}, and reads the arrays {@link #project} returns before the next call.
 */
public interface Executor<X> {
    /**
     * x[n, d]: rows of the token table for this executor's tokens (+ the learned position rows when
     * positions != null); tokens is null when the table is held in blocks ({@link Decoder#storedTable()}).
     */
    X embed(Var tokens, Var positions);

    /** scale · norm(x) with the norm's weight (and bias), the config's kind of norm (RMSNorm or LayerNorm). */
    X norm(Decoder.Norm w, X x, float scale);

    /** gelu(gate) ∘ up (Gemma's MLP). */
    X geglu(X gate, X up);

    /** RMSNorm over each head of x [rows, heads·hd], with the norm's weight [hd] (Qwen3's q/k norms). */
    X headNorm(Decoder.Norm w, X x);

    /** x·wᵀ + b for each linear of ws on the same input (q, k and v; gate and up): an array of the executor's, in ws's order. */
    X[] project(X x, Decoder.Linear[] ws);

    /** Layer l's rotary positions applied to x [n, heads·hd], at the positions of this executor's rows. */
    X rope(int layer, X x, int heads);

    /** Causal grouped-query attention of layer l (its window, the config's scale and soft cap): q [n, H·hd], k and v [n, KV·hd] → [n, H·hd]. */
    X attention(int layer, X q, X k, X v);

    /** r + h·wᵀ + b: an output projection into the residual stream. */
    X residual(X r, X h, Decoder.Linear w);

    /** x·wᵀ + b of one linear map (an output projection that is normed before the residual add). */
    X linear(X x, Decoder.Linear w);

    /** r + y into the residual stream. */
    X add(X r, X y);

    /**
     * Routes the rows of x [n, d] of sparse layer l by its router logits [n, E] (softmax over all
     * experts, the top k kept and renormalised; in training at most the capacity per expert) and
     * returns x's rows grouped by expert [n·k, d]: the rows of expert 0, then of expert 1, ... The
     * routing holds until {@link #combine}.
     */
    X route(int layer, X logits, X x);

    /**
     * For each expert e, its group of rows of grouped (as {@link #route} grouped them) times each
     * linear of ws[e]: an array, in ws[e]'s order, of [n·k, out] whose rows are grouped alike.
     * Experts that received no rows do no work.
     */
    X[] experts(X grouped, Decoder.Linear[][] ws);

    /** [n, d]: for each row, its experts' rows of y [n·k, d] weighted by the router's weights (the routing of the last {@link #route}). */
    X combine(X y);

    /** y + sigmoid(gate) ⊙ s: gate [n, 1] weighs each row of s [n, d] (a shared expert's output); y may be updated in place. */
    X gatedAdd(X y, X gate, X s);

    /** silu(gate) ⊙ up. */
    X swiglu(X gate, X up);

    /** gelu_tanh(x). */
    X gelu(X x);

    /** The rows the head reads: all of them in training, the last row of each sequence that wants logits in inference. */
    X outputRows(X x);

    /**
     * Called with the hidden state entering layer l (l = L: entering the final norm); returns the
     * state to go on with. The runner recycles its per-layer buffers here; the research probes look.
     */
    default X enter(int layer, X x) { return x; }

    /** Whether layer l runs (false makes it the identity, for layer-removal studies). */
    default boolean runs(int layer) { return true; }

    /** Layers per segment of {@link #segment}: 0 runs the whole stack as one (a training tape with activation checkpointing sets it). */
    default int segmentLayers() { return 0; }

    /**
     * x after a run of consecutive layers: layers.apply(executor, x) with the executor to run them on.
     * A training tape with activation checkpointing keeps only x and the result and runs the layers
     * again during backward; every other executor runs them once, on itself.
     */
    default X segment(X x, java.util.function.BiFunction<Executor<X>, X, X> layers) { return layers.apply(this, x); }
}
