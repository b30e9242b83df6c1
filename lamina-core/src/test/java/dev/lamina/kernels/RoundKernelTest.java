package dev.lamina.kernels;

import dev.lamina.tensor.Precision;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * KernelSet.round: the vector kernels give the scalar reference's bits on odd sizes, view offsets
 * and special values (run at 16, 8 and 4 lanes by bin/test), and the reference rounds as the formats
 * do: nearest, ties to even, fp16's overflow to infinity and its subnormals.
 */
class RoundKernelTest {
    private static final int[] SIZES = {1, 3, 7, 15, 16, 17, 31, 33, 100, 257, 70_001};

    @Test
    void vectorRoundingIsTheScalarReferenceBitForBit() {
        SplittableRandom r = new SplittableRandom(7);
        for (Precision p : Precision.values())
            for (int n : SIZES)
                for (KernelSet k : new KernelSet[] {Kernels.vector(1), Kernels.vector(2)}) {
                    int off = 1 + r.nextInt(5);
                    float[] data = new float[off + n + 5];
                    for (int i = 0; i < data.length; i++) data[i] = value(r);
                    float[] ref = data.clone(), got = data.clone();
                    Kernels.scalar(1).round(new Tensor(ref, off, new int[] {n}), p);
                    k.round(new Tensor(got, off, new int[] {n}), p);
                    for (int i = 0; i < data.length; i++) {
                        assertThat(Float.floatToRawIntBits(got[i])).as("%s n %d element %d of %s (%s)", p, n, i, Float.toHexString(data[i]), k.name())
                                .isEqualTo(Float.floatToRawIntBits(ref[i]));
                        if (i < off || i >= off + n) assertThat(Float.floatToRawIntBits(got[i])).as("guard %d", i).isEqualTo(Float.floatToRawIntBits(data[i]));
                    }
                }
    }

    /** A sweep of a million float bit patterns over every exponent, sign and NaN: the vector rounding gives Precision.round's bits. */
    @Test
    void everyExponentRoundsAsTheReference() {
        int n = 1 << 20;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = Float.intBitsToFloat(i * 4099 + (i >>> 3));     // 4099 is odd: the patterns cover the int range evenly
        for (Precision p : new Precision[] {Precision.BF16, Precision.FP16}) {
            float[] got = x.clone();
            Kernels.vector(2).round(Tensor.of(got, n), p);
            for (int i = 0; i < n; i++)
                assertThat(Float.floatToRawIntBits(got[i])).as("%s %s", p, Float.toHexString(x[i])).isEqualTo(Float.floatToRawIntBits(p.round(x[i])));
        }
    }

    /** pack16 and unpack16: the vector kernels give Half's answer and bits, on exact buffers and on buffers with one value that is not 16-bit. */
    @Test
    void vectorPackingIsTheReferenceBitForBit() {
        SplittableRandom r = new SplittableRandom(11);
        for (Precision p : new Precision[] {Precision.BF16, Precision.FP16})
            for (int n : SIZES)
                for (KernelSet k : new KernelSet[] {Kernels.vector(1), Kernels.vector(2)})
                    for (int spoil = -1; spoil < n; spoil += Math.max(1, n / 3)) {
                        float[] x = new float[n];
                        for (int i = 0; i < n; i++) x[i] = p.round(value(r));
                        if (spoil >= 0) x[spoil] = 1f + 0x1p-20f;
                        short[] ref = new short[n], got = new short[n];
                        boolean exact = Kernels.scalar(1).pack16(x, ref, p);
                        assertThat(exact).isEqualTo(spoil < 0);
                        assertThat(k.pack16(x, got, p)).as("%s n %d spoil %d %s", p, n, spoil, k.name()).isEqualTo(exact);
                        if (!exact) continue;
                        assertThat(got).isEqualTo(ref);
                        float[] back = new float[n], refBack = new float[n];
                        k.unpack16(got, back, p);
                        Kernels.scalar(1).unpack16(ref, refBack, p);
                        for (int i = 0; i < n; i++) {
                            assertThat(Float.floatToRawIntBits(back[i])).isEqualTo(Float.floatToRawIntBits(refBack[i]));
                            assertThat(Float.floatToRawIntBits(back[i])).isEqualTo(Float.floatToRawIntBits(x[i]));
                        }
                    }
    }

