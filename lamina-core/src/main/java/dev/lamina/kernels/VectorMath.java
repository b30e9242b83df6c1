package dev.lamina.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Reproducible vector math: exp and a horizontal sum built only from operations whose
 * result is fixed by IEEE 754 (add, mul, fma, compare, integer bit operations).
 *
 * <p>Why not {@code lanewise(EXP)} (or TANH) and {@code reduceLanes(ADD)}: their
 * results are allowed to differ between the intrinsic (SVML, once C2 has compiled the caller)
 * and the Java fallback (interpreter, C1), and the summation order of {@code reduceLanes(ADD)}
 * "may even vary over time". Measured on JDK 25: 745 of 65,536 {@code exp} lanes and 2,811 of
 * 4,096 sums changed between a first (interpreted) and a later (compiled) call on the same
 * input. A training step must give the same bits whenever it runs (resume, replay), so the
 * kernels use these instead. They are as fast as the intrinsics to within a few percent.
 */
final class VectorMath {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /** Rotations of the lanes by w (lane i takes lane i + w mod L): the fixed tree of {@link #sum}. */
    private static final VectorShuffle<Float> ROT1 = rotation(1), ROT2 = rotation(2), ROT4 = rotation(4),
            ROT8 = rotation(8), ROT16 = rotation(16), ROT32 = rotation(32);

    private static VectorShuffle<Float> rotation(int w) { return VectorShuffle.fromOp(S, i -> (i + w) & (L - 1)); }

    private VectorMath() {}

    /** Σ lanes, always in the same order (a halving tree: lane i + lane i + L/2, ...). */
    static float sum(FloatVector v) {
        // constant shuffles (static finals, branches folded on L): an array of them was not intrinsified
        if (L > 32) v = v.add(v.rearrange(ROT32));
        if (L > 16) v = v.add(v.rearrange(ROT16));
        if (L > 8) v = v.add(v.rearrange(ROT8));
        if (L > 4) v = v.add(v.rearrange(ROT4));
        if (L > 2) v = v.add(v.rearrange(ROT2));
        if (L > 1) v = v.add(v.rearrange(ROT1));
        return v.lane(0);
    }

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;     // Cody–Waite split of ln 2
    private static final float ROUND = 12582912f;                                   // 1.5·2^23: adding it rounds to an integer
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
            P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;   // Cephes expf

