package dev.lamina.model;

import dev.lamina.autograd.Ops;
import dev.lamina.autograd.Tape;
import dev.lamina.autograd.Var;
import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.Kernels;
import dev.lamina.kernels.LinearWeights;
import dev.lamina.kernels.Nf4Weights;
import dev.lamina.model.ModelConfig.Activation;
import dev.lamina.model.ModelConfig.Position;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;

/**
 * The one configurable decoder (GPT-2, Llama, Mistral, Qwen, Phi-3, Gemma 1, 2 and 3; Pre-LN, Post-LN, Mix-LN,
 * LayerNorm Scaling, sandwich norms).
 * Its structure is written once, in {@link #hidden} and {@link #layer}, against an {@link Executor}:
 * training runs it on a tape ({@link TapeExecutor}), inference on KV caches (infer.ModelRunner).
 * Semantics: docs/ARCHITECTURE.md and the PyTorch test vectors.
 *
 * <p>Shapes: B batch, T sequence, n = B·T rows, d hidden, V vocabulary, H query heads, KV key/value
 * heads, hd head dimension, ff MLP width.
 */
public final class Decoder {
    private final ModelConfig config;
    private final Parameters params;
    private final KernelSet kernels;
    private final Rope rope, localRope;                      // localRope: the windowed layers' own (Gemma 3), else null
    private final Lora.Adapter adapter;
    private final Qat.Config qat;                               // null unless the layer maps train fake-quantized (QAT)
    private final java.util.Map<ParamKey, Nf4Weights> nf4;     // null unless the base is NF4 (QLoRA)
    private final java.util.Map<ParamKey, LinearWeights> stored; // null unless linears are kept as a file stores them (GGUF blocks)
    private final Scratch frozenScratch;                       // one dequantized matrix at a time (NF4 or stored), made on first use
    private final LinearWeights storedTable;                   // the token table as stored blocks when params hold none, else null
    private final dev.lamina.kernels.AttentionScores[] scores; // per layer: its window, the config's scale and soft cap

    /**
     * A linear map's weight [out, in] and bias [out] (null when the config has none), and its LoRA
     * update (null without an adapter); id numbers the model's linears from 0. A QLoRA base holds the
     * weight as nf4 (4-bit NormalFloat, frozen), a quantized GGUF file's as stored (its blocks, as
     * inference computes with them; frozen); then weight is null. In quantization-aware training
     * quant is the layer map's quantizer (null otherwise): the map computes with its ŵ.
     */
    public record Linear(int id, ParamKey key, Var weight, Var bias, LowRank lowRank, Nf4Weights nf4, LinearWeights stored,
                         Qat.Weight quant) {
        /** Whether the weight is held frozen in a quantized form rather than as a float parameter. */
        public boolean frozenForm() { return nf4 != null || stored != null; }

        /** Writes a frozen weight's float values [out, in] into t (its NF4 or stored blocks decoded), as a tape's product uses them. */
        public void decodeInto(KernelSet k, Tensor t) {
            if (nf4 != null) k.nf4Dequantize(nf4, t);
            else stored.dequantizeInto(t.data(), t.offset());
        }

        /** Output width: rows of the weight. */
        public int out() { return weight != null ? weight.value().dim(0) : nf4 != null ? nf4.rows : stored.out(); }
    }

    /** A LoRA update beside a linear map: + s·(x·Aᵀ)·Bᵀ, A [r, in], B [out, r]. */
    public record LowRank(Var a, Var b, float scale, float dropout) {}

    /** A norm's gain [d] and bias [d] (null for RMSNorm). */
    public record Norm(ParamKey key, Var weight, Var bias) {}

    /**
     * One layer's weights, looked up once. qkv holds q, k, v; mlpIn holds gate and up (SwiGLU) or
     * up alone (GELU): the linears that read the same input, which the runner computes in one pass.
     * postNorm is the MLP's input norm; qNorm, kNorm (Qwen3) and attnOutNorm, mlpOutNorm (sandwich
     * norms) are null when the config has none.
     */
    public record Layer(int index, Norm inputNorm, Linear[] qkv, Linear o, Norm postNorm, Linear[] mlpIn, Linear down,
                        Norm qNorm, Norm kNorm, Norm attnOutNorm, Norm mlpOutNorm, Moe moe) {}

