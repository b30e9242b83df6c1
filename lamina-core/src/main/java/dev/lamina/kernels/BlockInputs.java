package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The inputs of a product with small-quant blocks ({@link Q4Weights}' 4-bit blocks, {@link Q8Weights}'
 * 6- and 3-bit blocks of 16), rounded to 8 bits per block of 32 as ggml's Q8_0 rounds them for
 * llama.cpp's vec_dot, with the block's scale e rounded up to 8 significant bits: e = max|x| / 127 so
 * rounded, xq = round(x/e) (half away from zero, |xq| ≤ 127) and x̃ = e·xq, exact. A block holding a
 * NaN, an infinity or a value of 2^100 or more gets e = NaN (its outputs are NaN); one whose scale
 * would be below 2^-100 rounds to zero. Rows are [n][in] from 0; per block b of row i, e and sx = Σx̃
 * at i·blocks + b.
 *
 * <p>Why 8 significant bits: then a block's every partial sum Σ x̃·q with quants of at most 15 (32 of
 * them) or 32 in magnitude (16 of them) is e times an integer below 2^16, exact in float32 whatever
 * the order. So a kernel may sum xq·q in 16-bit integer lanes and scale by e, and the float kernels
 * fed x̃ give the same bits: a row's outputs do not depend on the kernel its batch size picks.
 */
