package dev.lamina.infer;

import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.Kernels;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ModelConfig.Activation;
import dev.lamina.model.ModelConfig.Norm;
import dev.lamina.model.ModelConfig.Position;
import dev.lamina.model.Parameters;
import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;

import java.util.List;

/**
 * The inference forward pass, separate from the training graph: no autograd, buffers allocated
 * once for up to maxRows tokens per call. One call runs any mix of sequences, each contributing
 * a chunk of new tokens (a prompt, part of one, or the single token being decoded) appended to
 * its own {@link KvCache}:
 *
 * <ul>
 *   <li>the linear layers run once over all rows of the batch, on weights repacked once into
 *       {@link PackedWeights} panels (streamed once per call whatever the number of rows; q, k,
 *       v and gate, up each in one parallel region);</li>
 *   <li>attention runs per sequence over its own cache plus its new rows, each group of query
 *       heads reading its shared KV head in place.</li>
 * </ul>
 *
 * <p>A row's result depends only on its sequence, never on what else is in the batch or how a
 * prompt is split into chunks: every kernel sums each output in one fixed order. So batched
 * decoding gives exactly the tokens of decoding alone. The packed copy of the weights costs as
 * much memory as the weights themselves ({@link #packedBytes()}); with
 * {@code -Dlamina.kernels=scalar} nothing is packed and the plain reference loops run.
 *
 * <p>Shapes: n rows this call, d hidden, V vocabulary, H query heads, KV key/value heads, hd head
 * dimension, ff MLP width. Not thread-safe: one thread drives a runner.
 */
public final class ModelRunner {
    /** New tokens tokens[from, to) for one sequence; logits: whether the caller wants the last token's logits. */
    public record Chunk(KvCache cache, int[] tokens, int from, int to, boolean logits) {
        public Chunk {
            if (to <= from) throw new IllegalArgumentException("empty chunk");
        }
        public int length() { return to - from; }
    }

    /** One or more weight matrices applied to the same input in one parallel region. */
    private static final class Linear {
        final Tensor[] ws, bs;
        final PackedWeights[] packed;

        Linear(Tensor[] ws, Tensor[] bs) {
            this.ws = ws;
            this.bs = bs;
            if (InferKernels.INSTANCE == InferKernels.SCALAR) packed = null;
            else {
                packed = new PackedWeights[ws.length];
                for (int i = 0; i < ws.length; i++) packed[i] = PackedWeights.pack(ws[i], bs == null ? null : bs[i]);
            }
        }

        /** ys[m][0, n) = x[0, n) · ws[m]ᵀ + bs[m]. */
        void apply(int n, Tensor x, Tensor... ys) {
            if (packed != null) PackedWeights.multiply(n, x, packed, ys);
            else InferKernels.SCALAR.gemv(n, x, ws, bs, ys);
        }

        long packedBytes() {
            long b = 0;
            if (packed != null) for (PackedWeights p : packed) b += p.bytes();
            return b;
        }
    }

    private static Linear linear(Parameters p, String... names) {
        Tensor[] ws = new Tensor[names.length];
        for (int i = 0; i < names.length; i++) ws[i] = w(p, names[i]);
        return new Linear(ws, biases(p, names));
    }

    private record Layer(Linear qkv, Linear o, Linear up, Linear down, Tensor n1w, Tensor n1b, Tensor n2w, Tensor n2b) {}

    private final Decoder model;
    private final ModelConfig c;
    private final KernelSet k = Kernels.get();
    private final InferKernels ik = InferKernels.INSTANCE;
    private final int maxRows, maxSeqs, d, kvDim, H, KV, hd, V;
    private final Layer[] layers;
    private final Tensor embed, posTable, finalW, finalB;
    private final Linear head;
    private float[] cos, sin;
    private int ropePositions;

    // activations [maxRows, ·]
    private final Tensor x, h, q, kk, v, att, o, a, b, m, mean, rstd;
    // last rows and logits [maxSeqs, ·]
    private final Tensor lastX, lastH, logits, lastMean, lastRstd;
    // per-call bookkeeping
    private final int[] start, len, pos, slotBase, rowChunk;
    private int[][] slots;
    private final KvCache[] caches;