    /**
     * A sparse layer's MLP (then the layer's mlpIn and down are null): the router [E, d] and each
     * expert e's maps, in[e] = {gate, up} (or {up} with GELU) and down[e] = {down}, each array a
     * group the executors compute over that expert's rows; and, with a shared expert (Qwen-MoE),
     * its {gate, up}, down and the gate [1, d] of its sigmoid weight (else null).
     */
    public record Moe(Linear router, Linear[][] in, Linear[][] down, Linear[] sharedIn, Linear sharedDown, Linear sharedGate) {
        public int experts() { return down.length; }
    }

    private final Var embedTokens, embedPositions;
    private final Linear head;
    private final Norm finalNorm;
    private final Layer[] layers;
    private final Linear[] linears;

    public Decoder(ModelConfig config, Parameters params) { this(config, params, Kernels.defaults()); }

    /** A decoder over params that computes with the given kernels (and their threads). */
    public Decoder(ModelConfig config, Parameters params, KernelSet kernels) { this(config, params, kernels, null, null, null, null, null); }

    /**
     * A decoder whose linear maps in stored are kept in that form (a GGUF file's quantized blocks,
     * which inference computes with directly) and whose params hold only the rest: no float32 copy
     * of those weights exists. The tape executor decodes one at a time into a scratch (frozen).
     */
    public static Decoder withStored(ModelConfig config, Parameters rest, java.util.Map<ParamKey, LinearWeights> stored, KernelSet kernels) {
        int largest = 0;
        for (LinearWeights w : stored.values()) largest = Math.max(largest, w.out() * w.in());
        return new Decoder(config, rest, kernels, null, null, java.util.Map.copyOf(stored), new Scratch(largest), null);
    }

    /**
     * With an adapter, the base parameters are frozen: their nodes carry no gradient (norms get a
     * scratch one their kernels write and nobody reads), so backward computes only what the
     * adapter's factors and the activations need.
     */
    private Decoder(ModelConfig config, Parameters params, KernelSet kernels, Lora.Adapter adapter,
                    java.util.Map<ParamKey, Nf4Weights> nf4, java.util.Map<ParamKey, LinearWeights> stored, Scratch frozenScratch,
                    Qat.Config qat) {
        this.config = config;
        this.qat = qat;
        this.params = params;
        this.kernels = kernels;
        this.adapter = adapter;
        this.nf4 = nf4;
        this.stored = stored;
        this.frozenScratch = frozenScratch;
        java.util.List<Linear> all = new java.util.ArrayList<>();
        ParamKey table = ParamKey.of(Role.EMBEDDING);
        embedTokens = params.has(table) ? base(table) : null;      // else read row by row from its blocks
        storedTable = embedTokens == null && stored != null ? stored.get(table) : null;
        if (embedTokens == null && storedTable == null) throw new IllegalStateException("the model has no token table");
        embedPositions = base(ParamKey.of(Role.POSITIONS));
        finalNorm = norm(ParamKey.of(Role.FINAL_NORM));
        layers = new Layer[config.numHiddenLayers()];
        for (int l = 0; l < layers.length; l++) {
            Linear q = linear(all, Role.Q, l), k = linear(all, Role.K, l), v = linear(all, Role.V, l), o = linear(all, Role.O, l);
            boolean gated = config.activation() != Activation.GELU, sparse = config.sparse(l);
            Linear[] mlpIn = sparse ? null : gated
                    ? new Linear[] {linear(all, Role.GATE, l), linear(all, Role.UP, l)}
                    : new Linear[] {linear(all, Role.UP, l)};
            Linear down = sparse ? null : linear(all, Role.DOWN, l);
            Moe moe = null;
            if (sparse) {
                int E = config.numExperts();
                Linear router = linear(all, ParamKey.of(Role.ROUTER, l));
                Linear[][] in = new Linear[E][], out = new Linear[E][];
                for (int e = 0; e < E; e++) {
                    in[e] = gated ? new Linear[] {linear(all, ParamKey.expert(Role.EXPERT_GATE, l, e)), linear(all, ParamKey.expert(Role.EXPERT_UP, l, e))}
                            : new Linear[] {linear(all, ParamKey.expert(Role.EXPERT_UP, l, e))};
                    out[e] = new Linear[] {linear(all, ParamKey.expert(Role.EXPERT_DOWN, l, e))};
                }
                Linear[] sharedIn = null;
                Linear sharedDown = null, sharedGate = null;
                if (config.sharedExpertIntermediateSize() > 0) {
                    sharedIn = new Linear[] {linear(all, Role.SHARED_GATE, l), linear(all, Role.SHARED_UP, l)};
                    sharedDown = linear(all, Role.SHARED_DOWN, l);
                    sharedGate = linear(all, Role.SHARED_EXPERT_GATE, l);
                }
                moe = new Moe(router, in, out, sharedIn, sharedDown, sharedGate);
            }
            layers[l] = new Layer(l, norm(ParamKey.of(Role.INPUT_NORM, l)), new Linear[] {q, k, v}, o,
                    norm(ParamKey.of(Role.POST_NORM, l)), mlpIn, down,
                    config.qkNorm() ? norm(ParamKey.of(Role.Q_NORM, l)) : null, config.qkNorm() ? norm(ParamKey.of(Role.K_NORM, l)) : null,
                    config.sandwichNorms() ? norm(ParamKey.of(Role.ATTN_OUT_NORM, l)) : null,
                    config.sandwichNorms() ? norm(ParamKey.of(Role.MLP_OUT_NORM, l)) : null, moe);
        }
        ParamKey headKey = ParamKey.of(config.tieWordEmbeddings() ? Role.EMBEDDING : Role.HEAD);
        LinearWeights storedHead = stored == null ? null : stored.get(headKey);
        head = new Linear(all.size(), headKey, storedHead != null ? null : base(headKey), null, null, null, storedHead, null);
        all.add(head);
        linears = all.toArray(Linear[]::new);
        scores = new dev.lamina.kernels.AttentionScores[config.numHiddenLayers()];
        for (int l = 0; l < scores.length; l++)
            scores[l] = new dev.lamina.kernels.AttentionScores(config.window(l), config.attentionScale(), config.attentionSoftcap());
        int positions = Math.min(config.maxPositionEmbeddings(), config.contextLimit());
        rope = config.position() == Position.ROPE ? Rope.of(config, positions) : null;
        localRope = config.position() == Position.ROPE ? Rope.local(config, positions) : null;
    }

