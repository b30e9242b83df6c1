package dev.lamina.gguf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.lamina.gguf.Dequantize.F32;
import static dev.lamina.gguf.Dequantize.U16;
import static dev.lamina.gguf.Dequantize.U32;

/**
 * float32 to block formats. Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 repeat the gguf Python package's
 * {@code quants.quantize} operation for operation (bit-identical output); Q4_K, Q5_K and Q6_K
 * follow ggml's reference C code ({@code quantize_row_q4_K_ref} and friends in ggml-quants.c)
 * statement by statement, each float operation rounded on its own as C does without contraction.
 */
final class Quantize {
    private Quantize() {}

    static void run(GgmlType t, float[] x, int off, int n, MemorySegment dst) {
        if (n % t.blockSize != 0) throw new IllegalArgumentException(n + " values are not whole " + t + " blocks");
        if (dst.byteSize() < t.bytes(n)) throw new IllegalArgumentException(t + ": " + n + " values need " + t.bytes(n) + " bytes");
        switch (t) {
            case F32 -> MemorySegment.copy(x, off, dst, F32, 0, n);
            case F16 -> { for (int i = 0; i < n; i++) dst.setAtIndex(U16, i, Float.floatToFloat16(x[off + i])); }
            case BF16 -> { for (int i = 0; i < n; i++) dst.setAtIndex(U16, i, bf16(x[off + i])); }
            default -> {
                int blocks = n / t.blockSize;
                for (int k = 0; k < blocks; k++) {
                    int xo = off + k * t.blockSize;
                    long b = (long) k * t.typeSize;
                    switch (t) {
                        case Q8_0 -> q8_0(x, xo, dst, b);
                        case Q4_0 -> q4_0(x, xo, dst, b);
                        case Q4_1 -> q4_1(x, xo, dst, b);
                        case Q5_0 -> q5_0(x, xo, dst, b);
                        case Q5_1 -> q5_1(x, xo, dst, b);
                        case Q4_K -> qK(x, xo, dst, b, false);
                        case Q5_K -> qK(x, xo, dst, b, true);
                        case Q6_K -> q6_k(x, xo, dst, b);
                        default -> throw new IllegalArgumentException("cannot quantize to " + t);
                    }
                }
            }
        }
    }

    /**
     * Packs weights already on a 32-weight block grid (quant.Grid.of(t)): w with each block's scale
     * d[k] and offset m[k] as calibration chose them (PTQ's MSE, ACIQ, GPTQ; QAT's learned steps). The
     * levels are recovered as round((w − m)/d), exact for values the grid produced, so a reader's
     * d·q + m gives back w bit for bit.
     */
    static void pack(GgmlType t, float[] w, float[] d, float[] m, MemorySegment dst) {
        dev.lamina.quant.Grid g = dev.lamina.quant.Grid.of(t);
        if (g == null) throw new IllegalArgumentException("cannot pack calibrated blocks as " + t);
        int stored = t == GgmlType.Q4_0 ? 8 : t == GgmlType.Q5_0 ? 16 : 0;     // the symmetric 4- and 5-bit types store q + 8, q + 16
        int[] q = new int[32];
        for (int k = 0; k < w.length / 32; k++) {
            for (int i = 0; i < 32; i++) q[i] = g.level(w[k * 32 + i], d[k], m[k]) + stored;
            block(t, d[k], m[k], q, dst, (long) k * t.typeSize);
        }
    }

    /**
     * One 32-weight block: the half-precision scale d (and offset m for Q4_1, Q5_1), then the stored
     * levels q (int8 for Q8_0; unsigned 4 or 5 bits for the others).
     */
    private static void block(GgmlType t, float d, float m, int[] q, MemorySegment s, long b) {
        putF16(s, b, d);
        switch (t) {
            case Q8_0 -> { for (int i = 0; i < 32; i++) put8(s, b + 2 + i, q[i]); }
            case Q4_0 -> nibbles(q, s, b + 2);
            case Q4_1 -> { putF16(s, b + 2, m); nibbles(q, s, b + 4); }
            case Q5_0 -> packQ5(q, s, b + 2);
            case Q5_1 -> { putF16(s, b + 2, m); packQ5(q, s, b + 4); }
            default -> throw new IllegalArgumentException("not a 32-weight block type: " + t);
        }
    }

