package dev.lamina.gguf;

import dev.lamina.io.LaminaException;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The weight formats of a GGUF export and which block type each tensor gets (docs/INTEROP.md).
 *
 * <p>Vectors (norms, biases) and GPT-2's position table stay F32, as llama.cpp's converter and
 * quantizer keep them. The plain types store every other matrix in that type, as
 * {@code convert_hf_to_gguf.py --outtype} and {@code llama-quantize --pure} do. The _m mixes follow
 * llama.cpp's recipe ({@code llama_tensor_get_type} in src/llama-quant.cpp): the output head (and
 * the embeddings when the head is tied to them) Q6_K, attn_v and ffn_down Q6_K in the layers where
 * {@link #moreBits} holds, GPT-2's fused attn_qkv one step up (Q5_K for q4_k_m, Q6_K for q5_k_m),
 * the rest Q4_K or Q5_K. A matrix whose rows are not whole blocks falls back as llama.cpp does:
 * Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0, a 32-value type to F16.
 */
public enum GgufQuantType {
    F32(GgmlType.F32, 0), F16(GgmlType.F16, 1), BF16(GgmlType.BF16, 32), Q8_0(GgmlType.Q8_0, 7), Q4_0(GgmlType.Q4_0, 2),
    Q4_1(GgmlType.Q4_1, 3), Q5_0(GgmlType.Q5_0, 8), Q5_1(GgmlType.Q5_1, 9), Q4_K(GgmlType.Q4_K, 14), Q5_K(GgmlType.Q5_K, 16),
    Q6_K(GgmlType.Q6_K, 18), Q4_K_M(GgmlType.Q4_K, 15), Q5_K_M(GgmlType.Q5_K, 17);

    /** The type of most matrices. */
    public final GgmlType base;
    /** llama.cpp's llama_ftype, written as general.file_type. */
    public final int fileType;

    GgufQuantType(GgmlType base, int fileType) {
        this.base = base;
        this.fileType = fileType;
    }

    public static GgufQuantType parse(String s) {
        for (GgufQuantType t : values()) if (t.label().equals(s.toLowerCase(Locale.ROOT))) return t;
        throw LaminaException.field("type", "type: unknown GGUF type '" + s + "'; choose one of " + Arrays.stream(values()).map(GgufQuantType::label).collect(Collectors.joining(", ")));
    }

    public String label() { return name().toLowerCase(Locale.ROOT); }

    boolean isMix() { return this == Q4_K_M || this == Q5_K_M; }

    /** llama.cpp's use_more_bits: the first and last eighth of the layers and every third one between. */
    static boolean moreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }

    /**
     * The block type of a tensor. name is the GGUF name, shape row-major (its last dimension is a
     * row), layer the block index (-1 for model-wide tensors), tiedHead whether token_embd is also the head.
     */
    GgmlType typeFor(String name, int[] shape, int layer, int layers, boolean tiedHead) {
        if (shape.length < 2 || name.startsWith("position_embd.") || !name.endsWith(".weight")) return GgmlType.F32;
        if (name.endsWith(".ffn_gate_inp.weight")) return GgmlType.F32;      // the router, kept as llama-quantize keeps it
        if (!base.canQuantize() || base.blockSize == 1) return base;
        GgmlType t = base;
        if (isMix()) {
            boolean head = name.equals("output.weight") || (tiedHead && name.equals("token_embd.weight"));
            if (head) t = shape[shape.length - 1] % base.blockSize != 0 ? GgmlType.Q8_0 : GgmlType.Q6_K;
            else if ((name.endsWith(".attn_v.weight") || name.endsWith(".ffn_down.weight") || name.endsWith(".ffn_down_exps.weight"))
                    && moreBits(layer, layers)) t = GgmlType.Q6_K;
            else if (name.endsWith(".attn_qkv.weight")) t = this == Q4_K_M ? GgmlType.Q5_K : GgmlType.Q6_K;
        }
        return fallback(t, shape[shape.length - 1]);
    }

    private static GgmlType fallback(GgmlType t, int row) {
        if (row % t.blockSize == 0) return t;
        GgmlType f = switch (t) {
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            case Q6_K -> GgmlType.Q8_0;
            default -> t;
        };
        return row % f.blockSize == 0 ? f : GgmlType.F16;
    }
}
