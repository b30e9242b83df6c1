package dev.lamina.train;

import dev.lamina.kernels.KernelSet;
import dev.lamina.model.Parameters;
import dev.lamina.tensor.Precision;
import dev.lamina.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * A training step's parameter gradient when it is not one float32 buffer that backward writes in
 * place. While backward runs, each region of the flat gradient ({@link GradientRegions}: the
 * embeddings, a layer, the final norm and head) gets a float32 working buffer when its first
 * gradient arrives; once backward has passed the region, its gradient is final and is sunk, and the
 * buffer serves the next region. Then:
 *
 * <ul>
 *   <li>{@link Mode#HALF} (16-bit training, one micro-batch a step): the region is rounded to the
 *       run's precision and stored as 16-bit values, so the step's gradient takes 2 bytes a parameter.
 *       The optimizer, the clipping norm and fp16's unscaling read it back a chunk at a time
 *       ({@link #forChunks}); factors such as 1/loss scale and the clip are applied as they are read,
 *       in the order given, so every value is the float32 product the in-place path computes.
 *   <li>{@link Mode#SUM} (several micro-batches a step): the region is rounded (16-bit training) and
 *       copied into the flat gradient by the step's first micro-batch, added to it by the later ones,
 *       as the step adds whole micro-batch gradients ((g0 + g1) + g2 ...), with no second buffer.
 * </ul>
 *
 * Either way the result is the in-place path's to the bit; what changes is memory: the working
 * buffers are the largest region's size (and the embeddings' besides when they are tied to the head,
 * whose gradient then arrives first and last), not the whole model's.
 */
public final class StepGradients implements Parameters.GradientLender {

    /** Where a finished region goes: 16-bit values of one micro-batch, or the float32 sum of several. */
    public enum Mode { HALF, SUM }

    /** Elements unpacked at a time: whole blocks of {@link KernelSet#squaresByBlock}, so the norm adds the blocks the flat path adds. */
    static final int CHUNK = 64 * KernelSet.SQUARES_BLOCK;

    private final Parameters params;
    private final KernelSet kernels;
    private final GradientRegions regions;
    private final Mode mode;
    private final Precision precision;
    private final short[] half;                       // HALF: the step's gradient in precision's 16 bits
    private final float[][] lent;                     // a region's working buffer while backward writes it
    private final boolean[] done;                     // a region sunk in this backward
    private final List<float[]> free = new ArrayList<>();
    private final List<Float> factors = new ArrayList<>();   // HALF: multiplied in as the values are read, in order
    private boolean first;                            // SUM: the step's first micro-batch (copies, the later ones add)
    private long workingFloats;
    private final float[] chunk;                      // HALF: a chunk of the gradient read back as float32

    private StepGradients(Parameters params, KernelSet kernels, GradientRegions regions, Mode mode, Precision precision) {
        this.params = params;
        this.kernels = kernels;
        this.regions = regions;
        this.mode = mode;
        this.precision = precision;
        this.half = mode == Mode.HALF ? new short[params.count()] : null;
        this.lent = new float[regions.regions()][];
        this.done = new boolean[regions.regions()];
        this.chunk = mode == Mode.HALF ? new float[chunkFloats(params.count())] : null;
    }

    /** The floats of the chunk HALF reads its gradient back in, for a model of count parameters. */
    public static int chunkFloats(long count) { return (int) Math.min(CHUNK, count); }

    /**
     * The store a step of microBatches micro-batches in precision uses, or null when backward should
     * write the flat gradient in place: float32 with one micro-batch (nothing to save), or a layout
     * whose layers are not contiguous blocks. HALF needs a 16-bit precision and one micro-batch.
     */
    public static StepGradients of(Parameters params, KernelSet kernels, int layers, Precision precision, int microBatches) {
        Mode mode = mode(precision, microBatches);
        GradientRegions r = mode == null ? null : GradientRegions.of(params, layers);
        return r == null ? null : new StepGradients(params, kernels, r, mode, precision);
    }

    /** How one worker's step of microBatches micro-batches in precision keeps its gradient: HALF, SUM, or null (in place, float32 with one micro-batch). */
    public static Mode mode(Precision precision, int microBatches) {
        if (microBatches > 1) return Mode.SUM;
        return precision == Precision.FP32 ? null : Mode.HALF;
    }

    public Mode mode() { return mode; }

    /**
     * The working floats a step holds for regions of these sizes (the embeddings', each layer's, the
     * final norm's and head's): one buffer as large as the largest region serves them in turn; with
     * the head tied to the embeddings, whose region is then lent from the head (in the forward) to the
     * embeddings (the end of backward), a second as large as the largest of the others.
     */
    public static long workingFloats(long[] regionSizes, boolean tied) {
        long largest = 0, others = 0;
        for (int r = 0; r < regionSizes.length; r++) {
            largest = Math.max(largest, regionSizes[r]);
            if (r > 0) others = Math.max(others, regionSizes[r]);
        }
        return largest + (tied ? others : 0);
    }

    /** Bytes held: the 16-bit gradient (HALF) and the working buffers (the flat float32 gradient of SUM is the model's, not counted). */
    public long bytes() { return (half == null ? 0 : 2L * half.length) + 4 * workingFloats + (chunk == null ? 0 : 4L * chunk.length); }

    /**
     * Before a micro-batch's forward (the fused head adds its weight's gradient during the forward):
     * lends params' gradients from here and listens for finished layers on tape. firstMicroBatch: SUM
     * copies this one's gradient rather than adding it.
     */
    public void begin(dev.lamina.autograd.Tape tape, boolean firstMicroBatch) {
        first = firstMicroBatch;
        Arrays.fill(done, false);
        factors.clear();
        params.lendGradients(this);
        tape.onLayerDone(this::layerDone);
    }

    /** After backward: sinks the regions not yet final (the embeddings, layers backward never reported) and stops lending. */
    public void end(dev.lamina.autograd.Tape tape) {
        tape.onLayerDone(null);
        params.lendGradients(null);
        for (int r = 0; r < done.length; r++) if (!done[r]) sink(r);
    }

    /** Stops lending without sinking (backward failed; the step's gradient is not used). */
    public void abandon(dev.lamina.autograd.Tape tape) {
        tape.onLayerDone(null);
        params.lendGradients(null);
        for (int r = 0; r < lent.length; r++) if (lent[r] != null) { free.add(lent[r]); lent[r] = null; }
    }

    @Override
    public synchronized Tensor grad(Parameters.Slot s) {
        int r = regions.regionOf(s.offset());
        if (done[r]) throw new IllegalStateException(s.name() + " received a gradient after backward had passed its layer");
        float[] buf = lent[r];
        if (buf == null) buf = lend(r);
        Tensor view = views.get(s);                        // kept while the slot's region gets the same buffer
        if (view == null || view.data() != buf) views.put(s, view = new Tensor(buf, s.offset() - regions.start(r), s.shape()));
        return view;
    }

    private final java.util.IdentityHashMap<Parameters.Slot, Tensor> views = new java.util.IdentityHashMap<>();

    /** Backward has run every op of layer l and above (l = layers: the final norm's mark). */
    void layerDone(int l) {
        if (l < regions.layers()) sink(1 + l);
        else if (regions.topEarly()) sink(regions.regions() - 1);
    }

    /** The free buffer that fits region r most tightly, else a new one as large as the largest region not yet lent or finished. */
    private float[] lend(int r) {
        int need = regions.size(r);
        float[] best = null;
        for (float[] f : free) if (f.length >= need && (best == null || f.length < best.length)) best = f;
        if (best != null) {
            free.remove(best);
            Arrays.fill(best, 0, need, 0f);
        } else {
            int size = need;
            for (int q = 0; q < lent.length; q++) if (!done[q] && lent[q] == null) size = Math.max(size, regions.size(q));
            best = new float[size];
            workingFloats += size;
        }
        lent[r] = best;
        return best;
    }

    private synchronized void sink(int r) {
        if (done[r]) return;
        done[r] = true;
        int from = regions.start(r), n = regions.size(r);
        float[] buf = lent[r];
        if (buf == null) {                                       // no gradient reached the region: zeros
            if (mode == Mode.HALF) Arrays.fill(half, from, from + n, (short) 0);
            else if (first) Arrays.fill(params.gradData(), from, from + n, 0f);
            return;
        }
        Tensor g = new Tensor(buf, 0, new int[]{n});
        if (precision != Precision.FP32) kernels.round(g, precision);
        if (mode == Mode.HALF) {
            if (!kernels.pack16(buf, 0, half, from, n, precision))   // only a NaN's payload can differ: store each value's bits
                for (int i = 0; i < n; i++) half[from + i] = bits(buf[i]);
        } else if (first) {
            System.arraycopy(buf, 0, params.gradData(), from, n);
        } else {
            kernels.accumulate(new Tensor(params.gradData(), from, new int[]{n}), g);
        }
        lent[r] = null;
        free.add(buf);
    }

    private short bits(float x) { return precision == Precision.BF16 ? Precision.bf16Bits(x) : Float.floatToFloat16(x); }

    // ---- HALF: the step's gradient read back ----------------------------------------------------

    /** Multiplies the gradient by s from now on (applied as values are read, after the factors before it). */
    public void scale(float s) {
        requireHalf();
        factors.add(s);
    }

    /** Zeroes the gradients of the parameters in zeros (a sparsity mask's pruned weights). */
    public void zero(BitSet zeros) {
        requireHalf();
        for (int i = zeros.nextSetBit(0); i >= 0; i = zeros.nextSetBit(i + 1)) half[i] = 0;
    }

    /** Σ g², the blocks of {@link KernelSet#squaresByBlock} added in order: the flat path's sumOfSquares to the bit. */
    public double sumOfSquares() {
        double[] s = {0};
        double[] partial = new double[(chunk.length + KernelSet.SQUARES_BLOCK - 1) / KernelSet.SQUARES_BLOCK];
        forChunks(0, half.length, (g, at) -> {
            kernels.squaresByBlock(g, partial);
            int blocks = (g.size() + KernelSet.SQUARES_BLOCK - 1) / KernelSet.SQUARES_BLOCK;
            for (int b = 0; b < blocks; b++) s[0] += partial[b];
        });
        return s[0];
    }

    /** Sees the gradient [from, to) as float32, CHUNK values at a time from from: g holds the values of [at, at + g.size()). */
    @FunctionalInterface
    public interface Chunk { void accept(Tensor g, int at); }

    /** Calls body on [from, to) in chunks, each unpacked from 16 bits and multiplied by the factors in order. */
    public void forChunks(int from, int to, Chunk body) {
        requireHalf();
        for (int at = from; at < to; at += chunk.length) {
            int n = Math.min(chunk.length, to - at);
            kernels.unpack16(half, at, chunk, 0, n, precision);
            Tensor g = new Tensor(chunk, 0, new int[]{n});
            for (float f : factors) kernels.scale(g, f);
            body.accept(g, at);
        }
    }

    private void requireHalf() {
        if (mode != Mode.HALF) throw new IllegalStateException("the step's gradient is the flat float32 buffer (" + mode + ")");
    }
}
