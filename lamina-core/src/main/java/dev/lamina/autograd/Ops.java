package dev.lamina.autograd;

import dev.lamina.kernels.AttentionScores;
import dev.lamina.kernels.KernelSet;
import dev.lamina.model.Qat;
import dev.lamina.tensor.Tensor;

/**
 * The differentiable ops of the decoder. Each is a function that runs the forward kernel and a small
 * {@link Tape.Op} class right below it whose fields hold what the backward kernel needs, so an op
 * reads as one unit. The tape hands the same op objects back every step (no closure per op per
 * step). Shapes: n = B·T rows.
 */
public final class Ops {
    private Ops() {}

    private static Tensor valueOrNull(Var v) { return v == null ? null : v.value(); }

    private static Tensor gradOrNull(Var v) { return v == null ? null : v.grad(); }

    /**
     * A parameter as ops read it: itself, or on a tape with master weights ({@link Tape#roundsWeights})
     * its values rounded to the tape's precision in a buffer of the tape, whose gradient is the
     * parameter's own (the rounding passes the gradient through, as mixed precision's cast does).
     */
    public static Var stored(Tape tape, Var w) {
        if (w == null || !tape.roundsWeights()) return w;
        Tensor v = w.value();
        Tensor r = v.rank() == 1 ? tape.alloc(v.size()) : tape.alloc(v.dim(0), v.size() / v.dim(0));
        long t0 = tape.start();
        roundedCopy(tape, v.data(), v.offset(), r);
        tape.forward("round weights", t0);
        return tape.storedLeaf(w, r);
    }

    /**
     * A weight matrix as products read it (linear maps, the head, experts): itself, or on a tape with
     * master weights the parameter itself marked to be read rounded ({@link Var#readAs}), which the
     * product's kernel rounds as it packs it: the bits of {@link #stored}'s rounded copy, without the
     * copy. Only products may take it (any other op would read the float32 master).
     */
    public static Var read(Tape tape, Var w) {
        if (w == null || !tape.roundsWeights()) return w;
        return tape.roundedRead(w);
    }

    /** to = the to.size() values of from at offset, rounded to the tape's precision. */
    private static void roundedCopy(Tape tape, float[] from, int offset, Tensor to) {
        System.arraycopy(from, offset, to.data(), to.offset(), to.size());
        tape.kernels().round(to, tape.precision());
    }

    /** x[n,d] = table[ids] (+ positions[t]); with master weights, of the rows rounded ({@link #stored}, row by row). */
    public static Var embedding(Tape tape, int[] ids, Var table, Var positions, int T) {
        Var y = tape.var(ids.length, table.value().dim(1));
        Tensor p = tape.roundsWeights() && positions != null ? tape.alloc(T, y.value().dim(1)) : null;
        Embedding op = tape.op(Embedding.class, Embedding::new);
        long t0 = tape.start();
        if (tape.roundsWeights()) {
            tape.kernels().embedding(y.value(), ids, table.value(), null, T);
            tape.kernels().round(y.value(), tape.precision());
            if (p != null) {                               // + the first T position rows, rounded, for each of the B sequences
                roundedCopy(tape, positions.value().data(), positions.value().offset(), p);   // rows 0..T-1
                for (Tensor rows : op.sequences(y.value(), T)) tape.kernels().add(rows, rows, p);
            }
        } else {
            tape.kernels().embedding(y.value(), ids, table.value(), valueOrNull(positions), T);
        }
        tape.forward("embedding", t0);
        op.ids = ids; op.table = table; op.positions = positions; op.y = y; op.T = T;
        return y;
    }

    /**
     * x[n,d] = rows ids of a token table held in blocks (a quantized file's tied head or token
     * table, frozen: nothing flows back to it) (+ positions[t], which does get its gradient).
     */
    public static Var storedEmbedding(Tape tape, int[] ids, dev.lamina.kernels.LinearWeights table, Var positions, int T) {
        int d = table.in();
        Var y = tape.var(ids.length, d);
        long t0 = tape.start();
        table.rows(ids, y.value().data(), y.value().offset());
        tape.forward("embedding", t0);
        if (positions == null) return y;
        int[] at = tape.ints(ids.length);
        for (int i = 0; i < at.length; i++) at[i] = i % T;
        return add(tape, y, embedding(tape, at, positions, null, T));
    }

    private static final class Embedding extends Tape.Op {
        int[] ids; Var table, positions, y; int T;
        private Tensor[] sequences;                        // views of y's rows, T at a time: made when y or T changes, not every step
        private Tensor viewed;
        Embedding() { super("embedding"); }

        Tensor[] sequences(Tensor y, int T) {
            if (y != viewed || sequences[0].dim(0) != T) {
                sequences = new Tensor[y.dim(0) / T];
                for (int b = 0; b < sequences.length; b++) sequences[b] = y.rows(b * T, (b + 1) * T);
                viewed = y;
            }
            return sequences;
        }
        @Override protected void backward() {
            if (table.grad() != null) kernels.embeddingBackward(table.grad(), gradOrNull(positions), y.grad(), ids, T);   // frozen: none
        }
    }

