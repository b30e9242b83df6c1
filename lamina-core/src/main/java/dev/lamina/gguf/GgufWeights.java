package dev.lamina.gguf;

import dev.lamina.kernels.HalfWeights;
import dev.lamina.kernels.LinearWeights;
import dev.lamina.kernels.Q4Weights;
import dev.lamina.kernels.Q8Weights;
import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Precision;
import dev.lamina.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.function.IntUnaryOperator;

import static dev.lamina.gguf.Dequantize.f16;
import static dev.lamina.gguf.Dequantize.scaleMin;
import static dev.lamina.gguf.Dequantize.u8;

/**
 * A GGUF tensor's quantized blocks as inference weights, without a float32 copy: Q4_0 and Q4_K as
 * 4-bit quants with a scale per 32 or Q4_K's super-blocks ({@link Q4Weights}); every other block
 * type (Q8_0, Q6_K, Q5_0, Q5_1, Q5_K, Q4_1, Q3_K, Q2_K, IQ4_NL, IQ4_XS) as its quants widened to a
 * byte with a scale per run of 32 or 16 and, for the types with minimums, an additive term
 * ({@link Q8Weights}, decoded by {@link Dequantize#blocks}). The scales and terms are the float32
 * values ggml's dequantize computes, so each held weight is the file's dequantized value bit for bit;
 * the products are summed block by block, as llama.cpp computes them, and agree with the dequantized
 * model's to float rounding. Beside them, a quantized file's F16 and BF16 matrices keep their 16 bits
 * ({@link HalfWeights}: the products of float32 weights holding the same values, bit for bit). Other
 * types (F32) are read as float32 by the caller.
 */
final class GgufWeights {
    private GgufWeights() {}

    /** Whether inference computes with this type's blocks as they are (every block type the reader dequantizes). */
    static boolean kept(GgmlType t) { return Dequantize.decodes(t); }

    /** A 16-bit type, kept as it is beside a quantized file's blocks (a matrix whose width the blocks do not divide). */
    static boolean half(GgmlType t) { return t == GgmlType.F16 || t == GgmlType.BF16; }

    /**
     * Bytes of each array inference holds for an out × in matrix of kept type t ({@link #of}): the
     * kernels' form of the blocks (Q4_0 a nibble and a float scale per 32: 5 bits a weight; Q4_K 4.75;
     * the byte forms a byte a weight and a float per run: Q8_0, Q5_0, IQ4_NL and IQ4_XS 9, Q6_K and Q3_K
     * 10, Q4_1, Q5_1 and Q5_K 10 with their terms, Q2_K 12), 16-bit values as they are; rows padded to
     * this machine's panels.
     */
    static long[] heldArrays(GgmlType t, int out, int in) {
        return switch (t) {
            case Q4_0 -> Q4Weights.arrays(out, in, false);
            case Q4_K -> Q4Weights.arrays(out, in, true);
            case F16, BF16 -> HalfWeights.arrays(out, in);
            default -> {
                if (!kept(t)) throw new IllegalArgumentException(t + " blocks are not kept");
                yield Q8Weights.arrays(out, in, Dequantize.perScale(t), Dequantize.hasMins(t));
            }
        };
    }

    /**
     * Weights [out, in] from a tensor's bytes: output row o is the file's row row.applyAsInt(o)
     * (a slice of a fused tensor, or llama.cpp's permuted q and k). bias[out] may be null.
     */
    static LinearWeights of(Parallel pool, GgmlType t, MemorySegment data, int out, int in, IntUnaryOperator row, Tensor bias) {
        if (in % t.blockSize != 0) throw new IllegalArgumentException(in + " inputs are not whole " + t + " blocks");
        long rowBytes = t.bytes(in);
        return switch (t) {
            case Q4_0 -> Q4Weights.pack(pool, out, in, (o, q, d) -> {
                Dequantize.blocks(t, data, row.applyAsInt(o) * rowBytes, in, q, 0, d, null, 0);
                for (int k = 0; k < in; k++) q[k] += 8;                  // Q4Weights holds the nibble, w = d·(q − 8)
            }, bias);
            case Q4_K -> Q4Weights.packSuper(pool, out, in,
                    (o, q, sc, mn, ds, ms) -> q4_k(data, row.applyAsInt(o) * rowBytes, in, q, sc, mn, ds, ms), bias);
            case F16, BF16 -> HalfWeights.of(pool, t == GgmlType.F16 ? Precision.FP16 : Precision.BF16, out, in,
                    (o, bits) -> MemorySegment.copy(data, Dequantize.U16, row.applyAsInt(o) * rowBytes, bits, 0, in), bias);
            default -> {
                if (!kept(t)) throw new IllegalArgumentException(t + " blocks are not kept; dequantize them");
                yield Q8Weights.pack(pool, out, in, Dequantize.perScale(t), Dequantize.hasMins(t),
                        (o, q, d, m) -> Dequantize.blocks(t, data, row.applyAsInt(o) * rowBytes, in, q, 0, d, m, 0), bias);
            }
        };
    }

    /** Q4_K super-blocks of 256: d and dmin, per 32 values 6-bit sc and min: w = (d·sc)·q − dmin·min. */
    private static void q4_k(MemorySegment s, long at, int in, byte[] q, byte[] sc, byte[] mn, float[] ds, float[] ms) {
        for (int j = 0; j < in / 256; j++) {
            long b = at + j * 144L;
            ds[j] = f16(s, b);
            ms[j] = f16(s, b + 2);
            for (int sub = 0; sub < 8; sub++) {
                sc[j * 8 + sub] = (byte) scaleMin(s, b + 4, sub, false);
                mn[j * 8 + sub] = (byte) scaleMin(s, b + 4, sub, true);
                for (int l = 0; l < 32; l++)
                    q[j * 256 + sub * 32 + l] = (byte) ((u8(s, b + 16 + (sub >> 1) * 32 + l) >> (4 * (sub & 1))) & 0xF);
            }
        }
    }
}
