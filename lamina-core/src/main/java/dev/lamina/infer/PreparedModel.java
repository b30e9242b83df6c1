package dev.lamina.infer;

import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.LinearWeights;
import dev.lamina.kernels.WeightFormat;
import dev.lamina.model.Decoder;
import dev.lamina.model.Qat;
import dev.lamina.model.Lora;
import dev.lamina.tensor.Tensor;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * A decoder with every linear weight prepared once by its kernel set for inference (repacked into
 * panels by the vector kernels, read in place by the scalar reference, or quantized to 8 bits when
 * the format says so: every linear, the head included). Immutable and shared:
 * any number of runners and sessions use one, so generating again does not repack. The decoder's
 * parameters must not change while it is in use (prepare again after training more). It also
 * says what the KV caches made for it hold ({@link #kvCache()}: float32 unless asked for 16 bits).
 */
public final class PreparedModel {
    private final Decoder model;
    private final WeightFormat format;
    private final LinearWeights[] weights;                 // by Decoder.Linear.id()
    private final LinearWeights[][] singles;               // {weights[id]}, by id
    private final Map<Decoder.Linear[], LinearWeights[]> groups;
    private final dev.lamina.tensor.Precision kvCache;

    private PreparedModel(Decoder model, WeightFormat format) {
        if (model.nf4Base())
            throw new dev.lamina.io.LaminaException("an NF4 (QLoRA) base is for fine-tuning only; for inference load the float model "
                    + "and its adapter (generate --adapter, serve --lora)");
        this.model = model;
        this.format = model.hasStored() ? WeightFormat.STORED : format;   // a file's blocks are used as they are
        this.groups = new IdentityHashMap<>();
        this.kvCache = dev.lamina.tensor.Precision.FP32;
        KernelSet k = model.kernels();
        Decoder.Linear[] linears = model.linears();
        weights = new LinearWeights[linears.length];
        singles = new LinearWeights[linears.length][];
        for (Decoder.Linear lin : linears) {
            weights[lin.id()] = lin.stored() != null && lin.lowRank() == null ? lin.stored()    // a file's blocks, as they are
                    : k.prepare(merged(k, lin), lin.bias() == null ? null : lin.bias().value(), format);
            singles[lin.id()] = new LinearWeights[] {weights[lin.id()]};
        }
        for (int l = 0; l < model.config().numHiddenLayers(); l++) {
            Decoder.Layer layer = model.layer(l);
            addGroup(layer.qkv());
            if (layer.moe() == null) addGroup(layer.mlpIn());
            else {
                for (int e = 0; e < layer.moe().experts(); e++) {
                    addGroup(layer.moe().in()[e]);
                    addGroup(layer.moe().down()[e]);
                }
                if (layer.moe().sharedIn() != null) addGroup(layer.moe().sharedIn());
            }
        }
    }

    /**
     * The weight inference computes with: W, W + s·B·A when the linear carries a LoRA update
     * (folded in once here, so decoding with an adapter costs what decoding without one does), or
     * its fake-quantized ŵ in quantization-aware training.
     */
    public static Tensor merged(KernelSet k, Decoder.Linear lin) {
        Decoder.LowRank lr = lin.lowRank();
        Tensor w = lin.weight() != null ? lin.weight().value() : Tensor.zeros(lin.out(), lin.stored().in());
        if (lin.weight() == null) lin.stored().dequantizeInto(w.data(), 0);
        if (lin.quant() != null) {                              // quantization-aware training: the grid's ŵ, as the tape computes it
            Tensor q = Tensor.zeros(w.shape());
            Qat.forward(lin.quant().config(), w, lin.quant().step() == null ? null : lin.quant().step().value(), q);
            return q;
        }
        if (lr == null) return w;
        Tensor a = lr.a().value(), b = lr.b().value();          // A [r, in], B [out, r]
        int r = a.dim(0), in = a.dim(1), out = b.dim(0);
        Tensor at = Tensor.zeros(in, r);                       // Aᵀ, so that matmul(B, Aᵀ) = B·A
        for (int i = 0; i < r; i++) for (int j = 0; j < in; j++) at.set(j * r + i, a.get(i * in + j));
        Tensor ba = Tensor.zeros(out, in);
        k.matmul(ba, b, at, null);
        k.scale(ba, lr.scale());
        k.add(ba, ba, w);
        return ba;
    }

    /**
     * Folds an adapter into base's own parameters, in place: W ← W + s·B·A on every linear it
     * targets (prepare base only afterwards). Folding several one after the other gives
     * W + Σ sᵢ·Bᵢ·Aᵢ, the sum PEFT computes with several adapters active at once. Returns how many
     * linear maps changed.
     */
    public static int fold(Decoder base, Lora.Adapter adapter) {
        if (base.adapter() != null) throw new IllegalArgumentException("fold into the plain base, not a model carrying an adapter");
        if (base.hasStored())
            throw new IllegalArgumentException("fold into float weights: load the quantized model with WeightFormat.F32 to fold an adapter");
        int changed = 0;
        for (Decoder.Linear lin : base.withAdapter(adapter).linears()) {
            if (lin.lowRank() == null) continue;
            base.params().value(lin.key().name()).copyFrom(merged(base.kernels(), lin));
            changed++;
        }
        return changed;
    }

    /** Prepares every linear weight of model with its kernels, in float32. */
    public static PreparedModel of(Decoder model) { return new PreparedModel(model, WeightFormat.F32); }

    /** Prepares every linear weight of model with its kernels, stored in format. */
    public static PreparedModel of(Decoder model, WeightFormat format) { return new PreparedModel(model, format); }

    private PreparedModel(PreparedModel src, dev.lamina.tensor.Precision kvCache) {
        this.model = src.model;
        this.format = src.format;
        this.weights = src.weights;
        this.singles = src.singles;
        this.groups = src.groups;
        this.kvCache = kvCache;
    }

    public WeightFormat format() { return format; }

    /** What the KV caches made for this model hold: fp32 (the default), bf16 or fp16 ({@link KvRows}). */
    public dev.lamina.tensor.Precision kvCache() { return kvCache; }

    /** The same prepared weights (shared, not copied) with KV caches in precision. */
    public PreparedModel withKvCache(dev.lamina.tensor.Precision precision) {
        return precision == kvCache ? this : new PreparedModel(this, precision);
    }

    /**
     * This model's weights held by its decoder for inference only ({@link Decoder#storing}): the
     * float copies of the linear maps dropped. Null when that cannot be done: a model with an
     * adapter, or weights read in place (the scalar kernels' {@link dev.lamina.kernels.DenseWeights}).
     */
    public PreparedModel withoutFloatCopies() {
        if (model.adapter() != null || model.nf4Base()) return null;
        Map<dev.lamina.model.ParamKey, LinearWeights> byKey = new java.util.LinkedHashMap<>();
        for (Decoder.Linear lin : model.linears()) {
            if (weights[lin.id()] instanceof dev.lamina.kernels.DenseWeights) return null;
            byKey.put(lin.key(), weights[lin.id()]);
        }
        return new PreparedModel(model.storing(byKey), format).withKvCache(kvCache);
    }

    private void addGroup(Decoder.Linear[] ws) {
        LinearWeights[] g = new LinearWeights[ws.length];
        for (int i = 0; i < ws.length; i++) g[i] = weights[ws[i].id()];
        groups.put(ws, g);
    }

    public Decoder model() { return model; }

    /** The prepared weights of one linear, as a group of one. */
    LinearWeights[] single(Decoder.Linear w) { return singles[w.id()]; }

    /** The prepared weights of a group the decoder hands the executor (a layer's qkv or mlpIn array). */
    LinearWeights[] group(Decoder.Linear[] ws) {
        LinearWeights[] g = groups.get(ws);
        if (g == null) throw new IllegalArgumentException("not a linear group of this model");
        return g;
    }

    /**
     * Bytes a decode step reads: every prepared linear as stored (float32 or 8-bit blocks), the
     * norms, and the embedding table only when the head shares it.
     */
    public long weightBytesPerToken() {
        long linearFloats = 0, prepared = 0;
        for (Decoder.Linear lin : model.linears()) {
            LinearWeights w = weights[lin.id()];
            long bias = lin.bias() == null ? 0 : lin.bias().value().size(), floats = (long) w.out() * w.in() + bias;
            boolean inParams = lin.stored() == null                                     // a tied head's float table, when one is kept
                    || lin.key().role() == dev.lamina.model.Role.EMBEDDING && model.params().has(lin.key());
            var c = model.config();
            var role = lin.key().role();                                                // of k of E experts, one token reads k
            linearFloats += InferenceBenchmark.activeShare(c, role, (inParams ? (long) w.out() * w.in() : 0) + bias);
            prepared += InferenceBenchmark.activeShare(c, role, w.extraBytes() > 0 ? w.extraBytes() : (long) Float.BYTES * floats);
        }
        return InferenceBenchmark.weightBytesPerToken(model) - linearFloats * Float.BYTES + prepared;
    }

    /** Bytes of the prepared copies beyond the parameters (0 with the scalar kernels, which read the weights in place). */
    public long extraBytes() {
        long b = 0;
        for (LinearWeights w : weights) b += w.extraBytes();
        return b;
    }
}
