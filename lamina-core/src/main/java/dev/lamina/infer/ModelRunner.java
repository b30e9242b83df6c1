package dev.lamina.infer;

import dev.lamina.autograd.MoeOps;
import dev.lamina.autograd.Var;
import dev.lamina.kernels.AttentionScores;
import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.LinearWeights;
import dev.lamina.model.Decoder;
import dev.lamina.model.Executor;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Rope;
import dev.lamina.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The inference executor of the decoder ({@link Decoder#hidden} run with no autograd), on buffers
 * allocated once for up to maxRows tokens per call. One call runs any mix of sequences, each
 * contributing a chunk of new tokens (a prompt, part of one, or the single token being decoded)
 * appended to its own {@link KvCache}:
 *
 * <ul>
 *   <li>the linear layers run once over all rows of the batch, on the weights the model's kernel
 *       set prepared once ({@link PreparedModel}: streamed once per call whatever the number of
 *       rows; q, k, v and gate, up each in one parallel region);</li>
 *   <li>attention runs per sequence over its own cache plus its new rows, each group of query
 *       heads reading its shared KV head in place.</li>
 * </ul>
 *
 * <p>A row's result depends only on its sequence, never on what else is in the batch or how a
 * prompt is split into chunks: every kernel sums each output in one fixed order. So batched
 * decoding gives exactly the tokens of decoding alone. With the scalar reference kernels
 * ({@code Kernels.scalar}) nothing is packed and the plain loops run.
 *
 * <p>Shapes: n rows this call, d hidden, V vocabulary, H query heads, KV key/value heads, hd head
 * dimension, ff MLP width. Not thread-safe: one thread drives a runner.
 */
public final class ModelRunner {
    /**
     * New tokens tokens[from, to) for one sequence; logits: whether the caller wants the last token's
     * logits; adapter: the LoRA adapter this sequence runs with (null: the base alone).
     */
    public record Chunk(KvCache cache, int[] tokens, int from, int to, boolean logits, PreparedAdapter adapter) {
        public Chunk {
            if (to <= from) throw new IllegalArgumentException("empty chunk");
        }
        /** A chunk of the base model alone. */
        public Chunk(KvCache cache, int[] tokens, int from, int to, boolean logits) { this(cache, tokens, from, to, logits, null); }
        public int length() { return to - from; }
    }

    /** Below this many multiply-adds of attention a call runs on the calling thread. */
    private static final long PARALLEL_MIN_FMA = 1L << 17;

    private final PreparedModel prepared;
    private final Decoder model;
    private final ModelConfig c;
    private final KernelSet k;
    private final int maxRows, maxSeqs, d, qDim, kvDim, H, KV, hd;
    private final int arenaRows;                    // maxRows, times k for a sparse model (its rows grouped by expert)
    private final Exec exec = new Exec();
    private Rope rope, localRope;                   // localRope: the windowed layers' own (Gemma 3), else null

    // the residual stream x [maxRows, d], the rows that get logits [maxSeqs, d] and the logits [maxSeqs, V]
    private final Tensor stream, lastX, logits, mean, rstd;
    // per-call bookkeeping
    private final int[] start, len, pos, slotBase, rowChunk;
    private final int[][] slots;
    private final KvCache[] caches;
    private dev.lamina.tensor.Precision kvPrecision;   // of this call's caches (all the same)
    private final PreparedAdapter[] adapters;       // per chunk, null for the base alone
    private boolean anyAdapter;
    private float[] lowRankIn = new float[0], lowRankOut = new float[0];   // x·Aᵀ [rows, r] and its ·Bᵀ [rows, out]
    private final Tensor[] lowRankY = new Tensor[1];
    private final List<Chunk> one = new ArrayList<>(1);
    private List<Chunk> chunks;
    private int n, C, wanted;

    private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[256]);

    /** A runner for calls of up to maxRows tokens from up to maxSeqs sequences; prepares the model's weights. */
    public ModelRunner(Decoder model, int maxRows, int maxSeqs) { this(PreparedModel.of(model), maxRows, maxSeqs); }

    /** A runner over weights prepared once (shared with other runners). */
    public ModelRunner(PreparedModel prepared, int maxRows, int maxSeqs) {
        if (maxRows < 1 || maxSeqs < 1) throw new IllegalArgumentException("maxRows and maxSeqs must be >= 1");
        this.prepared = prepared;
        this.model = prepared.model();
        this.c = model.config();
        this.k = model.kernels();
        this.maxRows = maxRows;
        this.maxSeqs = Math.min(maxSeqs, maxRows);
        arenaRows = maxRows * Math.max(1, c.expertsPerToken());
        d = c.hiddenSize();
        kvDim = c.kvDim();
        qDim = c.qDim();
        H = c.numAttentionHeads();
        KV = c.numKeyValueHeads();
        hd = c.headDim();
        rope = model.rope();
        localRope = model.localRope();
        stream = Tensor.zeros(maxRows, d);
        lastX = Tensor.zeros(this.maxSeqs, d);
        logits = Tensor.zeros(this.maxSeqs, c.vocabSize());
        mean = Tensor.zeros(maxRows);
        rstd = Tensor.zeros(maxRows * (c.qkNorm() ? c.numAttentionHeads() : 1));     // q/k norms: one per head
        start = new int[maxRows];
        len = new int[maxRows];
        pos = new int[maxRows];
        slotBase = new int[maxRows];
        rowChunk = new int[maxRows];
        slots = new int[maxRows][];
        caches = new KvCache[maxRows];
        adapters = new PreparedAdapter[maxRows];
    }

    public Decoder model() { return model; }
    public PreparedModel prepared() { return prepared; }
    public int maxRows() { return maxRows; }
    public int maxSeqs() { return maxSeqs; }

    /** Bytes of the packed weight copy (0 with the scalar kernels). */
    public long packedBytes() { return prepared.extraBytes(); }

    /** A single chunk. */
    public Tensor forward(Chunk chunk) {
        one.clear();
        one.add(chunk);
        return forward(one);
    }

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
        anyAdapter = false;
        for (int s = 0; s < C; s++) {
            Chunk ch = chunks.get(s);
            for (int t = 0; t < s; t++)
                if (caches[t] == ch.cache()) throw new IllegalArgumentException("a cache appears twice in one call");
            if (ch.adapter() != null && ch.adapter().base() != prepared)
                throw new IllegalArgumentException("the adapter was prepared for another base model");
            caches[s] = ch.cache();
            adapters[s] = ch.adapter();
            anyAdapter |= ch.adapter() != null;
            start[s] = row;
            len[s] = ch.length();
            pos[s] = ch.cache().length();
            for (int r = row; r < row + len[s]; r++) rowChunk[r] = s;
            row += len[s];
        }
        kvPrecision = caches[0].rows().precision();
        for (int s = 1; s < C; s++)
            if (caches[s].rows().precision() != kvPrecision)
                throw new IllegalArgumentException("one call mixes KV caches in " + kvPrecision + " and " + caches[s].rows().precision());
        for (int s = 0; s < C; s++) caches[s].reserve(len[s]);
        ensureRope(maxEnd(C));
        int window = c.cacheWindow();
        for (int s = 0; s < C; s++) {                     // slot offsets of the cached positions each chunk reads
            int lo = KernelSet.firstVisible(pos[s], window), count = pos[s] - lo;
            if (slots[s] == null || slots[s].length < count) slots[s] = new int[Math.max(count, 16) * 2];
            slotBase[s] = lo;
            for (int j = 0; j < count; j++) slots[s][j] = caches[s].slot(lo + j);
        }
        this.chunks = chunks;
        this.n = n;
        this.C = C;
        this.wanted = wanted;
        try {
            Tensor h = model.hidden(exec);
            if (wanted > 0) {
                k.project(wanted, h, prepared.single(model.head()), exec.outputs(logits));
                if (c.logitSoftcap() > 0) k.softcap(logits.data(), logits.offset(), wanted * c.vocabSize(), c.logitSoftcap());
            }
        } finally {
            for (int s = 0; s < C; s++) { caches[s] = null; adapters[s] = null; }
            this.chunks = null;
        }
        for (Chunk ch : chunks) ch.cache().advance(ch.tokens(), ch.from(), ch.to());
        return logits.rows(0, wanted);
    }

    private int maxEnd(int C) {
        int e = 0;
        for (int s = 0; s < C; s++) e = Math.max(e, pos[s] + len[s]);
        return e;
    }

    /** Grows the rotary tables when a sequence outruns them (sliding-window models with a rolling cache). */
    private void ensureRope(int positions) {
        if (rope == null || positions <= rope.positions()) return;
        rope = Rope.of(c, Math.max(positions, rope.positions() * 2));
        if (localRope != null) localRope = Rope.local(c, rope.positions());
    }

    /**
     * The executor: activations are row views [n, width] of buffers reused call after call. The
     * residual stream lives in one buffer across layers; each layer's other activations come from
     * a small arena that rewinds when the next layer starts.
     */
    private final class Exec implements Executor<Tensor> {
        private final List<Tensor> arena = new ArrayList<>();
        private int cursor;
        private final Tensor[] outputs1 = new Tensor[1], outputs2 = new Tensor[2], outputs3 = new Tensor[3];
        private Tensor q, kNew, vNew, att;            // the attention call in flight (read by attendGroup)
        private int layer;
        private AttentionScores scores;

        /** The next arena buffer as rows [rows, width]. */
        private Tensor next(int rows, int width) {
            Tensor t = cursor < arena.size() ? arena.get(cursor) : null;
            if (t == null || t.dim(1) != width) {
                t = Tensor.zeros(arenaRows, width);
                if (cursor < arena.size()) arena.set(cursor, t); else arena.add(t);
            }
            cursor++;
            return t.rows(0, rows);
        }

        Tensor[] outputs(Tensor y) {
            outputs1[0] = y;
            return outputs1;
        }

        @Override
        public Tensor embed(Var tokens, Var positions) {
            cursor = 0;
            for (int s = 0; s < C; s++) {
                Chunk ch = chunks.get(s);
                int[] ids = java.util.Arrays.copyOfRange(ch.tokens(), ch.from(), ch.to());
                Tensor posRows = positions == null ? null : positions.value().rows(pos[s], pos[s] + len[s]);
                Tensor rows = stream.rows(start[s], start[s] + len[s]);
                if (tokens != null) k.embedding(rows, ids, tokens.value(), posRows, len[s]);
                else {                                      // the table's rows read from its blocks (a quantized file's)
                    model.storedTable().rows(ids, rows.data(), rows.offset());
                    if (posRows != null) k.accumulate(rows, posRows);
                }
            }
            if (c.scaleEmbeddings()) k.scale(stream.rows(0, n), c.embeddingScale());
            return stream.rows(0, n);
        }

        @Override
        public Tensor enter(int l, Tensor x) {
            cursor = 0;                                     // the layer before is done with its buffers
            if (x.data() == stream.data()) return x;
            Tensor s = stream.rows(0, x.dim(0));         // a Post-LN layer ends on a norm's buffer
            s.copyFrom(x);
            return s;
        }

        @Override
        public Tensor norm(Decoder.Norm w, Tensor x, float scale) {
            int rows = x.dim(0);
            Tensor y = next(rows, d);
            float eps = (float) c.normEps();
            if (c.norm() == ModelConfig.Norm.RMSNORM) k.rmsnorm(y, rstd.rows(0, rows), x, w.weight().value(), eps, scale);
            else k.layernorm(y, mean.rows(0, rows), rstd.rows(0, rows), x, w.weight().value(),
                    w.bias() == null ? null : w.bias().value(), eps, scale);
            return y;
        }

        @Override
        public Tensor headNorm(Decoder.Norm w, Tensor x) {
            int rows = x.dim(0), width = x.size() / rows;
            Tensor y = next(rows, width);
            k.rmsnorm(y, new Tensor(rstd.data(), 0, new int[] {rows * width / w.weight().size()}), x, w.weight().value(), (float) c.normEps(), 1f);
            return y;
        }

        @Override
        public Tensor[] project(Tensor x, Decoder.Linear[] ws) {
            Tensor[] ys = ws.length == 1 ? outputs1 : ws.length == 2 ? outputs2 : ws.length == 3 ? outputs3 : new Tensor[ws.length];
            for (int i = 0; i < ws.length; i++) ys[i] = next(n, ws[i].out());
            k.project(n, x, prepared.group(ws), ys);
            if (anyAdapter) for (int i = 0; i < ws.length; i++) lowRank(x, ws[i], ys[i]);
            return ys;
        }

        /**
         * y += s·(x·Aᵀ)·Bᵀ on the rows of each sequence whose adapter targets w (S-LoRA's batched
         * adapters: the base weights stay unmerged and shared); neighbouring chunks with the same
         * adapter are one product.
         */
        private void lowRank(Tensor x, Decoder.Linear w, Tensor y) {
            for (int s = 0, e; s < C; s = e) {
                PreparedAdapter a = adapters[s];
                for (e = s + 1; e < C && adapters[e] == a; ) e++;
                if (a == null || a.a(w) == null) continue;
                int from = start[s], rows = start[e - 1] + len[e - 1] - from, r = a.rank(), out = y.dim(1);
                if (lowRankIn.length < rows * r) lowRankIn = new float[maxRows * r];
                if (lowRankOut.length < rows * out) lowRankOut = new float[maxRows * out];
                Tensor t = new Tensor(lowRankIn, 0, new int[] {rows, r}), u = new Tensor(lowRankOut, 0, new int[] {rows, out});
                lowRankY[0] = t;
                k.project(rows, x.rows(from, from + rows), a.a(w), lowRankY);
                lowRankY[0] = u;
                k.project(rows, t, a.b(w), lowRankY);
                k.scale(u, a.scale());
                k.accumulate(y.rows(from, from + rows), u);
            }
        }

        @Override
        public Tensor rope(int l, Tensor x, int heads) {
            Rope r = c.localRope(l) ? localRope : rope;
            for (int s = 0; s < C; s++)
                k.rope(x.rows(start[s], start[s] + len[s]), len[s], heads, hd, pos[s], r.cos(), r.sin(), false);
            return x;
        }

        /** att = Attn(q, k, v) for the new rows; their keys and values are then written to the caches. */
        @Override
        public Tensor attention(int l, Tensor q, Tensor kNew, Tensor vNew) {
            this.q = q;
            this.kNew = kNew;
            this.vNew = vNew;
            this.att = next(n, qDim);
            this.layer = l;
            this.scores = model.scores(l);
            caches[0].rows().round(k, kNew);             // a 16-bit cache: the new rows as the cache will hold them, for
            caches[0].rows().round(k, vNew);             // this chunk's own attention too (so chunking does not matter)
            long work = 0;
            int window = scores.window();
            for (int s = 0; s < C; s++) {
                long span = window > 0 ? Math.min(window, pos[s] + len[s]) : pos[s] + len[s];
                work += len[s] * span;
            }
            work *= 2L * H * hd;
            int items = n * KV;
            k.parallel().forRange(items, work < PARALLEL_MIN_FMA ? items : 1, (i0, i1) -> {
                for (int item = i0; item < i1; item++) attendGroup(item / KV, item % KV);
            });
            for (int s = 0; s < C; s++) {
                KvRows rows = caches[s].rows();
                for (int t = 0; t < len[s]; t++)
                    rows.put(l, caches[s].slot(pos[s] + t), kNew.data(), kNew.offset() + (start[s] + t) * kvDim,
                            vNew.data(), vNew.offset() + (start[s] + t) * kvDim, kvDim);
            }
            return att;
        }

        /**
         * The query heads of KV head kh for row r: scores against the cached positions and the
         * chunk's own earlier rows, softmax, weighted sum of values into att.
         */
        private void attendGroup(int r, int kh) {
            int s = rowChunk[r], t = r - start[s], at = pos[s] + t;
            int lo = KernelSet.firstVisible(at, scores.window()), span = at - lo + 1;
            int group = H / KV;
            float[] sc = SCORES.get();
            if (sc.length < group * span) SCORES.set(sc = new float[Math.max(group * span, sc.length * 2)]);
            float scale = scores.scale(), cap = scores.softcap();
            KvRows rows = caches[s].rows();
            float[] Q = q.data(), O = att.data(), Kc = rows.keys(layer), Vc = rows.values(layer);
            short[] Kh = rows.keyBits(layer), Vh = rows.valueBits(layer);       // a 16-bit cache's (Kc, Vc null)
            float[] Kn = kNew.data(), Vn = vNew.data();
            int qo = q.offset(), ao = att.offset(), kno = kNew.offset(), vno = vNew.offset();
            int[] sl = slots[s];
            int base = slotBase[s], cachedEnd = pos[s], koff = kh * hd;
            int cached = Math.max(0, cachedEnd - lo), fresh = span - cached, first = Math.max(lo, cachedEnd);
            for (int g = 0; g < group; g++) {                 // each head's scores over the cached keys, then the chunk's own
                int qq = qo + r * qDim + (kh * group + g) * hd, so = g * span;
                if (cached > 0 && Kh != null) k.scores(Q, qq, Kh, kvPrecision, sl, lo - base, koff, cached, scale, sc, so, hd);
                else if (cached > 0) k.scores(Q, qq, Kc, sl, lo - base, koff, 0, cached, scale, sc, so, hd);
                k.scores(Q, qq, Kn, null, 0, kno + (start[s] + first - cachedEnd) * kvDim + koff, kvDim, fresh, scale, sc, so + cached, hd);
            }
            if (cap > 0) k.softcap(sc, 0, group * span, cap);
            for (int g = 0; g < group; g++) {
                k.softmax(sc, g * span, span);
                java.util.Arrays.fill(O, ao + r * qDim + (kh * group + g) * hd, ao + r * qDim + (kh * group + g + 1) * hd, 0f);
            }
            for (int g = 0; g < group; g++) {
                int oo = ao + r * qDim + (kh * group + g) * hd, so = g * span;
                if (cached > 0 && Vh != null) k.weightedRows(sc, so, cached, Vh, kvPrecision, sl, lo - base, koff, O, oo, hd);
                else if (cached > 0) k.weightedRows(sc, so, cached, Vc, sl, lo - base, koff, 0, O, oo, hd);
                k.weightedRows(sc, so + cached, fresh, Vn, null, 0, vno + (start[s] + first - cachedEnd) * kvDim + koff, kvDim, O, oo, hd);
            }
        }

        /** r += h·wᵀ + b, in place on the residual stream. */
        @Override
        public Tensor residual(Tensor r, Tensor h, Decoder.Linear w) {
            Tensor o = next(n, d);
            k.project(n, h, prepared.single(w), outputs(o));
            if (anyAdapter) lowRank(h, w, o);
            k.accumulate(r, o);
            return r;
        }

        @Override
        public Tensor linear(Tensor x, Decoder.Linear w) {
            Tensor y = next(n, w.out());
            k.project(n, x, prepared.single(w), outputs(y));
            if (anyAdapter) lowRank(x, w, y);
            return y;
        }

        /** r += y, in place on the residual stream. */
        @Override
        public Tensor add(Tensor r, Tensor y) {
            k.accumulate(r, y);
            return r;
        }

        // ---- a sparse layer: the routing of the rows of this call, held from route to combine ----
        private int[] chosen = new int[0], slotOf = new int[0], offsets = new int[0], fill = new int[0];   // [n·k], [n·k], [E + 1], [E]
        private float[] gateWeights = new float[0], probs = new float[0];              // [n·k], [E]

        /** Softmax over the experts and the tape's choice and grouping ({@link MoeOps#choose}, {@link MoeOps#group}), never dropping. */
        @Override
        public Tensor route(int l, Tensor logits, Tensor x) {
            int E = c.numExperts(), kk = c.expertsPerToken(), rows = n * kk;
            if (chosen.length < rows) { chosen = new int[maxRows * kk]; slotOf = new int[maxRows * kk]; gateWeights = new float[maxRows * kk]; }
            if (offsets.length < E + 1) { offsets = new int[E + 1]; probs = new float[E]; fill = new int[E]; }
            float[] z = logits.data();
            for (int r = 0; r < n; r++) {
                System.arraycopy(z, logits.offset() + r * E, probs, 0, E);
                k.softmax(probs, 0, E);
                MoeOps.choose(probs, 0, E, kk, c.normTopkProb(), chosen, gateWeights, r * kk);
            }
            MoeOps.group(n, kk, E, chosen, rows, offsets, slotOf, null, fill);
            Tensor grouped = next(rows, d);
            for (int r = 0; r < n; r++)
                for (int j = 0; j < kk; j++)
                    System.arraycopy(x.data(), x.offset() + r * d, grouped.data(), grouped.offset() + slotOf[r * kk + j] * d, d);
            return grouped;
        }

        /**
         * Each expert's group of rows through its prepared maps, all in one call (one parallel
         * region): only the experts some row chose are read.
         */
        @Override
        public Tensor[] experts(Tensor grouped, Decoder.Linear[][] ws) {
            int rows = grouped.dim(0), maps = ws[0].length, used = 0;
            Tensor[] ys = new Tensor[maps];
            for (int j = 0; j < maps; j++) ys[j] = next(rows, ws[0][j].out());
            for (int e = 0; e < ws.length; e++) if (offsets[e + 1] > offsets[e]) used++;
            int[] n = new int[used * maps];
            Tensor[] xs = new Tensor[used * maps], outs = new Tensor[used * maps];
            LinearWeights[] lw = new LinearWeights[used * maps];
            for (int e = 0, at = 0; e < ws.length; e++) {
                int from = offsets[e], to = offsets[e + 1];
                if (to == from) continue;
                LinearWeights[] group = prepared.group(ws[e]);
                for (int j = 0; j < maps; j++, at++) {
                    n[at] = to - from;
                    xs[at] = grouped.rows(from, to);
                    outs[at] = ys[j].rows(from, to);
                    lw[at] = group[j];
                }
            }
            k.projectEach(n, xs, lw, outs);
            return ys;
        }

        /** Each row's experts' outputs weighted by the router, in the order of the choices. */
        @Override
        public Tensor combine(Tensor y) {
            int kk = c.expertsPerToken();
            Tensor out = next(n, d);
            float[] o = out.data(), ys = y.data();
            java.util.Arrays.fill(o, out.offset(), out.offset() + n * d, 0f);
            for (int r = 0; r < n; r++)
                for (int j = 0; j < kk; j++) {
                    float w = gateWeights[r * kk + j];
                    int a = out.offset() + r * d, b = y.offset() + slotOf[r * kk + j] * d;
                    for (int i = 0; i < d; i++) o[a + i] += w * ys[b + i];
                }
            return out;
        }

        /** y += sigmoid(gate) ⊙ s, in place on y. */
        @Override
        public Tensor gatedAdd(Tensor y, Tensor gate, Tensor s) {
            int rows = y.dim(0);
            float[] ys = y.data(), ss = s.data(), g = gate.data();
            for (int r = 0; r < rows; r++) {
                float w = (float) (1 / (1 + Math.exp(-g[gate.offset() + r])));
                int a = y.offset() + r * d, b = s.offset() + r * d;
                for (int i = 0; i < d; i++) ys[a + i] += w * ss[b + i];
            }
            return y;
        }

        @Override
        public Tensor swiglu(Tensor gate, Tensor up) {
            Tensor y = next(gate.dim(0), gate.dim(1));       // n rows, or n·k grouped by expert
            k.swiglu(y, gate, up);
            return y;
        }

        @Override
        public Tensor geglu(Tensor gate, Tensor up) {
            Tensor y = next(gate.dim(0), gate.dim(1));
            k.gelu(y, gate);
            k.mul(y, y, up);
            return y;
        }

        @Override
        public Tensor gelu(Tensor x) {
            Tensor y = next(x.dim(0), x.dim(1));
            k.gelu(y, x);
            return y;
        }

        /** The last row of each chunk that wants logits, in the caller's order. */
        @Override
        public Tensor outputRows(Tensor x) {
            int j = 0;
            for (int s = 0; s < C; s++)
                if (chunks.get(s).logits())
                    System.arraycopy(x.data(), x.offset() + (start[s] + len[s] - 1) * d, lastX.data(), (j++) * d, d);
            return lastX.rows(0, wanted);
        }
    }
}
