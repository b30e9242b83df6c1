package dev.lamina.autograd;

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
 */
public final class Tape {

    /** One recorded op: the forward fills its fields, {@link #backward()} reads them. */
    public abstract static class Op {
        final String name;

        protected Op(String name) { this.name = name; }

        /** Accumulates the gradients of the op's inputs from the gradient of its output. */
        protected abstract void backward();
    }

    private final boolean recording;
    private Profile profile;
    private final List<Op> ops = new ArrayList<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private final List<Var> vars = new ArrayList<>();
    private final List<Tensor> views = new ArrayList<>();
    private final List<int[]> ints = new ArrayList<>();
    private int opCursor, backwardFrom, cursor, varCursor, viewCursor, intCursor;

    private Tape(boolean recording) { this.recording = recording; }

    /** A tape that records gradients (training). */
    public static Tape training() { return new Tape(true); }

    /** A tape that records nothing: forward only, no gradient buffers (evaluation). */
    public static Tape inference() { return new Tape(false); }

    public boolean recording() { return recording; }

    /** Rewinds for the next step; buffers, nodes and ops are kept for reuse. */
    public void reset() {
        opCursor = backwardFrom = cursor = varCursor = viewCursor = intCursor = 0;
    }

    /** Times every op of this tape into profile from now on (null stops it). */
    public void profile(Profile p) { profile = p; }

    /** Start of a timed forward section: pair with {@link #forward(String, long)}. */
    long start() { return profile == null ? 0 : System.nanoTime(); }

    /** Ends a forward section started at t0 under the op's name. */
    void forward(String op, long t0) { if (profile != null) profile.add(op, Profile.Phase.FORWARD, System.nanoTime() - t0); }

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
        opCursor++;
        return op;
    }

    /** Runs the backward of the ops recorded since the last reset (or backward), newest first. */
    public void backward() {
        if (!recording) return;
        Profile p = profile;
        for (int i = opCursor - 1; i >= backwardFrom; i--) {
            Op op = ops.get(i);
            if (p == null) {
                op.backward();
            } else {
                long t0 = System.nanoTime();
                op.backward();
                p.add(op.name, Profile.Phase.BACKWARD, System.nanoTime() - t0);
            }
        }
        backwardFrom = opCursor;
    }

    /** A scratch vector owned by the tape, contents undefined (the op overwrites it). */
    public Tensor alloc(int n) { return next(1, n, 1, 1, 1); }

    /** A scratch matrix [rows, cols]. */
    public Tensor alloc(int rows, int cols) { return next(2, rows, cols, 1, 1); }

    /** A scratch 4-d tensor [d0, d1, d2, d3]. */
    public Tensor alloc(int d0, int d1, int d2, int d3) { return next(4, d0, d1, d2, d3); }

    /** A new node for an op output [rows, cols]: value buffer, plus a zeroed gradient when recording. */
    public Var var(int rows, int cols) {
        Tensor value = alloc(rows, cols), grad = null;
        if (recording) {
            grad = alloc(rows, cols);
            long t0 = start();
            Arrays.fill(grad.data(), grad.offset(), grad.offset() + grad.size(), 0f);
            forward("zero node gradients", t0);
        }
        if (varCursor < vars.size()) {
            Var v = vars.get(varCursor);
            if (v.value() == value && v.grad() == grad) {
                varCursor++;
                return v;
            }
        }
        Var v = new Var(value, grad);
        put(vars, varCursor, v);
        varCursor++;
        return v;
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
        float[] buf = old != null && old.data().length == n ? old.data() : new float[n];
        Tensor t = switch (rank) {
            case 1 -> Tensor.of(buf, d0);
            case 2 -> Tensor.of(buf, d0, d1);
            default -> Tensor.of(buf, d0, d1, d2, d3);
        };
        put(tensors, cursor, t);
        cursor++;
        return t;
    }

    /** Keeps x at position at of a step: replaces what was there or, on a longer step, appends it. */
    private static <T> void put(List<T> list, int at, T x) {
        if (at < list.size()) list.set(at, x); else list.add(x);
    }

    /** Bytes held in activation buffers (for memory reports). */
    public long bytes() {
        long b = 0;
        for (Tensor t : tensors) b += 4L * t.data().length;
        return b;
    }
}
