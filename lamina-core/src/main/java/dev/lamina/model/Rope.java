package dev.lamina.model;

/**
 * Rotary position tables: cos and sin [positions, hd/2] of p·θ^(−2i/hd) (stretched by the config's
 * {@link RopeScaling}, times its attention factor), the one place the formula is written. The decoder keeps the table of max_position_embeddings; the inference runner asks for
 * a longer one when a sliding-window model runs past it.
 */
public record Rope(int positions, float[] cos, float[] sin) {
    public static Rope of(ModelConfig c, int positions) {
        int hd = c.headDim(), half = hd / 2;
        RopeScaling scaling = c.ropeScaling();
        if (scaling != null && scaling.type() == RopeScaling.Type.DYNAMIC && positions > c.maxPositionEmbeddings())
            throw new dev.lamina.io.LaminaException("dynamic RoPE scaling past max_position_embeddings (" + c.maxPositionEmbeddings()
                    + ") changes the frequencies with the sequence length, which Lamina does not implement");
        double[] inv = scaling == null ? RopeScaling.plain(c.ropeTheta(), hd) : scaling.invFreq(c.ropeTheta(), hd);
        double scale = scaling == null ? 1 : scaling.attentionScale();
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