    /**
     * fp16 packing on its fast path: buffers of normal halves and signed zeros (what activations and
     * gradients mostly are), every exponent from 2⁻¹⁴ to 2¹⁵, with now and then one value the bits alone
     * do not handle (a subnormal half, an infinity, a NaN, a value not exact in 16 bits) in an odd place:
     * the vector kernels give Half's answer and bits.
     */
    @Test
    void fp16PackingOfNormalHalvesIsTheReferenceBitForBit() {
        SplittableRandom r = new SplittableRandom(13);
        for (int n : new int[] {1, 15, 16, 17, 64, 100, 1000, 4099})
            for (int odd = -1; odd < 4; odd++)
                for (KernelSet k : new KernelSet[] {Kernels.vector(1), Kernels.vector(2)}) {
                    float[] x = new float[n];
                    for (int i = 0; i < n; i++) {
                        float v = (float) Math.scalb(1 + r.nextDouble(), r.nextInt(-14, 16)) * (r.nextBoolean() ? 1 : -1);
                        x[i] = r.nextInt(20) == 0 ? (r.nextBoolean() ? 0f : -0f) : Precision.FP16.round(v);
                    }
                    if (odd >= 0) x[r.nextInt(n)] = switch (odd) {
                        case 0 -> 0x1p-20f;                               // a subnormal half, exact
                        case 1 -> Float.NEGATIVE_INFINITY;
                        case 2 -> Float.float16ToFloat((short) 0x7e01);
                        default -> 1f + 0x1p-20f;                         // not a half
                    };
                    short[] ref = new short[n], got = new short[n];
                    boolean exact = dev.lamina.tensor.Half.pack(x, ref, Precision.FP16);
                    assertThat(exact).isEqualTo(odd != 3);
                    assertThat(k.pack16(x, got, Precision.FP16)).as("n %d odd %d %s", n, odd, k.name()).isEqualTo(exact);
                    if (exact) assertThat(got).as("n %d odd %d %s", n, odd, k.name()).isEqualTo(ref);
                }
    }

    /**
     * The offset forms (a 16-bit gradient store packs one region of the flat gradient at a time):
     * n values from odd offsets into odd offsets, the vector kernels' bits equal to Half's, and nothing
     * outside [off, off + n) written.
     */
    @Test
    void packingAtOffsetsTouchesOnlyItsRange() {
        SplittableRandom r = new SplittableRandom(12);
        for (Precision p : new Precision[] {Precision.BF16, Precision.FP16})
            for (int n : SIZES)
                for (KernelSet k : new KernelSet[] {Kernels.scalar(1), Kernels.vector(1), Kernels.vector(2)}) {
                    int so = 1 + r.nextInt(7), dO = 3 + r.nextInt(5);
                    float[] x = new float[so + n + 5];
                    for (int i = 0; i < x.length; i++) x[i] = p.round(value(r));
                    short[] ref = new short[dO + n + 4], got = new short[dO + n + 4];
                    java.util.Arrays.fill(ref, (short) 0x5a5a);
                    java.util.Arrays.fill(got, (short) 0x5a5a);
                    assertThat(dev.lamina.tensor.Half.pack(x, so, ref, dO, n, p)).isTrue();
                    assertThat(k.pack16(x, so, got, dO, n, p)).as("%s n %d %s", p, n, k.name()).isTrue();
                    assertThat(got).as("%s n %d %s", p, n, k.name()).isEqualTo(ref);
                    float[] back = new float[n + 9];
                    java.util.Arrays.fill(back, 7f);
                    k.unpack16(got, dO, back, 2, n, p);
                    for (int i = 0; i < back.length; i++)
                        assertThat(Float.floatToRawIntBits(back[i])).as("%s n %d %s at %d", p, n, k.name(), i)
                                .isEqualTo(Float.floatToRawIntBits(i >= 2 && i < 2 + n ? x[so + i - 2] : 7f));
                }
    }

