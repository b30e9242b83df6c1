package dev.lamina.infer;

import dev.lamina.model.ModelConfig;
import dev.lamina.tensor.Precision;

/** One array per layer holding positions [0, capacity) in order: slot(pos) = pos·kvDim. */
public final class ContiguousKvCache implements KvCache {
    private final int capacity, kvDim;
    private final KvRows rows;
    private int length;

    /** A float32 cache for up to capacity positions (at most max_position_embeddings). */
    public ContiguousKvCache(ModelConfig c, int capacity) { this(c, capacity, Precision.FP32); }

    /** A cache for up to capacity positions (at most max_position_embeddings), its values in precision. */
    public ContiguousKvCache(ModelConfig c, int capacity, Precision precision) {
        if (capacity < 1) throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        this.capacity = Math.min(capacity, c.contextLimit());
        this.kvDim = c.kvDim();
        rows = new KvRows(c.numHiddenLayers(), this.capacity, kvDim, precision);
    }

    @Override public int length() { return length; }
    @Override public int maxLength() { return capacity; }
    @Override public KvRows rows() { return rows; }
    @Override public int slot(int pos) { return pos * kvDim; }

    @Override
    public void reserve(int n) {
        if (length + n > capacity)
            throw new IllegalArgumentException("context full: " + (length + n) + " tokens exceed the capacity " + capacity);
    }

    @Override public void advance(int[] tokens, int from, int to) { length += to - from; }

    /** Forgets every position (the storage is kept). */
    public void clear() { length = 0; }

    @Override public void close() {}
}
