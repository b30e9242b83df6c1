package dev.lamina.gguf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Block formats to float32, value for value as the gguf Python package's {@code quants.dequantize}
 * computes them (the same float32 operations in the same order, so the results are bit-identical).
 * Block layouts follow ggml-common.h.
 *
 * <p>Every block type is first decoded ({@link #blocks}) into what inference keeps of it: a small
 * integer q per value (int8: the type's offset, such as Q4_0's −8, already applied), and per run of
 * {@link #perScale} values a float32 scale d and, for the types with minimums, an additive term
 * m; a value is then d·q, or d·q + m. Both products are ggml's: the scale and term are the floats its
 * dequantize computes (Q6_K's d·sc, Q4_K's d·sc and −dmin·min), and x − y is x + (−y) exactly.
 */
final class Dequantize {
    private Dequantize() {}

    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The non-linear 4-bit code book of IQ4_NL and IQ4_XS. */
    static final byte[] IQ4_VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    /** Whether {@link #blocks} decodes type t (every block type {@link #run} reads). */
    static boolean decodes(GgmlType t) {
        return switch (t) {
            case Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS -> true;
            default -> false;
        };
    }

    /** Values per scale of a decoded type: 16 (Q2_K, Q3_K, Q6_K) or 32. */
    static int perScale(GgmlType t) {
        return switch (t) {
            case Q2_K, Q3_K, Q6_K -> 16;
            default -> 32;
        };
    }

    /** Whether a decoded type has an additive term per run (its minimums): Q4_1, Q5_1, Q2_K, Q4_K, Q5_K. */
    static boolean hasMins(GgmlType t) {
        return switch (t) {
            case Q4_1, Q5_1, Q2_K, Q4_K, Q5_K -> true;
            default -> false;
        };
    }

    static void run(GgmlType t, MemorySegment src, float[] y, int off, int n) {
        if (n % t.blockSize != 0) throw new IllegalArgumentException(n + " values are not whole " + t + " blocks");
        if (src.byteSize() < t.bytes(n)) throw new IllegalArgumentException(t + ": " + n + " values need " + t.bytes(n) + " bytes, got " + src.byteSize());
        switch (t) {
            case F32 -> MemorySegment.copy(src, F32, 0, y, off, n);
            case F16 -> { for (int i = 0; i < n; i++) y[off + i] = Float.float16ToFloat(src.getAtIndex(U16, i)); }
            case BF16 -> { for (int i = 0; i < n; i++) y[off + i] = Float.intBitsToFloat(src.getAtIndex(U16, i) << 16); }
            default -> {
                if (!decodes(t)) throw new IllegalArgumentException("cannot dequantize " + t);
                int r = perScale(t), bs = t.blockSize;
                byte[] q = new byte[bs];
                float[] d = new float[bs / r], m = hasMins(t) ? new float[bs / r] : null;
                for (int k = 0; k < n / bs; k++) {
                    blocks(t, src, (long) k * t.typeSize, bs, q, 0, d, m, 0);
                    int o = off + k * bs;
                    if (m == null) for (int i = 0; i < bs; i++) y[o + i] = d[i / r] * q[i];
                    else for (int i = 0; i < bs; i++) y[o + i] = d[i / r] * q[i] + m[i / r];
                }
            }
        }
    }

    /**
     * Decodes n values (whole blocks of type t, from byte at of s): q[qo + i] per value, and per run of
     * {@link #perScale} values d[so + j] and (types with minimums) m[so + j]; value i is
     * d·q (+ m) of its run.
     */
    static void blocks(GgmlType t, MemorySegment s, long at, int n, byte[] q, int qo, float[] d, float[] m, int so) {
        int per = t.blockSize / perScale(t);
        for (int k = 0; k < n / t.blockSize; k++) {
            long b = at + (long) k * t.typeSize;
            int o = qo + k * t.blockSize, r = so + k * per;
            switch (t) {
                case Q8_0 -> q8_0(s, b, q, o, d, r);
                case Q4_0 -> q4_0(s, b, q, o, d, r);
                case Q4_1 -> q4_1(s, b, q, o, d, m, r);
                case Q5_0 -> q5_0(s, b, q, o, d, r);
                case Q5_1 -> q5_1(s, b, q, o, d, m, r);
                case Q2_K -> q2_k(s, b, q, o, d, m, r);
                case Q3_K -> q3_k(s, b, q, o, d, r);
                case Q4_K -> q4_k(s, b, q, o, d, m, r);
                case Q5_K -> q5_k(s, b, q, o, d, m, r);
                case Q6_K -> q6_k(s, b, q, o, d, r);
                case IQ4_NL -> iq4_nl(s, b, q, o, d, r);
                case IQ4_XS -> iq4_xs(s, b, q, o, d, r);
                default -> throw new IllegalArgumentException("cannot decode " + t + " blocks");
            }
        }
    }

    static float f16(MemorySegment s, long at) { return Float.float16ToFloat(s.get(U16, at)); }
    static int u8(MemorySegment s, long at) { return s.get(ValueLayout.JAVA_BYTE, at) & 0xff; }
    static int i8(MemorySegment s, long at) { return s.get(ValueLayout.JAVA_BYTE, at); }

    // ---- 32-value blocks: a scale d (and a minimum m), then the quants --------------------------

    /** d f16, qs int8[32]: y = q·d. */
    private static void q8_0(MemorySegment s, long b, byte[] q, int o, float[] d, int r) {
        d[r] = f16(s, b);
        for (int i = 0; i < 32; i++) q[o + i] = (byte) i8(s, b + 2 + i);
    }

    /** d f16, qs[16] (value i in the low nibble of byte i, value 16+i in its high nibble): y = d·(q − 8). */
    private static void q4_0(MemorySegment s, long b, byte[] q, int o, float[] d, int r) {
        d[r] = f16(s, b);
        for (int i = 0; i < 16; i++) {
            int v = u8(s, b + 2 + i);
            q[o + i] = (byte) ((v & 0xF) - 8);
            q[o + 16 + i] = (byte) ((v >> 4) - 8);
        }
    }

    /** d f16, m f16, qs[16]: y = d·q + m. */
    private static void q4_1(MemorySegment s, long b, byte[] q, int o, float[] d, float[] m, int r) {
        d[r] = f16(s, b);
        m[r] = f16(s, b + 2);
        for (int i = 0; i < 16; i++) {
            int v = u8(s, b + 4 + i);
            q[o + i] = (byte) (v & 0xF);
            q[o + 16 + i] = (byte) (v >> 4);
        }
    }

    /** d f16, qh u32 (bit i: the fifth bit of value i), qs[16]: y = d·(q − 16). */
    private static void q5_0(MemorySegment s, long b, byte[] q, int o, float[] d, int r) {
        d[r] = f16(s, b);
        int qh = s.get(U32, b + 2);
        for (int i = 0; i < 16; i++) {
            int v = u8(s, b + 6 + i);
            q[o + i] = (byte) (((v & 0xF) | ((qh >>> i) & 1) << 4) - 16);
            q[o + 16 + i] = (byte) (((v >> 4) | ((qh >>> (16 + i)) & 1) << 4) - 16);
        }
    }

    /** d f16, m f16, qh u32, qs[16]: y = d·q + m. */
    private static void q5_1(MemorySegment s, long b, byte[] q, int o, float[] d, float[] m, int r) {
        d[r] = f16(s, b);
        m[r] = f16(s, b + 2);
        int qh = s.get(U32, b + 4);
        for (int i = 0; i < 16; i++) {
            int v = u8(s, b + 8 + i);
            q[o + i] = (byte) ((v & 0xF) | ((qh >>> i) & 1) << 4);
            q[o + 16 + i] = (byte) ((v >> 4) | ((qh >>> (16 + i)) & 1) << 4);
        }
    }

    // ---- 256-value super-blocks ------------------------------------------------------------------

    /**
     * scales[16] (low nibble scale, high nibble min of each 16 values), qs[64] (2 bits; byte
     * h·32+l holds values h·128+s·32+l in bits 2s), d f16, dmin f16: y = (d·sc)·q − dmin·m.
     */
    private static void q2_k(MemorySegment s, long b, byte[] q, int o, float[] d, float[] m, int r) {
        float dd = f16(s, b + 80), dmin = f16(s, b + 82);
        for (int j = 0; j < 16; j++) {
            int sc = u8(s, b + j);
            d[r + j] = dd * (sc & 0xF);
            m[r + j] = -(dmin * (sc >> 4));
        }
        for (int idx = 0; idx < 256; idx++) {
            int h = idx >> 7, sh = (idx >> 5) & 3, l = idx & 31;
            q[o + idx] = (byte) ((u8(s, b + 16 + h * 32 + l) >> (2 * sh)) & 3);
        }
    }

    /**
     * hmask[32] (bit j of byte l: high bit of value j·32+l, set meaning no −4), qs[64] (2 low bits as
     * in Q2_K), scales[12] (sixteen 6-bit scales biased by 32), d f16: y = (d·sc)·q.
     */
    private static void q3_k(MemorySegment s, long b, byte[] q, int o, float[] d, int r) {
        float dd = f16(s, b + 108);
        for (int i = 0; i < 16; i++) {
            int lo = (u8(s, b + 96 + (i & 7)) >> (4 * (i >> 3))) & 0xF;
            int hi = (u8(s, b + 96 + 8 + (i & 3)) >> (2 * (i >> 2))) & 3;
            d[r + i] = dd * (float) ((byte) (lo | hi << 4) - 32);
        }
        for (int idx = 0; idx < 256; idx++) {
            int h = idx >> 7, sh = (idx >> 5) & 3, l = idx & 31;
            int ql = (u8(s, b + 32 + h * 32 + l) >> (2 * sh)) & 3;
            int qh = ((u8(s, b + l) >> (idx >> 5)) & 1) ^ 1;
            q[o + idx] = (byte) (ql - (qh << 2));
        }
    }

    /** The 6-bit scale (j < 8) or minimum (j ≥ 8 gives min j − 8) packed in the 12 bytes at b of Q4_K and Q5_K. */
    static int scaleMin(MemorySegment s, long b, int j, boolean min) {
        if (j < 4) return u8(s, b + j + (min ? 4 : 0)) & 63;
        int md = u8(s, b + 8 + j - 4);
        return min ? (md >> 4) | ((u8(s, b + j) >> 2) & 0x30) : (md & 0xF) | ((u8(s, b + j - 4) >> 2) & 0x30);
    }

    /** d f16, dmin f16, scales[12], qs[128] (byte c·32+l: values (2c)·32+l low, (2c+1)·32+l high): y = (d·sc)·q − dmin·m. */
    private static void q4_k(MemorySegment s, long b, byte[] q, int o, float[] d, float[] m, int r) {
        float dd = f16(s, b), dmin = f16(s, b + 2);
        for (int j = 0; j < 8; j++) {
            d[r + j] = dd * scaleMin(s, b + 4, j, false);
            m[r + j] = -(dmin * scaleMin(s, b + 4, j, true));
            for (int l = 0; l < 32; l++) q[o + j * 32 + l] = (byte) ((u8(s, b + 16 + (j >> 1) * 32 + l) >> (4 * (j & 1))) & 0xF);
        }
    }

    /** As Q4_K with qh[32] before qs (bit j of byte l: the fifth bit of value j·32+l). */
    private static void q5_k(MemorySegment s, long b, byte[] q, int o, float[] d, float[] m, int r) {
        float dd = f16(s, b), dmin = f16(s, b + 2);
        for (int j = 0; j < 8; j++) {
            d[r + j] = dd * scaleMin(s, b + 4, j, false);
            m[r + j] = -(dmin * scaleMin(s, b + 4, j, true));
            for (int l = 0; l < 32; l++) {
                int v = (u8(s, b + 48 + (j >> 1) * 32 + l) >> (4 * (j & 1))) & 0xF;
                q[o + j * 32 + l] = (byte) (v | ((u8(s, b + 16 + l) >> j) & 1) << 4);
            }
        }
    }

    /**
     * ql[128] (byte h·64+k: values h·128+k low, h·128+64+k high), qh[64] (byte h·32+l: bits 2s of
     * value h·128+s·32+l), scales int8[16], d f16: y = (d·sc)·(q − 32).
     */
    private static void q6_k(MemorySegment s, long b, byte[] q, int o, float[] d, int r) {
        float dd = f16(s, b + 208);
        for (int j = 0; j < 16; j++) d[r + j] = dd * i8(s, b + 192 + j);
        for (int idx = 0; idx < 256; idx++) {
            int h = idx >> 7, w = idx & 127;
            int ql = (u8(s, b + h * 64 + (w & 63)) >> (4 * (w >> 6))) & 0xF;
            int qh = (u8(s, b + 128 + h * 32 + (w & 31)) >> (2 * (w >> 5))) & 3;
            q[o + idx] = (byte) ((ql | qh << 4) - 32);
        }
    }

    /** d f16, qs[16] as Q4_0, each nibble an index into the code book: y = d·value. */
    private static void iq4_nl(MemorySegment s, long b, byte[] q, int o, float[] d, int r) {
        d[r] = f16(s, b);
        for (int i = 0; i < 16; i++) {
            int v = u8(s, b + 2 + i);
            q[o + i] = IQ4_VALUES[v & 0xF];
            q[o + 16 + i] = IQ4_VALUES[v >> 4];
        }
    }

    /** d f16, scales_h u16, scales_l[4], qs[128] (eight IQ4_NL-packed runs of 32), 6-bit scales biased by 32. */
    private static void iq4_xs(MemorySegment s, long b, byte[] q, int o, float[] d, int r) {
        float dd = f16(s, b);
        int sh = s.get(U16, b + 2) & 0xFFFF;
        for (int ib = 0; ib < 8; ib++) {
            int lo = (u8(s, b + 4 + (ib >> 1)) >> (4 * (ib & 1))) & 0xF;
            int hi = (sh >> (2 * ib)) & 3;
            d[r + ib] = dd * (float) ((byte) (lo | hi << 4) - 32);
            for (int l = 0; l < 16; l++) {
                int v = u8(s, b + 8 + ib * 16 + l);
                q[o + ib * 32 + l] = IQ4_VALUES[v & 0xF];
                q[o + ib * 32 + 16 + l] = IQ4_VALUES[v >> 4];
            }
        }
    }
}
