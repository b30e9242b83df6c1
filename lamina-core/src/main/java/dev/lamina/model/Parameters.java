package dev.lamina.model;

import dev.lamina.autograd.Var;
import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Tensor;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * All parameters in one flat float32 buffer, gradients in a second buffer of the same layout (made
 * when a gradient is first asked for, so inference never holds it), and a named view per tensor
 * (canonical names, e.g. {@code layers.0.self_attn.q_proj.weight}). Zeroing,
 * AdamW, clipping and checkpoint I/O are therefore each one loop over a flat array.
 */
public final class Parameters {

    /** One tensor: what it is, where it lives in the flat buffers, and its shape. */
    public record Slot(ParamKey key, int offset, int[] shape) {
        public int size() { return Math.toIntExact(Tensor.count(shape)); }
        public String name() { return key.name(); }
        public Role role() { return key.role(); }
        public int layer() { return key.layer(); }
        /** Whether AdamW decays it. */
        public boolean decay() { return key.decays(); }
    }

    private final Map<String, Slot> slots;
    private final float[] data;
    private float[] grad;
    private Tensor flatGrad;
    private final Tensor flatData;

    private Parameters(Map<String, Slot> slots, int total) {
        this.slots = Collections.unmodifiableMap(slots);
        this.data = new float[total];
        this.flatData = Tensor.of(data, total);
    }

    /** Collects slot declarations in order, then allocates the two buffers once. */
    public static final class Layout {
        private final Map<String, Slot> slots = new LinkedHashMap<>();
        private long total;

        public Layout add(ParamKey key, int... shape) {
            if (slots.containsKey(key.name())) throw new IllegalArgumentException(key + " is declared twice");
            slots.put(key.name(), new Slot(key, (int) total, shape.clone()));
            total += Tensor.count(shape);
            if (total > Integer.MAX_VALUE - 16)
                throw new LaminaException("model too large: more than 2^31 parameters are not supported");
            return this;
        }

        public Parameters build() { return new Parameters(slots, (int) total); }

        /** The slots declared so far, by name (offsets in this layout). */
        public Map<String, Slot> slots() { return Collections.unmodifiableMap(slots); }
    }

    public Map<String, Slot> slots() { return slots; }
    public boolean has(String name) { return slots.containsKey(name); }
    public int count() { return data.length; }

    /** The flat value buffer (all parameters). */
    public float[] data() { return data; }

    /** The flat gradient buffer (allocated, zeroed, on the first call). */
    public synchronized float[] gradData() {
        if (grad == null) {
            grad = new float[data.length];
            flatGrad = Tensor.of(grad, grad.length);
        }
        return grad;
    }

    /** Whether the gradient buffer exists (a model only run for inference never makes it). */
    public synchronized boolean hasGradients() { return grad != null; }

    /** All values as one vector [count] (a view kept for the model's life). */
    public Tensor flatData() { return flatData; }

    /** All gradients as one vector [count]. */
    public Tensor flatGrad() { gradData(); return flatGrad; }

    public Slot slot(String name) {
        Slot s = slots.get(name);
        if (s == null) throw new IllegalArgumentException("no parameter named " + name);
        return s;
    }

    public Tensor value(String name) { Slot s = slot(name); return new Tensor(data, s.offset(), s.shape()); }
    public Tensor grad(String name) {
        Slot s = slot(name);
        GradientLender l = lender;
        if (l != null) return l.grad(s);
        float[] g = gradData();
        Tensor view = gradViews.get(name);                 // kept: backward asks for a parameter's gradient at every use
        if (view == null || view.data() != g) gradViews.put(name, view = new Tensor(g, s.offset(), s.shape()));
        return view;
    }

    private final Map<String, Tensor> gradViews = new java.util.concurrent.ConcurrentHashMap<>();

    /** Hands out a parameter's gradient buffer while backward runs, in place of the flat buffer's view. */
    @FunctionalInterface
    public interface GradientLender { Tensor grad(Slot s); }

    private volatile GradientLender lender;

    /**
     * From now on (until called with null) backward writes each parameter's gradient into the buffer
     * lender hands out rather than into the flat gradient: training that keeps the step's gradient
     * elsewhere (in 16 bits, or summed over micro-batches) lends a region's float32 buffer only while
     * backward works on it ({@code train.StepGradients}).
     */
    public void lendGradients(GradientLender lender) { this.lender = lender; }
    public boolean has(ParamKey key) { return has(key.name()); }
    public Tensor value(ParamKey key) { return value(key.name()); }

    /** Value and gradient as one autograd node; null when the model has no such parameter. */
    public Var var(ParamKey key) {
        if (!has(key)) return null;
        String name = key.name();
        return Var.leaf(value(name), () -> grad(name));
    }

    public synchronized void zeroGrad() { if (grad != null) Arrays.fill(grad, 0f); }

    /** Copies values from another Parameters with the same slot names and shapes. */
    public void copyFrom(Parameters other) {
        for (Slot s : slots.values()) value(s.name()).copyFrom(other.value(s.name()));
    }
}
