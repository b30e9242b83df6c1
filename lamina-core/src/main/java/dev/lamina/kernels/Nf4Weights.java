package dev.lamina.kernels;

import dev.lamina.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * A weight matrix in 4-bit NormalFloat as QLoRA (bitsandbytes) stores it: the rows·cols values,
 * flattened, in blocks of 64; each value the nearest of the 16 NF4 levels times its block's absmax,
 * two 4-bit codes per byte (the first value in the high nibble). The absmax constants are themselves
 * quantized ("double quantization"): their mean is subtracted, then they are stored as 8-bit codes
 * of bitsandbytes' signed dynamic map in blocks of 256, each block with a float32 absmax. That is
 * 4 + 8/64 + 32/(64·256) = 4.127 bits a weight, plus one float (the mean) a matrix.
 *
 * <p>Dequantizing: w = NF4[code] · (DYNAMIC[qabsmax[b]] · absmax2[b / 256] + mean), b = index / 64.
 * The forward and backward passes of a frozen NF4 base decode one matrix at a time into a scratch
 * buffer ({@link KernelSet#nf4Dequantize}); the model keeps no float32 copy of the base.
 */
public final class Nf4Weights {
    public static final int BLOCK = 64, BLOCK2 = 256;

    /** The 16 NF4 levels (normal quantiles scaled to [-1, 1]), bitsandbytes' float constants. */
    static final float[] NF4 = {
            -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
            -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
            0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

    /** bitsandbytes' signed dynamic 8-bit map (create_dynamic_map(signed=True)): 256 sorted values in [-1, 1]. */
    static final float[] DYNAMIC = dynamicMap();

    /** Both levels of every code byte: PAIRS[2b] = NF4[b >>> 4], PAIRS[2b + 1] = NF4[b & 15]. */
    private static final float[] PAIRS = new float[512];
    static {
        for (int b = 0; b < 256; b++) { PAIRS[2 * b] = NF4[b >>> 4]; PAIRS[2 * b + 1] = NF4[b & 15]; }
    }

    public final int rows, cols;
    final byte[] codes;        // [ceil(n / 2)]
    final byte[] qabsmax;      // [blocks]: DYNAMIC codes of absmax − mean
    final float[] absmax2;     // [ceil(blocks / 256)]
    final float mean;

    Nf4Weights(int rows, int cols, byte[] codes, byte[] qabsmax, float[] absmax2, float mean) {
        this.rows = rows; this.cols = cols; this.codes = codes; this.qabsmax = qabsmax; this.absmax2 = absmax2; this.mean = mean;
    }

    public int size() { return rows * cols; }
    public int blocks() { return qabsmax.length; }

    /** Bytes held: codes, absmax codes, second-level absmax, the mean. */
    public long bytes() { return codes.length + qabsmax.length + 4L * absmax2.length + 4; }

    /** Quantizes w[rows, cols] (row-major, contiguous). */
    public static Nf4Weights quantize(Tensor w) { return quantize(w, Float.NaN); }

    /**
     * As {@link #quantize(Tensor)}, with the mean of the absmax constants given (NaN: computed, summed in
     * double; torch's float32 reduction can differ in the last bit, and the tests take its value).
     */
    static Nf4Weights quantize(Tensor w, float givenMean) {
        int rows = w.dim(0), cols = w.size() / w.dim(0), n = w.size();
        float[] x = w.data();
        int off = w.offset(), blocks = (n + BLOCK - 1) / BLOCK;
        float[] absmax = new float[blocks];
        byte[] codes = new byte[(n + 1) / 2];
        for (int b = 0; b < blocks; b++) {
            int from = b * BLOCK, to = Math.min(n, from + BLOCK);
            float m = 0;
            for (int i = from; i < to; i++) m = Math.max(m, Math.abs(x[off + i]));
            absmax[b] = m;
            float inv = m == 0 ? 0f : 1f / m;                      // bitsandbytes multiplies by the reciprocal
            for (int i = from; i < to; i++) {
                int q = nearest(NF4, x[off + i] * inv);
                codes[i >>> 1] |= (byte) ((i & 1) == 0 ? q << 4 : q);
            }
        }
        // double quantization of the absmax constants: mean removed, 8-bit dynamic codes in blocks of 256
        double sum = 0;
        for (float a : absmax) sum += a;
        float mean = Float.isNaN(givenMean) ? (float) (sum / blocks) : givenMean;
        float[] absmax2 = new float[(blocks + BLOCK2 - 1) / BLOCK2];
        byte[] qabsmax = new byte[blocks];
        for (int c = 0; c < absmax2.length; c++) {
            int from = c * BLOCK2, to = Math.min(blocks, from + BLOCK2);
            float m = 0;
            for (int b = from; b < to; b++) m = Math.max(m, Math.abs(absmax[b] - mean));
            absmax2[c] = m;
            float inv = m == 0 ? 0f : 1f / m;
            for (int b = from; b < to; b++) qabsmax[b] = (byte) nearest(DYNAMIC, (absmax[b] - mean) * inv);
        }
        return new Nf4Weights(rows, cols, codes, qabsmax, absmax2, mean);
    }

    /** The index of the level nearest v (levels sorted ascending; ties to the lower). */
    static int nearest(float[] levels, float v) {
        int lo = 0, hi = levels.length - 1;
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (levels[mid] <= v) lo = mid; else hi = mid;
        }
        return v - levels[lo] <= levels[hi] - v ? lo : hi;
    }

    /** Block b's absmax, decoded from its 8-bit code. */
    float absmax(int b) { return DYNAMIC[qabsmax[b] & 0xFF] * absmax2[b / BLOCK2] + mean; }

    /** The plain reference: out[i] = NF4[code i] · absmax(i / 64) for the blocks [fromBlock, toBlock). */
    public void dequantizeScalar(float[] out, int outOff, int fromBlock, int toBlock) {
        int n = size();
        for (int b = fromBlock; b < toBlock; b++) {
            float a = absmax(b);
            for (int i = b * BLOCK, to = Math.min(n, i + BLOCK); i < to; i++) {
                int code = (codes[i >>> 1] >>> ((i & 1) == 0 ? 4 : 0)) & 15;
                out[outOff + i] = NF4[code] * a;
            }
        }
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /**
     * The same values with the Vector API: each code byte's two levels come from a 512-entry table
     * (a lookup the lanes cannot do faster), then a block's levels are scaled by its absmax in vectors.
     * Equal to {@link #dequantizeScalar} bit for bit (one float multiply per value either way).
     */
    public void dequantizeVector(float[] out, int outOff, int fromBlock, int toBlock) {
        int n = size();
        for (int b = fromBlock; b < toBlock; b++) {
            int from = b * BLOCK, to = Math.min(n, from + BLOCK);
            if (to - from < BLOCK || (from & 1) != 0) { dequantizeScalar(out, outOff, b, b + 1); continue; }
            int o = outOff + from;
            for (int j = from >>> 1, end = to >>> 1, k = o; j < end; j++, k += 2) {
                int c = (codes[j] & 0xFF) << 1;
                out[k] = PAIRS[c];
                out[k + 1] = PAIRS[c + 1];
            }
            float s = absmax(b);
            FloatVector a = FloatVector.broadcast(S, s);
            int i = 0;
            for (int bound = S.loopBound(BLOCK); i < bound; i += S.length())
                FloatVector.fromArray(S, out, o + i).mul(a).intoArray(out, o + i);
            for (; i < BLOCK; i++) out[o + i] *= s;
        }
    }

    /** Every value, dequantized (tests and checks; the model never holds this). */
    public float[] dequantize() {
        float[] out = new float[size()];
        dequantizeScalar(out, 0, 0, blocks());
        return out;
    }

    /** Codes and constants, for tests against the reference quantizer. */
    public byte[] codes() { return codes.clone(); }
    public byte[] absmaxCodes() { return qabsmax.clone(); }
    public float[] absmax2() { return absmax2.clone(); }
    public float mean() { return mean; }

    /**
     * create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8) as bitsandbytes computes it
     * with torch float32: for exponents i = 0..6, the midpoints of linspace(0.1, 1, 2^i + 1) times
     * ±10^(i−6); then 0 and 1; sorted.
     */
    private static float[] dynamicMap() {
        float[] data = new float[256];
        int k = 0;
        for (int i = 0; i < 7; i++) {
            int items = (1 << i) + 1;
            float[] bounds = linspace(0.1f, 1f, items);
            float scale = (float) Math.pow(10, -6 + i);              // torch: the Python scalar times a float32 tensor, in float32
            for (int j = 0; j + 1 < items; j++) {
                float mid = (bounds[j] + bounds[j + 1]) / 2f;
                data[k++] = scale * mid;
                data[k++] = -scale * mid;
            }
        }
        data[k++] = 0f;
        data[k++] = 1f;
        if (k != 256) throw new IllegalStateException("dynamic map has " + k + " values");
        Arrays.sort(data);
        return data;
    }

    /**
     * torch.linspace in float32 as its vectorized CPU kernel computes it: start + i·step for the first
     * half, end − (steps − 1 − i)·step for the rest, each a fused multiply-add (one rounding).
     */
    private static float[] linspace(float start, float end, int steps) {
        float[] v = new float[steps];
        float step = (end - start) / (steps - 1);
        int half = steps / 2;
        for (int i = 0; i < steps; i++) v[i] = i < half ? Math.fma(step, (float) i, start) : Math.fma(-step, (float) (steps - 1 - i), end);
        return v;
    }
}
