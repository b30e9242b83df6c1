package dev.lamina.gguf;

import java.lang.foreign.MemorySegment;

/**
 * The tensor element types of ggml, with their ids in GGUF files. Values are stored in blocks:
 * {@link #blockSize} values take {@link #typeSize} bytes. Every type's size is known so that any
 * file can be validated; {@link #canDequantize()} says which ones Lamina turns into float32.
 */
public enum GgmlType {
    F32(0, 1, 4), F16(1, 1, 2), Q4_0(2, 32, 18), Q4_1(3, 32, 20), Q5_0(6, 32, 22), Q5_1(7, 32, 24),
    Q8_0(8, 32, 34), Q8_1(9, 32, 36), Q2_K(10, 256, 84), Q3_K(11, 256, 110), Q4_K(12, 256, 144),
    Q5_K(13, 256, 176), Q6_K(14, 256, 210), Q8_K(15, 256, 292), IQ2_XXS(16, 256, 66), IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98), IQ1_S(19, 256, 50), IQ4_NL(20, 32, 18), IQ3_S(21, 256, 110), IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136), I8(24, 1, 1), I16(25, 1, 2), I32(26, 1, 4), I64(27, 1, 8), F64(28, 1, 8),
    IQ1_M(29, 256, 56), BF16(30, 1, 2), TQ1_0(34, 256, 54), TQ2_0(35, 256, 66), MXFP4(39, 32, 17);

    /** The id in GGUF tensor infos. */
    public final int id;
    /** Values per block. */
    public final int blockSize;
    /** Bytes per block. */
    public final int typeSize;

    GgmlType(int id, int blockSize, int typeSize) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
    }

    /** The type of a GGUF id, or null when unknown. */
    public static GgmlType of(int id) {
        for (GgmlType t : values()) if (t.id == id) return t;
        return null;
    }

    /** Whether Lamina dequantizes this type to float32. */
    public boolean canDequantize() {
        return switch (this) {
            case F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS -> true;
            default -> false;
        };
    }

    /** Whether Lamina quantizes float32 into this type. */
    public boolean canQuantize() {
        return switch (this) {
            case F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K -> true;
            default -> false;
        };
    }

    /** Bytes of n values (n a multiple of the block size). */
    public long bytes(long n) { return n / blockSize * typeSize; }

    /** Decodes n values (a multiple of the block size) from src into dst[off..]. */
    public void dequantize(MemorySegment src, float[] dst, int off, int n) { Dequantize.run(this, src, dst, off, n); }

    /** Encodes src[off..off+n) (n a multiple of the block size) into dst. */
    public void quantize(float[] src, int off, int n, MemorySegment dst) { Quantize.run(this, src, off, n, dst); }
}
