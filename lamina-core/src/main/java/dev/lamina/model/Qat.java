package dev.lamina.model;

import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Tensor;

/**
 * Quantization-aware training: every layer's linear maps ({@link ParamKey#layerMap}) compute with
 * fake-quantized weights ŵ = clamp(round(w/s), −Qn, Qp)·s on a symmetric b-bit grid, one step s per
 * group of {@code group} inputs of a row (0: per channel), while the float weights w train.
 *
 * <ul>
 *   <li>Static (Ni et al.'s QAT): s is taken from the current weights at every step, the group's value of
 *       largest magnitude (sign kept) at −Qn, as GGUF's Q4_0 chooses it. Backward is the
 *       straight-through estimator: dw = dŵ where w/s lies on the grid's span, 0 where it was clipped.</li>
 *   <li>LSQ (Esser et al., "Learned Step Size Quantization"): s is a trained parameter, initialised to
 *       2⟨|w|⟩/√Qp over its group, with gradient ∂ŵ/∂s = q − w/s inside the span and the clamped level
 *       outside, scaled by g = 1/√(N·Qp), N the number of weights sharing the step (the group).</li>
 * </ul>
 *
 * Rounding is to nearest even (torch.round). The forward rounds s to half precision (an LSQ step
 * below 2⁻¹⁴ is held there), as a GGUF block stores its scale, so the trained weights export to
 * Q8_0 (8 bits) or Q4_0 (4, 3 and 2 bits, whose levels are a subset of Q4_0's) bit for bit. Eight
 * bits use −127..127, Q8_0's grid (ggml's int8 dot products take |q| ≤ 127). The decoder carries
 * the quantizer as one branch of its linear maps ({@link Decoder#withQat}): the training executor
 * computes ŵ on the tape, inference computes with ŵ.
 */
public final class Qat {
    private Qat() {}

    /** The smallest step the forward uses: half precision's smallest normal number. */
    static final float MIN_STEP = 0x1p-14f;

    /** Bits (2, 3, 4 or 8), inputs per step (a multiple of 32, or 0 for one per output channel), and whether steps are learned (LSQ). */
    public record Config(int bits, int group, boolean lsq) {
        public Config {
            if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
                throw LaminaException.field("bits", "--bits must be 2, 3, 4 or 8, got " + bits);
            if (group < 0 || group % 32 != 0)
                throw LaminaException.field("group", "--group must be 32, 64, 128 (a multiple of 32, so each GGUF block of 32 holds one step) "
                        + "or channel, got " + group);
        }

        /** "32", "64", "128" (any multiple of 32) or "channel" (0). */
        public static int parseGroup(String s) {
            if (s.trim().equalsIgnoreCase("channel")) return 0;
            try {
                return Integer.parseInt(s.trim());
            } catch (NumberFormatException e) {
                throw LaminaException.field("group", "--group must be 32, 64, 128 or channel, got '" + s + "'");
            }
        }

        /** Levels below zero: 2^(b−1), but 127 at 8 bits. */
        public int qn() { return bits == 8 ? 127 : 1 << (bits - 1); }

        /** Levels above zero: 2^(b−1) − 1. */
        public int qp() { return (1 << (bits - 1)) - 1; }

        /** Inputs per step for rows of in inputs; refuses a group that does not divide the row. */
        public int groupOf(int in) {
            if (group == 0) return in;
            if (in % group != 0)
                throw LaminaException.field("group", "a group of " + group + " does not divide rows of " + in + " inputs; choose a divisor of "
                        + in + " or channel");
            return group;
        }

        /** LSQ's gradient scale for steps shared by n weights: 1/√(n·Qp). */
        public float gradScale(int n) { return (float) (1 / Math.sqrt((double) n * qp())); }

        @Override public String toString() { return bits + "-bit " + (group == 0 ? "channel" : "g" + group) + (lsq ? " LSQ" : ""); }
    }

    /** A linear map's quantizer: the config and, with LSQ, its steps [out, in/group] (a trained parameter). */
    public record Weight(Config config, dev.lamina.autograd.Var step) {}

    /**
     * params with one LSQ step tensor per layer map added after the model's own (the model's values
     * copied), each step initialised to 2⟨|w|⟩/√Qp over its group.
     */
    public static Parameters withSteps(Parameters params, Config c) {
        Parameters.Layout l = new Parameters.Layout();
        for (Parameters.Slot s : params.slots().values()) l.add(s.key(), s.shape());
        for (Parameters.Slot s : params.slots().values())
            if (s.key().layerMap()) l.add(s.key().step(), s.shape()[0], s.shape()[1] / c.groupOf(s.shape()[1]));
        Parameters p = l.build();
        for (Parameters.Slot s : params.slots().values()) {
            p.value(s.name()).copyFrom(params.value(s.name()));
            if (s.key().layerMap()) initSteps(c, p.value(s.name()), p.value(s.key().step().name()));
        }
        return p;
    }

