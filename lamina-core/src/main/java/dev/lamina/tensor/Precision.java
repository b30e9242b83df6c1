package dev.lamina.tensor;

import dev.lamina.io.LaminaException;

import java.util.Locale;

/**
 * The number format training stores parameters, activations and gradients in. Arithmetic is float32
 * in every format: a 16-bit value is a float32 rounded to the nearest value the format holds (ties to
 * even), as a 16-bit store followed by a float32 load gives. {@link #FP16} overflows to ±infinity past
 * 65504 and flushes below 2⁻²⁴; {@link #BF16} keeps float32's range with 8 significant bits.
 */
public enum Precision {
    FP32, BF16, FP16;

    /** The lower-case name used on the command line and in state.json (fp32, bf16, fp16). */
    public String label() { return name().toLowerCase(Locale.ROOT); }

    /** Bytes a value takes in this format. */
    public int bytes() { return this == FP32 ? 4 : 2; }

    /** x rounded to this format (nearest, ties to even), as a float32. */
    public float round(float x) {
        return switch (this) {
            case FP32 -> x;
            case BF16 -> bf16(x);
            case FP16 -> Float.float16ToFloat(Float.floatToFloat16(x));
        };
    }

    /** x rounded to bfloat16: the high 16 bits of float32, nearest even; a NaN stays a (quiet) NaN. */
    public static float bf16(float x) { return Float.intBitsToFloat(bf16Bits(x) << 16); }

    /** The bfloat16 bits of x, rounded to nearest even; a NaN keeps its high bits with the quiet bit set (ggml_compute_fp32_to_bf16). */
    public static short bf16Bits(float x) {
        int b = Float.floatToRawIntBits(x);
        if ((b & 0x7fffffff) > 0x7f800000) return (short) ((b >>> 16) | 0x40);
        return (short) ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
    }

    /** fp32, bf16 or fp16 (case-insensitive); anything else is refused naming the option. */
    public static Precision parse(String s) {
        for (Precision p : values()) if (p.label().equalsIgnoreCase(s.trim())) return p;
        throw LaminaException.field("precision", "precision must be fp32, bf16 or fp16, got '" + s + "'");
    }
}