    /** y[n,out] = x[n,in]·wᵀ + b. */
    public static Var linear(Tape tape, Var x, Var w, Var b) {
        Var y = tape.var(x.size() / w.value().dim(1), w.value().dim(0));
        long t0 = tape.start();
        tape.kernels().matmul(y.value(), x.value(), w.value(), valueOrNull(b), w.readAs());
        tape.forward("linear", t0);
        Linear op = tape.op(Linear.class, Linear::new);
        op.x = x; op.w = w; op.b = b; op.y = y;
        return y;
    }

    private static final class Linear extends Tape.Op {
        Var x, w, b, y;
        Linear() { super("linear"); }
        @Override protected void backward() {
            if (x.grad() != null) kernels.matmulBackwardInput(x.grad(), y.grad(), w.value(), w.readAs());
            if (w.grad() != null) kernels.matmulBackwardWeight(w.grad(), gradOrNull(b), y.grad(), x.value());  // frozen: no dw
        }
    }

    /**
     * ŵ[out,in] = the fake-quantized weight of w (quantization-aware training, {@link Qat}): forward
     * onto the grid, backward the straight-through gradient to w and, with LSQ, the scaled step gradient.
     */
    public static Var fakeQuant(Tape tape, Var w, Qat.Weight q) {
        Tensor wv = w.value();
        Var y = tape.var(wv.dim(0), wv.dim(1));
        long t0 = tape.start();
        Qat.forward(q.config(), wv, q.step() == null ? null : q.step().value(), y.value());
        tape.forward("fake_quant", t0);
        FakeQuant op = tape.op(FakeQuant.class, FakeQuant::new);
        op.w = w; op.q = q; op.y = y;
        return y;
    }

    private static final class FakeQuant extends Tape.Op {
        Var w, y; Qat.Weight q;
        FakeQuant() { super("fake_quant"); }
        @Override protected void backward() {
            Var s = q.step();
            Qat.backward(q.config(), w.value(), s == null ? null : s.value(), y.grad(), w.grad(), s == null ? null : s.grad());
        }
    }

    /**
     * y[n,out] = x[n,in]·deq(w)ᵀ + b with w a frozen NF4 matrix (QLoRA's base): decoded into scratch
     * [out·in] for the product and again for backward, which gives dx only (no gradient for w or b).
     */
    public static Var nf4Linear(Tape tape, Var x, dev.lamina.kernels.Nf4Weights w, Var b, Tensor scratch) {
        KernelSet k = tape.kernels();
        return frozenLinear(tape, x, w.rows, w.cols, wt -> k.nf4Dequantize(w, wt), b, scratch);
    }

    /**
     * y[n,out] = x[n,in]·deq(w)ᵀ + b with w [out, in] frozen in a compact form (a GGUF file's
     * quantized blocks, an NF4 base): decode writes the float weights into the scratch (as the
     * inference kernels compute with them) for the product, and again for backward.
     */
    public static Var frozenLinear(Tape tape, Var x, int out, int in, java.util.function.Consumer<Tensor> decode, Var b, Tensor scratch) {
        Var y = tape.var(x.size() / in, out);
        Tensor wt = new Tensor(scratch.data(), scratch.offset(), new int[] {out, in});
        long t0 = tape.start();
        decode.accept(wt);
        tape.kernels().matmul(y.value(), x.value(), wt, valueOrNull(b));
        tape.forward("frozen_linear", t0);
        FrozenLinear op = tape.op(FrozenLinear.class, FrozenLinear::new);
        op.x = x; op.decode = decode; op.y = y; op.wt = wt;
        return y;
    }

    private static final class FrozenLinear extends Tape.Op {
        Var x, y; java.util.function.Consumer<Tensor> decode; Tensor wt;
        FrozenLinear() { super("frozen_linear"); }
        @Override protected void backward() {
            if (x.grad() == null) return;
            decode.accept(wt);                             // the scratch held other matrices since forward
            kernels.matmulBackwardInput(x.grad(), y.grad(), wt);
        }
    }

    /**
     * y[n,out] = r + x[n,in]·wᵀ + b: the projection into a residual connection, fused with it. The
     * product x·wᵀ is not kept (nothing's backward needs it), and in backward r takes y's gradient
     * as its own. Same sums as linear then add: (x·wᵀ + b) + r.
     */
    public static Var residualLinear(Tape tape, Var r, Var x, Var w, Var b) {
        Var y = tape.var(r.value().dim(0), r.value().dim(1));
        long t0 = tape.start();
        tape.kernels().matmul(y.value(), x.value(), w.value(), valueOrNull(b), w.readAs());
        tape.kernels().add(y.value(), y.value(), r.value());
        tape.forward("residualLinear", t0);
        ResidualLinear op = tape.op(ResidualLinear.class, ResidualLinear::new);
        op.r = r; op.x = x; op.w = w; op.b = b; op.y = y;
        return y;
    }

