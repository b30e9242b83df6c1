package dev.lamina.quant;

import dev.lamina.gguf.GgmlType;
import dev.lamina.io.LaminaException;

/**
 * A uniform integer grid for weights: each group of `group` consecutive inputs of a row (0: the whole
 * row, per channel) has a scale d and an offset m, and a weight becomes ŵ = d·q + m with the integer q
 * in [qmin, qmax]. Symmetric grids have m = 0 and qmin = −qmax − 1 (Q4_0's −8..7); asymmetric ones
 * have q in [0, 2^bits − 1] and m the group's low end (Q4_1). With f16Scales, d and m are rounded to
 * half precision before any weight is placed, as a GGUF block stores them.
 */
public record Grid(int bits, int group, boolean symmetric, boolean f16Scales, int qmin, int qmax) {

    public Grid {
        if (qmin >= qmax) throw new IllegalArgumentException("empty grid [" + qmin + ", " + qmax + "]");
    }

    /** bits ∈ {2, 3, 4, 8} (and 5, 6 for the GGUF types), groups of `group` inputs (0: per channel), float32 scales. */
    public static Grid of(int bits, int group, boolean symmetric) {
        if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
            throw LaminaException.field("bits", "bits must be 2, 3, 4 or 8, got " + bits);
        if (group < 0) throw LaminaException.field("group", "group must be a positive number of inputs or 0 (per channel), got " + group);
        return symmetric ? new Grid(bits, group, true, false, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
                : new Grid(bits, group, false, false, 0, (1 << bits) - 1);
    }

    /** The grid of a GGUF block type that stores one scale (and offset) per 32 weights; null for the others. */
    public static Grid of(GgmlType t) {
        return switch (t) {
            case Q8_0 -> new Grid(8, 32, true, true, -127, 127);     // −128 is not used: ggml's int8 dot products take |q| ≤ 127
            case Q4_0 -> new Grid(4, 32, true, true, -8, 7);
            case Q5_0 -> new Grid(5, 32, true, true, -16, 15);
            case Q4_1 -> new Grid(4, 32, false, true, 0, 15);
            case Q5_1 -> new Grid(5, 32, false, true, 0, 31);
            default -> null;
        };
    }

    /** Inputs per group for rows of `in` inputs; refuses a group that does not divide the row. */
    public int groupOf(int in) {
        if (group == 0) return in;
        if (in % group != 0)
            throw LaminaException.field("group", "a group of " + group + " does not divide rows of " + in + " inputs; choose a divisor of " + in + " or channel");
        return group;
    }

    /** d (and m), as stored: rounded to half precision for a GGUF grid. */
    public float store(float v) { return f16Scales ? Float.float16ToFloat(Float.floatToFloat16(v)) : v; }

    /** The grid point nearest x for a group with scale d and offset m: q clamped to [qmin, qmax]. */
    public int level(float x, float d, float m) {
        if (d == 0) return 0;                              // a constant group: every weight is m
        long q = Math.round((double) (x - m) / d);
        return (int) Math.max(qmin, Math.min(qmax, q));
    }

    /** ŵ for level q: d·q, plus m when there is one (as a GGUF reader computes it, so a zero level of a negative scale stays −0). */
    public static float value(int q, float d, float m) { return m == 0f ? d * q : d * q + m; }

    /** Scale and offset of a group spanning [lo, hi] (symmetric: the value of largest magnitude, sign kept, at qmin). */
    public float[] fit(float lo, float hi, float signedMax) {
        if (symmetric) return new float[] {store(signedMax / qmin), 0f};
        float m = store(lo);
        return new float[] {store((hi - m) / qmax), m};
    }
}
