package dev.lamina.train;

import dev.lamina.dist.Ring;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Parameters;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The all-reduce of a data-parallel step overlapped with its backward. Backward walks the layers
 * from the top; as soon as a layer's ops have run ({@link dev.lamina.autograd.Tape#onLayerDone}), its
 * parameters' gradients are final, and they are summed across the workers on a second thread while
 * backward goes on below. The final norm and the head (placed after the layers) go first, once
 * backward has passed them; consecutive layers are grouped into buckets of at least bucketFloats
 * (fewer, larger messages); the embeddings (placed before the layers, and the head's own table when
 * the two are tied) and the last open bucket go after backward. Each bucket is summed in rank order
 * as the whole gradient would be, and every worker cuts the same buckets in the same order, so the
 * result is the same bit for bit: only the time the workers wait changes.
 *
 * <p>With several micro-batches per worker the last one's gradient is added to the ones before
 * (accumulated) bucket by bucket on the same thread, in the order the step would add them whole. In
 * 16-bit training each bucket is first rounded to the run's precision, as the step rounds a whole
 * micro-batch's gradient after backward: what the workers sum is what 16 bits store.
 */
final class GradientBuckets {
    private final Ring ring;
    private final float[] grad;
    private final int layers, bucketFloats;
    private final dev.lamina.tensor.Precision precision;
    /** Layer l's parameters are grad[span[l], span[l + 1]) (ascending offsets, one block per layer). */
    private final int[] span;
    /** Whether all after the layers is the final norm and the head, final once backward has passed the last layer's mark; whether sent. */
    private final boolean topEarly;
    private boolean topSent;
    private final ExecutorService thread;
    private final List<Future<?>> pending = new ArrayList<>();
    private float[] accumulated;
    private int[] shards;
    /** Layers [lowest, open) are final and not yet sent (the open bucket); layers from open up are sent. */
    private int lowest, open;
    private volatile long ringNanos;
    private long waitNanos, buckets;

    private GradientBuckets(Ring ring, float[] grad, int layers, int bucketFloats, int[] span, boolean topEarly, dev.lamina.tensor.Precision precision) {
        this.ring = ring;
        this.precision = precision;
        this.grad = grad;
        this.layers = layers;
        this.bucketFloats = bucketFloats;
        this.span = span;
        this.topEarly = topEarly;
        this.thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "lamina-allreduce-r" + ring.rank());
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Buckets over params' layers, or null when they cannot overlap: a layer's parameters are not one
     * block of the flat gradient placed after the previous layer's (then the step sums it whole).
     * Gradients are rounded to precision before they are summed.
     */
    static GradientBuckets of(Parameters params, int layers, Ring ring, int bucketFloats, dev.lamina.tensor.Precision precision) {
        GradientRegions r = GradientRegions.of(params, layers);
        return r == null ? null : new GradientBuckets(ring, params.gradData(), layers, Math.max(1, bucketFloats), r.span(), r.topEarly(), precision);
    }

    /**
     * Before the backward of this worker's last micro-batch: accumulated holds the earlier ones' sum
     * (null when there is one); shards, when not null, are the workers' slices (ZeRO-1): each bucket is
     * then reduce-scattered, its part of every slice summed onto the slice's owner only.
     */
    void begin(float[] accumulated, int[] shards) {
        this.accumulated = accumulated;
        this.shards = shards;
        lowest = open = layers;
        topSent = false;
        waitNanos = 0;
        ringNanos = 0;
        buckets = 0;
        pending.clear();
    }

    /** Backward has run every op of layer l and above: their gradients are final. */
    void layerDone(int l) {
        if (l == layers && topEarly && !topSent) {     // the final norm's mark: it and the head are done
            topSent = true;
            submit(span[layers], grad.length);
        }
        if (l >= lowest) return;                       // a layer already handed over
        lowest = l;
        if (span[open] - span[lowest] >= bucketFloats) flush();
    }

    /** After backward: the open bucket and the model-wide parameters, then waits for every bucket to be summed. */
    void finish() {
        if (lowest > 0) lowest = 0;                    // layers backward never reported (skipped): final now
        flush();
        if (!topSent) submit(span[layers], grad.length);
        submit(0, span[0]);
        long t0 = System.nanoTime();
        try {
            for (Future<?> f : pending) f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new LaminaException("the all-reduce failed: " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LaminaException("interrupted during the all-reduce");
        } finally {
            pending.clear();
        }
        waitNanos = System.nanoTime() - t0;
    }

    private void flush() {
        if (lowest < open) submit(span[lowest], span[open]);
        open = lowest;
    }

    private void submit(int from, int to) {
        if (from >= to) return;
        float[] acc = accumulated;
        int[] slices = shards == null ? null : new int[shards.length];      // the workers' slices within [from, to)
        if (slices != null) for (int r = 0; r < shards.length; r++) slices[r] = Math.clamp(shards[r], from, to);
        buckets++;
        pending.add(thread.submit(() -> {
            if (precision != dev.lamina.tensor.Precision.FP32)   // this micro-batch's gradient as 16 bits store it (Precision.round: the kernels' rounding, one value at a time)
                for (int i = from; i < to; i++) grad[i] = precision.round(grad[i]);
            if (acc != null) {                          // + the earlier micro-batches' sum, as the whole-gradient add would
                for (int i = from; i < to; i++) grad[i] = acc[i] + grad[i];
            }
            long t0 = System.nanoTime();
            if (slices == null) ring.allReduceSum(grad, from, to - from);
            else ring.reduceScatterSum(grad, slices);
            ringNanos += System.nanoTime() - t0;
        }));
    }

    /** Milliseconds the last step spent in the ring (on the second thread), and waiting for it after backward. */
    double ringMillis() { return ringNanos / 1e6; }
    double waitMillis() { return waitNanos / 1e6; }
    /** Buckets the last step sent. */
    long buckets() { return buckets; }

    void close() { thread.shutdownNow(); }
}
