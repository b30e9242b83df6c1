package dev.lamina.autograd;

import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.Kernels;
import dev.lamina.tensor.Tensor;

/**
 * The differentiable ops of the decoder. Each runs its forward kernel and records its backward
 * right beside it, so an op reads as one unit. Shapes: n = B·T rows.
 */
public final class Ops {
    private Ops() {}

    private static KernelSet k() { return Kernels.get(); }

    /** x[n,d] = table[ids] (+ positions[t]). */
    public static Var embedding(Tape tape, int[] ids, Var table, Var positions, int T) {
        int d = table.value().dim(1);
        Var y = tape.var(ids.length, d);
        long t0 = tape.start();
        k().embedding(y.value(), ids, table.value(), positions == null ? null : positions.value(), T);
        tape.forward("embedding", t0);
        tape.record("embedding", () -> k().embeddingBackward(table.grad(), positions == null ? null : positions.grad(), y.grad(), ids, T));
        return y;
    }

    /** y[n,out] = x[n,in]·wᵀ + b. */
    public static Var linear(Tape tape, Var x, Var w, Var b) {
        int out = w.value().dim(0), n = x.size() / w.value().dim(1);
        Var y = tape.var(n, out);
        long t0 = tape.start();
        k().matmul(y.value(), x.value(), w.value(), b == null ? null : b.value());
        tape.forward("linear", t0);
        tape.record("linear", () -> {
            if (x.grad() != null) k().matmulBackwardInput(x.grad(), y.grad(), w.value());
            k().matmulBackwardWeight(w.grad(), b == null ? null : b.grad(), y.grad(), x.value());
        });
        return y;
    }

    /** y = scale · rmsnorm(x)·w over the last dimension. */
    public static Var rmsnorm(Tape tape, Var x, Var w, float eps, float scale) {
        int d = w.size(), n = x.size() / d;
        Var y = tape.var(n, d);
        Tensor rstd = tape.alloc(n);
        long t0 = tape.start();
        k().rmsnorm(y.value(), rstd, x.value(), w.value(), eps, scale);
        tape.forward("rmsnorm", t0);
        tape.record("rmsnorm", () -> k().rmsnormBackward(x.grad(), w.grad(), y.grad(), x.value(), w.value(), rstd, scale));
        return y;
    }

    /** y = scale · (layernorm(x)·w + b) over the last dimension. */
    public static Var layernorm(Tape tape, Var x, Var w, Var b, float eps, float scale) {
        int d = w.size(), n = x.size() / d;
        Var y = tape.var(n, d);
        Tensor mean = tape.alloc(n), rstd = tape.alloc(n);
        long t0 = tape.start();
        k().layernorm(y.value(), mean, rstd, x.value(), w.value(), b == null ? null : b.value(), eps, scale);
        tape.forward("layernorm", t0);
        tape.record("layernorm", () -> k().layernormBackward(x.grad(), w.grad(), b == null ? null : b.grad(), y.grad(), x.value(),
                w.value(), mean, rstd, scale));
        return y;
    }

    /**
     * Rotary embedding, in place on x[B,T,heads,hd]. Safe in place: the op that produced x (a
     * linear) needs only its own input for backward, and the inverse rotation of the gradient runs
     * before that op's backward.
     */
    public static Var rope(Tape tape, Var x, int T, int heads, int hd, float[] cos, float[] sin) {
        long t0 = tape.start();
        k().rope(x.value(), T, heads, hd, 0, cos, sin, false);
        tape.forward("rope", t0);
        tape.record("rope", () -> k().rope(x.grad(), T, heads, hd, 0, cos, sin, true));
        return x;
    }

    /** Causal (sliding-window) grouped-query attention; q[B,T,H,hd], k/v[B,T,KV,hd] → [B,T,H,hd]. */
    public static Var attention(Tape tape, Var q, Var kk, Var v, int B, int T, int H, int KV, int hd, int window) {
        return attention(tape, q, kk, v, B, T, H, KV, hd, window, null);
    }