    private Linear linear(java.util.List<Linear> all, Role role, int layer) { return linear(all, ParamKey.of(role, layer)); }

    private Linear linear(java.util.List<Linear> all, ParamKey key) {
        LowRank lr = adapter != null && adapter.covers(key)
                ? new LowRank(adapter.params().var(key.lora(ParamKey.Factor.LORA_A)), adapter.params().var(key.lora(ParamKey.Factor.LORA_B)),
                        adapter.config().scale(), (float) adapter.config().dropout())
                : null;
        Nf4Weights q = nf4 == null ? null : nf4.get(key);
        LinearWeights st = stored == null ? null : stored.get(key);
        Qat.Weight fq = qat != null && key.layerMap() ? new Qat.Weight(qat, qat.lsq() ? params.var(key.step()) : null) : null;
        Linear lin = new Linear(all.size(), key, q != null || st != null ? null : base(key), base(key.biasOf()), lr, q, st, fq);
        all.add(lin);
        return lin;
    }

    private Norm norm(ParamKey key) {
        if (adapter == null || !params.has(key.name())) return new Norm(key, params.var(key), params.var(key.biasOf()));
        return new Norm(key, scratchGrad(key), scratchGrad(key.biasOf()));
    }

    /** A base parameter: trainable without an adapter, frozen (no gradient) with one. */
    private Var base(ParamKey key) {
        if (adapter == null || !params.has(key.name())) return params.var(key);
        return new Var(params.value(key.name()), null);
    }

    private Var scratchGrad(ParamKey key) {
        if (!params.has(key.name())) return null;
        Tensor v = params.value(key.name());
        return new Var(v, Tensor.zeros(v.shape()));
    }

    /** This model's parameters computing with other kernels (the parameters are shared, not copied). */
    public Decoder withKernels(KernelSet k) { return k == kernels ? this : new Decoder(config, params, k, adapter, nf4, stored, frozenScratch, qat); }

    /**
     * This model with a LoRA adapter on its targeted linear maps: the base parameters (shared, not
     * copied) frozen, the adapter's factors trainable. Null removes the adapter.
     */
    public Decoder withAdapter(Lora.Adapter a) {
        if (a != null && qat != null) throw new IllegalStateException("a model in quantization-aware training cannot carry a LoRA adapter");
        return new Decoder(config, params, kernels, a, nf4, stored, frozenScratch, qat);
    }