public final class BlockInputs {
    /** Inputs per rounding block. */
    static final int BLOCK = 32;
    /** Largest rounded input, ggml's Q8_0 range. */
    static final int XQ_MAX = 127;
    /** Below this a block's scale is 0 (its inputs round to zero); from MAX_INPUT on its outputs are NaN: x̃·q's sums stay exact between. */
    private static final float MIN_SCALE = 0x1p-100f, MAX_INPUT = 0x1p100f;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** L lanes of 16 bits (the rounded inputs as stored). */
    private static final VectorSpecies<Short> SL = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));

    int n, in;
    float[] xt = new float[0], e = new float[0], sx = new float[0];
    short[] xq = new short[0];

    /** Rounds rows [i0, i1) of x (rows at xOff + i·ldx); {@link #size} first. */
    void round(float[] X, int xOff, int ldx, int i0, int i1) {
        int blocks = (in + BLOCK - 1) / BLOCK;
        for (int i = i0; i < i1; i++)
            for (int b = 0; b < blocks; b++) {
                int k0 = b * BLOCK;
                if (k0 + BLOCK > in) roundBlock(X, xOff + i * ldx + k0, in - k0, i * in + k0, i * blocks + b);
                else roundVector(X, xOff + i * ldx + k0, i * in + k0, i * blocks + b);
            }
    }

    /** Room for n rows of in inputs. */
    BlockInputs size(int n, int in) {
        this.n = n;
        this.in = in;
        int blocks = n * ((in + BLOCK - 1) / BLOCK);
        if (xt.length < n * in) { xt = new float[n * in]; xq = new short[n * in]; }
        if (e.length < blocks) { e = new float[blocks]; sx = new float[blocks]; }
        return this;
    }

    /** The rule, one input at a time: len inputs from X[x0] into o.., the scale and Σx̃ at eb. */
    void roundBlock(float[] X, int x0, int len, int o, int eb) {
        float max = 0;
        for (int k = 0; k < len; k++) max = Math.max(max, Math.abs(X[x0 + k]));
        float e = scale(max), inv = e > 0 ? 1 / e : 0;
        int t = 0;
        for (int k = 0; k < len; k++) {
            float v = X[x0 + k] * inv;
            int q = Math.min(XQ_MAX, (int) (Math.abs(v) + 0.5f));
            if (v < 0) q = -q;
            xq[o + k] = (short) q;
            xt[o + k] = e * q;
            t += q;
        }
        this.e[eb] = e;
        sx[eb] = e * t;
    }

    /** {@link #roundBlock} on a whole block, L lanes at a time: the same operations, so the same bits. */
    private void roundVector(float[] X, int x0, int o, int eb) {
        FloatVector m = FloatVector.zero(S);
        for (int j = 0; j < BLOCK; j += L) m = m.max(FloatVector.fromArray(S, X, x0 + j).abs());
        float e = scale(m.reduceLanes(VectorOperators.MAX));
        if (!(e >= 0)) { roundBlock(X, x0, BLOCK, o, eb); return; }  // NaN or infinity inside: the scalar rule
        float inv = e > 0 ? 1 / e : 0;
        IntVector t = IntVector.zero(I);
        for (int j = 0; j < BLOCK; j += L) {
            FloatVector v = FloatVector.fromArray(S, X, x0 + j).mul(inv);
            IntVector q = ((IntVector) v.abs().add(0.5f).convert(VectorOperators.F2I, 0)).min(XQ_MAX);
            q = q.blend(q.neg(), v.compare(VectorOperators.LT, 0f).cast(I));
            ((ShortVector) q.convertShape(VectorOperators.I2S, SL, 0)).intoArray(xq, o + j);
            ((FloatVector) q.convert(VectorOperators.I2F, 0)).mul(e).intoArray(xt, o + j);
            t = t.add(q);
        }
        this.e[eb] = e;
        sx[eb] = e * t.reduceLanes(VectorOperators.ADD);
    }

    /** A block's scale from its largest magnitude: max / 127 rounded up to 8 significant bits (NaN or 0 at the ends). */
    static float scale(float max) {
        if (!(max < MAX_INPUT)) return Float.NaN;
        int bits = Float.floatToRawIntBits(max / XQ_MAX);
        if ((bits & 0xFFFF) != 0) bits = (bits & 0xFFFF0000) + 0x10000;
        float e = Float.intBitsToFloat(bits);
        return e < MIN_SCALE ? 0 : e;
    }

    /** x[n, in] as small-quant blocks take it: each block of 32 inputs rounded to 8 bits, x̃ = e·xq. */
    public static Tensor rounded(Tensor x) {
        int in = x.dim(-1), n = x.size() / in;
        BlockInputs r = new BlockInputs().size(n, in);
        r.round(x.data(), x.offset(), in, 0, n);
        return Tensor.of(java.util.Arrays.copyOf(r.xt, n * in), n, in);
    }

    /** The rounded inputs a product shares between its threads ({@link #shared}); and those a matrix's own range rounds ({@link #own}). */
    private static final ThreadLocal<BlockInputs> SHARED = ThreadLocal.withInitial(BlockInputs::new), OWN = ThreadLocal.withInitial(BlockInputs::new);

    /**
     * x's n rows rounded for every matrix of one product that takes them, once, on the pool from 16
     * rows (a prompt), on the calling thread below. Valid until this thread calls again.
     */
    static BlockInputs shared(Parallel pool, int n, int in, float[] X, int xOff, int ldx) {
        BlockInputs r = SHARED.get().size(n, in);
        if (n >= 16) pool.forRange(n, (i0, i1) -> r.round(X, xOff, ldx, i0, i1));
        else r.round(X, xOff, ldx, 0, n);
        return r;
    }

    /** x's n rows rounded on the calling thread, into its own buffers (a matrix's range called alone). */
    static BlockInputs own(int n, int in, float[] X, int xOff, int ldx) {
        BlockInputs r = OWN.get().size(n, in);
        r.round(X, xOff, ldx, 0, n);
        return r;
    }

    /** x's n rows rounded by the rule one input at a time, into new buffers (the scalar references). */
    static BlockInputs scalar(int n, int in, float[] X, int xOff, int ldx) {
        BlockInputs r = new BlockInputs().size(n, in);
        for (int i = 0, blocks = (in + BLOCK - 1) / BLOCK; i < n; i++)
            for (int b = 0, k0 = 0; k0 < in; b++, k0 += BLOCK)
                r.roundBlock(X, xOff + i * ldx + k0, Math.min(in, k0 + BLOCK) - k0, i * in + k0, i * blocks + b);
        return r;
    }
}