    /**
     * e^x per lane, relative error below 2·10⁻⁷ against {@link Math#exp} over the float range;
     * +∞ above 88.72, 0 below −104 (denormal results in between), NaN stays NaN.
     */
    static FloatVector exp(FloatVector x) {
        x = x.max(-104f).min(89f);
        FloatVector n = x.mul(LOG2E).add(ROUND).sub(ROUND);                 // round(x / ln2)
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);                                              // r = x − n·ln2, |r| ≤ ln2/2
        FloatVector p = r.fma(FloatVector.broadcast(S, P0), FloatVector.broadcast(S, P1));
        p = p.fma(r, FloatVector.broadcast(S, P2));
        p = p.fma(r, FloatVector.broadcast(S, P3));
        p = p.fma(r, FloatVector.broadcast(S, P4));
        p = p.fma(r, FloatVector.broadcast(S, P5));
        FloatVector e = p.mul(r.mul(r)).add(r).add(1f);                     // e^r
        // · 2^n in two steps of 2^(n/2), so n in [−150, 129] scales without overflow in the exponent field
        IntVector ni = (IntVector) n.convert(VectorOperators.F2I, 0);
        IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1), n2 = ni.sub(n1);
        FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return e.mul(s1).mul(s2);
    }

    private static final float T1 = -5.70498872745e-3f, T2 = 2.06390887954e-2f, T3 = -5.37397155531e-2f,
            T4 = 1.33314422036e-1f, T5 = -3.33332819422e-1f;                       // Cephes tanhf, |x| < 0.625

    /**
     * tanh per lane, within a few float ulps of {@link Math#tanh}: an odd polynomial below |x| = 0.625
     * (where 1 − 2/(e^2|x| + 1) would cancel), that form above it; ±1 beyond |x| = 44.
     */
    static FloatVector tanh(FloatVector x) {
        FloatVector z = x.abs(), z2 = x.mul(x);
        FloatVector p = z2.fma(FloatVector.broadcast(S, T1), FloatVector.broadcast(S, T2));
        p = p.fma(z2, FloatVector.broadcast(S, T3));
        p = p.fma(z2, FloatVector.broadcast(S, T4));
        p = p.fma(z2, FloatVector.broadcast(S, T5));
        FloatVector small = p.mul(z2).fma(x, x);
        FloatVector big = FloatVector.broadcast(S, 1f).sub(FloatVector.broadcast(S, 2f).div(exp(z.min(44f).add(z.min(44f))).add(1f)));
        big = big.blend(big.neg(), x.compare(VectorOperators.LT, 0f));
        return big.blend(small, z.compare(VectorOperators.LT, 0.625f));
    }

    /**
     * Σ_i e^(src[srcOff + i] − shift) over i < n, in a fixed order; each term is also stored in
     * dst[dstOff + i] unless dst is null (dst may be src). A method of its own, with scalar
     * arguments, so callers with large loop bodies never hold the vectors across a call that C2
     * left out of line (which boxes them on the heap).
     */
    static float expSum(float[] src, int srcOff, float[] dst, int dstOff, int n, float shift) {
        FloatVector sum = FloatVector.zero(S), sv = FloatVector.broadcast(S, shift);
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector e = exp(FloatVector.fromArray(S, src, srcOff + i, m).sub(sv));
            if (dst != null) e.intoArray(dst, dstOff + i, m);
            sum = sum.add(e, m);
        }
        // sum(sum), written out: C2 often inlines this method into an attention loop whose inlining
        // budget is then spent, and a call to sum() left out of line boxes the vector on every call
        // (one box per attention row in about one JVM in three, measured by TrainingStepAllocationTest)
        if (L > 32) sum = sum.add(sum.rearrange(ROT32));
        if (L > 16) sum = sum.add(sum.rearrange(ROT16));
        if (L > 8) sum = sum.add(sum.rearrange(ROT8));
        if (L > 4) sum = sum.add(sum.rearrange(ROT4));
        if (L > 2) sum = sum.add(sum.rearrange(ROT2));
        if (L > 1) sum = sum.add(sum.rearrange(ROT1));
        return sum.lane(0);
    }

    /**
     * a[from, to) rounded to p in place (nearest, ties to even), bit for bit {@link dev.lamina.tensor.Precision#round}:
     * bfloat16 by integer arithmetic on the float's bits (a NaN keeps its high bits, quieted); fp16 the same way
     * for normal halves, with subnormals rounded by adding and taking away 0.5, and NaNs through the JDK's conversion.
     */
    static void round(float[] a, int from, int to, dev.lamina.tensor.Precision p) {
        if (p == dev.lamina.tensor.Precision.FP32) return;
        int L = S.length();
        if (p == dev.lamina.tensor.Precision.FP16) {
            int i = from;
            for (; i + L <= to; i += L) {
                FloatVector v = FloatVector.fromArray(S, a, i);
                IntVector b = v.reinterpretAsInts(), m = b.and(0x7fffffff);
                if (m.compare(VectorOperators.GT, 0x7f800000).anyTrue()) {      // a NaN: the JDK's conversion keeps its payload bits as it does
                    for (int j = i; j < i + L; j++) a[j] = Float.float16ToFloat(Float.floatToFloat16(a[j]));
                    continue;
                }
                // normal halves: round the float's mantissa to 10 bits (nearest, ties to even); 65520 and up: infinity;
                // below 2^-14, multiples of 2^-24: adding and taking away 0.5 rounds there (float addition is nearest-even)
                IntVector normal = m.add(m.lanewise(VectorOperators.LSHR, 13).and(1).add(0x0fff)).and(0xffffe000);
                IntVector small = v.abs().add(0.5f).sub(0.5f).reinterpretAsInts();
                IntVector r = small.blend(normal, m.compare(VectorOperators.GE, 0x38800000))
                        .blend(0x7f800000, m.compare(VectorOperators.GE, 0x477ff000));
                r.or(b.and(0x80000000)).reinterpretAsFloats().intoArray(a, i);
            }
            for (; i < to; i++) a[i] = Float.float16ToFloat(Float.floatToFloat16(a[i]));
            return;
        }
        for (int i = from; i < to; i += L) {
            VectorMask<Float> m = S.indexInRange(i, to);
            IntVector b = FloatVector.fromArray(S, a, i, m).reinterpretAsInts();
            VectorMask<Integer> nan = b.and(0x7fffffff).compare(VectorOperators.GT, 0x7f800000);
            IntVector r = b.add(b.lanewise(VectorOperators.LSHR, 16).and(1).add(0x7fff)).blend(b.or(0x00400000), nan).and(0xffff0000);
            r.reinterpretAsFloats().intoArray(a, i, m);
        }
    }
}
