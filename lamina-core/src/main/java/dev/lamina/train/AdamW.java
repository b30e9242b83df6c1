package dev.lamina.train;

import dev.lamina.kernels.Kernels;
import dev.lamina.model.Parameters;
import dev.lamina.tensor.Tensor;

/** AdamW over the flat parameter buffers; moments m and v share the parameters' layout. */
public final class AdamW {
    private final Parameters params;
    private final float[] m, v;
    private int t; // steps taken

    public AdamW(Parameters params) {
        this.params = params;
        this.m = new float[params.count()];
        this.v = new float[params.count()];
    }

    public float[] m() { return m; }
    public float[] v() { return v; }
    public int stepsTaken() { return t; }
    public void setStepsTaken(int steps) { t = steps; }

    /** One update with the gradients in params.gradData(); weight decay only on slots marked decay. */
    public void step(double lr, TrainConfig c) {
        t++;
        float bc1 = (float) (1 - Math.pow(c.beta1(), t)), bc2 = (float) (1 - Math.pow(c.beta2(), t));
        for (Parameters.Slot s : params.slots().values()) {
            int[] shape = {s.size()};
            Kernels.get().adamw(new Tensor(params.data(), s.offset(), shape), new Tensor(params.gradData(), s.offset(), shape),
                    new Tensor(m, s.offset(), shape), new Tensor(v, s.offset(), shape), (float) lr, (float) c.beta1(),
                    (float) c.beta2(), (float) c.eps(), s.decay() ? (float) c.weightDecay() : 0f, bc1, bc2);
        }
    }

    /** One update decaying every parameter, as torch.optim.AdamW does by default (for benchmarks against it). */
    public void stepAllDecay(double lr, TrainConfig c) {
        t++;
        float bc1 = (float) (1 - Math.pow(c.beta1(), t)), bc2 = (float) (1 - Math.pow(c.beta2(), t));
        int n = params.count();
        Kernels.get().adamw(Tensor.of(params.data(), n), Tensor.of(params.gradData(), n), Tensor.of(m, n), Tensor.of(v, n),
                (float) lr, (float) c.beta1(), (float) c.beta2(), (float) c.eps(), (float) c.weightDecay(), bc1, bc2);
    }

    /** Global L2 norm of all gradients. */
    public static double gradNorm(Parameters p) {
        return Math.sqrt(Kernels.get().sumOfSquares(Tensor.of(p.gradData(), p.count())));
    }

    /** Scales all gradients so their global norm is at most maxNorm; returns the norm before clipping. */
    public static double clip(Parameters p, double maxNorm) {
        double norm = gradNorm(p);
        if (maxNorm > 0 && norm > maxNorm) Kernels.get().scale(Tensor.of(p.gradData(), p.count()), (float) (maxNorm / (norm + 1e-6)));
        return norm;
    }
}