    private static final class ResidualLinear extends Tape.Op {
        Var r, x, w, b, y;
        ResidualLinear() { super("residualLinear"); }
        @Override protected void backward() {
            Tensor g = y.grad();
            if (x.grad() != null) kernels.matmulBackwardInput(x.grad(), g, w.value(), w.readAs());
            if (w.grad() != null) kernels.matmulBackwardWeight(w.grad(), gradOrNull(b), g, x.value());
            addGradient(kernels, r, y, g);   // after the products: were r also x, adopting first would make dx and dy one buffer
        }
    }

    /** y = scale · rmsnorm(x)·w over the last dimension. */
    public static Var rmsnorm(Tape tape, Var x, Var w, float eps, float scale) {
        int d = w.size(), n = x.size() / d;                 // w narrower than x's rows: over each head of a row
        Var y = tape.var(x.value().dim(0), x.size() / x.value().dim(0));
        Tensor rstd = tape.alloc(n);
        long t0 = tape.start();
        tape.kernels().rmsnorm(y.value(), rstd, x.value(), w.value(), eps, scale);
        tape.forward("rmsnorm", t0);
        RmsNorm op = tape.op(RmsNorm.class, RmsNorm::new);
        op.x = x; op.w = w; op.y = y; op.rstd = rstd; op.scale = scale;
        return y;
    }

    private static final class RmsNorm extends Tape.Op {
        Var x, w, y; Tensor rstd; float scale;
        RmsNorm() { super("rmsnorm"); }
        @Override protected void backward() {
            kernels.rmsnormBackward(x.grad(), w.grad(), y.grad(), x.value(), w.value(), rstd, scale);
        }
    }

    /** y = scale · (layernorm(x)·w + b) over the last dimension. */
    public static Var layernorm(Tape tape, Var x, Var w, Var b, float eps, float scale) {
        int d = w.size(), n = x.size() / d;
        Var y = tape.var(n, d);
        Tensor mean = tape.alloc(n), rstd = tape.alloc(n);
        long t0 = tape.start();
        tape.kernels().layernorm(y.value(), mean, rstd, x.value(), w.value(), valueOrNull(b), eps, scale);
        tape.forward("layernorm", t0);
        LayerNorm op = tape.op(LayerNorm.class, LayerNorm::new);
        op.x = x; op.w = w; op.b = b; op.y = y; op.mean = mean; op.rstd = rstd; op.scale = scale;
        return y;
    }

    private static final class LayerNorm extends Tape.Op {
        Var x, w, b, y; Tensor mean, rstd; float scale;
        LayerNorm() { super("layernorm"); }
        @Override protected void backward() {
            kernels.layernormBackward(x.grad(), w.grad(), gradOrNull(b), y.grad(), x.value(), w.value(), mean, rstd, scale);
        }
    }

    /**
     * Rotary embedding, in place on x[B,T,heads,hd]. Safe in place: the op that produced x (a
     * linear) needs only its own input for backward, and the inverse rotation of the gradient runs
     * before that op's backward.
     */
    public static Var rope(Tape tape, Var x, int T, int heads, int hd, float[] cos, float[] sin) {
        long t0 = tape.start();
        tape.kernels().rope(x.value(), T, heads, hd, 0, cos, sin, false);
        tape.forward("rope", t0);
        Rope op = tape.op(Rope.class, Rope::new);
        op.x = x; op.T = T; op.heads = heads; op.hd = hd; op.cos = cos; op.sin = sin;
        return x;
    }

    private static final class Rope extends Tape.Op {
        Var x; int T, heads, hd; float[] cos, sin;
        Rope() { super("rope"); }
        @Override protected void backward() { kernels.rope(x.grad(), T, heads, hd, 0, cos, sin, true); }
    }

    /** Causal (sliding-window, soft-capped: as scores says) grouped-query attention; q[B,T,H,hd], k/v[B,T,KV,hd] → [B,T,H,hd]. */
    public static Var attention(Tape tape, Var q, Var kk, Var v, int B, int T, int H, int KV, int hd, AttentionScores scores) {
        return attention(tape, q, kk, v, B, T, H, KV, hd, scores, null);
    }

    /** As above; probe (may be null) sees the softmax probabilities att[B,H,T,T] (research diagnostics). */
    public static Var attention(Tape tape, Var q, Var kk, Var v, int B, int T, int H, int KV, int hd, AttentionScores scores,
                                java.util.function.Consumer<Tensor> probe) {
        Var out = tape.var(B * T, H * hd);
        Tensor att = tape.alloc(B, H, T, T);
        long t0 = tape.start();
        tape.kernels().attention(out.value(), att, q.value(), kk.value(), v.value(), B, T, H, KV, hd, scores);
        if (tape.recording()) tape.kernels().round(att, tape.precision());   // the probabilities kept for backward, as 16 bits store them
        tape.forward("attention", t0);
        if (probe != null) probe.accept(att);
        Attention op = tape.op(Attention.class, Attention::new);
        op.q = q; op.k = kk; op.v = v; op.out = out; op.att = att;
        op.B = B; op.T = T; op.H = H; op.KV = KV; op.hd = hd; op.scores = scores;
        return out;
    }

