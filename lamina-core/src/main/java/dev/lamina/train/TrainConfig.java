package dev.lamina.train;

import dev.lamina.io.LaminaException;

/**
 * Training hyper-parameters. AdamW with decoupled weight decay (none on norms, biases and embeddings),
 * linear warm-up then cosine decay to minLrRatio·lr, global gradient-norm clipping, accumulation.
 *
 * @param steps       optimizer steps
 * @param batch       sequences per micro-batch (B)
 * @param seq         tokens per sequence (T)
 * @param accum       micro-batches per optimizer step
 * @param clip        global gradient-norm bound (0 disables)
 * @param evalEvery   steps between validation evaluations (0: only at the end)
 * @param evalBatches micro-batches in the fixed validation sample
 * @param checkpointEvery activation checkpointing: layers per recomputed segment (0: keep every activation)
 * @param precision   what weights, activations and gradients are stored in (float32 master weights, which
 *                    ops read rounded, and moments; float32 arithmetic in every case; fp16 with dynamic loss scaling)
 */
public record TrainConfig(int steps, int batch, int seq, double lr, double minLrRatio, int warmup, double weightDecay,
                          double beta1, double beta2, double eps, double clip, int accum, long seed, int evalEvery,
                          int evalBatches, int checkpointEvery, dev.lamina.tensor.Precision precision) {

    public TrainConfig {
        if (steps < 1) throw LaminaException.field("steps", "steps must be >= 1, got " + steps);
        if (batch < 1) throw LaminaException.field("batch", "batch must be >= 1, got " + batch);
        if (seq < 2) throw LaminaException.field("seq", "seq must be >= 2, got " + seq);
        if (!(lr > 0)) throw LaminaException.field("lr", "lr must be positive, got " + lr);
        if (warmup < 0) throw LaminaException.field("warmup", "warmup must be >= 0, got " + warmup);
        if (weightDecay < 0) throw LaminaException.field("weightDecay", "weightDecay must be >= 0, got " + weightDecay);
        if (clip < 0) throw LaminaException.field("clip", "clip must be >= 0 (0 disables), got " + clip);
        if (accum < 1) throw LaminaException.field("accum", "accum must be >= 1, got " + accum);
        if (evalEvery < 0) throw LaminaException.field("evalEvery", "evalEvery must be >= 0, got " + evalEvery);
        if (evalBatches < 1) throw new LaminaException("eval batches must be >= 1, got " + evalBatches);
        java.util.Objects.requireNonNull(precision, "precision");
        if (checkpointEvery < 0) throw LaminaException.field("checkpoint-activations", "checkpoint-activations must be >= 1 layer (or 0: off), got " + checkpointEvery);
    }

    /** Defaults for a small run: lr 1e-3, 10% warm-up, wd 0.1, betas (0.9, 0.95), clip 1. */
    public static TrainConfig defaults(int steps, int batch, int seq) { return builder(steps, batch, seq).build(); }

    /**
     * A builder with the defaults of {@link #defaults}: lr 1e-3 decaying to 10%, warm-up and
     * evaluation every 10% of the steps, weight decay 0.1, betas (0.9, 0.95), eps 1e-8, clip 1, no
     * accumulation, seed 1234, 8 evaluation batches.
     */
    public static Builder builder(int steps, int batch, int seq) { return new Builder(steps, batch, seq); }

    /** A builder holding this config's values. */
    public Builder toBuilder() {
        return new Builder(steps, batch, seq).lr(lr).minLrRatio(minLrRatio).warmup(warmup).weightDecay(weightDecay)
                .betas(beta1, beta2).eps(eps).clip(clip).accum(accum).seed(seed).evalEvery(evalEvery).evalBatches(evalBatches).checkpointEvery(checkpointEvery).precision(precision);
    }

    /** Named values for a {@link TrainConfig}; build() validates. */
    public static final class Builder {
        private final int steps, batch, seq;
        private double lr = 1e-3, minLrRatio = 0.1, weightDecay = 0.1, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, clip = 1.0;
        private Integer warmup, evalEvery;
        private int accum = 1, evalBatches = 8, checkpointEvery;
        private long seed = 1234;
        private dev.lamina.tensor.Precision precision = dev.lamina.tensor.Precision.FP32;

        private Builder(int steps, int batch, int seq) {
            this.steps = steps;
            this.batch = batch;
            this.seq = seq;
        }

        public Builder lr(double v) { lr = v; return this; }
        /** The cosine decay's floor as a share of lr (1: a constant rate after warm-up). */
        public Builder minLrRatio(double v) { minLrRatio = v; return this; }
        public Builder warmup(int v) { warmup = v; return this; }
        public Builder weightDecay(double v) { weightDecay = v; return this; }
        public Builder betas(double b1, double b2) { beta1 = b1; beta2 = b2; return this; }
        public Builder eps(double v) { eps = v; return this; }
        /** Global gradient-norm bound (0 disables clipping). */
        public Builder clip(double v) { clip = v; return this; }
        public Builder accum(int v) { accum = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        /** Steps between evaluations (0: only at the end). */
        public Builder evalEvery(int v) { evalEvery = v; return this; }
        public Builder evalBatches(int v) { evalBatches = v; return this; }
        /** Activation checkpointing in segments of n layers (0: off). */
        public Builder checkpointEvery(int n) { checkpointEvery = n; return this; }
        /** The storage format of weights, activations and gradients (default fp32). */
        public Builder precision(dev.lamina.tensor.Precision p) { precision = p; return this; }

        public TrainConfig build() {
            int tenth = Math.max(1, steps / 10);
            return new TrainConfig(steps, batch, seq, lr, minLrRatio, warmup != null ? warmup : tenth, weightDecay, beta1, beta2,
                    eps, clip, accum, seed, evalEvery != null ? evalEvery : tenth, evalBatches, checkpointEvery, precision);
        }
    }

    /** Learning rate at step s (0-based): linear warm-up, then cosine from lr down to minLrRatio·lr. */
    public double lrAt(int s) {
        if (s < warmup) return lr * (s + 1) / warmup;
        double progress = steps <= warmup ? 1 : Math.min(1, (double) (s - warmup) / Math.max(1, steps - 1 - warmup));
        double min = lr * minLrRatio;
        return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * progress));
    }

    /** This config with activation checkpointing every n layers (it changes memory and time, never the numbers). */
    public TrainConfig withCheckpointEvery(int n) {
        return new TrainConfig(steps, batch, seq, lr, minLrRatio, warmup, weightDecay, beta1, beta2, eps, clip, accum, seed,
                evalEvery, evalBatches, n, precision);
    }

    public TrainConfig withSteps(int n) {
        return new TrainConfig(n, batch, seq, lr, minLrRatio, warmup, weightDecay, beta1, beta2, eps, clip, accum, seed,
                evalEvery, evalBatches, checkpointEvery, precision);
    }

    /**
     * The settings of the PyTorch peer benchmark (bench/train.sh): torch.optim.AdamW's defaults (betas
     * 0.9/0.999, eps 1e-8, weight decay 0.01 on every parameter) at lr 3e-4, constant, no clipping.
     */
    public static TrainConfig peerBenchmark(int steps, int batch, int seq) {
        return builder(steps, batch, seq).lr(3e-4).minLrRatio(1).warmup(0).weightDecay(0.01).betas(0.9, 0.999).clip(0)
                .seed(0).evalEvery(0).evalBatches(1).build();
    }

    public tools.jackson.databind.node.ObjectNode toJson() {
        var o = dev.lamina.io.Json.MAPPER.createObjectNode();
        o.put("steps", steps).put("batch", batch).put("seq", seq).put("lr", lr).put("min_lr_ratio", minLrRatio)
                .put("warmup", warmup).put("weight_decay", weightDecay).put("beta1", beta1).put("beta2", beta2)
                .put("eps", eps).put("clip", clip).put("accum", accum).put("seed", seed).put("eval_every", evalEvery)
                .put("eval_batches", evalBatches).put("checkpoint_activations", checkpointEvery).put("precision", precision.label());
        return o;
    }

    public static TrainConfig fromJson(tools.jackson.databind.JsonNode o) {
        return new TrainConfig(o.get("steps").intValue(), o.get("batch").intValue(), o.get("seq").intValue(),
                o.get("lr").doubleValue(), o.get("min_lr_ratio").doubleValue(), o.get("warmup").intValue(),
                o.get("weight_decay").doubleValue(), o.get("beta1").doubleValue(), o.get("beta2").doubleValue(),
                o.get("eps").doubleValue(), o.get("clip").doubleValue(), o.get("accum").intValue(),
                o.get("seed").longValue(), o.get("eval_every").intValue(), o.get("eval_batches").intValue(),
                o.has("checkpoint_activations") ? o.get("checkpoint_activations").intValue() : 0,
                o.has("precision") ? dev.lamina.tensor.Precision.parse(o.get("precision").stringValue()) : dev.lamina.tensor.Precision.FP32);
    }
}
