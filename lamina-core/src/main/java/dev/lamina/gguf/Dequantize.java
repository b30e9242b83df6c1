package dev.lamina.gguf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Block formats to float32, value for value as the gguf Python package's {@code quants.dequantize}
 * computes them (the same float32 operations in the same order, so the results are bit-identical).
 * Block layouts follow ggml-common.h; each method reads one block at byte offset b and writes its
 * values to y[o..].
 */
final class Dequantize {
    private Dequantize() {}

    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The non-linear 4-bit code book of IQ4_NL and IQ4_XS. */
    static final byte[] IQ4_VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    static void run(GgmlType t, MemorySegment src, float[] y, int off, int n) {
        if (n % t.blockSize != 0) throw new IllegalArgumentException(n + " values are not whole " + t + " blocks");
        if (src.byteSize() < t.bytes(n)) throw new IllegalArgumentException(t + ": " + n + " values need " + t.bytes(n) + " bytes, got " + src.byteSize());
        int blocks = n / t.blockSize;
        switch (t) {
            case F32 -> MemorySegment.copy(src, F32, 0, y, off, n);
            case F16 -> { for (int i = 0; i < n; i++) y[off + i] = Float.float16ToFloat(src.getAtIndex(U16, i)); }
            case BF16 -> { for (int i = 0; i < n; i++) y[off + i] = Float.intBitsToFloat(src.getAtIndex(U16, i) << 16); }
            default -> {
                for (int k = 0; k < blocks; k++) {
                    long b = (long) k * t.typeSize;
                    int o = off + k * t.blockSize;
                    switch (t) {
                        case Q8_0 -> q8_0(src, b, y, o);
                        case Q4_0 -> q4_0(src, b, y, o);
                        case Q4_1 -> q4_1(src, b, y, o);
                        case Q5_0 -> q5_0(src, b, y, o);
                        case Q5_1 -> q5_1(src, b, y, o);
                        case Q2_K -> q2_k(src, b, y, o);
                        case Q3_K -> q3_k(src, b, y, o);
                        case Q4_K -> q4_k(src, b, y, o);
                        case Q5_K -> q5_k(src, b, y, o);
                        case Q6_K -> q6_k(src, b, y, o);
                        case IQ4_NL -> iq4_nl(src, b, y, o);
                        case IQ4_XS -> iq4_xs(src, b, y, o);
                        default -> throw new IllegalArgumentException("cannot dequantize " + t);
                    }
                }
            }
        }
    }

    static float f16(MemorySegment s, long at) { return Float.float16ToFloat(s.get(U16, at)); }
    static int u8(MemorySegment s, long at) { return s.get(ValueLayout.JAVA_BYTE, at) & 0xff; }
    static int i8(MemorySegment s, long at) { return s.get(ValueLayout.JAVA_BYTE, at); }

    // ---- 32-value blocks: a scale d (and a minimum m), then the quants --------------------------