    private static final class Attention extends Tape.Op {
        Var q, k, v, out; Tensor att; int B, T, H, KV, hd; AttentionScores scores;
        Attention() { super("attention"); }
        @Override protected void backward() {
            kernels.attentionBackward(q.grad(), k.grad(), v.grad(), out.grad(), q.value(), k.value(), v.value(), att,
                    B, T, H, KV, hd, scores);
        }
    }

    /** y = cap·tanh(x/cap) of x[n, m] (Gemma 2's soft-capped logits). */
    public static Var softcap(Tape tape, Var x, float cap) {
        Var y = tape.var(x.value().dim(0), x.size() / x.value().dim(0));
        long t0 = tape.start();
        System.arraycopy(x.value().data(), x.value().offset(), y.value().data(), y.value().offset(), x.size());
        tape.kernels().softcap(y.value().data(), y.value().offset(), y.size(), cap);
        tape.forward("softcap", t0);
        Softcap op = tape.op(Softcap.class, Softcap::new);
        op.x = x; op.y = y; op.cap = cap;
        return y;
    }

    private static final class Softcap extends Tape.Op {
        Var x, y; float cap;
        Softcap() { super("softcap"); }
        @Override protected void backward() {
            Tensor g = y.grad();
            kernels.softcapBackward(g, y.value(), cap);     // y's gradient is read by no one after this op
            addGradient(kernels, x, y, g);
        }
    }

    /** gelu(x) (tanh approximation) of x[n,ff]. */
    public static Var gelu(Tape tape, Var x) {
        Var y = tape.var(x.value().dim(0), x.value().dim(1));
        long t0 = tape.start();
        tape.kernels().gelu(y.value(), x.value());
        tape.forward("gelu", t0);
        Gelu op = tape.op(Gelu.class, Gelu::new);
        op.x = x; op.y = y;
        return y;
    }

    private static final class Gelu extends Tape.Op {
        Var x, y;
        Gelu() { super("gelu"); }
        @Override protected void backward() { kernels.geluBackward(x.grad(), y.grad(), x.value()); }
    }

    /** silu(gate) ⊙ up, both [n,ff]. */
    public static Var swiglu(Tape tape, Var gate, Var up) {
        Var y = tape.var(gate.value().dim(0), gate.value().dim(1));
        long t0 = tape.start();
        tape.kernels().swiglu(y.value(), gate.value(), up.value());
        tape.forward("swiglu", t0);
        SwiGlu op = tape.op(SwiGlu.class, SwiGlu::new);
        op.gate = gate; op.up = up; op.y = y;
        return y;
    }

    private static final class SwiGlu extends Tape.Op {
        Var gate, up, y;
        SwiGlu() { super("swiglu"); }
        @Override protected void backward() { kernels.swigluBackward(gate.grad(), up.grad(), y.grad(), gate.value(), up.value()); }
    }

    /** y = gelu(gate) ∘ up: Gemma's GeGLU (the tanh GELU), gate and up [n, ff]. */
    public static Var geglu(Tape tape, Var gate, Var up) {
        int n = gate.value().dim(0), ff = gate.size() / n;
        Var y = tape.var(n, ff);
        Tensor g = tape.alloc(gate.size());
        long t0 = tape.start();
        tape.kernels().gelu(g, gate.value());
        tape.kernels().mul(y.value(), g, up.value());
        tape.forward("geglu", t0);
        GeGlu op = tape.op(GeGlu.class, GeGlu::new);
        op.gate = gate; op.up = up; op.y = y; op.g = g;
        return y;
    }

    private static final class GeGlu extends Tape.Op {
        Var gate, up, y; Tensor g;
        GeGlu() { super("geglu"); }
        @Override protected void backward() {
            Tensor dy = y.grad();
            kernels.multiplyAdd(up.grad(), dy, g);                 // d up = dy ∘ gelu(gate)
            kernels.mul(g, dy, up.value());                        // g is free now: dy ∘ up
            kernels.geluBackward(gate.grad(), g, gate.value());    // d gate += (dy ∘ up) ∘ gelu'(gate)
        }
    }

    /**
     * y += h[n,r]·bᵀ in place (a LoRA branch's second factor added into the base output): y keeps its
     * node, so no [n, out] tensor is kept per adapted map; scratch [≥ n·out] holds the product only
     * during this call. Backward gives h and b their gradients from y's; y's own passes through to
     * its producer unchanged (d(y + h·bᵀ)/dy = 1), whose backward needs its inputs, not y.
     */
    public static Var addLinearInPlace(Tape tape, Var y, Var h, Var b, Tensor scratch) {
        int n = y.value().dim(0), out = b.value().dim(0);
        Tensor p = new Tensor(scratch.data(), scratch.offset(), new int[] {n, out});
        long t0 = tape.start();
        tape.kernels().matmul(p, h.value(), b.value(), null);
        tape.kernels().accumulate(y.value(), p);
        tape.forward("lowRankAdd", t0);
        AddLinearInPlace op = tape.op(AddLinearInPlace.class, AddLinearInPlace::new);
        op.y = y; op.h = h; op.b = b;
        return y;
    }

