package dev.lamina.model;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * How a model stretches its rotary frequencies past the context it was pre-trained on, as Hugging
 * Face's {@code rope_scaling} (transformers 4) or {@code rope_parameters} (5) names it. Each type
 * computes inv_freq as transformers' modeling_rope_utils does:
 * <ul>
 *   <li>{@code linear}: θ^(−2i/d) / factor (position interpolation)</li>
 *   <li>{@code dynamic}: NTK-aware; the base grows only once a sequence runs past
 *       max_position_embeddings, so within the context Lamina runs it is plain RoPE</li>
 *   <li>{@code llama3}: Llama 3.1's: low frequencies divided by factor, high ones kept, a smooth ramp between</li>
 *   <li>{@code yarn}: a ramp between interpolated and extrapolated frequencies over [β_fast, β_slow]
 *       rotations, and cos/sin multiplied by an attention factor (0.1·ln(factor) + 1 by default)</li>
 *   <li>{@code longrope} (Phi-3 128k, Phi-3.5): each frequency divided by its short factor, cos/sin
 *       multiplied by sqrt(1 + ln(factor)/ln(original)) by default. Past original_max_position_embeddings
 *       transformers switches every position to the long factors, which a KV cache cannot follow, so
 *       Lamina runs such a model up to that length ({@link ModelConfig#contextLimit()}) and keeps the
 *       long factors only to write them back.</li>
 * </ul>
 * Other types are refused by name.
 */
public record RopeScaling(Type type, double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings,
                          Double attentionFactor, double betaFast, double betaSlow, Double mscale, Double mscaleAllDim,
                          boolean truncate, java.util.List<Double> freqFactors, java.util.List<Double> longFactors) {

    /**
     * FREQ_FACTORS: each frequency divided by its own factor, as llama.cpp stores Llama 3's scaling
     * (rope_freqs). LONGROPE: freqFactors holds the short factors, longFactors the long ones.
     */
    public enum Type { LINEAR, DYNAMIC, LLAMA3, YARN, FREQ_FACTORS, LONGROPE }

    /** The divisors of llama.cpp's rope_freqs tensor, one per frequency. */
    public static RopeScaling factors(java.util.List<Double> divisors) {
        return new RopeScaling(Type.FREQ_FACTORS, 1, 0, 0, 0, null, 32, 1, null, null, true, java.util.List.copyOf(divisors), null);
    }

    public RopeScaling {
        if (type == null) throw new LaminaException("rope_scaling: rope_type must be set");
        if (!(factor >= 1)) throw LaminaException.field("rope_scaling.factor", "rope_scaling.factor must be >= 1, got " + factor);
        if (type == Type.LLAMA3 && !(highFreqFactor > lowFreqFactor && lowFreqFactor > 0))
            throw LaminaException.field("rope_scaling", "rope_scaling needs high_freq_factor > low_freq_factor > 0, got "
                    + highFreqFactor + " and " + lowFreqFactor);
        if ((type == Type.LLAMA3 || type == Type.YARN || type == Type.LONGROPE) && originalMaxPositionEmbeddings < 1)
            throw LaminaException.field("rope_scaling.original_max_position_embeddings",
                    "rope_scaling.original_max_position_embeddings must be a positive integer for " + lower(type));
    }

    public static RopeScaling linear(double factor) { return new RopeScaling(Type.LINEAR, factor, 0, 0, 0, null, 32, 1, null, null, true, null, null); }

    public static RopeScaling llama3(double factor, double low, double high, int originalMax) {
        return new RopeScaling(Type.LLAMA3, factor, low, high, originalMax, null, 32, 1, null, null, true, null, null);
    }

    /** inv_freq[i] = the rotation per position of pair i of a head of hd dimensions, for base theta. */
    public double[] invFreq(double theta, int hd) {
        int half = hd / 2;
        double[] inv = plain(theta, hd);
        switch (type) {
            case DYNAMIC -> { }                                        // plain within max_position_embeddings
            case FREQ_FACTORS -> {
                if (freqFactors.size() != half)
                    throw new LaminaException("rope_scaling: " + freqFactors.size() + " frequency factors for heads of " + hd + " dimensions");
                for (int i = 0; i < half; i++) inv[i] /= freqFactors.get(i);
            }
            case LINEAR -> { for (int i = 0; i < half; i++) inv[i] /= factor; }
            case LONGROPE -> {
                if (freqFactors.size() != half)
                    throw new LaminaException("rope_scaling: " + freqFactors.size() + " short factors for heads of " + hd + " dimensions (needs " + half + ")");
                for (int i = 0; i < half; i++) inv[i] /= freqFactors.get(i);
            }
            case LLAMA3 -> {
                double lowWavelen = originalMaxPositionEmbeddings / lowFreqFactor, highWavelen = originalMaxPositionEmbeddings / highFreqFactor;
                for (int i = 0; i < half; i++) {
                    double wavelen = 2 * Math.PI / inv[i];
                    if (wavelen > lowWavelen) inv[i] /= factor;
                    else if (wavelen >= highWavelen) {                 // medium: interpolate
                        double smooth = (originalMaxPositionEmbeddings / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                        inv[i] = (1 - smooth) * inv[i] / factor + smooth * inv[i];
                    }
                }
            }
            case YARN -> {
                double low = correctionDim(betaFast, hd, theta), high = correctionDim(betaSlow, hd, theta);
                if (truncate) { low = Math.floor(low); high = Math.ceil(high); }
                low = Math.max(low, 0);
                high = Math.min(high, hd - 1);
                if (low == high) high += 0.001;                        // as transformers: no division by zero
                for (int i = 0; i < half; i++) {
                    double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
                    double extrapolation = 1 - ramp;                   // share of the unscaled frequency
                    inv[i] = inv[i] / factor * (1 - extrapolation) + inv[i] * extrapolation;
                }
            }
        }
        return inv;
    }

    /** Plain RoPE's inv_freq[i] = θ^(−2i/hd), i < hd/2: what every scaling starts from. */
    public static double[] plain(double theta, int hd) {
        double[] inv = new double[hd / 2];
        for (int i = 0; i < inv.length; i++) inv[i] = Math.pow(theta, -2.0 * i / hd);
        return inv;
    }

    private double correctionDim(double rotations, int hd, double theta) {
        return hd * Math.log(originalMaxPositionEmbeddings / (rotations * 2 * Math.PI)) / (2 * Math.log(theta));
    }

    /** What cos and sin are multiplied by: yarn's attention factor, 1 for the others. */
    public double attentionScale() {
        if (type == Type.LONGROPE) {
            if (attentionFactor != null) return attentionFactor;
            return factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(originalMaxPositionEmbeddings));
        }
        if (type != Type.YARN) return 1;
        if (attentionFactor != null) return attentionFactor;
        if (mscale != null && mscaleAllDim != null && mscale != 0 && mscaleAllDim != 0)
            return yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim);
        return yarnMscale(factor, 1);
    }

    private static double yarnMscale(double scale, double m) { return scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1; }

    /** The Hugging Face form: {"rope_type": ..., "factor": ..., ...} with the fields the type reads. */
    public ObjectNode toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("rope_type", lower(type));
        o.put("factor", factor);
        switch (type) {
            case LINEAR, DYNAMIC -> { }
            case FREQ_FACTORS -> { o.remove("factor"); var a = o.putArray("freq_factors"); freqFactors.forEach(a::add); }
            case LONGROPE -> {
                freqFactors.forEach(o.putArray("short_factor")::add);
                longFactors.forEach(o.putArray("long_factor")::add);
                o.put("original_max_position_embeddings", originalMaxPositionEmbeddings);
                if (attentionFactor != null) o.put("attention_factor", attentionFactor);
            }
            case LLAMA3 -> o.put("low_freq_factor", lowFreqFactor).put("high_freq_factor", highFreqFactor)
                    .put("original_max_position_embeddings", originalMaxPositionEmbeddings);
            case YARN -> {
                o.put("original_max_position_embeddings", originalMaxPositionEmbeddings);
                o.put("beta_fast", betaFast).put("beta_slow", betaSlow);
                if (attentionFactor != null) o.put("attention_factor", attentionFactor);
                if (mscale != null) o.put("mscale", mscale);
                if (mscaleAllDim != null) o.put("mscale_all_dim", mscaleAllDim);
                if (!truncate) o.put("truncate", false);
            }
        }
        return o;
    }

    private static final Map<Type, Set<String>> FIELDS = Map.of(
            Type.LINEAR, Set.of("factor"),
            Type.DYNAMIC, Set.of("factor", "original_max_position_embeddings"),
            Type.LLAMA3, Set.of("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
            Type.YARN, Set.of("factor", "original_max_position_embeddings", "attention_factor", "beta_fast", "beta_slow",
                    "mscale", "mscale_all_dim", "truncate"),
            Type.FREQ_FACTORS, Set.of("freq_factors"),
            Type.LONGROPE, Set.of("factor", "original_max_position_embeddings", "attention_factor", "short_factor", "long_factor"));

    /**
     * Reads a rope_scaling object (without its rope_type/type and rope_theta, which the caller reads);
     * where names it in errors, e.g. "config.json: rope_scaling". maxPositions stands in for an absent
     * original_max_position_embeddings of yarn, as transformers does.
     */
    public static RopeScaling fromJson(String type, JsonNode o, int maxPositions, String where) {
        Type t;
        try {
            t = Type.valueOf(type.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new LaminaException(where + " has rope_type '" + type + "': Lamina implements default, linear, dynamic, llama3, yarn and longrope");
        }
        for (var e : o.properties()) {
            String k = e.getKey();
            if (k.equals("rope_type") || k.equals("type") || k.equals("rope_theta") || k.equals("partial_rotary_factor")) continue;
            if (!FIELDS.get(t).contains(k)) throw new LaminaException(where + "." + k + " is not supported with rope_type " + type);
        }
        if (t == Type.FREQ_FACTORS) {                                  // Lamina's own config.json (from a GGUF's rope_freqs)
            JsonNode a = o.get("freq_factors");
            if (a == null || !a.isArray() || a.isEmpty()) throw new LaminaException(where + ".freq_factors must be a list of numbers");
            java.util.List<Double> l = new java.util.ArrayList<>();
            for (JsonNode v : a) {
                if (!v.isNumber() || !(v.doubleValue() > 0)) throw new LaminaException(where + ".freq_factors must hold positive numbers, got " + v);
                l.add(v.doubleValue());
            }
            return factors(l);
        }
        if (t == Type.LONGROPE) {
            JsonNode om = o.get("original_max_position_embeddings");
            if (om == null || !om.isIntegralNumber() || om.intValue() < 1)
                throw new LaminaException(where + ".original_max_position_embeddings must be a positive integer for rope_type longrope, got " + om);
            int original = om.intValue();
            double factor = num(o, "factor", (double) maxPositions / original, where);
            Double attention = o.has("attention_factor") && !o.get("attention_factor").isNull() ? num(o, "attention_factor", 1, where) : null;
            try {
                return new RopeScaling(Type.LONGROPE, Math.max(1, factor), 0, 0, original, attention, 32, 1, null, null, true,
                        numbers(o, "short_factor", where), numbers(o, "long_factor", where));
            } catch (LaminaException e) {
                throw new LaminaException(where + ": " + e.getMessage().replaceFirst("^rope_scaling[.a-z_]*: ", ""));
            }
        }
        double factor = num(o, "factor", Double.NaN, where);
        if (Double.isNaN(factor)) throw new LaminaException(where + ".factor is required for rope_type " + type);
        int original = o.has("original_max_position_embeddings") && !o.get("original_max_position_embeddings").isNull()
                ? (int) num(o, "original_max_position_embeddings", 0, where) : t == Type.YARN ? maxPositions : 0;
        if (t == Type.LLAMA3 && original == 0) throw new LaminaException(where + ".original_max_position_embeddings is required for rope_type llama3");
        Double attention = o.has("attention_factor") && !o.get("attention_factor").isNull() ? num(o, "attention_factor", 1, where) : null;
        Double mscale = o.has("mscale") && !o.get("mscale").isNull() ? num(o, "mscale", 1, where) : null;
        Double mscaleAll = o.has("mscale_all_dim") && !o.get("mscale_all_dim").isNull() ? num(o, "mscale_all_dim", 1, where) : null;
        JsonNode tr = o.get("truncate");
        if (tr != null && !tr.isNull() && !tr.isBoolean()) throw new LaminaException(where + ".truncate must be true or false, got " + tr);
        double betaFast = num(o, "beta_fast", 0, where), betaSlow = num(o, "beta_slow", 0, where);
        try {
            return new RopeScaling(t, factor, num(o, "low_freq_factor", 0, where), num(o, "high_freq_factor", 0, where), original,
                    attention, betaFast == 0 ? 32 : betaFast, betaSlow == 0 ? 1 : betaSlow, mscale, mscaleAll,   // transformers: `or 32`, `or 1`
                    tr == null || tr.isNull() || tr.booleanValue(), null, null);
        } catch (LaminaException e) {
            throw new LaminaException(where + ": " + e.getMessage().replaceFirst("^rope_scaling[.a-z_]*: ", ""));
        }
    }

    private static java.util.List<Double> numbers(JsonNode o, String f, String where) {
        JsonNode a = o.get(f);
        if (a == null || !a.isArray() || a.isEmpty()) throw new LaminaException(where + "." + f + " must be a list of numbers, got " + a);
        java.util.List<Double> l = new java.util.ArrayList<>();
        for (JsonNode v : a) {
            if (!v.isNumber() || !(v.doubleValue() > 0)) throw new LaminaException(where + "." + f + " must hold positive numbers, got " + v);
            l.add(v.doubleValue());
        }
        return java.util.List.copyOf(l);
    }

    private static double num(JsonNode o, String f, double def, String where) {
        JsonNode v = o.get(f);
        if (v == null || v.isNull()) return def;
        if (!v.isNumber()) throw new LaminaException(where + "." + f + " must be a number, got " + v);
        return v.doubleValue();
    }

    private static String lower(Enum<?> e) { return e.name().toLowerCase(Locale.ROOT); }
}
