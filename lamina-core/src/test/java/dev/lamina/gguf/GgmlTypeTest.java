package dev.lamina.gguf;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The block formats against the gguf Python package (fixture: src/test/python/make_gguf_quant_fixtures.py):
 * dequantization bit for bit for every type Lamina reads, quantization byte for byte for the
 * types gguf.quants implements, and round-trip error bounds for the K-quants.
 */
class GgmlTypeTest {
    static final Path FIXTURE = Path.of("src/test/resources/gguf/quants.gguf");
    static GgufFile file;

    @BeforeAll static void open() { file = GgufFile.open(FIXTURE); }
    @AfterAll static void close() { file.close(); }

    @ParameterizedTest
    @EnumSource(names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
    void dequantizesBitForBitAsGguf(GgmlType type) {
        GgufFile.Tensor t = file.info(type.name());
        assertThat(t.type()).isEqualTo(type);
        assertThat(file.shape(type.name())).isEqualTo(file.shape(type.name() + ".ref"));
        float[] ours = file.floats(type.name()), ref = file.floats(type.name() + ".ref");
        assertThat(ref).hasSize(ours.length);
        int differ = 0;
        for (int i = 0; i < ours.length; i++) if (Float.floatToRawIntBits(ours[i]) != Float.floatToRawIntBits(ref[i])) differ++;
        assertThat(differ).as("values differing from gguf.quants.dequantize").isZero();
        assertThat(Arrays.stream(box(ref)).distinct().count()).as("the fixture is not trivial").isGreaterThan(50);
    }

    @ParameterizedTest
    @EnumSource(names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"})
    void quantizesByteForByteAsGguf(GgmlType type) {
        float[] src = file.floats("src");
        MemorySegment expected = file.raw(type.name());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ours = arena.allocate(type.bytes(src.length));
            type.quantize(src, 0, src.length, ours);
            long at = ours.mismatch(expected);
            assertThat(at).as("first differing byte (block " + (at / type.typeSize) + ")").isEqualTo(-1L);
        }
    }

    /** K-quants byte for byte as ggml's quantize_row_q*_K_ref (fixture: src/test/python/make_gguf_kquant_fixture.py). */
    @ParameterizedTest
    @EnumSource(names = {"Q4_K", "Q5_K", "Q6_K"})
    void kQuantsMatchGgmlsReferenceCode(GgmlType type) {
        try (GgufFile k = GgufFile.open(Path.of("src/test/resources/gguf/kquants.gguf")); Arena arena = Arena.ofConfined()) {
            float[] src = k.floats("src");
            MemorySegment ours = arena.allocate(type.bytes(src.length));
            type.quantize(src, 0, src.length, ours);
            long at = ours.mismatch(k.raw(type.name()));
            assertThat(at).as("first differing byte (super-block " + (at / type.typeSize) + ")").isEqualTo(-1L);
        }
    }

    /**
     * Quantize then dequantize: each value is off by at most one quant step of its 32-value block
     * (plus the rounding of the f16 scale); K-quants also by the 6-bit rounding of the sub-block
     * scales and minimums, a share of their super-block's range.
     */
    @ParameterizedTest
    @EnumSource(names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void roundTripErrorIsWithinTheQuantStep(GgmlType type) {
        float[] src = file.floats("src");
        float[] back = roundTrip(type, src);
        int levels = switch (type) {
            case Q8_0 -> 255;
            case Q4_0, Q4_1, Q4_K -> 15;
            case Q5_0, Q5_1, Q5_K -> 31;
            case Q6_K -> 63;
            default -> throw new IllegalStateException();
        };
        double sumSq = 0, errSq = 0;
        for (int sb = 0; sb < src.length; sb += 256) {
            double superRange = range(src, sb, 256);
            for (int b = sb; b < sb + 256; b += 32) {
                double range = range(src, b, 32);
                double bound = range / levels + 0.01 * range + levels * 0x1p-25 /* f16 scale near zero */ + (type.blockSize == 256 ? superRange / 60 : 0);
                for (int i = b; i < b + 32; i++) {
                    assertThat((double) Math.abs(back[i] - src[i])).as(type + " value " + i).isLessThanOrEqualTo(bound);
                    sumSq += (double) src[i] * src[i];
                    errSq += (double) (back[i] - src[i]) * (back[i] - src[i]);
                }
            }
        }
        assertThat(Math.sqrt(errSq / sumSq)).as("relative RMS error").isLessThan(type == GgmlType.Q8_0 ? 0.01 : 0.15);
    }

    private static double range(float[] x, int from, int n) {
        float min = 0, max = 0;
        for (int i = from; i < from + n; i++) { min = Math.min(min, x[i]); max = Math.max(max, x[i]); }
        return (double) max - min;
    }

    @Test
    void kQuantsOfZerosAreZero() {
        for (GgmlType t : new GgmlType[] {GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K})
            for (float v : roundTrip(t, new float[256])) assertThat(v == 0).isTrue();
    }

    @Test
    void nearestIntRoundsHalfToEvenLikeGgml() {
        assertThat(Quantize.nearestInt(2.5f)).isEqualTo(2);
        assertThat(Quantize.nearestInt(3.5f)).isEqualTo(4);
        assertThat(Quantize.nearestInt(-2.5f)).isEqualTo(-2);
        assertThat(Quantize.nearestInt(-0.7f)).isEqualTo(-1);
        assertThat(Quantize.nearestInt(63.49f)).isEqualTo(63);
    }

    static float[] roundTrip(GgmlType type, float[] src) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q = arena.allocate(type.bytes(src.length));
            type.quantize(src, 0, src.length, q);
            float[] back = new float[src.length];
            type.dequantize(q, back, 0, src.length);
            return back;
        }
    }

    private static Float[] box(float[] a) {
        Float[] b = new Float[a.length];
        for (int i = 0; i < a.length; i++) b[i] = a[i];
        return b;
    }

    @Test
    void sizesMatchGgml() {
        assertThat(GgmlType.Q4_K.bytes(512)).isEqualTo(288);
        assertThat(GgmlType.of(14)).isEqualTo(GgmlType.Q6_K);
        assertThat(GgmlType.of(4)).isNull();   // Q4_2, removed from ggml
        assertThat(ValueLayout.JAVA_BYTE.byteSize()).isEqualTo(1);
    }
}