    private static final class AddLinearInPlace extends Tape.Op {
        Var y, h, b;
        AddLinearInPlace() { super("lowRankAdd"); }
        @Override protected void backward() {
            Tensor g = y.grad();
            if (h.grad() != null) kernels.matmulBackwardInput(h.grad(), g, b.value());
            if (b.grad() != null) kernels.matmulBackwardWeight(b.grad(), null, g, h.value());
        }
    }

    /** a + b (the residual connection), both [n,d]. */
    public static Var add(Tape tape, Var a, Var b) {
        Var y = tape.var(a.value().dim(0), a.value().dim(1));
        long t0 = tape.start();
        tape.kernels().add(y.value(), a.value(), b.value());
        tape.forward("add", t0);
        Add op = tape.op(Add.class, Add::new);
        op.a = a; op.b = b; op.y = y;
        return y;
    }

    private static final class Add extends Tape.Op {
        Var a, b, y;
        Add() { super("add"); }
        @Override protected void backward() {
            Tensor g = y.grad();
            kernels.accumulate(b.grad(), g);
            addGradient(kernels, a, y, g);
        }
    }

    /** y = s · x (a LoRA branch's alpha/r). */
    /**
     * x as the tape's precision stores it: rounded in place to the 16-bit format, and in backward its
     * gradient rounded the same way before the op that produced x reads it. x itself (no op) at FP32.
     */
    public static Var store(Tape tape, Var x) {
        dev.lamina.tensor.Precision p = tape.precision();
        if (p == dev.lamina.tensor.Precision.FP32) return x;
        long t0 = tape.start();
        tape.kernels().round(x.value(), p);
        tape.forward("store " + p.label(), t0);
        if (tape.recording()) {
            Store op = tape.op(Store.class, Store::new);
            op.x = x; op.p = p;
        }
        return x;
    }

    private static final class Store extends Tape.Op {
        Var x; dev.lamina.tensor.Precision p;
        Store() { super("store"); }
        @Override protected void backward() {
            Tensor g = x.gradIfAny();
            if (g != null) kernels.round(g, p);
        }
    }

    public static Var scale(Tape tape, Var x, float s) {
        Var y = tape.var(x.value().dim(0), x.size() / x.value().dim(0));
        long t0 = tape.start();
        System.arraycopy(x.value().data(), x.value().offset(), y.value().data(), y.value().offset(), x.size());
        tape.kernels().scale(y.value(), s);
        tape.forward("scale", t0);
        Scale op = tape.op(Scale.class, Scale::new);
        op.x = x; op.y = y; op.s = s;
        return y;
    }

    private static final class Scale extends Tape.Op {
        Var x, y; float s;
        Scale() { super("scale"); }
        @Override protected void backward() {
            Tensor g = y.grad();
            kernels.scale(g, s);                 // y's gradient is read by no one after this op
            addGradient(kernels, x, y, g);
        }
    }

    /**
     * Inverted dropout: y = x · mask / (1 − p), each element kept with probability 1 − p (masks from
     * the tape's seeded generator). Only on a recording tape; on an inference tape, or with p = 0, x itself.
     */
    public static Var dropout(Tape tape, Var x, float p) {
        if (!tape.recording() || p == 0f) return x;
        int n = x.size();
        Var y = tape.var(x.value().dim(0), n / x.value().dim(0));
        Tensor mask = tape.alloc(n);
        long t0 = tape.start();
        dev.lamina.tensor.Rng rng = tape.dropoutRng();
        float keep = 1f / (1f - p);
        float[] m = mask.data(), xs = x.value().data(), ys = y.value().data();
        int mo = mask.offset(), xo = x.value().offset(), yo = y.value().offset();
        for (int i = 0; i < n; i++) {
            m[mo + i] = rng.nextDouble() < p ? 0f : keep;
            ys[yo + i] = xs[xo + i] * m[mo + i];
        }
        tape.forward("dropout", t0);
        Dropout op = tape.op(Dropout.class, Dropout::new);
        op.x = x; op.y = y; op.mask = mask;
        return y;
    }

    private static final class Dropout extends Tape.Op {
        Var x, y; Tensor mask;
        Dropout() { super("dropout"); }
        @Override protected void backward() {
            if (x.grad() == null) return;
            Tensor g = y.grad();                  // y's gradient is read by no one after this op
            float[] gs = g.data(), m = mask.data();
            for (int i = 0, n = x.size(), go = g.offset(), mo = mask.offset(); i < n; i++) gs[go + i] *= m[mo + i];
            addGradient(kernels, x, y, g);
        }
    }

    /** to.grad += g, where g is the gradient of from, the output of the op running backward: taken over when to has none yet. */
    private static void addGradient(KernelSet k, Var to, Var from, Tensor g) {
        if (!to.adoptGradientOf(from)) k.accumulate(to.grad(), g);
    }

