package dev.lamina.model;

import dev.lamina.autograd.Ops;
import dev.lamina.autograd.Tape;
import dev.lamina.autograd.Var;
import dev.lamina.tensor.Tensor;

import java.util.function.IntPredicate;

/**
 * The decoder on a tape: every operation is an autograd op ({@link Ops}), so a training tape can run
 * backward through it. The input is B sequences of T tokens (ids[B·T], set with {@link #input});
 * a trainer keeps one executor for the run.
 *
 * <p>Research probes ({@link #probes}) watch the hidden state entering each layer, every layer's
 * attention probabilities, and can leave layers out.
 */
public final class TapeExecutor implements Executor<Var> {
    private final Decoder model;
    private final ModelConfig c;
    private final Tape tape;
    private int[] ids;
    private int B, T;
    private final Var[] outputs1 = new Var[1], outputs2 = new Var[2], outputs3 = new Var[3];
    private IntPredicate skip;
    private Tensor loraScratch;                   // the product h·Bᵀ of the LoRA branch being added, one map at a time
    private HiddenProbe hiddenProbe;
    private AttentionProbe attentionProbe;
    private InputProbe inputProbe;
    private final dev.lamina.autograd.MoeOps.RouterLosses routerLosses;   // null for a dense model
    private dev.lamina.autograd.MoeOps.Route route;                       // the sparse layer in flight
    /** Executors on the tape's inner tapes, made on first use: the segment tape (checkpointing), or each layer's stash tape (16 bits). */
    private final java.util.List<TapeExecutor> inner = new java.util.ArrayList<>();
    private int segmentIndex;                     // the segment of this forward pass that runs next

    /** Called with the hidden state x[n,d] entering each layer l (and l = L for the final norm's input). */
    @FunctionalInterface
    public interface HiddenProbe { void accept(int layer, Tensor hidden); }

    /** Called in each layer with its softmax attention probabilities att[B,H,T,T] (valid only during the call). */
    @FunctionalInterface
    public interface AttentionProbe { void accept(int layer, Tensor att); }

    /** Called with every linear map's input x[n, in] as the map is applied (valid only during the call): what width pruning scores. */
    @FunctionalInterface
    public interface InputProbe { void accept(Decoder.Linear w, Tensor x); }

    public TapeExecutor(Decoder model, Tape tape, int[] ids, int B, int T) {
        this.model = model;
        this.c = model.config();
        this.tape = tape;
        routerLosses = c.moe() ? new dev.lamina.autograd.MoeOps.RouterLosses(c.numExperts(), c.numHiddenLayers(), c.routerAuxLossCoef(), c.routerZLossCoef()) : null;
        input(ids, B, T);
    }

    /** The tokens of the next pass: ids[B·T]. */
    public TapeExecutor input(int[] ids, int B, int T) {
        if (ids.length != B * T) throw new IllegalArgumentException("ids has " + ids.length + " tokens, expected B·T = " + B * T);
        if (T > Math.min(c.maxPositionEmbeddings(), c.contextLimit()))
            throw new IllegalArgumentException("sequence length " + T + " exceeds the model's context of "
                    + Math.min(c.maxPositionEmbeddings(), c.contextLimit()));
        this.ids = ids;
        this.B = B;
        this.T = T;
        return this;
    }

    /** Layers for which skip is true run as the identity; the probes (each may be null) watch. */
    public TapeExecutor probes(IntPredicate skip, HiddenProbe hidden, AttentionProbe attention) {
        this.skip = skip;
        this.hiddenProbe = hidden;
        this.attentionProbe = attention;
        return this;
    }

    /** The probe that sees each linear map's input (null for none). */
    public TapeExecutor inputs(InputProbe probe) {
        this.inputProbe = probe;
        return this;
    }

    public Tape tape() { return tape; }

    /** An executor like parent on another tape (the segment tape of checkpointing, or a stash tape). */
    private TapeExecutor(TapeExecutor parent, Tape tape) {
        this.model = parent.model;
        this.c = parent.c;
        this.tape = tape;
        this.routerLosses = parent.routerLosses;
    }

    @Override
    public int segmentLayers() { return tape.checkpointEvery() > 0 ? tape.checkpointEvery() : tape.stashing() ? 1 : 0; }

