package dev.lamina.model;

/**
 * Rotary position tables: cos and sin [positions, hd/2] of p·θ^(−2i/hd), the one place the formula
 * is written. The decoder keeps the table of max_position_embeddings; the inference runner asks for
 * a longer one when a sliding-window model runs past it.
 */
public record Rope(int positions, float[] cos, float[] sin) {
    public static Rope of(ModelConfig c, int positions) {
        int hd = c.headDim(), half = hd / 2;
        float[] cos = new float[positions * half], sin = new float[positions * half];
        for (int p = 0; p < positions; p++)
            for (int i = 0; i < half; i++) {
                double angle = p * Math.pow(c.ropeTheta(), -2.0 * i / hd);
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
        return new Rope(positions, cos, sin);
    }
}