    /**
     * Mean cross-entropy of logits[n,V] against targets. The loss is the root of the graph, so its
     * gradient (softmax − onehot)/n is written into logits.grad right away by the fused kernel.
     */
    public static float crossEntropy(Tape tape, Var logits, int[] targets) {
        int n = targets.length;
        Tensor losses = tape.alloc(n);
        long t0 = tape.start();
        tape.kernels().crossEntropy(losses, logits.grad(), logits.value(), targets, tape.lossScale() / counted(targets));
        tape.forward("crossEntropy", t0);
        return mean(losses, counted(targets));
    }

    /** Targets that count: all but {@link KernelSet#IGNORE} (at least 1, so an all-ignored batch gives loss 0, not NaN). */
    static int counted(int[] targets) {
        int c = 0;
        for (int t : targets) if (t != KernelSet.IGNORE) c++;
        return Math.max(1, c);
    }

    /** The mean loss over the counted targets (ignored ones are 0). */
    private static float mean(Tensor losses, int counted) {
        double sum = 0;
        for (int i = 0; i < losses.size(); i++) sum += losses.get(i);
        return (float) (sum / counted);
    }

    /**
     * Rows per chunk of the fused head for a vocabulary of V: 512 while the logits scratch stays
     * within 16 MB (V ≤ 8192), else 256 (-Dlamina.headChunk overrides). Each chunk re-reads w and
     * read-modify-writes dw, so fewer, larger chunks spend less on that traffic: 256 rows cut the
     * head's time by about a fifth against 64 on llama-s, and 512 by another 7% (four pairs of runs).
     */
    static int headChunk(int V) {
        int set = dev.lamina.tensor.Tuning.system().headChunk();
        return set > 0 ? set : (long) 512 * V * Float.BYTES <= 16 << 20 ? 512 : 256;
    }

    /**
     * The LM head and mean cross-entropy fused, without materialising logits[n,V]: per chunk of rows,
     * logits = x·wᵀ, then the loss and (softmax − onehot)/n, then right away dx = dlogits·w and
     * dw += dlogitsᵀ·x. Computing the gradient in the forward pass is valid because the loss is the
     * root of the graph; nothing is recorded for backward. x is [n,d], w [V,d].
     */
    public static float linearCrossEntropy(Tape tape, Var x, Var w, int[] targets) { return linearCrossEntropy(tape, x, w, targets, 0f); }

    /** As above with the logits soft-capped first, cap·tanh(z/cap) (Gemma 2; cap 0: none). */
    public static float linearCrossEntropy(Tape tape, Var x, Var w, int[] targets, float cap) {
        return fusedHead(tape, x, w, targets, cap, 1f, null, "linearCrossEntropy", null);
    }

    /** The soft term of a fused head's chunk (distillation's): returns its sum over the chunk's rows, and writes its gradient into soft when asked. */
    @FunctionalInterface
    private interface SoftTerm { double chunk(Tensor logits, int row, int rows, Tensor soft, boolean grad); }

    /**
     * The fused head: per chunk of rows, logits = x·wᵀ (soft-capped when cap > 0), the mean
     * cross-entropy's gradient scaled by ceScale, plus a soft term's (may be null), then right away
     * dx = dlogits·w and dw += dlogitsᵀ·x. Returns the mean cross-entropy; the soft term's sum goes
     * into softSum[0].
     */
    private static float fusedHead(Tape tape, Var x, Var w, int[] targets, float cap, float ceScale, SoftTerm softTerm, String name,
                                   double[] softSum) {
        int n = targets.length, V = w.value().dim(0);
        int chunk = Math.min(headChunk(V), n), counted = counted(targets);
        Tensor logits = tape.alloc(chunk, V), losses = tape.alloc(n), capped = cap > 0 ? tape.alloc(chunk, V) : null;
        Tensor soft = softTerm != null ? tape.alloc(chunk, V) : null;
        long t0 = tape.start();
        boolean grad = tape.recording();
        for (int r = 0; r < n; r += chunk) {
            int m = Math.min(chunk, n - r);
            Tensor xc = tape.rows(x.value(), r, r + m), lc = tape.rows(logits, 0, m);
            tape.kernels().matmul(lc, xc, w.value(), null, w.readAs());
            tape.kernels().round(lc, tape.precision());                   // the logits as 16-bit training stores them
            Tensor cc = null;
            if (cap > 0) {
                tape.kernels().softcap(lc.data(), lc.offset(), lc.size(), cap);
                if (grad) (cc = tape.rows(capped, 0, m)).copyFrom(lc);     // the crossEntropy below overwrites lc
            }
            if (softTerm != null) softSum[0] += softTerm.chunk(lc, r, m, tape.rows(soft, 0, m), grad);
            int[] tc = tape.ints(m);
            System.arraycopy(targets, r, tc, 0, m);
            tape.kernels().crossEntropy(tape.rows(losses, r, r + m), grad ? lc : null, lc, tc, ceScale * tape.lossScale() / counted);
            if (grad) {
                if (softTerm != null) {
                    Tensor sc = tape.rows(soft, 0, m);
                    if (tape.lossScale() != 1f) tape.kernels().scale(sc, tape.lossScale());
                    tape.kernels().accumulate(lc, sc);
                }
                if (cc != null) tape.kernels().softcapBackward(lc, cc, cap);
                tape.kernels().round(lc, tape.precision());               // the logits' gradient, stored in 16 bits too
                tape.kernels().matmulBackwardInput(tape.rows(x.grad(), r, r + m), lc, w.value(), w.readAs());
                if (w.grad() != null) tape.kernels().matmulBackwardWeight(w.grad(), null, lc, xc);
            }
        }
        tape.forward(name, t0);
        return mean(losses, counted);
    }

