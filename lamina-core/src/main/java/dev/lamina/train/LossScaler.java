package dev.lamina.train;

/**
 * fp16's dynamic loss scaling, as torch.amp.GradScaler does it: the loss's gradient starts at scale
 * (a power of two, so scaling and unscaling are exact), which lifts small gradients above fp16's
 * smallest values; a step whose gradients overflowed to inf or NaN is skipped and the scale halved;
 * after interval finite steps in a row it doubles.
 *
 * @param scale     the factor the next step's loss gradient starts from
 * @param goodSteps finite steps in a row since the scale last changed
 * @param skipped   steps skipped for inf/NaN gradients over the run
 * @param interval  finite steps in a row before the scale doubles
 */
public record LossScaler(float scale, int goodSteps, long skipped, int interval) {
    /** GradScaler's defaults: 2¹⁶, doubling after 2000 finite steps. */
    public static final float INITIAL = 65536f;
    public static final int INTERVAL = 2000;
    /** The scale never halves below this (a step whose gradients are inf even at scale 1 stays skipped, and the loss says why). */
    static final float MIN = 1f;

    public LossScaler {
        if (!(scale >= MIN) || scale != Math.scalb(1f, Math.getExponent(scale)))
            throw new IllegalArgumentException("loss scale must be a power of two >= 1, got " + scale);
        if (interval < 1) throw new IllegalArgumentException("growth interval must be >= 1, got " + interval);
    }

    /** GradScaler's starting state. */
    public static LossScaler initial() { return new LossScaler(INITIAL, 0, 0, INTERVAL); }

    /** The state after a step whose unscaled gradients were finite (taken) or not (skipped). */
    public LossScaler after(boolean finite) {
        if (!finite) return new LossScaler(Math.max(MIN, scale / 2), 0, skipped + 1, interval);
        return goodSteps + 1 >= interval ? new LossScaler(scale * 2, 0, skipped, interval) : new LossScaler(scale, goodSteps + 1, skipped, interval);
    }

    public tools.jackson.databind.node.ObjectNode toJson() {
        return dev.lamina.io.Json.MAPPER.createObjectNode().put("scale", scale).put("good_steps", goodSteps).put("skipped", skipped)
                .put("interval", interval);
    }

    public static LossScaler fromJson(tools.jackson.databind.JsonNode o) {
        return new LossScaler(o.get("scale").floatValue(), o.get("good_steps").intValue(), o.get("skipped").longValue(), o.get("interval").intValue());
    }
}
