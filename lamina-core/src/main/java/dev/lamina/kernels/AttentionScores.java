package dev.lamina.kernels;

/**
 * How a layer's attention scores are formed before the softmax: s = scale·(q·k); then, with a
 * soft cap c > 0, c·tanh(s/c) (Gemma 2); then the causal mask, narrowed to a sliding window when
 * window > 0: position i sees j with i − window &lt; j ≤ i.
 *
 * @param window  0 for none, else W
 * @param scale   1/sqrt(hd) in most models (Gemma 2: 1/sqrt(query_pre_attn_scalar))
 * @param softcap 0 for none, else c
 */
public record AttentionScores(int window, float scale, float softcap) {
    public AttentionScores {
        if (!(scale > 0) || !(softcap >= 0)) throw new IllegalArgumentException("scale must be positive and softcap >= 0");
    }

    /** Plain causal attention scaled by 1/sqrt(hd), with a window (0 for none). */
    public static AttentionScores causal(int hd, int window) { return new AttentionScores(window, (float) (1.0 / Math.sqrt(hd)), 0f); }
}