    @Override
    public Var segment(Var x, java.util.function.BiFunction<Executor<Var>, Var, Var> layers) {
        boolean checkpoint = tape.checkpointEvery() > 0;
        if (!checkpoint && !tape.stashing()) return layers.apply(this, x);
        int k = segmentIndex++;
        TapeExecutor on = checkpoint ? on(0, tape.segmentTape()) : on(k, tape.stashTape(k));
        on.ids = ids; on.B = B; on.T = T;
        on.skip = skip; on.hiddenProbe = hiddenProbe; on.attentionProbe = attentionProbe; on.inputProbe = inputProbe;
        return checkpoint ? Ops.checkpoint(tape, x, in -> layers.apply(on, in)) : Ops.stashed(tape, k, x, in -> layers.apply(on, in));
    }

    /** This executor's twin on inner tape t, kept in slot k (made again when the tape is another). */
    private TapeExecutor on(int k, Tape t) {
        while (inner.size() <= k) inner.add(null);
        if (inner.get(k) == null || inner.get(k).tape != t) inner.set(k, new TapeExecutor(this, t));
        return inner.get(k);
    }

    /**
     * The router losses of the last forward pass (null for a dense model): their weighted sum is
     * part of the training loss, and each sparse layer's backward adds their gradient.
     */
    public dev.lamina.autograd.MoeOps.RouterLosses routerLosses() { return routerLosses; }

    @Override
    public Var embed(Var tokens, Var positions) {
        if (routerLosses != null) routerLosses.reset();
        segmentIndex = 0;
        Var x = tokens != null ? Ops.embedding(tape, ids, tokens, positions, T) : Ops.storedEmbedding(tape, ids, model.storedTable(), positions, T);
        return s(c.scaleEmbeddings() ? Ops.scale(tape, x, c.embeddingScale()) : x);
    }

    /** An op's output as the tape's precision stores it (itself at FP32; {@link Ops#store}). */
    private Var s(Var v) { return Ops.store(tape, v); }

    @Override
    public Var geglu(Var gate, Var up) { return s(Ops.geglu(tape, gate, up)); }

    @Override
    public Var norm(Decoder.Norm w, Var x, float scale) {
        float eps = (float) c.normEps();
        return s(c.norm() == ModelConfig.Norm.RMSNORM
                ? Ops.rmsnorm(tape, x, p(w.weight()), eps, scale)
                : Ops.layernorm(tape, x, p(w.weight()), p(w.bias()), eps, scale));
    }

    @Override
    public Var headNorm(Decoder.Norm w, Var x) { return s(Ops.rmsnorm(tape, x, p(w.weight()), (float) c.normEps(), 1f)); }

    @Override
    public Var[] project(Var x, Decoder.Linear[] ws) {
        Var[] out = ws.length == 1 ? outputs1 : ws.length == 2 ? outputs2 : ws.length == 3 ? outputs3 : new Var[ws.length];
        for (int i = 0; i < ws.length; i++) out[i] = s(lowRank(x, product(x, ws[i]), ws[i]));
        return out;
    }

    @Override
    public Var rope(int layer, Var x, int heads) {
        Rope r = model.rope(layer);
        return s(Ops.rope(tape, x, T, heads, c.headDim(), r.cos(), r.sin()));
    }

    @Override
    public Var attention(int layer, Var q, Var k, Var v) {
        java.util.function.Consumer<Tensor> probe = attentionProbe == null ? null : att -> attentionProbe.accept(layer, att);
        return s(Ops.attention(tape, q, k, v, B, T, c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(), model.scores(layer), probe));
    }

    @Override
    public Var residual(Var r, Var h, Decoder.Linear w) {
        if (inputProbe != null && !w.frozenForm()) inputProbe.accept(w, h.value());
        Var y = w.frozenForm() ? Ops.add(tape, r, s(product(h, w))) : Ops.residualLinear(tape, r, h, weight(w), p(w.bias()));
        return s(lowRank(h, y, w));
    }

    @Override
    public Var linear(Var x, Decoder.Linear w) { return s(lowRank(x, product(x, w), w)); }

    @Override
    public Var add(Var r, Var y) { return s(Ops.add(tape, r, y)); }