    /** qs[16]: q[i] in the low nibble, q[16 + i] in the high one. */
    private static void nibbles(int[] q, MemorySegment s, long at) {
        for (int i = 0; i < 16; i++) put8(s, at + i, q[i] | q[16 + i] << 4);
    }

    /** float32 → bfloat16 bits, round to nearest even; NaN stays a quiet NaN (ggml_compute_fp32_to_bf16). */
    static short bf16(float f) { return dev.lamina.tensor.Precision.bf16Bits(f); }

    private static void put8(MemorySegment s, long at, int v) { s.set(ValueLayout.JAVA_BYTE, at, (byte) v); }
    private static void putF16(MemorySegment s, long at, float v) { s.set(U16, at, Float.floatToFloat16(v)); }

    // ---- as gguf.quants ----------------------------------------------------------------------------

    /** Rounds half away from zero, as gguf.quants' np_roundf: floor(a) + floor(2·(a − floor(a))), signed. */
    private static float roundf(float v) {
        float a = Math.abs(v);
        float floored = (float) Math.floor(a);
        float b = floored + (float) Math.floor(2 * (a - floored));
        return Math.signum(v) * b;
    }

    private static void q8_0(float[] x, int o, MemorySegment s, long b) {
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[o + i]));
        float d = amax / 127;
        float id = d == 0 ? 0 : 1 / d;
        int[] q = new int[32];
        for (int i = 0; i < 32; i++) q[i] = (int) roundf(x[o + i] * id);
        block(GgmlType.Q8_0, d, 0, q, s, b);
    }

    /** The value of largest magnitude, the first one among ties (numpy's argmax of abs). */
    private static float absMax(float[] x, int o) {
        float max = x[o];
        for (int i = 1; i < 32; i++) if (Math.abs(x[o + i]) > Math.abs(max)) max = x[o + i];
        return max;
    }

    private static void q4_0(float[] x, int o, MemorySegment s, long b) {
        float d = absMax(x, o) / -8;
        float id = d == 0 ? 0 : 1 / d;
        int[] q = new int[32];
        for (int i = 0; i < 32; i++) q[i] = Math.min(15, (int) (x[o + i] * id + 8.5f));
        block(GgmlType.Q4_0, d, 0, q, s, b);
    }

    private static void q4_1(float[] x, int o, MemorySegment s, long b) {
        float max = x[o], min = x[o];
        for (int i = 1; i < 32; i++) { max = Math.max(max, x[o + i]); min = Math.min(min, x[o + i]); }
        float d = (max - min) / 15;
        float id = d == 0 ? 0 : 1 / d;
        int[] q = new int[32];
        for (int i = 0; i < 32; i++) q[i] = Math.min(15, (int) ((x[o + i] - min) * id + 0.5f));
        block(GgmlType.Q4_1, d, min, q, s, b);
    }

    private static void q5_0(float[] x, int o, MemorySegment s, long b) {
        float d = absMax(x, o) / -16;
        float id = d == 0 ? 0 : 1 / d;
        int[] q = new int[32];
        for (int i = 0; i < 32; i++) q[i] = Math.min(31, (int) (x[o + i] * id + 16.5f));
        block(GgmlType.Q5_0, d, 0, q, s, b);
    }

    private static void q5_1(float[] x, int o, MemorySegment s, long b) {
        float max = x[o], min = x[o];
        for (int i = 1; i < 32; i++) { max = Math.max(max, x[o + i]); min = Math.min(min, x[o + i]); }
        float d = (max - min) / 31;
        float id = d == 0 ? 0 : 1 / d;
        int[] q = new int[32];
        for (int i = 0; i < 32; i++) q[i] = Math.min(31, (int) ((x[o + i] - min) * id + 0.5f));
        block(GgmlType.Q5_1, d, min, q, s, b);
    }

    /** qh u32 (bit i: bit 4 of q[i]) then qs[16] (q[i] low nibble, q[16+i] high nibble). */
    private static void packQ5(int[] q, MemorySegment s, long at) {
        int qh = 0;
        for (int i = 0; i < 32; i++) qh |= (q[i] >> 4) << i;
        s.set(U32, at, qh);
        for (int i = 0; i < 16; i++) put8(s, at + 4 + i, (q[i] & 0xF) | (q[16 + i] & 0xF) << 4);
    }

    // ---- as ggml-quants.c ----------------------------------------------------------------------------

    /** ggml's nearest_int: round half to even through the float mantissa (|v| ≤ 4194303). */
    static int nearestInt(float v) {
        int i = Float.floatToRawIntBits(v + 12582912.f);
        return (i & 0x007fffff) - 0x00400000;
    }

    /** quantize_row_q4_K_ref (q5 false) and quantize_row_q5_K_ref (q5 true) for one super-block. */
    private static void qK(float[] x, int o, MemorySegment s, long b, boolean q5) {
        int nmax = q5 ? 31 : 15;
        int[] L = new int[256];
        float[] weights = new float[32], mins = new float[8], scales = new float[8];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++) {
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += x[o + 32 * j + l] * x[o + 32 * j + l];
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avX + Math.abs(x[o + 32 * j + l]);
            scales[j] = makeQkx2(32, nmax, x, o + 32 * j, weights, L, 32 * j, mins, j, q5 ? -0.5f : -1.f, 0.1f, q5 ? 15 : 20);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
        float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
        byte[] sc = new byte[12];
        for (int j = 0; j < 8; j++) {
            int ls = Math.min(63, nearestInt(invScale * scales[j]) & 0xFF);
            int lm = Math.min(63, nearestInt(invMin * mins[j]) & 0xFF);
            if (j < 4) {
                sc[j] = (byte) ls;
                sc[j + 4] = (byte) lm;
            } else {
                sc[j + 4] = (byte) ((ls & 0xF) | ((lm & 0xF) << 4));
                sc[j - 4] |= (byte) ((ls >> 4) << 6);
                sc[j] |= (byte) ((lm >> 4) << 6);
            }
        }
        short dh = Float.floatToFloat16(maxScale / 63.f), dminh = Float.floatToFloat16(maxMin / 63.f);
        s.set(U16, b, dh);
        s.set(U16, b + 2, dminh);
        MemorySegment.copy(sc, 0, s, ValueLayout.JAVA_BYTE, b + 4, 12);
        MemorySegment scs = MemorySegment.ofArray(sc);
        for (int j = 0; j < 8; j++) {
            float d = Float.float16ToFloat(dh) * Dequantize.scaleMin(scs, 0, j, false);
            if (d == 0) continue;
            float dm = Float.float16ToFloat(dminh) * Dequantize.scaleMin(scs, 0, j, true);
            for (int ii = 0; ii < 32; ii++) L[32 * j + ii] = Math.max(0, Math.min(nmax, nearestInt((x[o + 32 * j + ii] + dm) / d)));
        }
        if (!q5) {
            for (int j = 0, at = 16; j < 256; j += 64, at += 32)
                for (int l = 0; l < 32; l++) put8(s, b + at + l, L[j + l] | (L[j + l + 32] << 4));
            return;
        }
        int[] qh = new int[32];
        int m1 = 1, m2 = 2;
        for (int n = 0, at = 48; n < 256; n += 64, at += 32) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[n + j], l2 = L[n + j + 32];
                if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
                if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
                put8(s, b + at + j, l1 | (l2 << 4));
            }
            m1 <<= 2;
            m2 <<= 2;
        }
        for (int j = 0; j < 32; j++) put8(s, b + 16 + j, qh[j]);
    }

    /** make_qkx2_quants: a scale and minimum for n values by a weighted search; L gets the quants, theMin[mi] the negated minimum. */
    private static float makeQkx2(int n, int nmax, float[] x, int xo, float[] weights, int[] L, int lo, float[] theMin, int mi,
                                  float rmin, float rdelta, int nstep) {
        float min = x[xo], max = x[xo];
        float sumW = weights[0];
        float sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            if (x[xo + i] < min) min = x[xo + i];
            if (x[xo + i] > max) max = x[xo + i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[xo + i];
        }
        if (min > 0) min = 0;
        if (max == min) {
            for (int i = 0; i < n; i++) L[lo + i] = 0;
            theMin[mi] = -min;
            return 0.f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = nearestInt(iscale * (x[xo + i] - min));
            L[lo + i] = Math.max(0, Math.min(nmax, l));
            float diff = scale * L[lo + i] + min - x[xo + i];
            diff = diff * diff;
            bestError += weights[i] * diff;
        }
        int[] aux = new int[n];
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXl = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
                aux[i] = l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXl += w * l * x[xo + i];
            }
            float D = sumW * sumL2 - sumL * sumL;
            if (D > 0) {
                float thisScale = (sumW * sumXl - sumX * sumL) / D;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / D;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * aux[i] + thisMin - x[xo + i];
                    diff = diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError) {
                    System.arraycopy(aux, 0, L, lo, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin[mi] = -min;
        return scale;
    }

    private static final float GROUP_MAX_EPS = 1e-15f;

    /** quantize_row_q6_K_ref for one super-block: ql[128], qh[64], scales int8[16], d f16. */
    private static void q6_k(float[] x, int o, MemorySegment s, long b) {
        int[] L = new int[256];
        float[] scales = new float[16];
        float maxScale = 0, maxAbsScale = 0;
        for (int ib = 0; ib < 16; ib++) {
            float scale = makeQx(16, 32, x, o + 16 * ib, L, 16 * ib);
            scales[ib] = scale;
            float abs = Math.abs(scale);
            if (abs > maxAbsScale) { maxAbsScale = abs; maxScale = scale; }
        }
        if (maxAbsScale < GROUP_MAX_EPS) {
            s.asSlice(b, 210).fill((byte) 0);
            return;
        }
        float iscale = -128.f / maxScale;
        short dh = Float.floatToFloat16(1 / iscale);
        s.set(U16, b + 208, dh);
        byte[] sc = new byte[16];
        for (int ib = 0; ib < 16; ib++) sc[ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
        MemorySegment.copy(sc, 0, s, ValueLayout.JAVA_BYTE, b + 192, 16);
        for (int j = 0; j < 16; j++) {
            float d = Float.float16ToFloat(dh) * sc[j];
            if (d == 0) continue;
            for (int ii = 0; ii < 16; ii++) L[16 * j + ii] = Math.max(-32, Math.min(31, nearestInt(x[o + 16 * j + ii] / d))) + 32;
        }
        for (int j = 0, ql = 0, qh = 128; j < 256; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                put8(s, b + ql + l, q1 | (q3 << 4));
                put8(s, b + ql + l + 32, q2 | (q4 << 4));
                put8(s, b + qh + l, (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
            }
        }
    }

    /** make_qx_quants with rmse_type 1 and no weights: a signed scale for n values, L[lo..] = quant + nmax. */
    private static float makeQx(int n, int nmax, float[] x, int xo, int[] L, int lo) {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) { amax = ax; max = x[xo + i]; }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) L[lo + i] = 0;
            return 0.f;
        }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[xo + i])));
            L[lo + i] = l + nmax;
            float w = x[xo + i] * x[xo + i];
            sumlx += w * x[xo + i] * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; is++) {
            if (is == 0) continue;
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[xo + i])));
                float w = x[xo + i] * x[xo + i];
                sumlx += w * x[xo + i] * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; i++) L[lo + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[xo + i])));
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }
}
