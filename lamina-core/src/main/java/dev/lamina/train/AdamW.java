package dev.lamina.train;

import dev.lamina.kernels.KernelSet;
import dev.lamina.model.Parameters;
import dev.lamina.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * AdamW over the flat parameter buffers; moments m and v share the parameters' layout. A sharded
 * optimizer (ZeRO-1) keeps the moments of, and updates, the parameters [lo, hi) only: m[i − lo].
 */
public final class AdamW {
    private final Parameters params;
    private final KernelSet kernels;
    private final float[] m, v;
    private final int lo, hi;
    private final Span[] spans;
    private final Tensor[] gradViews;
    private int t; // steps taken

    /** A run [from, to) of adjacent slots that all are, or all are not, weight-decayed: one kernel call per step. */
    private record Span(int from, int to, Tensor param, Tensor m, Tensor v, boolean decay) {}

    /** An optimizer over params, computing with kernels. */
    public AdamW(Parameters params, KernelSet kernels) { this(params, kernels, 0, params.count()); }

    /** An optimizer of the parameters [lo, hi) of params (one worker's shard). */
    public AdamW(Parameters params, KernelSet kernels, int lo, int hi) {
        if (lo < 0 || hi > params.count() || lo > hi) throw new IllegalArgumentException("shard [" + lo + ", " + hi + ") of " + params.count());
        this.params = params;
        this.kernels = kernels;
        this.lo = lo;
        this.hi = hi;
        this.m = new float[hi - lo];
        this.v = new float[hi - lo];
        List<Span> runs = new ArrayList<>();
        int start = 0;
        Boolean decay = null;
        for (Parameters.Slot s : params.slots().values()) {   // slots are laid out in order, back to back
            if (decay != null && s.decay() != decay) {
                runs.add(span(start, s.offset(), decay));
                start = s.offset();
            }
            decay = s.decay();
        }
        if (decay != null) runs.add(span(start, params.count(), decay));
        this.spans = runs.toArray(Span[]::new);
        this.gradViews = new Tensor[spans.length];
    }

    /** The run [from, to) within the shard, or an empty one. */
    private Span span(int from, int to, boolean decay) {
        from = Math.min(Math.max(from, lo), hi);
        to = Math.max(from, Math.min(to, hi));
        int[] shape = {to - from};
        return new Span(from, to, new Tensor(params.data(), from, shape), new Tensor(m, from - lo, shape), new Tensor(v, from - lo, shape), decay);
    }

    /** The first moments of the shard (all parameters unless sharded): m()[i] belongs to parameter shardStart() + i. */
    public float[] m() { return m; }
    public float[] v() { return v; }
    public int shardStart() { return lo; }
    public int shardEnd() { return hi; }
    public int stepsTaken() { return t; }
    public void setStepsTaken(int steps) { t = steps; }

    /** One update with the gradients in params.gradData(); weight decay only on slots marked decay. */
    public void step(double lr, TrainConfig c) { step(lr, c, null); }

    /** One update with the gradient in half (its 16-bit values, {@link StepGradients.Mode#HALF}), or in params.gradData() when half is null. */
    public void step(double lr, TrainConfig c, StepGradients half) {
        t++;
        for (int i = 0; i < spans.length; i++)
            if (spans[i].to() > spans[i].from())
                update(spans[i], half == null ? flatGrad(i) : null, lr, c, spans[i].decay() ? (float) c.weightDecay() : 0f, half);
    }

    /** The flat gradient's view of span i (kept: a step allocates nothing). */
    private Tensor flatGrad(int i) {
        float[] grad = params.gradData();
        Span s = spans[i];
        if (gradViews[i] == null || gradViews[i].data() != grad) gradViews[i] = new Tensor(grad, s.from(), new int[]{s.to() - s.from()});
        return gradViews[i];
    }

    /** One update decaying every parameter, as torch.optim.AdamW does by default (for benchmarks against it). */
    public void stepAllDecay(double lr, TrainConfig c) { stepAllDecay(lr, c, null); }

    /** As above with the gradient in half, or in params.gradData() when half is null. */
    public void stepAllDecay(double lr, TrainConfig c, StepGradients half) {
        t++;
        update(span(lo, hi, true), half == null ? slice(params.gradData(), lo, hi - lo) : null, lr, c, (float) c.weightDecay(), half);
    }

    /** The update of span s at step t: its gradient is flat (a view of the flat buffer), or else read from half a chunk at a time. */
    private void update(Span s, Tensor flat, double lr, TrainConfig c, float decay, StepGradients half) {
        float bc1 = correction(c.beta1()), bc2 = correction(c.beta2());
        if (half == null) {
            kernels.adamw(s.param(), flat, s.m(), s.v(), (float) lr, (float) c.beta1(), (float) c.beta2(), (float) c.eps(), decay, bc1, bc2);
            return;
        }
        half.forChunks(s.from(), s.to(), (g, at) -> kernels.adamw(slice(params.data(), at, g.size()), g, slice(m, at - lo, g.size()),
                slice(v, at - lo, g.size()), (float) lr, (float) c.beta1(), (float) c.beta2(), (float) c.eps(), decay, bc1, bc2));
    }

    private static Tensor slice(float[] a, int from, int n) { return new Tensor(a, from, new int[]{n}); }

    /** Adam's bias correction 1 − β^t at the step being taken. */
    private float correction(double beta) { return (float) (1 - Math.pow(beta, t)); }

    /** Global L2 norm of all gradients. */
    public double gradNorm() { return gradNorm(kernels, params); }

    /** Global L2 norm of all gradients of p. */
    public static double gradNorm(KernelSet k, Parameters p) { return Math.sqrt(k.sumOfSquares(p.flatGrad())); }

    /** Scales all gradients so their global norm is at most maxNorm; returns the norm before clipping. */
    public double clip(double maxNorm) { return clip(maxNorm, null); }

    /** As above for the gradient in half (null: the flat buffer). */
    public double clip(double maxNorm, StepGradients half) {
        double norm = half == null ? gradNorm() : Math.sqrt(half.sumOfSquares());
        float factor = (float) (maxNorm / (norm + 1e-6));
        if (maxNorm > 0 && norm > maxNorm) {
            if (half == null) kernels.scale(params.flatGrad(), factor);
            else half.scale(factor);
        }
        return norm;
    }
}
