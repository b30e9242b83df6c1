package dev.lamina.autograd;

import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.Kernels;
import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * Reverse-mode autograd over coarse ops: each op runs its forward kernel and keeps what its
 * backward needs in a small {@link Op} object; {@link #backward()} runs the ops' backward in
 * reverse.
 *
 * <p>The tape also owns the activation memory. A training step asks for the same buffers, views,
 * nodes and ops in the same order every time, so {@link #reset()} rewinds cursors and the next step
 * gets the very same objects back: after the first step a forward/backward pass allocates nothing.
 * The allocation methods have fixed-arity forms so that a hit builds no shape array either.
 *
 * <p>Gradients of op outputs are lent, not kept: a node's gradient buffer is taken from a pool
 * (and zeroed) when an op first asks for it, and goes back to the pool right after the backward of
 * the op that produced the node, the last one to read it. Backward walks the layers from the top,
 * so the pool holds about one layer's gradients at a time instead of every node's.
 */
public final class Tape {

    /** One recorded op: the forward fills its fields, {@link #backward()} reads them. */
    public abstract static class Op {
        final String name;
        /** The kernels of the tape that recorded the op (set each time it is recorded). */
        protected KernelSet kernels;

        protected Op(String name) { this.name = name; }

        /** Accumulates the gradients of the op's inputs from the gradient of its output. */
        protected abstract void backward();

        /** Whether a profiled backward times this op (not one whose inner ops are timed on their own tape). */
        boolean timed() { return true; }
    }

    private final boolean recording;
    private final KernelSet kernels;
    private Profile profile;
    /** Activation checkpointing: layers per segment (0: off), the tape segments run on, and whether one is being run again. */
    private int checkpointEvery;
    private Tape segments;
    private boolean recomputing;
    /** Times this tape was rewound: a checkpointed segment whose run is the segment tape's latest needs no second run. */
    private long resets;
    private final List<Op> ops = new ArrayList<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private final List<Var> vars = new ArrayList<>();
    private final List<Tensor> views = new ArrayList<>();
    private final List<int[]> ints = new ArrayList<>();
    /** Gradient buffers not lent now, and every one ever made (for {@link #bytes()}). */
    private List<Tensor> freeGradients = new ArrayList<>(), gradients = new ArrayList<>();   // a stash tape shares its parent's
    private int opCursor, backwardFrom, cursor, varCursor, viewCursor, intCursor;
    /** Time spent zeroing lent gradients, kept out of the op that asked for them. */
    private long zeroNanos, zeroAtStart;
    /** Layer marks of this step: layer markLayers[k] starts at op markOps[k] ({@link #markLayer}). */
    private int[] markOps = new int[16], markLayers = new int[16];
    private int marks;
    /** Told in backward when every op from a layer's first on has run ({@link #onLayerDone}); null: nobody listens. */
    private java.util.function.IntConsumer layerDone;

    private Tape(boolean recording, KernelSet kernels) {
        this.recording = recording;
        this.kernels = kernels;
    }

    /** A tape that records gradients (training), computing with kernels. */
    public static Tape training(KernelSet kernels) { return new Tape(true, kernels); }

    /** A tape that records nothing: forward only, no gradient buffers (evaluation). */
    public static Tape inference(KernelSet kernels) { return new Tape(false, kernels); }

    /** {@link #training(KernelSet)} with {@link Kernels#defaults()}. */
    public static Tape training() { return training(Kernels.defaults()); }

    /** {@link #inference(KernelSet)} with {@link Kernels#defaults()}. */
    public static Tape inference() { return inference(Kernels.defaults()); }

    public boolean recording() { return recording; }

    private dev.lamina.tensor.Rng dropout;

    /** Seeds the masks of {@link Ops#dropout} for the ops recorded from now on (a training tape's only). */
    public Tape dropoutSeed(long seed) {
        dropout = new dev.lamina.tensor.Rng(seed);
        return this;
    }

    /** Where dropout masks come from: set by {@link #dropoutSeed}, else a fixed seed. */
    dev.lamina.tensor.Rng dropoutRng() {
        if (dropout == null) dropout = new dev.lamina.tensor.Rng(0x0D0DL);
        return dropout;
    }

    /**
     * Activation checkpointing every n layers (0 turns it off): the decoder's layers then run in
     * segments of n on a second tape that holds one segment's activations at a time; this tape keeps
     * only each segment's input and output, and backward runs each segment's forward again before
     * its backward ({@link Ops#checkpoint}). Gradients are bitwise those of a run without it.
     */
    public Tape checkpointEvery(int n) {
        if (sharedBuffers != null) throw new IllegalStateException("a stash tape does not checkpoint");
        if (n < 0) throw new IllegalArgumentException("checkpoint every n layers needs n >= 0, got " + n);
        checkpointEvery = recording ? n : 0;
        if (checkpointEvery > 0 && segments == null) {
            segments = new Tape(true, kernels);
            segments.profile = profile;
            segments.layerDone = layerDone;
            segments.precision = precision;
            segments.masterWeights = masterWeights;
            segments.lossScale = lossScale;
        }
        return this;
    }

    private dev.lamina.tensor.Precision precision = dev.lamina.tensor.Precision.FP32;
    private float lossScale = 1f;

    /**
     * The format op outputs and their gradients are stored in ({@link Ops#store}): FP32 (the default)
     * or a 16-bit format for mixed-precision training; the arithmetic stays float32 either way.
     */
    public Tape precision(dev.lamina.tensor.Precision p) {
        precision = p;
        if (segments != null) segments.precision = p;
        for (Tape t : stashTapes) t.precision = p;
        return this;
    }

    public dev.lamina.tensor.Precision precision() { return precision; }

    private boolean masterWeights;

    /**
     * Whether the model's weights are float32 master weights (16-bit training): each op then reads a
     * parameter rounded to the precision, into a buffer of this tape ({@link Ops#stored}), which a
     * stash tape packs to 16 bits with the layer's activations. So a 16-bit run holds its weights
     * once in float32 (the master copy AdamW updates) and each layer's in 16 bits between its forward
     * and its backward, as PyTorch's autocast holds its 16-bit casts.
     */
    public Tape masterWeights(boolean on) {
        masterWeights = on;
        if (segments != null) segments.masterWeights = on;
        for (Tape t : stashTapes) t.masterWeights = on;
        return this;
    }

    /** Whether ops read parameters rounded to the precision (master weights on a 16-bit tape). */
    public boolean roundsWeights() { return masterWeights && precision != dev.lamina.tensor.Precision.FP32; }

    /** The leaf {@link Ops#read} hands out for weight w, one for the tape's life (no new node a step). */
    private final java.util.IdentityHashMap<Var, Var> roundedReads = new java.util.IdentityHashMap<>();

    Var roundedRead(Var w) {
        Var v = roundedReads.get(w);
        if (v == null || v.readAs() != precision) roundedReads.put(w, v = Var.roundedRead(w, precision));
        return v;
    }

    /** The leaf {@link Ops#stored} hands out for parameter w read into r, kept while r is the buffer it gets (no new node a step). */
    private final java.util.IdentityHashMap<Var, Var> storedLeaves = new java.util.IdentityHashMap<>();

    Var storedLeaf(Var w, Tensor r) {
        Var leaf = storedLeaves.get(w);
        if (leaf == null || leaf.value() != r) {
            leaf = Var.gradientOf(w, r);
            storedLeaves.put(w, leaf);
        }
        return leaf;
    }

    /**
     * The factor the losses' gradients start from (fp16's loss scaling, a power of two so that it is
     * exact; 1 by default): every gradient of the step is that many times the loss's until the trainer
     * divides the parameters' gradients back.
     */
    public Tape lossScale(float s) {
        lossScale = s;
        if (segments != null) segments.lossScale = s;
        for (Tape t : stashTapes) t.lossScale = s;
        return this;
    }

    public float lossScale() { return lossScale; }

    // ---- 16-bit activation storage --------------------------------------------------------------

    /** Tapes the decoder's layers run on when stashing, one per layer; they compute in the same buffers. */
    private final List<Tape> stashTapes = new ArrayList<>();
    /** The buffers every stash tape of one parent computes in, by position (null on other tapes). */
    private List<float[]> sharedBuffers;
    /** A stash tape's buffers between its forward and its backward: 16-bit copies, or float32 copies of those not exact in 16 bits. */
    private short[][] half = new short[0][];
    private float[][] full = new float[0][];
    private boolean[] exact = new boolean[0];
    private int stashed;

    /**
     * Whether this tape runs the decoder's layers on stash tapes: a training tape storing 16 bits
     * without activation checkpointing. Each layer's buffers are packed to 16 bits once its forward
     * has run (those that hold 16-bit values, which {@link Ops#store} makes of every op output) and
     * unpacked before its backward: the activations kept for backward take half the bytes, the
     * buffers one layer computes in are shared by all, and no number changes.
     */
    public boolean stashing() {
        return stash && recording && precision != dev.lamina.tensor.Precision.FP32 && checkpointEvery == 0 && sharedBuffers == null;
    }

    private boolean stash = true;

    /** Turns 16-bit activation storage off (or back on): the layers then keep float32 buffers holding the same 16-bit values. */
    public Tape stash(boolean on) {
        stash = on;
        return this;
    }

    /** The stash tape of layer segment k (made on first use, with this tape's kernels, precision, loss scale and profile). */
    public Tape stashTape(int k) {
        if (sharedBuffers == null && stashTapes.isEmpty()) stashPool = new ArrayList<>();
        while (stashTapes.size() <= k) {
            Tape t = new Tape(true, kernels);
            t.sharedBuffers = stashPool;
            t.freeGradients = stashFreeGradients;
            t.gradients = stashGradients;
            t.precision = precision;
            t.masterWeights = masterWeights;
            t.lossScale = lossScale;
            t.profile = profile;
            t.layerDone = layerDone;
            stashTapes.add(t);
        }
        return stashTapes.get(k);
    }

    private List<float[]> stashPool;
    private final List<Tensor> stashFreeGradients = new ArrayList<>(), stashGradients = new ArrayList<>();

    /** Packs this stash tape's shared buffers (its forward has run): 16 bits where every value is exact in 16 bits, else a float32 copy. */
    void stashBuffers() {
        long t0 = System.nanoTime();
        if (half.length < cursor) {
            half = Arrays.copyOf(half, cursor);
            full = Arrays.copyOf(full, cursor);
            exact = Arrays.copyOf(exact, cursor);
        }
        for (int i = 0; i < cursor; i++) {
            float[] d = tensors.get(i).data();
            if (!sharedAt(i, d)) continue;
            if (half[i] != null && half[i].length != d.length) half[i] = null;
            if (half[i] == null && dev.lamina.tensor.Half.exact(d, precision)) half[i] = new short[d.length];   // no 16-bit copy of a buffer that has none
            exact[i] = half[i] != null && kernels.pack16(d, half[i], precision);
            if (exact[i]) full[i] = null;
            else {
                if (full[i] == null || full[i].length != d.length) full[i] = new float[d.length];
                System.arraycopy(d, 0, full[i], 0, d.length);
            }
        }
        stashed = cursor;
        if (profile != null) profile.add("stash 16-bit", Profile.Phase.FORWARD, System.nanoTime() - t0);
    }

    /** Puts back what {@link #stashBuffers} packed, before this stash tape's backward. */
    void restoreBuffers() {
        long t0 = System.nanoTime();
        for (int i = 0; i < stashed; i++) {
            float[] d = tensors.get(i).data();
            if (!sharedAt(i, d)) continue;
            if (exact[i]) kernels.unpack16(half[i], d, precision);
            else System.arraycopy(full[i], 0, d, 0, d.length);
        }
        if (profile != null) profile.add("stash 16-bit", Profile.Phase.BACKWARD, System.nanoTime() - t0);
    }

    private boolean sharedAt(int i, float[] d) { return sharedBuffers != null && i < sharedBuffers.size() && sharedBuffers.get(i) == d; }

    /** Bytes a stash tape holds of its own: its packed copies and any buffer not shared. */
    private long stashBytes() {
        long b = 0;
        for (int i = 0; i < half.length; i++) b += (half[i] != null ? 2L * half[i].length : 0) + (full[i] != null ? 4L * full[i].length : 0);
        for (int i = 0; i < tensors.size(); i++) if (!sharedAt(i, tensors.get(i).data())) b += 4L * tensors.get(i).data().length;
        return b;
    }

    /** The stash tape whose buffers are still in the shared ones, not packed yet (the next segment's forward packs them first; null: none). */
    private Tape unpacked;

    /** Before stash tape next computes in the shared buffers: packs the segment still in them. */
    void beforeStashSegment(Tape next) {
        if (unpacked != null) unpacked.stashBuffers();
        unpacked = next;
    }

    /** Before stash tape seg's backward: its buffers back into the shared ones, unless they still are there (the last segment). */
    void beforeStashBackward(Tape seg) {
        if (unpacked == seg) unpacked = null;
        else {
            if (unpacked != null) throw new IllegalStateException("stash segments run backward out of order");
            seg.restoreBuffers();
        }
    }

    /** Layers per checkpointed segment, 0 when checkpointing is off (always 0 on an inference tape). */
    public int checkpointEvery() { return checkpointEvery; }

    /** The tape checkpointed segments run on, rewound for each (null when checkpointing is off). */
    public Tape segmentTape() { return checkpointEvery > 0 ? segments : null; }

    /** Whether this tape is running a checkpointed segment's forward again, in backward (ops with side effects skip them). */
    public boolean recomputing() { return recomputing; }

    void recomputing(boolean on) { recomputing = on; }

    long resets() { return resets; }

    /** Dropout draws from r from now on (a segment run again draws the masks it drew the first time). */
    void dropoutRng(dev.lamina.tensor.Rng r) { dropout = r; }

    /** The kernels every op on this tape runs. */
    public KernelSet kernels() { return kernels; }

    /** Rewinds for the next step; buffers, nodes and ops are kept for reuse, lent gradients come back. */
    public void reset() {
        resets++;
        unpacked = null;
        for (int i = 0; i < varCursor; i++) giveBack(vars.get(i));
        opCursor = backwardFrom = cursor = varCursor = viewCursor = intCursor = marks = 0;
    }

    /**
     * Marks that decoder layer l starts with the op recorded next. Backward then tells the
     * {@link #onLayerDone} listener, in descending order, when each marked layer's ops and every later
     * op have run: the gradients of layer l's parameters are final from then on (data-parallel training
     * starts summing them across workers while backward goes on below).
     */
    public void markLayer(int l) {
        if (!recording) return;
        if (marks == markOps.length) {
            markOps = Arrays.copyOf(markOps, 2 * marks);
            markLayers = Arrays.copyOf(markLayers, 2 * marks);
        }
        markOps[marks] = opCursor;
        markLayers[marks++] = l;
    }

    /**
     * Who hears that a marked layer's backward is done (null: nobody); a checkpointing tape's segment
     * tape and a stashing tape's layer tapes (where the layers' marks are) tell the same one.
     */
    public void onLayerDone(java.util.function.IntConsumer listener) {
        layerDone = listener;
        if (segments != null) segments.layerDone = listener;
        for (Tape t : stashTapes) t.layerDone = listener;
    }

    /** Times every op of this tape into profile from now on (null stops it). */
    public void profile(Profile p) {
        profile = p;
        if (segments != null) segments.profile = p;
        for (Tape t : stashTapes) t.profile = p;
    }

    /** Start of a timed forward section: pair with {@link #forward(String, long)}. */
    long start() {
        if (profile == null) return 0;
        zeroAtStart = zeroNanos;
        return System.nanoTime();
    }

    /** Ends a forward section started at t0 under the op's name (gradient zeroing inside it is timed apart). */
    void forward(String op, long t0) {
        if (profile != null) profile.add(op, recomputing ? Profile.Phase.RECOMPUTE : Profile.Phase.FORWARD,
                System.nanoTime() - t0 - (zeroNanos - zeroAtStart));
    }

    /**
     * The op at this position of the step, recorded for backward: the one of the previous step when
     * it has the same type (its fields are overwritten by the caller), else a new one.
     */
    public <T extends Op> T op(Class<T> type, Supplier<T> make) {
        T op;
        if (opCursor < ops.size() && ops.get(opCursor).getClass() == type) {
            op = type.cast(ops.get(opCursor));
        } else {
            op = make.get();
            put(ops, opCursor, op);
        }
        op.kernels = kernels;
        opCursor++;
        return op;
    }

    /**
     * Runs the backward of the ops recorded since the last reset (or backward), newest first. After
     * each op, the gradients of the nodes it produced go back to the pool: read the gradients of
     * leaves (parameters, inputs), not of op outputs, once backward has run.
     */
    public void backward() {
        if (!recording) return;
        Profile p = profile;
        java.util.function.IntConsumer done = layerDone;
        int v = varCursor - 1;                       // vars are in creation order, so producers descend with v
        int k = marks - 1;                           // the next mark to pass, going down
        for (int i = opCursor - 1; i >= backwardFrom; i--) {
            for (; k >= 0 && markOps[k] > i; k--) if (done != null) done.accept(markLayers[k]);   // every op from the mark on has run
            Op op = ops.get(i);
            if (p == null || !op.timed()) {
                op.backward();
            } else {
                long t0 = System.nanoTime(), z0 = zeroNanos;
                op.backward();
                p.add(op.name, Profile.Phase.BACKWARD, System.nanoTime() - t0 - (zeroNanos - z0));
            }
            for (; v >= 0 && vars.get(v).producer >= i; v--) giveBack(vars.get(v));
        }
        for (; k >= 0 && markOps[k] >= backwardFrom; k--) if (done != null) done.accept(markLayers[k]);
        backwardFrom = opCursor;
    }

    /** A scratch vector owned by the tape, contents undefined (the op overwrites it). */
    public Tensor alloc(int n) { return next(1, n, 1, 1, 1); }

    /** A scratch matrix [rows, cols]. */
    public Tensor alloc(int rows, int cols) { return next(2, rows, cols, 1, 1); }

    /** A scratch 4-d tensor [d0, d1, d2, d3]. */
    public Tensor alloc(int d0, int d1, int d2, int d3) { return next(4, d0, d1, d2, d3); }

    /**
     * A new node for the output [rows, cols] of the op recorded next: its value buffer and, when
     * recording, a gradient lent on first use.
     */
    public Var var(int rows, int cols) {
        Tensor value = alloc(rows, cols);
        Var v = varCursor < vars.size() ? vars.get(varCursor) : null;
        if (v == null || v.value() != value) {
            v = recording ? new Var(value, this) : new Var(value, (Tensor) null);
            put(vars, varCursor, v);
        }
        v.producer = opCursor;
        varCursor++;
        return v;
    }

    /** A zeroed gradient buffer shaped like value: a free one of that shape, else a new one. */
    Tensor lendGradient(Tensor value) {
        Tensor g = null;
        for (int i = freeGradients.size() - 1; i >= 0; i--) {
            Tensor f = freeGradients.get(i);
            if (sameShape(f, value)) {
                g = f;
                freeGradients.set(i, freeGradients.getLast());
                freeGradients.removeLast();
                break;
            }
        }
        if (g == null) {
            g = Tensor.zeros(value.shape());
            gradients.add(g);
            return g;
        }
        long t0 = System.nanoTime();
        zero.a = g.data();
        zero.off = g.offset();
        if (g.size() < 2 * ZERO_CHUNK) zero.run(0, g.size());
        else kernels.parallel().forRange(g.size(), ZERO_CHUNK, zero);
        long dt = System.nanoTime() - t0;
        zeroNanos += dt;
        if (profile != null) profile.add("zero node gradients", Profile.Phase.BACKWARD, dt);
        return g;
    }

    private static boolean sameShape(Tensor a, Tensor b) {
        if (a.rank() != b.rank()) return false;
        for (int d = 0; d < a.rank(); d++) if (a.dim(d) != b.dim(d)) return false;
        return true;
    }

    /** Floats per thread below which a gradient is zeroed on the calling thread. */
    private static final int ZERO_CHUNK = 1 << 15;

    /**
     * Zero-fills a lent gradient over the kernel threads (one reusable body, so no closure per call).
     * The buffer was just written by both threads' kernels: on llama-s the fills took 8.8-15.4 ms a
     * step on two threads against 12.5-27.4 on one.
     */
    private static final class Zero implements Parallel.Range {
        float[] a;
        int off;

        @Override public void run(int from, int to) { Arrays.fill(a, off + from, off + to, 0f); }
    }

    private final Zero zero = new Zero();

    /** Takes back the gradient lent to one of this tape's nodes, if any. */
    private void giveBack(Var v) {
        if (!v.ownedBy(this)) return;
        Tensor g = v.takeGradient();
        if (g != null) freeGradients.add(g);
    }

    /** Rows [from, to) of t (rank 1 or 2), as a view kept for the next step. */
    public Tensor rows(Tensor t, int from, int to) {
        int rowLen = t.rank() == 1 ? 1 : t.dim(1), offset = t.offset() + from * rowLen;
        if (viewCursor < views.size()) {
            Tensor v = views.get(viewCursor);
            if (v.data() == t.data() && v.offset() == offset && v.rank() == t.rank() && v.dim(0) == to - from
                    && (t.rank() == 1 || v.dim(1) == rowLen)) {
                viewCursor++;
                return v;
            }
        }
        Tensor v = t.rows(from, to);
        put(views, viewCursor, v);
        viewCursor++;
        return v;
    }

    /** A scratch int array of length n, contents undefined. */
    public int[] ints(int n) {
        if (intCursor < ints.size() && ints.get(intCursor).length == n) return ints.get(intCursor++);
        int[] a = new int[n];
        put(ints, intCursor, a);
        intCursor++;
        return a;
    }

    /** The tensor at this position of the step: last step's when its shape matches, else new (reusing an equal-sized buffer). */
    private Tensor next(int rank, int d0, int d1, int d2, int d3) {
        Tensor old = cursor < tensors.size() ? tensors.get(cursor) : null;
        if (old != null && old.rank() == rank && old.dim(0) == d0 && (rank < 2 || old.dim(1) == d1)
                && (rank < 4 || old.dim(2) == d2 && old.dim(3) == d3)) {
            cursor++;
            return old;
        }
        int n = Math.toIntExact((long) d0 * d1 * d2 * d3);
        float[] buf = old != null && old.data().length == n ? old.data() : sharedBuffers != null ? shared(cursor, n) : new float[n];
        Tensor t = switch (rank) {
            case 1 -> Tensor.of(buf, d0);
            case 2 -> Tensor.of(buf, d0, d1);
            default -> Tensor.of(buf, d0, d1, d2, d3);
        };
        put(tensors, cursor, t);
        cursor++;
        return t;
    }

    /** A stash tape's buffer at position i: the one its siblings compute in when it is of n floats, else its own. */
    private float[] shared(int i, int n) {
        while (sharedBuffers.size() <= i) sharedBuffers.add(null);
        float[] b = sharedBuffers.get(i);
        if (b == null) sharedBuffers.set(i, b = new float[n]);
        return b.length == n ? b : new float[n];
    }

    /** Keeps x at position at of a step: replaces what was there or, on a longer step, appends it. */
    private static <T> void put(List<T> list, int at, T x) {
        if (at < list.size()) list.set(at, x); else list.add(x);
    }

    /** Bytes held in activation buffers and gradient buffers, a checkpointing tape's segment tape included (for memory reports). */
    public long bytes() { return activationBytes() + gradientBytes(); }

    /** Bytes held in activation buffers (op outputs and what ops keep for backward). */
    public long activationBytes() {
        long b = bytes(tensors) + (segments != null ? segments.activationBytes() : 0);
        if (stashPool != null) for (float[] d : stashPool) if (d != null) b += 4L * d.length;   // the buffers the stash tapes compute in, once
        for (Tape t : stashTapes) b += t.stashBytes();
        return b;
    }

    /** Bytes held in the pool of node gradients (at most what was lent at one time). */
    public long gradientBytes() { return bytes(gradients) + (segments != null ? segments.gradientBytes() : 0) + bytes(stashGradients); }

    /** Activation buffers held now (op outputs and saved tensors), a segment or stash tape's included. */
    public int activationTensors() {
        int n = tensors.size() + (segments != null ? segments.activationTensors() : 0);
        for (Tape t : stashTapes) n += t.tensors.size();
        return n;
    }

    private static long bytes(List<Tensor> ts) {
        long b = 0;
        for (Tensor t : ts) b += 4L * t.data().length;
        return b;
    }
}
