package dev.lamina.infer;

import dev.lamina.model.ModelConfig;
import dev.lamina.tensor.Precision;

/**
 * The rolling buffer of sliding-window models (Mistral): W slots per layer, position p in slot
 * p mod W. A query at position i sees positions (i − W, i], so the W most recent rows are all
 * that is ever read; memory stays W rows however long the sequence. With rotary positions the
 * sequence may grow past max_position_embeddings; learned position tables cap it there.
 */
public final class RollingKvCache implements KvCache {
    private final int slots, kvDim, maxLength;
    private final KvRows rows;
    private int length;

    /** A float32 rolling cache of the model's window W (the model must have a sliding window). */
    public RollingKvCache(ModelConfig c) { this(c, Precision.FP32); }

    /** A rolling cache of the model's window W, its values in precision. */
    public RollingKvCache(ModelConfig c, Precision precision) {
        if (c.cacheWindow() <= 0)
            throw new IllegalArgumentException("a rolling KV cache needs a sliding-window model (sliding_window is null)");
        this.slots = c.cacheWindow();
        this.kvDim = c.kvDim();
        this.maxLength = c.contextLimit();
        rows = new KvRows(c.numHiddenLayers(), slots, kvDim, precision);
    }

    /** Number of slots (= the window W). */
    public int slots() { return slots; }

    @Override public int length() { return length; }
    @Override public int maxLength() { return maxLength; }
    @Override public KvRows rows() { return rows; }
    @Override public int slot(int pos) { return (pos % slots) * kvDim; }

    @Override
    public void reserve(int n) {
        if ((long) length + n > maxLength)
            throw new IllegalArgumentException("context full: " + ((long) length + n)
                    + " tokens exceed max_position_embeddings " + maxLength + " (learned positions)");
    }

    @Override public void advance(int[] tokens, int from, int to) { length += to - from; }

    @Override public void close() {}
}