    /** Random floats of every magnitude, with NaNs, infinities, signed zeros, subnormals and exact ties mixed in. */
    private static float value(SplittableRandom r) {
        return switch (r.nextInt(12)) {
            case 0 -> Float.NaN;
            case 1 -> Float.intBitsToFloat(0x7fc00000 | r.nextInt(1 << 22)) * (r.nextBoolean() ? 1 : -1);
            case 2 -> r.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
            case 3 -> r.nextBoolean() ? 0f : -0f;
            case 4 -> Float.intBitsToFloat(r.nextInt(0x00800000));                        // float32 subnormal
            case 5 -> Float.intBitsToFloat((r.nextInt(0x7f7f) << 16) | 0x8000);           // a bf16 tie
            case 6 -> Float.intBitsToFloat(0x7f7f0000 | r.nextInt(1 << 16));              // near float32's max
            case 7 -> (float) (r.nextDouble() * 140_000 - 70_000);                         // around fp16's range
            case 8 -> (float) (r.nextDouble() * 1e-6);                                     // fp16 subnormals
            default -> Float.intBitsToFloat(r.nextInt());
        };
    }

    @Test
    void bf16RoundsToNearestEvenAndKeepsTheRange() {
        KernelSet k = Kernels.vector(1);
        float[] x = {1f + 0x1p-8f, 1f + 3 * 0x1p-8f, 1f + 0x1p-8f + 0x1p-20f, Float.MAX_VALUE, 1e-38f, -2.5f, Float.NaN};
        k.round(Tensor.of(x, x.length), Precision.BF16);
        assertThat(x[0]).isEqualTo(1f);                      // a tie: to the even 1
        assertThat(x[1]).isEqualTo(1f + 0x1p-6f);            // a tie: to the even 1 + 2^-6, not 1 + 2^-7
        assertThat(x[2]).isEqualTo(1f + 0x1p-7f);            // past the tie: up
        assertThat(x[3]).isEqualTo(Float.POSITIVE_INFINITY); // float32's max is past bf16's largest
        assertThat(x[4]).isEqualTo(Float.intBitsToFloat(Float.floatToRawIntBits(1e-38f) + 0x8000 & 0xffff0000));
        assertThat(x[5]).isEqualTo(-2.5f);
        assertThat(x[6]).isNaN();
    }

    @Test
    void fp16OverflowsAndUnderflowsWhereHalfPrecisionDoes() {
        float[] x = {65504f, 65519f, 65520f, -1e6f, 0x1p-24f, 0x1p-26f, 1f / 3};
        Kernels.vector(2).round(Tensor.of(x, x.length), Precision.FP16);
        assertThat(x[0]).isEqualTo(65504f);
        assertThat(x[1]).isEqualTo(65504f);
        assertThat(x[2]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(x[3]).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(x[4]).isEqualTo(0x1p-24f);                // the smallest subnormal
        assertThat(x[5]).isEqualTo(0f);                      // below half of it: zero
        assertThat(x[6]).isEqualTo(0.333251953125f);         // 1/3 to 11 significant bits
    }

    @Test
    void fp32LeavesEveryBit() {
        float[] x = {Float.intBitsToFloat(0x7fc12345), 1f / 3, -0f};
        float[] before = x.clone();
        Kernels.vector(1).round(Tensor.of(x, x.length), Precision.FP32);
        for (int i = 0; i < x.length; i++) assertThat(Float.floatToRawIntBits(x[i])).isEqualTo(Float.floatToRawIntBits(before[i]));
    }
}
