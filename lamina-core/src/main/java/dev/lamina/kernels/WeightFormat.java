package dev.lamina.kernels;

import dev.lamina.io.LaminaException;

import java.util.Locale;

/** How inference stores a linear layer's weights ({@link KernelSet#prepare(dev.lamina.tensor.Tensor, dev.lamina.tensor.Tensor, WeightFormat)}). */
public enum WeightFormat {
    /**
     * As the model file stores them: a GGUF file's Q8_0, Q4_0, Q4_K and Q6_K blocks kept as they are
     * (no float32 copy), a Hugging Face directory's or GGUF file's BF16 or F16 weights in 16 bits ({@link #BF16}, {@link #F16}), everything
     * else float32. For a float32 model, the same as {@link #F32}.
     */
    STORED,
    /** float32, as trained (packed into panels by the vector kernels); a quantized file is dequantized. */
    F32,
    /** bfloat16, rounded to nearest even ({@link HalfWeights}): half of float32's bytes, the precision of most published checkpoints. */
    BF16,
    /** IEEE float16, rounded to nearest even ({@link HalfWeights}): half of float32's bytes, finite values up to ±65504 only. */
    F16,
    /** 8-bit blocks of 32 with a float16 scale, llama.cpp's Q8_0 ({@link Q8Weights}). */
    Q8_0;

    /** The format named s: "stored", "f32", "bf16", "f16" or "q8_0" (any case). */
    public static WeightFormat parse(String s) {
        for (WeightFormat f : values()) if (f.name().equalsIgnoreCase(s.trim())) return f;
        throw LaminaException.field("weights", "weights format '" + s + "' is not one of stored, f32, bf16, f16, q8_0");
    }

    /**
     * {@link #BF16} or {@link #F16} when every one of a file's matrices has that type name ("BF16", "F16": safetensors'
     * and GGUF's spelling), as inference then keeps them; else {@link #STORED}.
     */
    public static WeightFormat ofMatrices(java.util.stream.Stream<String> matrixTypes) {
        var types = matrixTypes.distinct().limit(2).toList();
        if (types.size() != 1) return STORED;
        return switch (types.getFirst()) {
            case "BF16" -> BF16;
            case "F16" -> F16;
            default -> STORED;
        };
    }

    @Override public String toString() { return name().toLowerCase(Locale.ROOT); }
}
