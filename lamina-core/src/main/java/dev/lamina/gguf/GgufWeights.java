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
import static dev.lamina.gguf.Dequantize.i8;
import static dev.lamina.gguf.Dequantize.scaleMin;
import static dev.lamina.gguf.Dequantize.u8;

/**
 * A GGUF tensor's quantized blocks as inference weights, without a float32 copy: Q8_0 and Q6_K as
 * 8-bit quants with a scale per block of 32 or 16 ({@link Q8Weights}), Q4_0 and Q4_K as 4-bit quants
 * with a scale per 32 or Q4_K's super-blocks ({@link Q4Weights}). The scales are the float32 values
 * ggml's dequantize computes (Q6_K's d·sc here, Q4_K's d·sc and dmin·min in the kernels): Q8Weights'
 * products equal those with the file's dequantized weights bit for bit, Q4Weights' (block by block,
 * as llama.cpp computes them) agree to float rounding. Beside them, a quantized file's F16 and BF16 matrices keep their 16 bits
 * ({@link HalfWeights}: the products of float32 weights holding the same values, bit for bit). Other types are dequantized
 * to float32 by the caller.
 */
final class GgufWeights {
    private GgufWeights() {}

    /** Whether inference computes with this type's blocks as they are. */
    static boolean kept(GgmlType t) {
        return switch (t) {
            case Q8_0, Q6_K, Q4_0, Q4_K -> true;
            default -> false;
        };
    }

    /** A 16-bit type, kept as it is beside a quantized file's blocks (a matrix whose width the blocks do not divide). */
    static boolean half(GgmlType t) { return t == GgmlType.F16 || t == GgmlType.BF16; }

    /**
     * Bytes of each array inference holds for an out × in matrix of kept type t ({@link #of}): the
     * kernels' form of the blocks (Q8_0 a byte and a float scale per 32: 9 bits a weight; Q6_K as 8-bit
     * blocks of 16: 10; Q4_0 a nibble and a float per 32: 5; Q4_K 4.75), 16-bit values as they are;
     * rows padded to this machine's panels.
     */
    static long[] heldArrays(GgmlType t, int out, int in) {
        return switch (t) {
            case Q8_0 -> Q8Weights.arrays(out, in, 32);
            case Q6_K -> Q8Weights.arrays(out, in, 16);
            case Q4_0 -> Q4Weights.arrays(out, in, false);
            case Q4_K -> Q4Weights.arrays(out, in, true);
            case F16, BF16 -> HalfWeights.arrays(out, in);
            default -> throw new IllegalArgumentException(t + " blocks are not kept");
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
            case Q8_0 -> Q8Weights.pack(pool, out, in, 32, (o, q, d) -> q8_0(data, row.applyAsInt(o) * rowBytes, in, q, d), bias);
            case Q6_K -> Q8Weights.pack(pool, out, in, 16, (o, q, d) -> q6_k(data, row.applyAsInt(o) * rowBytes, in, q, d), bias);
            case Q4_0 -> Q4Weights.pack(pool, out, in, (o, q, d) -> q4_0(data, row.applyAsInt(o) * rowBytes, in, q, d), bias);
            case Q4_K -> Q4Weights.packSuper(pool, out, in,
                    (o, q, sc, mn, ds, ms) -> q4_k(data, row.applyAsInt(o) * rowBytes, in, q, sc, mn, ds, ms), bias);
            case F16, BF16 -> HalfWeights.of(pool, t == GgmlType.F16 ? Precision.FP16 : Precision.BF16, out, in,
                    (o, bits) -> MemorySegment.copy(data, Dequantize.U16, row.applyAsInt(o) * rowBytes, bits, 0, in), bias);
            default -> throw new IllegalArgumentException(t + " blocks are not kept; dequantize them");
        };
    }

    /** Q8_0: d f16, then 32 int8 quants: w = q·d. */
    private static void q8_0(MemorySegment s, long at, int in, byte[] q, float[] d) {
        for (int j = 0; j < in / 32; j++) {
            long b = at + j * 34L;
            d[j] = f16(s, b);
            for (int i = 0; i < 32; i++) q[j * 32 + i] = (byte) i8(s, b + 2 + i);
        }
    }

    /** Q6_K super-blocks of 256: quant q − 32 and, per 16 values, the scale d·sc. */
    private static void q6_k(MemorySegment s, long at, int in, byte[] q, float[] d) {
        for (int j = 0; j < in / 256; j++) {
            long b = at + j * 210L;
            float dd = f16(s, b + 208);
            for (int sub = 0; sub < 16; sub++) d[j * 16 + sub] = dd * i8(s, b + 192 + sub);
            for (int idx = 0; idx < 256; idx++) {
                int h = idx >> 7, r = idx & 127;
                int ql = (u8(s, b + h * 64 + (r & 63)) >> (4 * (r >> 6))) & 0xF;
                int qh = (u8(s, b + 128 + h * 32 + (r & 31)) >> (2 * (r >> 5))) & 3;
                q[j * 256 + idx] = (byte) ((ql | qh << 4) - 32);
            }
        }
    }

    /** Q4_0: d f16, 16 bytes (value i low nibble, value 16 + i high): w = (q − 8)·d. */
    private static void q4_0(MemorySegment s, long at, int in, byte[] q, float[] d) {
        for (int j = 0; j < in / 32; j++) {
            long b = at + j * 18L;
            d[j] = f16(s, b);
            for (int i = 0; i < 16; i++) {
                int v = u8(s, b + 2 + i);
                q[j * 32 + i] = (byte) (v & 0xF);
                q[j * 32 + 16 + i] = (byte) (v >> 4);
            }
        }
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