    /** LSQ's initial steps of w [out, in]: 2·mean|w|/√Qp per group, into step [out, in/group]. */
    public static void initSteps(Config c, Tensor w, Tensor step) {
        int out = w.dim(0), in = w.dim(1), g = c.groupOf(in), groups = in / g;
        float[] x = w.data();
        for (int r = 0; r < out; r++)
            for (int k = 0; k < groups; k++) {
                double sum = 0;
                int off = w.offset() + r * in + k * g;
                for (int i = off; i < off + g; i++) sum += Math.abs(x[i]);
                step.set(r * groups + k, (float) (2 * (sum / g) / Math.sqrt(c.qp())));
            }
    }

    /**
     * The step group k of row r of w [out, in] computes with, as {@link #forward} uses it (what a GGUF
     * block of that group stores as its scale).
     */
    public static float stepOf(Config c, Tensor w, Tensor step, int r, int k) {
        int in = w.dim(1), g = c.groupOf(in);
        return stepOf(c, w.data(), w.offset() + r * in + k * g, g, step, r * (in / g) + k);
    }

    /** The step a group computes with: LSQ's (held at least {@link #MIN_STEP}), or the static one of its weights, in half precision. */
    static float stepOf(Config c, float[] w, int off, int n, Tensor step, int k) {
        if (step != null) return half(Math.max(step.get(k), MIN_STEP));
        float signedMax = 0;
        for (int i = off; i < off + n; i++) if (Math.abs(w[i]) > Math.abs(signedMax)) signedMax = w[i];
        return half(signedMax / -c.qn());
    }

    private static float half(float v) { return Float.float16ToFloat(Float.floatToFloat16(v)); }

    /** The level of w/s: round to nearest even, clamped to [−Qn, Qp]. */
    private static int level(Config c, float v) { return (int) Math.max(-c.qn(), Math.min(c.qp(), Math.rint(v))); }

    /** ŵ [out, in] of w [out, in] with steps [out, groups] (LSQ) or, step null, the static ones; into y. */
    public static void forward(Config c, Tensor w, Tensor step, Tensor y) {
        int out = w.dim(0), in = w.dim(1), g = c.groupOf(in), groups = in / g;
        float[] x = w.data(), dst = y.data();
        for (int r = 0; r < out; r++)
            for (int k = 0; k < groups; k++) {
                int off = w.offset() + r * in + k * g, at = y.offset() + r * in + k * g;
                float s = stepOf(c, x, off, g, step, r * groups + k);
                // an integer level times s, as a GGUF reader computes d·q (a zero level is +0 for a positive step); a zero group stays zero
                for (int i = 0; i < g; i++) dst[at + i] = s == 0 ? 0f : level(c, x[off + i] / s) * s;
            }
    }

    /**
     * Adds the gradients of ŵ = forward(w, step) given dy = ∂L/∂ŵ: to dw (may be null: frozen) the
     * straight-through dy where w/s lies in [−Qn, Qp]; to dStep (LSQ, may be null) g·Σ dy·(q − w/s)
     * inside and g·Σ dy·q outside, per group (summed in double).
     */
    public static void backward(Config c, Tensor w, Tensor step, Tensor dy, Tensor dw, Tensor dStep) {
        int out = w.dim(0), in = w.dim(1), g = c.groupOf(in), groups = in / g;
        float[] x = w.data(), gy = dy.data();
        float scale = c.gradScale(g);
        for (int r = 0; r < out; r++)
            for (int k = 0; k < groups; k++) {
                int off = w.offset() + r * in + k * g, at = dy.offset() + r * in + k * g;
                float s = stepOf(c, x, off, g, step, r * groups + k);
                double ds = 0;
                for (int i = 0; i < g; i++) {
                    float v = s == 0 ? 0f : x[off + i] / s;
                    boolean inside = v >= -c.qn() && v <= c.qp();
                    if (dw != null && inside) dw.data()[dw.offset() + r * in + k * g + i] += gy[at + i];
                    float q = level(c, v);
                    ds += (double) gy[at + i] * (inside ? q - v : q);   // q − v in float32, as autograd forms it
                }
                if (dStep != null) dStep.data()[dStep.offset() + r * groups + k] += (float) (ds * scale);
            }
    }
}
