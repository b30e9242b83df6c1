package dev.lamina.infer;

import dev.lamina.io.LaminaException;
import dev.lamina.kernels.KernelSet;
import dev.lamina.tensor.Tensor;
import dev.lamina.tensor.Precision;

import java.util.Locale;

/**
 * The key and value rows of every layer of a {@link KvCache} (or a {@link BlockPool}), kvDim values
 * a row, in float32 or in 16 bits: bfloat16, or float16 as llama.cpp's default cache holds them. A
 * 16-bit cache halves what a sequence's context takes and what each decoded token reads of it.
 *
 * <p>Rows are written already rounded to the format ({@link ModelRunner} rounds a chunk's new keys
 * and values in place before its attention reads them), so a position's key is the same value
 * whether it is read from the cache or from the chunk that computed it: a prompt fed whole or a
 * token at a time gives the same logits. float16 saturates at ±65504 (an infinity would not come
 * back out of its vector widening); bfloat16 keeps float32's range.
 */
public final class KvRows {
    private final Precision precision;
    private final float[][] keys, values;       // [layer][rows·kvDim], float32 only
    private final short[][] keyBits, valueBits; // [layer][rows·kvDim], 16 bits only

    /** Storage for rows positions of kvDim values in each of layers layers. */
    KvRows(int layers, long rows, int kvDim, Precision precision) {
        long size = rows * kvDim;
        if (size > Integer.MAX_VALUE - 16)
            throw new IllegalArgumentException("a KV cache of " + rows + " positions is too large for one array per layer");
        this.precision = precision;
        boolean wide = precision == Precision.FP32;
        keys = wide ? new float[layers][(int) size] : null;
        values = wide ? new float[layers][(int) size] : null;
        keyBits = wide ? null : new short[layers][(int) size];
        valueBits = wide ? null : new short[layers][(int) size];
    }

    /** What each value takes: fp32, bf16 or fp16. */
    public Precision precision() { return precision; }

    /** Layer l's keys in float32 (null for a 16-bit cache). */
    public float[] keys(int l) { return keys == null ? null : keys[l]; }

    /** Layer l's values in float32 (null for a 16-bit cache). */
    public float[] values(int l) { return values == null ? null : values[l]; }

    /** Layer l's keys in 16 bits (null for a float32 cache). */
    public short[] keyBits(int l) { return keyBits == null ? null : keyBits[l]; }

    /** Layer l's values in 16 bits (null for a float32 cache). */
    public short[] valueBits(int l) { return valueBits == null ? null : valueBits[l]; }

    /** Values held per layer, keys or values (rows·kvDim). */
    public int size() { return keys != null ? keys[0].length : keyBits[0].length; }

    /**
     * Layer l's row at slot (a value offset) := n values of k from kOff and of v from vOff, which a
     * 16-bit cache requires already rounded to its format ({@link #round}).
     */
    void put(int l, int slot, float[] k, int kOff, float[] v, int vOff, int n) {
        if (keys != null) {
            System.arraycopy(k, kOff, keys[l], slot, n);
            System.arraycopy(v, vOff, values[l], slot, n);
            return;
        }
        short[] K = keyBits[l], V = valueBits[l];
        for (int i = 0; i < n; i++) {
            K[slot + i] = bits(k[kOff + i]);
            V[slot + i] = bits(v[vOff + i]);
        }
    }

    /** The 16 bits of x, a value the format holds exactly (a float16 beyond ±65504 saturates). */
    private short bits(float x) {
        return precision == Precision.FP16 ? Float.floatToFloat16(x) : (short) (Float.floatToRawIntBits(x) >>> 16);
    }

    /** x rounded in place to this cache's format by k (float16 saturating at ±65504): what {@link #put} then stores exactly. */
    void round(KernelSet k, Tensor x) {
        if (precision == Precision.FP32) return;
        k.round(x, precision);
        if (precision != Precision.FP16) return;
        float[] X = x.data();
        for (int i = x.offset(), end = i + x.size(); i < end; i++)
            if (Float.isInfinite(X[i])) X[i] = Math.copySign(65504f, X[i]);
    }

    /** n values from offset from to offset to, in every layer, keys and values (a paged cache's copy-on-write). */
    void copy(int from, int to, int n) {
        int layers = keys != null ? keys.length : keyBits.length;
        for (int l = 0; l < layers; l++) {
            if (keys != null) {
                System.arraycopy(keys[l], from, keys[l], to, n);
                System.arraycopy(values[l], from, values[l], to, n);
            } else {
                System.arraycopy(keyBits[l], from, keyBits[l], to, n);
                System.arraycopy(valueBits[l], from, valueBits[l], to, n);
            }
        }
    }

    /** Bytes a KV cache of this precision holds per position: 2 (keys and values) × layers × kvDim × the value's bytes. */
    public static long bytesPerPosition(int layers, int kvDim, Precision precision) {
        return 2L * layers * kvDim * precision.bytes();
    }

    /** The cache format named s: "f32", "bf16" or "f16" (also "fp32", "fp16", any case); refused naming --kv-cache-dtype. */
    public static Precision parse(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "f32", "fp32", "float32" -> Precision.FP32;
            case "bf16", "bfloat16" -> Precision.BF16;
            case "f16", "fp16", "float16" -> Precision.FP16;
            default -> throw new LaminaException("--kv-cache-dtype must be f32, bf16 or f16, got '" + s + "'");
        };
    }

    /** The command-line name of a cache format: f32, bf16 or f16. */
    public static String label(Precision p) {
        return switch (p) {
            case FP32 -> "f32";
            case BF16 -> "bf16";
            case FP16 -> "f16";
        };
    }
}