    /** As above; probe (may be null) sees the softmax probabilities att[B,H,T,T] (research diagnostics). */
    public static Var attention(Tape tape, Var q, Var kk, Var v, int B, int T, int H, int KV, int hd, int window,
                                java.util.function.Consumer<Tensor> probe) {
        Var out = tape.var(B * T, H * hd);
        Tensor att = tape.alloc(B, H, T, T);
        long t0 = tape.start();
        k().attention(out.value(), att, q.value(), kk.value(), v.value(), B, T, H, KV, hd, window);
        tape.forward("attention", t0);
        if (probe != null) probe.accept(att);
        tape.record("attention", () -> k().attentionBackward(q.grad(), kk.grad(), v.grad(), out.grad(), q.value(), kk.value(),
                v.value(), att, B, T, H, KV, hd, window));
        return out;
    }

    public static Var gelu(Tape tape, Var x) {
        Var y = tape.var(x.value().shape());
        long t0 = tape.start();
        k().gelu(y.value(), x.value());
        tape.forward("gelu", t0);
        tape.record("gelu", () -> k().geluBackward(x.grad(), y.grad(), x.value()));
        return y;
    }

    /** silu(gate) ⊙ up. */
    public static Var swiglu(Tape tape, Var gate, Var up) {
        Var y = tape.var(gate.value().shape());
        long t0 = tape.start();
        k().swiglu(y.value(), gate.value(), up.value());
        tape.forward("swiglu", t0);
        tape.record("swiglu", () -> k().swigluBackward(gate.grad(), up.grad(), y.grad(), gate.value(), up.value()));
        return y;
    }

    /** a + b (the residual connection). */
    public static Var add(Tape tape, Var a, Var b) {
        Var y = tape.var(a.value().shape());
        long t0 = tape.start();
        k().add(y.value(), a.value(), b.value());
        tape.forward("add", t0);
        tape.record("add", () -> {
            k().accumulate(a.grad(), y.grad());
            k().accumulate(b.grad(), y.grad());
        });
        return y;
    }

    /**
     * Mean cross-entropy of logits[n,V] against targets. The loss is the root of the graph, so its
     * gradient (softmax − onehot)/n is written into logits.grad right away by the fused kernel.
     */
    public static float crossEntropy(Tape tape, Var logits, int[] targets) {
        int n = targets.length;
        Tensor losses = tape.alloc(n);
        long t0 = tape.start();
        k().crossEntropy(losses, logits.grad(), logits.value(), targets, 1f / n);
        tape.forward("crossEntropy", t0);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += losses.get(i);
        return (float) (sum / n);
    }

    /**
     * Rows per chunk of the fused head (256 × V floats of scratch: 8 MB at V = 8192). Each chunk
     * re-reads w and read-modify-writes dw, so fewer, larger chunks spend less on that traffic:
     * 256 rows cut the head's time by about a fifth against 64 on llama-s.
     */
    static final int HEAD_CHUNK = Integer.getInteger("lamina.headChunk", 256);

    /**
     * The LM head and mean cross-entropy fused, without materialising logits[n,V]: per chunk of rows,
     * logits = x·wᵀ, then the loss and (softmax − onehot)/n, then right away dx = dlogits·w and
     * dw += dlogitsᵀ·x. Computing the gradient in the forward pass is valid because the loss is the
     * root of the graph; the recorded backward has nothing left to do.
     */
    public static float linearCrossEntropy(Tape tape, Var x, Var w, int[] targets) {
        int n = targets.length, d = w.value().dim(1), V = w.value().dim(0);
        int chunk = Math.min(HEAD_CHUNK, n);
        Tensor logits = tape.alloc(chunk, V), losses = tape.alloc(n);
        long t0 = tape.start();
        boolean grad = tape.recording();
        for (int r = 0; r < n; r += chunk) {
            int m = Math.min(chunk, n - r);
            Tensor xc = x.value().view(n, d).rows(r, r + m), lc = logits.rows(0, m);
            k().matmul(lc, xc, w.value(), null);
            int[] tc = java.util.Arrays.copyOfRange(targets, r, r + m);
            k().crossEntropy(losses.rows(r, r + m), grad ? lc : null, lc, tc, 1f / n);
            if (grad) {
                k().matmulBackwardInput(x.grad().view(n, d).rows(r, r + m), lc, w.value());
                k().matmulBackwardWeight(w.grad(), null, lc, xc);
            }
        }
        tape.forward("linearCrossEntropy", t0);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += losses.get(i);
        return (float) (sum / n);
    }
}
