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
    private int t; // steps taken

    /** A run of adjacent slots that all are, or all are not, weight-decayed: one kernel call per step. */
    private record Span(Tensor param, Tensor grad, Tensor m, Tensor v, boolean decay) {}

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
    }

    /** The run [from, to) within the shard, or an empty one. */
    private Span span(int from, int to, boolean decay) {
        from = Math.min(Math.max(from, lo), hi);
        to = Math.max(from, Math.min(to, hi));
        int[] shape = {to - from};
        return new Span(new Tensor(params.data(), from, shape), new Tensor(params.gradData(), from, shape),
                new Tensor(m, from - lo, shape), new Tensor(v, from - lo, shape), decay);
    }

    /** The first moments of the shard (all parameters unless sharded): m()[i] belongs to parameter shardStart() + i. */
    public float[] m() { return m; }
    public float[] v() { return v; }
    public int shardStart() { return lo; }
    public int shardEnd() { return hi; }
    public int stepsTaken() { return t; }
    public void setStepsTaken(int steps) { t = steps; }

    /** One update with the gradients in params.gradData(); weight decay only on slots marked decay. */
    public void step(double lr, TrainConfig c) {
        t++;
        float bc1 = (float) (1 - Math.pow(c.beta1(), t)), bc2 = (float) (1 - Math.pow(c.beta2(), t));
        for (Span s : spans)
            if (s.param().size() > 0) kernels.adamw(s.param(), s.grad(), s.m(), s.v(), (float) lr, (float) c.beta1(), (float) c.beta2(),
                    (float) c.eps(), s.decay() ? (float) c.weightDecay() : 0f, bc1, bc2);
    }

    /** One update decaying every parameter, as torch.optim.AdamW does by default (for benchmarks against it). */
    public void stepAllDecay(double lr, TrainConfig c) {
        t++;
        float bc1 = (float) (1 - Math.pow(c.beta1(), t)), bc2 = (float) (1 - Math.pow(c.beta2(), t));
        int[] shape = {hi - lo};
        kernels.adamw(new Tensor(params.data(), lo, shape), new Tensor(params.gradData(), lo, shape), Tensor.of(m, hi - lo),
                Tensor.of(v, hi - lo), (float) lr, (float) c.beta1(), (float) c.beta2(), (float) c.eps(), (float) c.weightDecay(), bc1, bc2);
    }

    /** Global L2 norm of all gradients. */
    public double gradNorm() { return gradNorm(kernels, params); }

    /** Global L2 norm of all gradients of p. */
    public static double gradNorm(KernelSet k, Parameters p) { return Math.sqrt(k.sumOfSquares(p.flatGrad())); }

    /** Scales all gradients so their global norm is at most maxNorm; returns the norm before clipping. */
    public double clip(double maxNorm) {
        double norm = gradNorm();
        if (maxNorm > 0 && norm > maxNorm) kernels.scale(params.flatGrad(), (float) (maxNorm / (norm + 1e-6)));
        return norm;
    }
}