    /** A distillation loss and its two terms, each a mean over the positions whose target counts. */
    public record Distilled(float loss, float kl, float ce) {}

    /**
     * The teacher's side of distillation: for row r of the batch, its log-probabilities at
     * temperature τ over the vocabulary, written into logP[V]. ls[V] holds the student's
     * log-probabilities at τ for that row, for a teacher that knows only its top tokens and spreads
     * the rest of its mass as the student does ({@code train.TeacherCache}).
     */
    public interface SoftTargets {
        void logProbs(int row, float tau, double[] ls, double[] logP);
    }

    /** A teacher's full logits [n, V] as soft targets: log softmax(t/τ). */
    public static SoftTargets logits(Tensor teacher) {
        int V = teacher.dim(1);
        return (row, tau, ls, logP) -> {
            float[] t = teacher.data();
            int to = teacher.offset() + row * V;
            double inv = 1.0 / tau, max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < V; j++) max = Math.max(max, t[to + j] * inv);
            for (int j = 0; j < V; j++) sum += Math.exp(t[to + j] * inv - max);
            double lse = max + Math.log(sum);
            for (int j = 0; j < V; j++) logP[j] = t[to + j] * inv - lse;
        };
    }

    /** As {@link #linearDistill(Tape, Var, Var, SoftTargets, int[], float, float, float)} against a teacher's full logits [n, V]. */
    public static Distilled linearDistill(Tape tape, Var x, Var w, Tensor teacher, int[] targets, float alpha, float tau, float cap) {
        int n = targets.length, V = w.value().dim(0);
        if (teacher.size() != (long) n * V)
            throw new IllegalArgumentException("teacher logits hold " + teacher.size() + " values, expected " + n + " x " + V);
        return linearDistill(tape, x, w, logits(teacher), targets, alpha, tau, cap);
    }

    /**
     * Knowledge distillation fused with the head, as {@link #linearCrossEntropy}: per chunk of rows,
     * the student's logits z = x·wᵀ, then
     * loss = α·τ²·KL(p ‖ softmax(z/τ)) + (1−α)·CE(z, target) against the teacher's distribution p
     * at τ (softmax(t/τ) of its logits, or a cached top-K's), both terms means over the counted
     * positions (a target of {@link KernelSet#IGNORE} counts for neither). The gradient of z,
     * ((1−α)(softmax(z) − onehot) + α·τ·(softmax(z/τ) − p))/N, goes straight into dx and dw. The τ²
     * keeps the soft term's gradient the same size across temperatures (Hinton et al.).
     */
    public static Distilled linearDistill(Tape tape, Var x, Var w, SoftTargets teacher, int[] targets, float alpha, float tau, float cap) {
        int V = w.value().dim(0), counted = counted(targets);
        double[] ls = new double[V], lp = new double[V], kl = new double[1];
        float scale = alpha * tau / counted;                               // + α·τ·(softmax(z/τ) − p)/N
        float ce = fusedHead(tape, x, w, targets, cap, 1f - alpha,
                (lc, r, m, soft, grad) -> softTargets(lc, teacher, r, m, V, targets, tau, grad ? scale : 0f, soft, ls, lp), "linearDistill", kl);
        float klMean = (float) (kl[0] / counted);
        return new Distilled((float) (alpha * tau * tau * klMean + (1 - alpha) * ce), klMean, ce);
    }

    /**
     * Σ over rows [r, r+m) of KL(p ‖ softmax(z/τ)) for the student's logits z (rows of lc) and the
     * teacher's p; with scale ≠ 0, soft's rows get scale·(softmax(z/τ) − p) (zero for an ignored
     * row). Sums in double; a plain loop, O(m·V) beside the head's O(m·V·d) product.
     */
    private static double softTargets(Tensor lc, SoftTargets teacher, int r, int m, int V, int[] targets, float tau, float scale, Tensor soft,
                                      double[] ls, double[] lp) {
        float[] z = lc.data(), g = soft.data();
        double sum = 0, inv = 1.0 / tau;
        for (int i = 0; i < m; i++) {
            int zo = lc.offset() + i * V, go = soft.offset() + i * V;
            if (targets[r + i] == KernelSet.IGNORE) {
                if (scale != 0) java.util.Arrays.fill(g, go, go + V, 0f);
                continue;
            }
            double max = Double.NEGATIVE_INFINITY, s = 0;
            for (int j = 0; j < V; j++) max = Math.max(max, z[zo + j] * inv);
            for (int j = 0; j < V; j++) s += Math.exp(z[zo + j] * inv - max);
            double lse = max + Math.log(s), row = 0;
            for (int j = 0; j < V; j++) ls[j] = z[zo + j] * inv - lse;
            teacher.logProbs(r + i, tau, ls, lp);
            for (int j = 0; j < V; j++) {
                double pt = Math.exp(lp[j]);
                if (pt > 0) row += pt * (lp[j] - ls[j]);
                if (scale != 0) g[go + j] = (float) (scale * (Math.exp(ls[j]) - pt));
            }
            sum += row;
        }
        return sum;
    }

    /**
     * Layers run on the tape's stash tape k ({@link Tape#stashing}): body's forward, its output copied
     * onto this tape; the next segment's forward packs the stash tape's buffers to 16 bits, and
     * backward unpacks them and runs the stash tape's backward (the last segment's never leave). The
     * same numbers as running body here; the kept activations in half the bytes.
     */
    public static Var stashed(Tape tape, int k, Var x, java.util.function.UnaryOperator<Var> body) {
        Tape seg = tape.stashTape(k);
        tape.beforeStashSegment(seg);                      // the previous segment's buffers packed: this one computes in them
        seg.reset();
        seg.dropoutRng(tape.dropoutRng());
        Var in = Var.leaf(x.value(), x::grad), out = body.apply(in);
        Var y = segmentOutput(tape, out);
        Stashed op = tape.op(Stashed.class, Stashed::new);
        op.x = x; op.y = y; op.in = in; op.out = out; op.seg = seg; op.tape = tape;
        return y;
    }

    private static final class Stashed extends Tape.Op {
        Var x, y, in, out; Tape seg, tape;
        Stashed() { super("stashed"); }
        @Override boolean timed() { return false; }        // the layers' ops are timed on their tape
        @Override protected void backward() {
            tape.beforeStashBackward(seg);
            segmentBackward(kernels, x, y, in, out, seg);
        }
    }

    /**
     * y = body(x), keeping only x and y on this tape (activation checkpointing): body's ops run on the
     * tape's segment tape, rewound for every segment, so their activations are held for one segment
     * at a time. Backward runs body again from x (drawing the same dropout masks; the last segment,
     * whose buffers are still on the segment tape, is not run again), hands it y's
     * gradient and runs the segment's backward, which adds into x's gradient and the parameters'
     * in the order a run without checkpointing adds them.
     */
    public static Var checkpoint(Tape tape, Var x, java.util.function.UnaryOperator<Var> body) {
        Tape seg = tape.segmentTape();
        if (seg == null) return body.apply(x);
        dev.lamina.tensor.Rng rng = tape.dropoutRng();
        long rngState = rng.state();
        seg.reset();
        seg.dropoutRng(rng);                                   // the segment's masks continue this tape's sequence
        Var in = Var.leaf(x.value(), x::grad), out = body.apply(in);
        Var y = segmentOutput(tape, out);
        Checkpoint op = tape.op(Checkpoint.class, Checkpoint::new);
        op.x = x; op.y = y; op.body = body; op.rngState = rngState; op.seg = seg;
        op.in = in; op.out = out; op.run = seg.resets();
        return y;
    }

    private static final class Checkpoint extends Tape.Op {
        Var x, y, in, out; java.util.function.UnaryOperator<Var> body; long rngState, run; Tape seg;
        Checkpoint() { super("checkpoint"); }
        @Override boolean timed() { return false; }        // the segment's ops are timed on its tape
        @Override protected void backward() {
            Var in = this.in, out = this.out;              // the segment's input gradient is x's: added to in place
            if (seg.resets() != run) {                     // the segment tape has run another since: run this one again
                seg.reset();
                seg.dropoutRng(new dev.lamina.tensor.Rng(rngState));
                seg.recomputing(true);
                in = Var.leaf(x.value(), x::grad);
                try {
                    out = body.apply(in);
                } finally {
                    seg.recomputing(false);
                }
            }                                              // else (the last segment) its buffers are still those of its forward
            segmentBackward(kernels, x, y, in, out, seg);
        }
    }

    /** A segment's output out (on the segment's tape) copied onto tape: the segment's buffers are reused after it. */
    private static Var segmentOutput(Tape tape, Var out) {
        Var y = tape.var(out.value().dim(0), out.size() / out.value().dim(0));
        System.arraycopy(out.value().data(), out.value().offset(), y.value().data(), y.value().offset(), y.size());
        return y;
    }

    /** y's gradient into the segment's output, then the segment tape's backward (which adds into x's through in). */
    private static void segmentBackward(KernelSet kernels, Var x, Var y, Var in, Var out, Tape seg) {
        Tensor g = y.grad();
        if (out == in) {                                   // every layer of the segment skipped
            kernels.accumulate(x.grad(), g);
            return;
        }
        Tensor og = out.grad();
        System.arraycopy(g.data(), g.offset(), og.data(), og.offset(), g.size());
        seg.backward();
    }
}
