package dev.lamina.tensor;

/**
 * 16-bit copies of float32 buffers whose values are already 16-bit values (what a 16-bit run's
 * activations are): bfloat16 keeps a float's high half, fp16 its IEEE half-precision form. Packing
 * reports whether every value was exact, so a caller keeps a float32 copy of a buffer that is not
 * and the round trip never changes a bit.
 */
public final class Half {
    private Half() {}

    /** dst[i] = src[i] in p's 16 bits; returns whether every src[i] comes back bit for bit (dst is then complete). */
    public static boolean pack(float[] src, short[] dst, Precision p) { return pack(src, 0, dst, 0, src.length, p); }

    /** dst[dstOff+i] = src[srcOff+i] in p's 16 bits for i < n; returns whether every value comes back bit for bit. */
    public static boolean pack(float[] src, int srcOff, short[] dst, int dstOff, int n, Precision p) {
        if (p == Precision.BF16) {
            int low = 0;
            for (int i = 0; i < n; i++) {
                int b = Float.floatToRawIntBits(src[srcOff + i]);
                low |= b & 0xffff;
                dst[dstOff + i] = (short) (b >>> 16);
            }
            return low == 0;
        }
        if (p != Precision.FP16) throw new IllegalArgumentException("16-bit copies of " + p);
        for (int i = 0; i < n; i++) {
            short h = Float.floatToFloat16(src[srcOff + i]);
            if (Float.floatToRawIntBits(Float.float16ToFloat(h)) != Float.floatToRawIntBits(src[srcOff + i])) return false;
            dst[dstOff + i] = h;
        }
        return true;
    }

    /** Whether every value of x is exact in p's 16 bits. */
    public static boolean exact(float[] x, Precision p) {
        if (p == Precision.BF16) {
            int low = 0;
            for (float v : x) low |= Float.floatToRawIntBits(v) & 0xffff;
            return low == 0;
        }
        for (float v : x) if (Float.floatToRawIntBits(Float.float16ToFloat(Float.floatToFloat16(v))) != Float.floatToRawIntBits(v)) return false;
        return true;
    }

    /** dst[i] = the float32 value of src[i] in p's 16 bits. */
    public static void unpack(short[] src, float[] dst, Precision p) { unpack(src, 0, dst, 0, dst.length, p); }

    /** dst[dstOff+i] = the float32 value of src[srcOff+i] in p's 16 bits, for i < n. */
    public static void unpack(short[] src, int srcOff, float[] dst, int dstOff, int n, Precision p) {
        if (p == Precision.BF16) for (int i = 0; i < n; i++) dst[dstOff + i] = Float.intBitsToFloat(src[srcOff + i] << 16);
        else for (int i = 0; i < n; i++) dst[dstOff + i] = Float.float16ToFloat(src[srcOff + i]);
    }
}
