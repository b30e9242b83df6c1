package dev.lamina.autograd;

import dev.lamina.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reverse-mode autograd over coarse ops: each op runs its forward kernel and records one closure
 * that runs its backward kernel; {@link #backward()} replays the closures in reverse.
 *
 * <p>The tape also owns the activation memory. A training step asks for the same buffers in the
 * same order every time, so {@link #reset()} rewinds a cursor and the next step reuses them: after
 * the first step the forward/backward pass allocates nothing.
 */
public final class Tape {
    private final boolean recording;
    private final List<Runnable> backward = new ArrayList<>();
    private Profile profile;
    private final List<float[]> buffers = new ArrayList<>();
    private int cursor;

    private Tape(boolean recording) { this.recording = recording; }

    /** A tape that records gradients (training). */
    public static Tape training() { return new Tape(true); }

    /** A tape that records nothing: forward only, no gradient buffers (evaluation). */
    public static Tape inference() { return new Tape(false); }

    public boolean recording() { return recording; }

    /** Rewinds for the next step; buffers are kept for reuse. */
    public void reset() {
        backward.clear();
        cursor = 0;
    }

    /** Times every op of this tape into profile from now on (null stops it). */
    public void profile(Profile p) { profile = p; }

    /** Start of a timed forward section: pair with {@link #forward(String, long)}. */
    long start() { return profile == null ? 0 : System.nanoTime(); }

    /** Ends a forward section started at t0 under the op's name. */
    void forward(String op, long t0) { if (profile != null) profile.add(op, false, System.nanoTime() - t0); }

    /** Records op's backward closure (ignored on an inference tape). */
    public void record(String op, Runnable grad) {
        if (!recording) return;
        Profile p = profile;
        backward.add(p == null ? grad : () -> {
            long t0 = System.nanoTime();
            grad.run();
            p.add(op, true, System.nanoTime() - t0);
        });
    }

    /** Runs the recorded closures newest first, then forgets them. */
    public void backward() {
        for (int i = backward.size() - 1; i >= 0; i--) backward.get(i).run();
        backward.clear();
    }

    /** A scratch tensor owned by the tape, contents undefined (the op overwrites it). */
    public Tensor alloc(int... shape) {
        int n = Math.toIntExact(Tensor.count(shape));
        float[] buf;
        if (cursor < buffers.size() && buffers.get(cursor).length == n) {
            buf = buffers.get(cursor);
        } else {
            buf = new float[n];
            if (cursor < buffers.size()) buffers.set(cursor, buf); else buffers.add(buf);
        }
        cursor++;
        return Tensor.of(buf, shape);
    }

    /** A zero-filled scratch tensor. */
    public Tensor zeros(int... shape) {
        Tensor t = alloc(shape);
        Arrays.fill(t.data(), t.offset(), t.offset() + t.size(), 0f);
        return t;
    }

    /** A new node for an op output: value buffer, plus a zeroed gradient when recording. */
    public Var var(int... shape) { return new Var(alloc(shape), recording ? zeros(shape) : null); }

    /** Bytes held in activation buffers (for memory reports). */
    public long bytes() {
        long b = 0;
        for (float[] f : buffers) b += 4L * f.length;
        return b;
    }
}