    /** d f16, qs int8[32]: y = q·d. */
    private static void q8_0(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s, b);
        for (int i = 0; i < 32; i++) y[o + i] = i8(s, b + 2 + i) * d;
    }

    /** d f16, qs[16] (value i in the low nibble of byte i, value 16+i in its high nibble): y = d·(q − 8). */
    private static void q4_0(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s, b);
        for (int i = 0; i < 16; i++) {
            int q = u8(s, b + 2 + i);
            y[o + i] = d * ((q & 0xF) - 8);
            y[o + 16 + i] = d * ((q >> 4) - 8);
        }
    }

    /** d f16, m f16, qs[16]: y = d·q + m. */
    private static void q4_1(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s, b), m = f16(s, b + 2);
        for (int i = 0; i < 16; i++) {
            int q = u8(s, b + 4 + i);
            y[o + i] = d * (q & 0xF) + m;
            y[o + 16 + i] = d * (q >> 4) + m;
        }
    }

    /** d f16, qh u32 (bit i: the fifth bit of value i), qs[16]: y = d·(q − 16). */
    private static void q5_0(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s, b);
        int qh = s.get(U32, b + 2);
        for (int i = 0; i < 16; i++) {
            int q = u8(s, b + 6 + i);
            y[o + i] = d * (((q & 0xF) | ((qh >>> i) & 1) << 4) - 16);
            y[o + 16 + i] = d * (((q >> 4) | ((qh >>> (16 + i)) & 1) << 4) - 16);
        }
    }

    /** d f16, m f16, qh u32, qs[16]: y = d·q + m. */
    private static void q5_1(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s, b), m = f16(s, b + 2);
        int qh = s.get(U32, b + 4);
        for (int i = 0; i < 16; i++) {
            int q = u8(s, b + 8 + i);
            y[o + i] = d * ((q & 0xF) | ((qh >>> i) & 1) << 4) + m;
            y[o + 16 + i] = d * ((q >> 4) | ((qh >>> (16 + i)) & 1) << 4) + m;
        }
    }

    // ---- 256-value super-blocks ------------------------------------------------------------------

    /**
     * scales[16] (low nibble scale, high nibble min of each 16 values), qs[64] (2 bits; byte
     * h·32+l holds values h·128+s·32+l in bits 2s), d f16, dmin f16: y = (d·sc)·q − dmin·m.
     */
    private static void q2_k(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s, b + 80), dmin = f16(s, b + 82);
        for (int idx = 0; idx < 256; idx++) {
            int h = idx >> 7, sh = (idx >> 5) & 3, l = idx & 31;
            int q = (u8(s, b + 16 + h * 32 + l) >> (2 * sh)) & 3;
            int sc = u8(s, b + (idx >> 4));
            float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
            y[o + idx] = dl * q - ml;
        }
    }

    /**
     * hmask[32] (bit j of byte l: high bit of value j·32+l, set meaning no −4), qs[64] (2 low bits as
     * in Q2_K), scales[12] (sixteen 6-bit scales biased by 32), d f16: y = (d·sc)·q.
     */
    private static void q3_k(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s, b + 108);
        float[] dl = new float[16];
        for (int i = 0; i < 16; i++) {
            int lo = (u8(s, b + 96 + (i & 7)) >> (4 * (i >> 3))) & 0xF;
            int hi = (u8(s, b + 96 + 8 + (i & 3)) >> (2 * (i >> 2))) & 3;
            dl[i] = d * (float) ((byte) (lo | hi << 4) - 32);
        }
        for (int idx = 0; idx < 256; idx++) {
            int h = idx >> 7, sh = (idx >> 5) & 3, l = idx & 31;
            int ql = (u8(s, b + 32 + h * 32 + l) >> (2 * sh)) & 3;
            int qh = ((u8(s, b + l) >> (idx >> 5)) & 1) ^ 1;
            y[o + idx] = dl[idx >> 4] * (ql - (qh << 2));
        }
    }

    /** The 6-bit scale (j < 8) or minimum (j ≥ 8 gives min j − 8) packed in the 12 bytes at b of Q4_K and Q5_K. */
    static int scaleMin(MemorySegment s, long b, int j, boolean min) {
        if (j < 4) return u8(s, b + j + (min ? 4 : 0)) & 63;
        int md = u8(s, b + 8 + j - 4);
        return min ? (md >> 4) | ((u8(s, b + j) >> 2) & 0x30) : (md & 0xF) | ((u8(s, b + j - 4) >> 2) & 0x30);
    }

    /** d f16, dmin f16, scales[12], qs[128] (byte c·32+l: values (2c)·32+l low, (2c+1)·32+l high): y = (d·sc)·q − dmin·m. */
    private static void q4_k(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s, b), dmin = f16(s, b + 2);
        for (int j = 0; j < 8; j++) {
            float dl = d * scaleMin(s, b + 4, j, false), ml = dmin * scaleMin(s, b + 4, j, true);
            for (int l = 0; l < 32; l++) {
                int q = (u8(s, b + 16 + (j >> 1) * 32 + l) >> (4 * (j & 1))) & 0xF;
                y[o + j * 32 + l] = dl * q - ml;
            }
        }
    }

    /** As Q4_K with qh[32] before qs (bit j of byte l: the fifth bit of value j·32+l). */
    private static void q5_k(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s, b), dmin = f16(s, b + 2);
        for (int j = 0; j < 8; j++) {
            float dl = d * scaleMin(s, b + 4, j, false), ml = dmin * scaleMin(s, b + 4, j, true);
            for (int l = 0; l < 32; l++) {
                int q = (u8(s, b + 48 + (j >> 1) * 32 + l) >> (4 * (j & 1))) & 0xF;
                q |= ((u8(s, b + 16 + l) >> j) & 1) << 4;
                y[o + j * 32 + l] = dl * q - ml;
            }
        }
    }

    /**
     * ql[128] (byte h·64+k: values h·128+k low, h·128+64+k high), qh[64] (byte h·32+l: bits 2s of
     * value h·128+s·32+l), scales int8[16], d f16: y = (d·sc)·(q − 32).
     */
    private static void q6_k(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s, b + 208);
        for (int idx = 0; idx < 256; idx++) {
            int h = idx >> 7, r = idx & 127;
            int ql = (u8(s, b + h * 64 + (r & 63)) >> (4 * (r >> 6))) & 0xF;
            int qh = (u8(s, b + 128 + h * 32 + (r & 31)) >> (2 * (r >> 5))) & 3;
            float dl = d * i8(s, b + 192 + (idx >> 4));
            y[o + idx] = dl * (float) ((byte) (ql | qh << 4) - 32);
        }
    }

    /** d f16, qs[16] as Q4_0, each nibble an index into the code book: y = d·value. */
    private static void iq4_nl(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s, b);
        for (int i = 0; i < 16; i++) {
            int q = u8(s, b + 2 + i);
            y[o + i] = d * IQ4_VALUES[q & 0xF];
            y[o + 16 + i] = d * IQ4_VALUES[q >> 4];
        }
    }

    /** d f16, scales_h u16, scales_l[4], qs[128] (eight IQ4_NL-packed runs of 32), 6-bit scales biased by 32. */
    private static void iq4_xs(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s, b);
        int sh = s.get(U16, b + 2) & 0xFFFF;
        for (int ib = 0; ib < 8; ib++) {
            int lo = (u8(s, b + 4 + (ib >> 1)) >> (4 * (ib & 1))) & 0xF;
            int hi = (sh >> (2 * ib)) & 3;
            float dl = d * (float) ((byte) (lo | hi << 4) - 32);
            for (int l = 0; l < 16; l++) {
                int q = u8(s, b + 8 + ib * 16 + l);
                y[o + ib * 32 + l] = dl * IQ4_VALUES[q & 0xF];
                y[o + ib * 32 + 16 + l] = dl * IQ4_VALUES[q >> 4];
            }
        }
    }
}