    /** x·wᵀ + b: float weights, or a frozen NF4 base decoded for the product (QLoRA). */
    private Var product(Var x, Decoder.Linear w) {
        if (inputProbe != null) inputProbe.accept(w, x.value());
        if (w.nf4() != null) return Ops.nf4Linear(tape, x, w.nf4(), p(w.bias()), model.frozenScratch());
        if (w.stored() != null)
            return Ops.frozenLinear(tape, x, w.stored().out(), w.stored().in(), wt -> w.decodeInto(tape.kernels(), wt), p(w.bias()), model.frozenScratch());
        return Ops.linear(tape, x, weight(w), p(w.bias()));
    }

    /**
     * A float weight as the map computes with it: w (from master weights, read rounded by the product, {@link Ops#read}),
     * or in quantization-aware training its fake-quantized ŵ (of the rounded copy).
     */
    private Var weight(Decoder.Linear w) {
        return w.quant() == null ? Ops.read(tape, w.weight()) : Ops.fakeQuant(tape, p(w.weight()), w.quant());
    }

    /** A parameter as the tape reads it: itself, or rounded from 16-bit training's master weights ({@link Ops#stored}). */
    private Var p(Var param) { return Ops.stored(tape, param); }

    /** The head's weight [V, d] as the product reads it: a float head as {@link Ops#read} gives it, a stored one decoded (frozen). */
    public Var headWeight() {
        Var w = model.headWeight();
        return model.head().stored() == null ? Ops.read(tape, w) : w;
    }

    /** y + s·(dropout(x)·Aᵀ)·Bᵀ when w carries a LoRA update, else y (dropout: training tapes only, as PEFT's). */
    private Var lowRank(Var x, Var y, Decoder.Linear w) {
        Decoder.LowRank lr = w.lowRank();
        if (lr == null) return y;
        Var in = Ops.dropout(tape, x, lr.dropout());
        Var h = s(Ops.scale(tape, s(Ops.linear(tape, in, lr.a(), null)), lr.scale()));
        int need = y.size();
        if (loraScratch == null || loraScratch.size() < need) loraScratch = Tensor.zeros(need);
        return Ops.addLinearInPlace(tape, y, h, lr.b(), loraScratch);
    }

    @Override
    public Var route(int layer, Var logits, Var x) {
        double capacity = c.capacityFactor() == null ? 0 : c.capacityFactor();
        route = dev.lamina.autograd.MoeOps.route(tape, logits, c.expertsPerToken(), c.normTopkProb(), capacity, routerLosses, layer);
        return dev.lamina.autograd.MoeOps.permute(tape, x, route);
    }

    @Override
    public Var[] experts(Var grouped, Decoder.Linear[][] ws) {
        int maps = ws[0].length;
        Var[] out = new Var[maps];
        for (int j = 0; j < maps; j++) {
            Var[] w = new Var[ws.length];
            @SuppressWarnings("unchecked")
            java.util.function.Consumer<Tensor>[] decode = new java.util.function.Consumer[ws.length];
            boolean frozen = false;
            for (int e = 0; e < ws.length; e++) {
                Decoder.Linear lin = ws[e][j];
                w[e] = lin.frozenForm() ? null : weight(lin);
                if (lin.frozenForm()) decode[e] = t -> lin.decodeInto(tape.kernels(), t);
                frozen |= decode[e] != null;
            }
            out[j] = s(dev.lamina.autograd.MoeOps.groupedLinear(tape, grouped, ws[0][j].out(), w, frozen ? decode : null,
                    frozen ? model.frozenScratch() : null, route));
        }
        return out;
    }

    @Override
    public Var combine(Var y) { return s(dev.lamina.autograd.MoeOps.combine(tape, y, route)); }

    @Override
    public Var gatedAdd(Var y, Var gate, Var g) { return s(dev.lamina.autograd.MoeOps.gatedAdd(tape, y, gate, g)); }

    @Override
    public Var swiglu(Var gate, Var up) { return s(Ops.swiglu(tape, gate, up)); }

    @Override
    public Var gelu(Var x) { return s(Ops.gelu(tape, x)); }

    @Override
    public Var outputRows(Var x) { return x; }

    @Override
    public Var enter(int layer, Var x) {
        tape.markLayer(layer);
        if (hiddenProbe != null) hiddenProbe.accept(layer, x.value());
        return x;
    }

    @Override
    public boolean runs(int layer) { return skip == null || !skip.test(layer); }
}