    private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[256]);

    /** A runner for calls of up to maxRows tokens from up to maxSeqs sequences. */
    public ModelRunner(Decoder model, int maxRows, int maxSeqs) {
        if (maxRows < 1 || maxSeqs < 1) throw new IllegalArgumentException("maxRows and maxSeqs must be >= 1");
        this.model = model;
        this.c = model.config();
        this.maxRows = maxRows;
        this.maxSeqs = Math.min(maxSeqs, maxRows);
        d = c.hiddenSize();
        kvDim = c.kvDim();
        H = c.numAttentionHeads();
        KV = c.numKeyValueHeads();
        hd = c.headDim();
        V = c.vocabSize();
        Parameters p = model.params();
        layers = new Layer[c.numHiddenLayers()];
        for (int l = 0; l < layers.length; l++) {
            String pre = "layers." + l + ".";
            boolean swiglu = c.activation() == Activation.SWIGLU;
            layers[l] = new Layer(
                    linear(p, pre + "self_attn.q_proj", pre + "self_attn.k_proj", pre + "self_attn.v_proj"),
                    linear(p, pre + "self_attn.o_proj"),
                    swiglu ? linear(p, pre + "mlp.gate_proj", pre + "mlp.up_proj") : linear(p, pre + "mlp.up_proj"),
                    linear(p, pre + "mlp.down_proj"),
                    p.value(pre + "input_layernorm.weight"), opt(p, pre + "input_layernorm.bias"),
                    p.value(pre + "post_attention_layernorm.weight"), opt(p, pre + "post_attention_layernorm.bias"));
        }
        embed = p.value("embed_tokens.weight");
        posTable = opt(p, "embed_positions.weight");
        finalW = p.value("norm.weight");
        finalB = opt(p, "norm.bias");
        head = new Linear(new Tensor[]{p.value(c.tieWordEmbeddings() ? "embed_tokens.weight" : "lm_head.weight")}, null);
        cos = model.ropeCos();
        sin = model.ropeSin();
        ropePositions = c.maxPositionEmbeddings();

        int ff = c.intermediateSize();
        x = Tensor.zeros(maxRows, d);
        h = Tensor.zeros(maxRows, d);
        q = Tensor.zeros(maxRows, d);
        kk = Tensor.zeros(maxRows, kvDim);
        v = Tensor.zeros(maxRows, kvDim);
        att = Tensor.zeros(maxRows, d);
        o = Tensor.zeros(maxRows, d);
        a = Tensor.zeros(maxRows, ff);
        b = Tensor.zeros(maxRows, ff);
        m = Tensor.zeros(maxRows, ff);
        mean = Tensor.zeros(maxRows);
        rstd = Tensor.zeros(maxRows);
        lastX = Tensor.zeros(this.maxSeqs, d);
        lastH = Tensor.zeros(this.maxSeqs, d);
        lastMean = Tensor.zeros(this.maxSeqs);
        lastRstd = Tensor.zeros(this.maxSeqs);
        logits = Tensor.zeros(this.maxSeqs, V);
        start = new int[maxRows];
        len = new int[maxRows];
        pos = new int[maxRows];
        slotBase = new int[maxRows];
        rowChunk = new int[maxRows];
        slots = new int[maxRows][];
        caches = new KvCache[maxRows];
    }

    private static Tensor w(Parameters p, String name) { return p.value(name + ".weight"); }
    private static Tensor bias(Parameters p, String name) { return opt(p, name + ".bias"); }
    private static Tensor opt(Parameters p, String name) { return p.has(name) ? p.value(name) : null; }

    private static Tensor[] biases(Parameters p, String... names) {
        Tensor[] t = new Tensor[names.length];
        boolean any = false;
        for (int i = 0; i < names.length; i++) any |= (t[i] = bias(p, names[i])) != null;
        return any ? t : null;
    }

    public Decoder model() { return model; }
    public int maxRows() { return maxRows; }
    public int maxSeqs() { return maxSeqs; }

    /** Bytes of the packed weight copy (0 with the scalar kernels). */
    public long packedBytes() {
        long b = head.packedBytes();
        for (Layer l : layers) b += l.qkv().packedBytes() + l.o().packedBytes() + l.up().packedBytes() + l.down().packedBytes();
        return b;
    }

    /** A single chunk. */
    public Tensor forward(Chunk chunk) { return forward(List.of(chunk)); }

    /**
     * Appends each chunk's tokens to its cache (a cache may appear once per call) and returns the
     * logits [j, V] of the last token of the j-th chunk that asked for logits (a view, valid until
     * the next call).
     */
    public Tensor forward(List<Chunk> chunks) {
        int C = chunks.size(), n = 0, wanted = 0;
        if (C == 0) throw new IllegalArgumentException("no chunks");
        if (C > maxRows) throw new IllegalArgumentException(C + " chunks exceed the runner's " + maxRows + " rows");
        for (Chunk ch : chunks) {
            n += ch.length();
            if (ch.logits()) wanted++;
        }
        if (n > maxRows) throw new IllegalArgumentException(n + " tokens exceed the runner's " + maxRows + " rows per call");
        if (wanted > maxSeqs) throw new IllegalArgumentException(wanted + " logit rows exceed the runner's " + maxSeqs);

        int row = 0;
        for (int s = 0; s < C; s++) {
            Chunk ch = chunks.get(s);
            for (int t = 0; t < s; t++)
                if (caches[t] == ch.cache()) throw new IllegalArgumentException("a cache appears twice in one call");
            caches[s] = ch.cache();
            start[s] = row;
            len[s] = ch.length();
            pos[s] = ch.cache().length();
            for (int r = row; r < row + len[s]; r++) rowChunk[r] = s;
            row += len[s];
        }
        for (int s = 0; s < C; s++) caches[s].reserve(len[s]);
        ensureRope(maxEnd(C));
        int window = c.window();
        for (int s = 0; s < C; s++) {                     // slot offsets of the cached positions each chunk reads
            int lo = window > 0 ? Math.max(0, pos[s] - window + 1) : 0, count = pos[s] - lo;
            if (slots[s] == null || slots[s].length < count) slots[s] = new int[Math.max(count, 16) * 2];
            slotBase[s] = lo;
            for (int j = 0; j < count; j++) slots[s][j] = caches[s].slot(lo + j);
        }

        try {
            for (int s = 0; s < C; s++) {
                Chunk ch = chunks.get(s);
                int[] ids = java.util.Arrays.copyOfRange(ch.tokens(), ch.from(), ch.to());
                Tensor positions = posTable == null ? null : posTable.rows(pos[s], pos[s] + len[s]);
                k.embedding(x.rows(start[s], start[s] + len[s]), ids, embed, positions, len[s]);
            }
            for (int l = 0; l < layers.length; l++) layer(l, n, C);

            // final norm and head on the last row of each chunk that wants logits, in the caller's order
            int j = 0;
            for (int s = 0; s < C; s++)
                if (chunks.get(s).logits())
                    System.arraycopy(x.data(), (start[s] + len[s] - 1) * d, lastX.data(), (j++) * d, d);
            if (wanted > 0) {
                norm(lastH.rows(0, wanted), lastX.rows(0, wanted), finalW, finalB, 1f, lastMean, lastRstd);
                head.apply(wanted, lastH, logits);
            }
        } finally {
            for (int s = 0; s < C; s++) caches[s] = null;
        }
        for (Chunk ch : chunks) ch.cache().advance(ch.tokens(), ch.from(), ch.to());
        return logits.rows(0, wanted);
    }

    private int maxEnd(int C) {
        int e = 0;
        for (int s = 0; s < C; s++) e = Math.max(e, pos[s] + len[s]);
        return e;
    }

    /** Grows the rotary tables (same formula as the decoder's) when a sequence outruns them. */
    private void ensureRope(int positions) {
        if (c.position() != Position.ROPE || positions <= ropePositions) return;
        int size = Math.max(positions, ropePositions * 2), half = hd / 2;
        float[] nc = new float[size * half], ns = new float[size * half];
        for (int p = 0; p < size; p++)
            for (int i = 0; i < half; i++) {
                double angle = p * Math.pow(c.ropeTheta(), -2.0 * i / hd);
                nc[p * half + i] = (float) Math.cos(angle);
                ns[p * half + i] = (float) Math.sin(angle);
            }
        cos = nc;
        sin = ns;
        ropePositions = size;
    }

    private void layer(int l, int n, int C) {
        Layer w = layers[l];
        Tensor xs = x.rows(0, n), hs = h.rows(0, n), os = o.rows(0, n);
        if (c.isPostLn(l)) {                               // x = N1(x + Attn(x)); x = N2(x + MLP(x))
            attention(l, w, xs, n, C);
            k.add(os, xs, os);
            norm(xs, os, w.n1w(), w.n1b(), 1f, mean, rstd);
            mlp(w, xs, n);
            k.add(os, xs, os);
            norm(xs, os, w.n2w(), w.n2b(), 1f, mean, rstd);
        } else {                                           // x += Attn(s·N1(x)); x += MLP(s·N2(x))
            float scale = c.normScale(l);
            norm(hs, xs, w.n1w(), w.n1b(), scale, mean, rstd);
            attention(l, w, hs, n, C);
            k.accumulate(xs, os);
            norm(hs, xs, w.n2w(), w.n2b(), scale, mean, rstd);
            mlp(w, hs, n);
            k.accumulate(xs, os);
        }
    }

    private void norm(Tensor y, Tensor in, Tensor w, Tensor bias, float scale, Tensor meanBuf, Tensor rstdBuf) {
        int n = in.size() / d;
        if (c.norm() == Norm.RMSNORM) k.rmsnorm(y, rstdBuf.rows(0, n), in, w, (float) c.normEps(), scale);
        else k.layernorm(y, meanBuf.rows(0, n), rstdBuf.rows(0, n), in, w, bias, (float) c.normEps(), scale);
    }

    /** o = Attn(in) for the new rows; their keys and values are then written to the caches. */
    private void attention(int l, Layer w, Tensor in, int n, int C) {
        w.qkv().apply(n, in, q, kk, v);
        if (c.position() == Position.ROPE)
            for (int s = 0; s < C; s++) {
                k.rope(q.rows(start[s], start[s] + len[s]), len[s], H, hd, pos[s], cos, sin, false);
                k.rope(kk.rows(start[s], start[s] + len[s]), len[s], KV, hd, pos[s], cos, sin, false);
            }
        long work = 0;
        int window = c.window();
        for (int s = 0; s < C; s++) {
            long span = window > 0 ? Math.min(window, pos[s] + len[s]) : pos[s] + len[s];
            work += len[s] * span;
        }
        work *= 2L * H * hd;
        int items = n * KV;
        int minChunk = work < InferKernels.PARALLEL_MIN_FMA ? items : 1;
        Parallel.forRange(items, minChunk, (i0, i1) -> {
            for (int item = i0; item < i1; item++) attendGroup(l, item / KV, item % KV);
        });
        for (int s = 0; s < C; s++) {
            float[] K = caches[s].keys(l), Vv = caches[s].values(l);
            for (int t = 0; t < len[s]; t++) {
                int dst = caches[s].slot(pos[s] + t), src = (start[s] + t) * kvDim;
                System.arraycopy(kk.data(), src, K, dst, kvDim);
                System.arraycopy(v.data(), src, Vv, dst, kvDim);
            }
        }
        w.o().apply(n, att, o);
    }

    /**
     * The query heads of KV head kh for row r: scores against the cached positions and the
     * chunk's own earlier rows, softmax, weighted sum of values into att.
     */
    private void attendGroup(int l, int r, int kh) {
        int s = rowChunk[r], t = r - start[s], at = pos[s] + t, window = c.window();
        int lo = window > 0 ? Math.max(0, at - window + 1) : 0, span = at - lo + 1;
        int group = H / KV;
        float[] sc = SCORES.get();
        if (sc.length < group * span) SCORES.set(sc = new float[Math.max(group * span, sc.length * 2)]);
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] Q = q.data(), O = att.data(), Kc = caches[s].keys(l), Vc = caches[s].values(l), Kn = kk.data(), Vn = v.data();
        int[] sl = slots[s];
        int base = slotBase[s], cachedEnd = pos[s], koff = kh * hd;
        for (int j = lo; j <= at; j++) {
            float[] K;
            int off;
            if (j < cachedEnd) { K = Kc; off = sl[j - base] + koff; }
            else { K = Kn; off = (start[s] + j - cachedEnd) * kvDim + koff; }
            for (int g = 0; g < group; g++)
                sc[g * span + j - lo] = ik.dot(Q, r * d + (kh * group + g) * hd, K, off, hd) * scale;
        }
        for (int g = 0; g < group; g++) {
            ik.softmax(sc, g * span, span);
            java.util.Arrays.fill(O, r * d + (kh * group + g) * hd, r * d + (kh * group + g + 1) * hd, 0f);
        }
        int cached = Math.max(0, cachedEnd - lo), fresh = span - cached, first = Math.max(lo, cachedEnd);
        for (int g = 0; g < group; g++) {
            int oo = r * d + (kh * group + g) * hd, so = g * span;
            if (cached > 0) ik.weightedRows(sc, so, cached, Vc, sl, lo - base, koff, 0, O, oo, hd);
            ik.weightedRows(sc, so + cached, fresh, Vn, null, 0, (start[s] + first - cachedEnd) * kvDim + koff, kvDim, O, oo, hd);
        }
    }

    /** o = MLP(in). */
    private void mlp(Layer w, Tensor in, int n) {
        Tensor as = a.rows(0, n), bs = b.rows(0, n), ms = m.rows(0, n);
        if (c.activation() == Activation.SWIGLU) {
            w.up().apply(n, in, a, b);
            k.swiglu(ms, as, bs);
        } else {
            w.up().apply(n, in, a);
            k.gelu(ms, as);
        }
        w.down().apply(n, m, o);
    }
}
