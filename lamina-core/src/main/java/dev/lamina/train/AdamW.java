package dev.lamina.train;

import dev.lamina.kernels.KernelSet;
import dev.lamina.model.Parameters;
import dev.lamina.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/** AdamW over the flat parameter buffers; moments m and v share the parameters' layout. */
public final class AdamW {
    private final Parameters params;
    private final KernelSet kernels;
    private final float[] m, v;
    private final Tensor flatM, flatV;
    private final Span[] spans;
    private int t; // steps taken

    /** A run of adjacent slots that all are, or all are not, weight-decayed: one kernel call per step. */
    private record Span(Tensor param, Tensor grad, Tensor m, Tensor v, boolean decay) {}

    /** An optimizer over params, computing with kernels. */
    public AdamW(Parameters params, KernelSet kernels) {
        this.params = params;
        this.kernels = kernels;
        this.m = new float[params.count()];
        this.v = new float[params.count()];
        this.flatM = Tensor.of(m, m.length);
        this.flatV = Tensor.of(v, v.length);
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

    private Span span(int from, int to, boolean decay) {
        int[] shape = {to - from};
        return new Span(new Tensor(params.data(), from, shape), new Tensor(params.gradData(), from, shape),
                new Tensor(m, from, shape), new Tensor(v, from, shape), decay);
    }

    public float[] m() { return m; }
    public float[] v() { return v; }
    public int stepsTaken() { return t; }
    public void setStepsTaken(int steps) { t = steps; }

    /** One update with the gradients in params.gradData(); weight decay only on slots marked decay. */
    public void step(double lr, TrainConfig c) {
        t++;
        float bc1 = (float) (1 - Math.pow(c.beta1(), t)), bc2 = (float) (1 - Math.pow(c.beta2(), t));
        for (Span s : spans)
            kernels.adamw(s.param(), s.grad(), s.m(), s.v(), (float) lr, (float) c.beta1(), (float) c.beta2(),
                    (float) c.eps(), s.decay() ? (float) c.weightDecay() : 0f, bc1, bc2);
    }

    /** One update decaying every parameter, as torch.optim.AdamW does by default (for benchmarks against it). */
    public void stepAllDecay(double lr, TrainConfig c) {
        t++;
        float bc1 = (float) (1 - Math.pow(c.beta1(), t)), bc2 = (float) (1 - Math.pow(c.beta2(), t));
        kernels.adamw(params.flatData(), params.flatGrad(), flatM, flatV, (float) lr, (float) c.beta1(), (float) c.beta2(), (float) c.eps(), (float) c.weightDecay(), bc1, bc2);
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