    /**
     * This model training quantization-aware (q) on its layer maps: the same weights (with LSQ, new
     * parameters holding them and the steps after them, {@link Qat#withSteps}). Refuses a model whose
     * weights are already quantized (a GGUF file's blocks, NF4) or that carries an adapter.
     */
    public Decoder withQat(Qat.Config q) {
        if (stored != null || nf4 != null)
            throw new dev.lamina.io.LaminaException("the model's weights are already quantized; quantization-aware training starts from "
                    + "float weights (a run, Hugging Face or f32/f16/bf16 GGUF model)");
        if (adapter != null) throw new IllegalStateException("quantization-aware training tunes the weights themselves, not an adapter");
        if (qat != null) throw new IllegalStateException("the model already trains quantization-aware (" + qat + ")");
        for (Parameters.Slot s : params.slots().values())
            if (s.key().layerMap()) {
                try {
                    q.groupOf(s.shape()[1]);             // every layer map's rows must be whole groups, checked before any work
                } catch (dev.lamina.io.LaminaException e) {
                    throw new dev.lamina.io.LaminaException(s.name() + ": " + e.getMessage());
                }
            }
        return new Decoder(config, q.lsq() ? Qat.withSteps(params, q) : params, kernels, null, null, null, null, q);
    }

    /** The quantization-aware training this model runs (null: none). */
    public Qat.Config qat() { return qat; }

    /**
     * The model inference computes with, as plain weights: each layer map's ŵ in place of w (steps
     * dropped). Itself without QAT.
     */
    public Decoder quantized() {
        if (qat == null) return this;
        Parameters.Layout l = new Parameters.Layout();
        for (Parameters.Slot s : params.slots().values()) if (s.key().factor() != ParamKey.Factor.STEP) l.add(s.key(), s.shape());
        Parameters p = l.build();
        for (Parameters.Slot s : p.slots().values()) p.value(s.name()).copyFrom(params.value(s.name()));
        for (Linear lin : linears)
            if (lin.quant() != null) Qat.forward(qat, lin.weight().value(), step(lin), p.value(lin.key().name()));
        return new Decoder(config, p, kernels);
    }

    private static Tensor step(Linear lin) { return lin.quant().step() == null ? null : lin.quant().step().value(); }

    /**
     * This model with its linear maps (all but the head) quantized to NF4 for QLoRA: a new decoder
     * whose parameters hold only the rest (embeddings, norms, biases, an untied head), so once this
     * model is dropped no float32 copy of those weights remains. Frozen: use it with an adapter.
     */
    public Decoder withNf4Base() {
        if (nf4 != null) return this;
        if (stored != null) throw new IllegalStateException("a model with stored (quantized) weights cannot be re-quantized to NF4");
        if (qat != null) throw new IllegalStateException("a model in quantization-aware training cannot be quantized to NF4");
        java.util.Map<ParamKey, Nf4Weights> q = new java.util.LinkedHashMap<>();
        int largest = 0;
        for (Linear l : linears)
            if (l != head) {
                q.put(l.key(), Nf4Weights.quantize(l.weight().value()));
                largest = Math.max(largest, l.weight().value().size());
            }
        Parameters p = copyOf(s -> !q.containsKey(s.key()));
        return new Decoder(config, p, kernels, adapter, java.util.Map.copyOf(q), null, new Scratch(largest), null);
    }

    /** Whether the linear maps are NF4 (a QLoRA base). */
    public boolean nf4Base() { return nf4 != null; }

    /** Bytes of the NF4 weights (0 unless {@link #nf4Base()}). */
    public long nf4Bytes() {
        long b = 0;
        if (nf4 != null) for (Nf4Weights w : nf4.values()) b += w.bytes();
        return b;
    }

    /**
     * This model for inference only: the linear maps in prepared (every one, from a prepared model)
     * held as stored and their float parameters dropped, so the prepared copy is the only one (a
     * tied head's table too: lookups read its rows from the prepared head). The rest (norms,
     * biases, an untied embedding table) is copied into new parameters.
     */
    public Decoder storing(java.util.Map<ParamKey, LinearWeights> prepared) {
        if (adapter != null || nf4 != null) throw new IllegalStateException("only a plain model's weights can be stored prepared");
        Parameters p = copyOf(s -> !prepared.containsKey(s.key()));
        java.util.Map<ParamKey, LinearWeights> all = new java.util.LinkedHashMap<>(prepared);
        if (storedTable != null) all.putIfAbsent(ParamKey.of(Role.EMBEDDING), storedTable);   // an untied table kept in blocks
        return withStored(config, p, all, kernels);
    }

