package dev.lamina.infer;

import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.tensor.Tensor;

/**
 * Incremental decoding of one sequence: each call appends tokens to the KV cache and returns the
 * logits of the last one, the same logits a full forward pass over the whole sequence gives.
 * Runs on {@link ModelRunner} (no autograd; buffers allocated once).
 */
public final class InferenceSession implements AutoCloseable {
    /** Most tokens one runner call takes; longer inputs are fed in chunks of this size. */
    public static final int DEFAULT_CHUNK = 512;

    private final ModelRunner runner;
    private final KvCache cache;

    /** A session with a contiguous cache of up to capacity positions (at most max_position_embeddings). */
    public InferenceSession(Decoder model, int capacity) {
        this(model, new ContiguousKvCache(model.config(), capacity));
    }

    /** A session over the given (empty or partly filled) cache; prepares the model's weights. */
    public InferenceSession(Decoder model, KvCache cache) { this(PreparedModel.of(model), cache); }

    /** A session over weights prepared once (shared with other sessions); the cache's own precision holds, not the model's {@link PreparedModel#kvCache()}. */
    public InferenceSession(PreparedModel model, KvCache cache) {
        this(new ModelRunner(model, (int) Math.min(DEFAULT_CHUNK, Math.max(1, cache.maxLength())), 1), cache);
    }

    /** A session sharing a runner (sessions driven one at a time from one thread may share it). */
    public InferenceSession(ModelRunner runner, KvCache cache) {
        this.runner = runner;
        this.cache = cache;
    }

    /**
     * The default cache for a model: a rolling buffer for sliding-window models (memory bounded
     * by the window; with rotary positions the sequence may outgrow max_position_embeddings),
     * else a contiguous cache of max_position_embeddings positions; either in the model's {@link PreparedModel#kvCache()} precision.
     */
    public static InferenceSession forModel(Decoder model) { return forModel(PreparedModel.of(model)); }

    /** {@link #forModel(Decoder)} on weights prepared once. */
    public static InferenceSession forModel(PreparedModel model) {
        ModelConfig c = model.model().config();
        KvCache cache = c.cacheWindow() > 0 && c.cacheWindow() < c.contextLimit() ? new RollingKvCache(c, model.kvCache())
                : new ContiguousKvCache(c, c.contextLimit(), model.kvCache());
        return new InferenceSession(model, cache);
    }

    /** The longest sequence a model can decode with its default cache (Integer.MAX_VALUE: unbounded). */
    public static int contextLimit(ModelConfig c) {
        return c.contextLimit();
    }

    public int position() { return cache.length(); }
    public int capacity() { return cache.maxLength(); }
    public KvCache cache() { return cache; }
    public ModelRunner runner() { return runner; }

    /** Forgets the sequence (contiguous caches only). */
    public void reset() {
        if (!(cache instanceof ContiguousKvCache cc)) throw new IllegalStateException("reset needs a contiguous cache");
        cc.clear();
    }

    /** Appends tokens at the current position; returns the logits [V] after the last one (a copy). */
    public float[] forward(int... tokens) {
        if (tokens.length == 0) throw new IllegalArgumentException("no tokens");
        if ((long) cache.length() + tokens.length > cache.maxLength())
            throw new IllegalArgumentException("context full: " + ((long) cache.length() + tokens.length)
                    + " tokens exceed the capacity " + cache.maxLength());
        Tensor logits = null;
        for (int from = 0; from < tokens.length; from += runner.maxRows()) {
            int to = Math.min(tokens.length, from + runner.maxRows());
            logits = runner.forward(new ModelRunner.Chunk(cache, tokens, from, to, to == tokens.length));
        }
        return logits.toArray();
    }

    @Override public void close() { cache.close(); }
}
