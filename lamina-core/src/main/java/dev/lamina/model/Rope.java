package dev.lamina.model;

/**
 * Rotary position tables: cos and sin [positions, hd/2] of p·θ^(−2i/hd) (stretched by the config's
 * {@link RopeScaling}, times its attention factor), the one place the formula is written. The decoder keeps the table of max_position_embeddings; the inference runner asks for
 * a longer one when a sliding-window model runs past it.
 */
public record Rope(int positions, float[] cos, float[] sin) {
    /** The table of the layers without one of their own (every layer in most models). */
    public static Rope of(ModelConfig c, int positions) {
        int hd = c.headDim();
        RopeScaling scaling = c.ropeScaling();
        if (positions > c.contextLimit())
            throw new dev.lamina.io.LaminaException("the model runs up to " + c.contextLimit() + " positions" + (scaling == null ? ""
                    : ": its RoPE scaling (" + scaling.type().name().toLowerCase(java.util.Locale.ROOT)
                    + ") changes every position's frequencies past that length, which a KV cache cannot follow"));
        double[] inv = scaling == null ? RopeScaling.plain(c.ropeTheta(), hd) : scaling.invFreq(c.ropeTheta(), hd);
        return table(inv, scaling == null ? 1 : scaling.attentionScale(), positions);
    }

    /** The windowed layers' own table, plain RoPE of base rope_local_base_freq (Gemma 3); null when the config has none. */
    public static Rope local(ModelConfig c, int positions) {
        return c.ropeLocalBaseFreq() == null ? null : table(RopeScaling.plain(c.ropeLocalBaseFreq(), c.headDim()), 1, positions);
    }

    private static Rope table(double[] inv, double scale, int positions) {
        int half = inv.length;
        float[] cos = new float[positions * half], sin = new float[positions * half];
        for (int p = 0; p < positions; p++)
            for (int i = 0; i < half; i++) {
                double angle = p * inv[i];
                cos[p * half + i] = (float) (Math.cos(angle) * scale);
                sin[p * half + i] = (float) (Math.sin(angle) * scale);
            }
        return new Rope(positions, cos, sin);
    }
}
