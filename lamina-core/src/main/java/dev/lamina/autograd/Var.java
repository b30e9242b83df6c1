package dev.lamina.autograd;

import dev.lamina.tensor.Tensor;

/**
 * A node of the graph: a value and, when gradients are recorded, its gradient (same shape).
 *
 * <p>A leaf (a parameter, an input) owns its gradient: grad is given at construction, or null when
 * it needs none. An op's output on a training tape borrows one from the tape instead: zeroed on
 * first use, given back once the op that made the node has run its backward (nothing reads it
 * after that). So only the gradients of the layers that backward is working on occupy memory.
 */
public final class Var {
    private final Tensor value;
    private final Tape tape;
    private Tensor grad;
    private java.util.function.Supplier<Tensor> leafGrad;   // a parameter's gradient, allocated when first asked for
    /** Index of the op that produced this node on its tape (its gradient is returned after that op's backward). */
    int producer;
    /** How products read this node's value: as it is, or rounded to 16 bits (a master weight, {@link Ops#read}). */
    private dev.lamina.tensor.Precision readAs = dev.lamina.tensor.Precision.FP32;

    /** A leaf: grad is its own gradient buffer, or null if it needs none. */
    public Var(Tensor value, Tensor grad) {
        this.value = value;
        this.grad = grad;
        this.tape = null;
    }

    /**
     * A leaf whose gradient buffer is made on first use: a model's parameters, so that a model loaded
     * only to run inference never holds a gradient buffer as large as its weights.
     */
    public static Var leaf(Tensor value, java.util.function.Supplier<Tensor> grad) {
        Var v = new Var(value, (Tensor) null);
        v.leafGrad = grad;
        return v;
    }

    /** An op output whose gradient the tape lends on first use. */
    Var(Tensor value, Tape tape) {
        this.value = value;
        this.tape = tape;
    }

    public Tensor value() { return value; }

    /**
     * The precision products read the value in: FP32, or for a parameter handed out by {@link Ops#read}
     * on a 16-bit tape, the tape's (each weight rounded as the kernel reads it).
     */
    public dev.lamina.tensor.Precision readAs() { return readAs; }

    /** A leaf over w's value and gradient that products read rounded to p (the master weight itself, no copy). */
    static Var roundedRead(Var w, dev.lamina.tensor.Precision p) {
        Var v = gradientOf(w, w.value);
        v.readAs = p;
        return v;
    }

    /** A leaf holding value whose gradient is w's own (none when w needs none): w as another buffer or reading shows it. */
    static Var gradientOf(Var w, Tensor value) { return w.requiresGrad() ? leaf(value, w::grad) : new Var(value, (Tensor) null); }

    /**
     * The gradient; an op output's is borrowed from its tape (zeroed) when first asked for. A
     * parameter's is asked of its supplier each time, not kept: while backward runs, training may lend
     * a parameter a working buffer that holds its gradient only until backward has passed its layer
     * ({@link dev.lamina.model.Parameters#lendGradients}).
     */
    public Tensor grad() {
        if (grad == null && tape != null) grad = tape.lendGradient(value);
        else if (grad == null && leafGrad != null) return leafGrad.get();
        return grad;
    }

    /** The gradient if one is held now, without lending one (null otherwise). */
    Tensor gradIfAny() { return grad; }

    public int size() { return value.size(); }

    public boolean requiresGrad() { return grad != null || tape != null || leafGrad != null; }

    boolean ownedBy(Tape t) { return tape == t; }

    /**
     * Takes over from's gradient buffer as this node's gradient, if this node has none yet and both
     * are on the same tape; returns whether it did (else the caller adds the gradient in). From must
     * be the output of the op now running backward: nothing reads its gradient after that op. A
     * residual connection's input then gets its gradient with no zeroed buffer and no add.
     */
    boolean adoptGradientOf(Var from) {
        if (grad != null || tape == null || from.tape != tape || from.grad == null) return false;   // never a leaf: leaves have no tape
        grad = from.takeGradient();
        return true;
    }

    /** The borrowed gradient, taken back (null if none is lent now). */
    Tensor takeGradient() {
        Tensor g = grad;
        grad = null;
        return g;
    }
}