    /** New parameters holding a copy of the slots kept (the others are left to a frozen form). */
    private Parameters copyOf(java.util.function.Predicate<Parameters.Slot> keep) {
        Parameters.Layout rest = new Parameters.Layout();
        for (Parameters.Slot s : params.slots().values()) if (keep.test(s)) rest.add(s.key(), s.shape());
        Parameters p = rest.build();
        for (Parameters.Slot s : p.slots().values()) p.value(s.name()).copyFrom(params.value(s.name()));
        return p;
    }

    /** Whether some linear maps are held as stored (a quantized GGUF file's blocks). */
    public boolean hasStored() { return stored != null; }

    /** Bytes of the stored linear weights (0 unless {@link #hasStored()}). */
    public long storedBytes() {
        long b = 0;
        if (stored != null) for (LinearWeights w : stored.values()) b += w.extraBytes();
        return b;
    }

    /**
     * The buffer a frozen (NF4 or stored) linear map is decoded into for its product on a tape (the
     * size of the largest), null for a model without frozen maps. Made on first use: a model loaded
     * only for inference (whose kernels read the blocks directly) never holds it.
     */
    public Tensor frozenScratch() { return frozenScratch == null ? null : frozenScratch.get(); }

    /** A buffer of a fixed size, allocated when first asked for (shared by the copies of a model). */
    private static final class Scratch {
        private final int size;
        private Tensor buffer;

        Scratch(int size) { this.size = size; }

        synchronized Tensor get() {
            if (buffer == null) buffer = Tensor.zeros(size);
            return buffer;
        }
    }

    /** The head's weight [V, d] on a tape: the parameter, or a stored head decoded into the scratch (frozen). */
    public Var headWeight() {
        if (head.stored() == null) return head.weight();
        Tensor w = new Tensor(frozenScratch().data(), 0, new int[] {head.stored().out(), head.stored().in()});
        head.stored().dequantizeInto(w.data(), 0);
        return new Var(w, (Tensor) null);
    }

    /** The [out, in] shape of a linear map of a config, or null when the config has no such map (GELU models have no gate). */
    public static int[] linearShape(ModelConfig c, Role role) {
        int d = c.hiddenSize(), ff = c.intermediateSize();
        return switch (role) {
            case Q -> new int[] {c.qDim(), d};
            case O -> new int[] {d, c.qDim()};
            case K, V -> new int[] {c.kvDim(), d};
            case GATE -> c.activation() != Activation.GELU ? new int[] {ff, d} : null;
            case UP -> new int[] {ff, d};
            case DOWN -> new int[] {d, ff};
            case ROUTER -> c.moe() ? new int[] {c.numExperts(), d} : null;
            case EXPERT_GATE -> c.moe() && c.activation() != Activation.GELU ? new int[] {c.expertSize(), d} : null;
            case EXPERT_UP -> c.moe() ? new int[] {c.expertSize(), d} : null;
            case EXPERT_DOWN -> c.moe() ? new int[] {d, c.expertSize()} : null;
            case SHARED_GATE, SHARED_UP -> c.sharedExpertIntermediateSize() > 0 ? new int[] {c.sharedExpertIntermediateSize(), d} : null;
            case SHARED_DOWN -> c.sharedExpertIntermediateSize() > 0 ? new int[] {d, c.sharedExpertIntermediateSize()} : null;
            case SHARED_EXPERT_GATE -> c.sharedExpertIntermediateSize() > 0 ? new int[] {1, d} : null;
            default -> null;
        };
    }

    /** The LoRA adapter this model carries, or null. */
    public Lora.Adapter adapter() { return adapter; }

    /** A decoder with freshly initialised weights: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)), norms 1, biases 0. */
    public static Decoder create(ModelConfig config, long seed) { return create(config, seed, Kernels.defaults()); }

