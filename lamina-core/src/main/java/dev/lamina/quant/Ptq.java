package dev.lamina.quant;

import dev.lamina.autograd.Tape;
import dev.lamina.data.TokenFile;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Parameters;
import dev.lamina.model.Role;
import dev.lamina.model.TapeExecutor;
import dev.lamina.research.Pruning;
import dev.lamina.tensor.Tensor;
import dev.lamina.train.Batcher;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.function.IntConsumer;

/**
 * Post-training quantization of a whole model: every layer's linear maps (not the embeddings, the
 * head or routers, which GPTQ's paper and llama.cpp's mixes treat apart) put on their grids by one
 * method. GPTQ goes layer by layer, as the paper does: layer l's Hessians come from calibration
 * inputs run through the model whose earlier layers are already quantized (later layers skipped).
 */
public final class Ptq {
    private Ptq() {}

    /**
     * @param method   how the grids and levels are chosen
     * @param fit      ACIQ's distribution
     * @param damp     GPTQ's relative damping
     * @param actOrder GPTQ: columns by decreasing Hessian diagonal (static groups)
     * @param groupFit GPTQ: how each group's grid is fitted (RTN or MSE)
     */
    public record Options(Calibrate.Method method, Calibrate.Fit fit, double damp, boolean actOrder, Calibrate.Method groupFit) {
        public static Options of(Calibrate.Method m) { return new Options(m, Calibrate.Fit.LAPLACE, 0.01, false, Calibrate.Method.RTN); }
    }

    /** Calibration: batches of B x T tokens evenly spread over tokens. */
    public record Calibration(TokenFile tokens, int B, int T, int batches) {
        public long size() { return (long) B * T * batches; }
    }

    /** The model with its calibrated weights (ŵ in place of w), each calibrated tensor's grid parameters, and the time taken. */
    public record Result(Decoder model, Map<ParamKey, Calibrate.Quantized> tensors, double seconds) {}

    /** Whether PTQ calibrates this parameter: a layer's linear map weight (experts' too, except under GPTQ, whose inputs are not probed). */
    public static boolean calibrated(ParamKey k) { return Pruning.sparsifiable(k); }

    /** model quantized: grids gives each calibrated weight its grid (null: left in float). */
    public static Result run(Decoder model, Function<ParamKey, Grid> grids, Options o, Calibration calib, IntConsumer layerDone) {
        long t0 = System.nanoTime();
        ModelConfig c = model.config();
        if (model.hasStored()) throw new LaminaException("the model's weights are already quantized; calibrate a float model");
        Parameters p = Decoder.layout(c).build();
        p.copyFrom(model.params());
        Decoder q = new Decoder(c, p, model.kernels());
        Map<ParamKey, Calibrate.Quantized> out = new LinkedHashMap<>();
        if (o.method() == Calibrate.Method.GPTQ) {
            if (c.moe()) throw LaminaException.field("method", "GPTQ calibrates dense models; this one has experts, whose inputs are not probed: use --method mse");
            if (calib == null) throw LaminaException.field("calib", "GPTQ needs calibration text: give --calib FILE");
            Tensor[] entering = null;                          // per batch, the hidden state entering layer l − 1 (null for l = 0)
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                Map<Role, Gptq.Hessian> hs = new HashMap<>();
                entering = hessians(q, l, calib, entering, hs);
                for (Parameters.Slot s : p.slots().values()) {
                    Grid g = s.layer() == l && calibrated(s.key()) ? grids.apply(s.key()) : null;
                    if (g == null) continue;
                    Gptq.Hessian h = hs.get(inputOf(s.role()));
                    Tensor w = p.value(s.name());
                    Calibrate.Quantized z = Gptq.quantize(g, w.toArray(), w.dim(0), w.dim(1), h, o.damp(), o.actOrder(), o.groupFit());
                    System.arraycopy(z.w(), 0, p.data(), s.offset(), s.size());
                    out.put(s.key(), z);
                }
                if (layerDone != null) layerDone.accept(l + 1);
            }
        } else {
            int done = -1;
            for (Parameters.Slot s : p.slots().values()) {
                Grid g = calibrated(s.key()) ? grids.apply(s.key()) : null;
                if (g == null) continue;
                Tensor w = p.value(s.name());
                Calibrate.Quantized z = Calibrate.quantize(o.method(), g, w.toArray(), w.dim(0), w.dim(1), o.fit());
                System.arraycopy(z.w(), 0, p.data(), s.offset(), s.size());
                out.put(s.key(), z);
                if (layerDone != null && s.layer() != done) layerDone.accept((done = s.layer()) + 1);
            }
        }
        return new Result(q, out, (System.nanoTime() - t0) / 1e9);
    }

    /** Which maps read the same input (and so share one Hessian): q, k, v; o; gate and up; down. */
    static Role inputOf(Role r) {
        return switch (r) {
            case Q, K, V -> Role.Q;
            case GATE, UP -> Role.UP;
            default -> r;
        };
    }

    /**
     * Adds layer l's Hessians to hs from the calibration batches, and returns each batch's hidden state
     * entering layer l. Layers 0..l−2 are quantized already and their output is kept: with before (the
     * states entering layer l − 1; null for l ≤ 0) only layer l − 1 (quantized) and layer l run, each
     * batch's kept state put in place of the embeddings on the inference tape, so calibrating L layers
     * runs about 2L layers rather than L²/2.
     */
    private static Tensor[] hessians(Decoder model, int l, Calibration calib, Tensor[] before, Map<Role, Gptq.Hessian> hs) {
        int B = calib.B(), T = calib.T(), from = before == null ? 0 : l - 1;
        int[] ids = new int[B * T], tg = new int[B * T];
        Tape tape = Tape.inference(model.kernels());
        Tensor[] last = new Tensor[1], entering = new Tensor[calib.batches()];
        Role[] lastGroup = new Role[1];
        int[] batch = new int[1];
        TapeExecutor.HiddenProbe keep = (layer, h) -> {
            if (before != null && layer == from) h.copyFrom(before[batch[0]]);   // layers before `from` ran as the identity on the embeddings
            if (layer == l) (entering[batch[0]] = Tensor.zeros(h.shape())).copyFrom(h);
        };
        TapeExecutor ex = new TapeExecutor(model, tape, ids, B, T).probes(k -> k < from || k > l, keep, null).inputs((w, x) -> {
            if (w.key().layer() != l || !calibrated(w.key())) return;
            Role r = inputOf(w.key().role());
            if (x == last[0] && r == lastGroup[0]) return;                 // k and v (up) read the tensor q (gate) read
            last[0] = x;
            lastGroup[0] = r;
            hs.computeIfAbsent(r, k -> new Gptq.Hessian(x.dim(-1))).add(model.kernels(), x);
        });
        for (int b = 0; b < calib.batches(); b++) {
            Batcher.fixed(calib.tokens(), b, calib.batches(), B, T, ids, tg);
            tape.reset();
            batch[0] = b;
            model.forward(ex);
        }
        return entering;
    }
}