    /** As {@link #create(ModelConfig, long)}, computing with kernels. */
    public static Decoder create(ModelConfig config, long seed, KernelSet kernels) {
        Parameters p = layout(config).build();
        Rng rng = new Rng(seed);
        double residualStd = 0.02 / Math.sqrt(2.0 * config.numHiddenLayers());
        for (Parameters.Slot s : p.slots().values()) {
            Tensor t = p.value(s.name());
            if (s.key().bias()) t.fill(0f);
            else if (s.role().kind() == Role.Kind.NORM) t.fill(1f);
            else {
                double std = s.role().residualOutput() ? residualStd : 0.02;
                for (int i = 0; i < t.size(); i++) t.set(i, (float) (rng.nextGaussian() * std));
            }
        }
        return new Decoder(config, p, kernels);
    }

    /** The parameter layout of a config, in canonical order. */
    public static Parameters.Layout layout(ModelConfig c) {
        int d = c.hiddenSize(), V = c.vocabSize(), ff = c.intermediateSize(), kv = c.kvDim();
        boolean ln = c.norm() == ModelConfig.Norm.LAYERNORM, bias = c.bias();
        Parameters.Layout l = new Parameters.Layout();
        l.add(ParamKey.of(Role.EMBEDDING), V, d);
        if (c.position() == Position.LEARNED) l.add(ParamKey.of(Role.POSITIONS), c.maxPositionEmbeddings(), d);
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            norm(l, ParamKey.of(Role.INPUT_NORM, i), d, ln);
            linear(l, ParamKey.of(Role.Q, i), c.qDim(), d, bias);
            linear(l, ParamKey.of(Role.K, i), kv, d, bias);
            linear(l, ParamKey.of(Role.V, i), kv, d, bias);
            linear(l, ParamKey.of(Role.O, i), d, c.qDim(), bias);
            if (c.qkNorm()) {
                norm(l, ParamKey.of(Role.Q_NORM, i), c.headDim(), false);
                norm(l, ParamKey.of(Role.K_NORM, i), c.headDim(), false);
            }
            if (c.sandwichNorms()) norm(l, ParamKey.of(Role.ATTN_OUT_NORM, i), d, ln);
            norm(l, ParamKey.of(Role.POST_NORM, i), d, ln);
            if (c.sparse(i)) {                          // router, then each role's experts in order (stacks as GGUF keeps them)
                int ffe = c.expertSize(), s = c.sharedExpertIntermediateSize();
                l.add(ParamKey.of(Role.ROUTER, i), c.numExperts(), d);
                for (Role r : c.activation() != Activation.GELU ? new Role[] {Role.EXPERT_GATE, Role.EXPERT_UP} : new Role[] {Role.EXPERT_UP})
                    for (int e = 0; e < c.numExperts(); e++) l.add(ParamKey.expert(r, i, e), ffe, d);
                for (int e = 0; e < c.numExperts(); e++) l.add(ParamKey.expert(Role.EXPERT_DOWN, i, e), d, ffe);
                if (s > 0) {
                    l.add(ParamKey.of(Role.SHARED_GATE, i), s, d);
                    l.add(ParamKey.of(Role.SHARED_UP, i), s, d);
                    l.add(ParamKey.of(Role.SHARED_DOWN, i), d, s);
                    l.add(ParamKey.of(Role.SHARED_EXPERT_GATE, i), 1, d);
                }
            } else if (c.activation() != Activation.GELU) {
                linear(l, ParamKey.of(Role.GATE, i), ff, d, false);
                linear(l, ParamKey.of(Role.UP, i), ff, d, false);
                linear(l, ParamKey.of(Role.DOWN, i), d, ff, false);
            } else {
                linear(l, ParamKey.of(Role.UP, i), ff, d, bias);
                linear(l, ParamKey.of(Role.DOWN, i), d, ff, bias);
            }
            if (c.sandwichNorms()) norm(l, ParamKey.of(Role.MLP_OUT_NORM, i), d, ln);
        }
        norm(l, ParamKey.of(Role.FINAL_NORM), d, ln);
        if (!c.tieWordEmbeddings()) l.add(ParamKey.of(Role.HEAD), V, d);
        return l;
    }

    private static void norm(Parameters.Layout l, ParamKey key, int d, boolean withBias) {
        l.add(key, d);
        if (withBias) l.add(key.biasOf(), d);
    }

    private static void linear(Parameters.Layout l, ParamKey key, int out, int in, boolean bias) {
        l.add(key, out, in);
        if (bias) l.add(key.biasOf(), out);
    }

    public ModelConfig config() { return config; }
    public Parameters params() { return params; }
    public KernelSet kernels() { return kernels; }
    /** Layer l's rotary tables of max_position_embeddings positions (or the shorter context limit; null without rotary positions). */
    public Rope rope(int layer) { return config.localRope(layer) ? localRope : rope; }
    /** The rotary tables of the layers without their own (null without rotary positions). */
    public Rope rope() { return rope; }
    /** How layer l's attention scores are formed: its window, the config's scale and soft cap (both executors read this). */
    public dev.lamina.kernels.AttentionScores scores(int layer) { return scores[layer]; }
    /** The windowed layers' own rotary tables (Gemma 3's rope_local_base_freq), or null. */
    public Rope localRope() { return localRope; }
    /** Every linear map, indexed by {@link Linear#id()}: the layers' in order, then the head. */
    public Linear[] linears() { return linears.clone(); }
    public Layer layer(int l) { return layers[l]; }
    public Linear head() { return head; }
    /** The token table [V, d] as a parameter, or null when it is read from stored blocks ({@link #storedTable()}). */
    public Var embedTokens() { return embedTokens; }
    /** The token table held as stored blocks (a quantized file's tied head or token table; frozen), or null. */
    public LinearWeights storedTable() { return storedTable; }

    // ---- the structure, once for both executors -------------------------------------------------

    /** The final normalised hidden states [rows, d] the head reads: embeddings, every layer, the final norm. */
    public <X> X hidden(Executor<X> ex) {
        X x = ex.embed(embedTokens, embedPositions);
        int span = ex.segmentLayers() > 0 ? ex.segmentLayers() : Math.max(1, layers.length);
        for (int from = 0; from < layers.length; from += span) {      // segments of layers (activation checkpointing)
            int lo = from, hi = Math.min(layers.length, from + span);
            x = ex.segment(x, (e, y) -> layers(e, lo, hi, y));
        }
        x = ex.enter(layers.length, x);
        return ex.norm(finalNorm, ex.outputRows(x), 1f);
    }

    /** Layers [from, to) on x. */
    private <X> X layers(Executor<X> ex, int from, int to, X x) {
        for (int l = from; l < to; l++) {
            x = ex.enter(l, x);
            if (ex.runs(l)) x = layer(ex, layers[l], x);
        }
        return x;
    }

    /** One decoder layer. */
    <X> X layer(Executor<X> ex, Layer w, X x) {
        int l = w.index();
        if (config.isPostLn(l)) {                      // x = N1(x + Attn(x)); x = N2(x + MLP(x))
            x = ex.norm(w.inputNorm(), ex.residual(x, attention(ex, w, x), w.o()), 1f);
            return ex.norm(w.postNorm(), mlpInto(ex, w, x, x), 1f);
        }
        if (config.sandwichNorms()) {                  // x = x + Nao(Attn(N1(x))); x = x + Nmo(MLP(N2(x)))
            x = ex.add(x, ex.norm(w.attnOutNorm(), ex.linear(attention(ex, w, ex.norm(w.inputNorm(), x, 1f)), w.o()), 1f));
            X h = ex.norm(w.postNorm(), x, 1f);
            return ex.add(x, ex.norm(w.mlpOutNorm(), w.moe() != null ? moe(ex, w, h) : ex.linear(mlp(ex, w, h), w.down()), 1f));
        }
        float s = config.normScale(l);                 // x = x + Attn(s·N1(x)); x = x + MLP(s·N2(x))
        x = ex.residual(x, attention(ex, w, ex.norm(w.inputNorm(), x, s)), w.o());
        return mlpInto(ex, w, x, ex.norm(w.postNorm(), x, s));
    }

    /** r + MLP(h): the dense MLP's down projection fused with the residual add, or a sparse layer's experts added. */
    private <X> X mlpInto(Executor<X> ex, Layer w, X r, X h) {
        return w.moe() != null ? ex.add(r, moe(ex, w, h)) : ex.residual(r, mlp(ex, w, h), w.down());
    }

    /** The attention heads' output [n, H·hd], before w.o(). */
    private <X> X attention(Executor<X> ex, Layer w, X x) {
        X[] qkv = ex.project(x, w.qkv());
        X q = qkv[0], k = qkv[1], v = qkv[2];
        if (config.qkNorm()) {                         // Qwen3: RMSNorm over each head, before RoPE
            q = ex.headNorm(w.qNorm(), q);
            k = ex.headNorm(w.kNorm(), k);
        }
        if (config.position() == Position.ROPE) {
            q = ex.rope(w.index(), q, config.numAttentionHeads());
            k = ex.rope(w.index(), k, config.numKeyValueHeads());
        }
        return ex.attention(w.index(), q, k, v);
    }

    /** The MLP's hidden activation [n, ff], before w.down(). */
    private <X> X mlp(Executor<X> ex, Layer w, X x) { return activation(ex, ex.project(x, w.mlpIn())); }

    private <X> X activation(Executor<X> ex, X[] h) {
        return switch (config.activation()) {
            case SWIGLU -> ex.swiglu(h[0], h[1]);
            case GEGLU -> ex.geglu(h[0], h[1]);
            case GELU -> ex.gelu(h[0]);
        };
    }

    /**
     * A sparse layer's output [n, d]: the router picks k experts per row, the rows are grouped by
     * expert [n·k, d] (permute), each expert's MLP runs on its group only, and each row sums its
     * experts' outputs weighted by the router (unpermute).
     */
    private <X> X moe(Executor<X> ex, Layer w, X x) {
        Moe m = w.moe();
        X grouped = ex.route(w.index(), ex.linear(x, m.router()), x);
        X routed = ex.combine(ex.experts(activation(ex, ex.experts(grouped, m.in())), m.down())[0]);
        if (m.sharedIn() == null) return routed;       // Qwen-MoE: + sigmoid(x·g) ⊙ the shared expert's MLP of x
        X shared = ex.linear(activation(ex, ex.project(x, m.sharedIn())), m.sharedDown());
        return ex.gatedAdd(routed, ex.linear(x, m.sharedGate()), shared);
    }

    // ---- training and evaluation on a tape ------------------------------------------------------

    /** logits[n,V] for ids[B·T]. */
    public Var forward(Tape tape, int[] ids, int B, int T) { return forward(new TapeExecutor(this, tape, ids, B, T)); }

    /** logits[n,V] of the executor's input (research executors skip layers and probe). */
    public Var forward(TapeExecutor ex) {
        Var h = hidden(ex);       // first: a stored head is decoded into the scratch the layers' frozen maps use
        Var logits = Ops.linear(ex.tape(), h, ex.headWeight(), null);
        return config.logitSoftcap() > 0 ? Ops.softcap(ex.tape(), logits, config.logitSoftcap()) : logits;
    }

    /**
     * Forward plus mean cross-entropy against targets; on a training tape, backward() then fills every
     * gradient, and a sparse model's loss includes its router losses (auxCoef·aux + zCoef·z).
     */
    public float loss(Tape tape, int[] ids, int[] targets, int B, int T) {
        return loss(new TapeExecutor(this, tape, ids, B, T), targets);
    }

    /** As {@link #loss(Tape, int[], int[], int, int)} on an executor the caller keeps (a trainer: one per run). */
    public float loss(TapeExecutor ex, int[] targets) {
        Var h = hidden(ex);       // first: a stored head is decoded into the scratch the layers' frozen maps use
        float ce = Ops.linearCrossEntropy(ex.tape(), h, ex.headWeight(), targets, config.logitSoftcap());
        return ex.routerLosses() == null || !ex.tape().recording() ? ce : (float) (ce + ex.routerLosses().weighted());
    }

    /**
     * Forward plus the distillation loss against the teacher's soft targets (Ops.linearDistill: α·τ²·KL
     * + (1−α)·CE); on a training tape, backward() then fills every gradient. A sparse model's router
     * losses are added to the total, as in {@link #loss(TapeExecutor, int[])}.
     */
    public Ops.Distilled distillLoss(TapeExecutor ex, int[] targets, Ops.SoftTargets teacher, float alpha, float tau) {
        Var h = hidden(ex);
        Ops.Distilled d = Ops.linearDistill(ex.tape(), h, ex.headWeight(), teacher, targets, alpha, tau, config.logitSoftcap());
        if (ex.routerLosses() == null || !ex.tape().recording()) return d;
        return new Ops.Distilled((float) (d.loss() + ex.routerLosses().weighted()), d.kl(), d.ce());
    }

    /** Number of parameters (the stored linear maps' weights included; a tied head's table counted once). */
    public long parameterCount() {
        long n = params.count();
        if (stored != null)
            for (var e : stored.entrySet())
                if (e.getKey().role() != Role.EMBEDDING || embedTokens == null) n += (long) e.getValue().out() * e.getValue().in();
        return n;
    }
}
