package dev.lamina.plan;

import dev.lamina.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * LLMem's estimate of PyTorch's peak on one CUDA device (Kim et al., IJCAI 2024, and its
 * size_estimator): every tensor rounded up to the caching allocator's 2 MiB; weights in 16 bits
 * beside float32 master weights, with float32 AdamW moments; saved activations taken as the outputs
 * of every linear map and embedding plus each layer's input, in 16 bits; the head's logits, and the
 * shifted logits the loss makes, in float32; the int64 token ids; the cuBLAS workspace. The CUDA
 * context is left out, as torch.cuda.max_memory_allocated leaves it out.
 */
final class PytorchGpu {
    private PytorchGpu() {}

    static final long BLOCK = 2L << 20, CUBLAS_WORKSPACE = 8L << 20;

    /** bytes rounded up to whole 2 MiB blocks, count tensors of them. */
    static long rounded(long count, long bytes) { return count * MemoryPlan.ceilDiv(bytes, BLOCK) * BLOCK; }

    static MemoryPlan.Plan plan(MemoryPlan.Request r) {
        ModelConfig c = r.config();
        List<MemoryPlan.Item> items = new ArrayList<>();
        int N = r.workers(), B = r.localBatch(), T = r.seq(), L = c.numHiddenLayers();
        long n = (long) B * T, d = c.hiddenSize(), V = c.vocabSize();
        boolean half = r.precision() != MemoryPlan.Precision.FP32;
        int w = half ? 2 : 4;
        double share = MemoryPlan.sharedFraction(r);
        List<long[]> maps = MemoryPlan.linearMaps(c);
        long matrices = 0;                            // the weights, matrix by matrix, each rounded to the allocator's blocks
        boolean nf4 = r.task() == MemoryPlan.Task.QLORA;   // bitsandbytes' NF4 with double quantization, as QLoRA loads the base
        for (long[] m : maps)
            matrices += rounded(m[0], nf4 ? (long) (MemoryPlan.nf4Bytes(m[1] * m[2]) * share) : (long) (w * m[1] * m[2] * share));
        long P = c.parameterCount(), linear = 0;
        for (long[] m : maps) linear += m[0] * m[1] * m[2];
        long rest = P - linear;                       // embeddings, head, norms, biases
        matrices += rounded(1, (long) (w * rest * (r.strategy() == MemoryPlan.Strategy.TP ? 1 : share)));
        if (r.strategy() == MemoryPlan.Strategy.ZERO3 && N > 1)      // each layer's shards gathered while it runs
            matrices += rounded(1, (long) (w * (linear / Math.max(1, L)) * (N - 1.0) / N));
        items.add(new MemoryPlan.Item(MemoryPlan.WEIGHTS, matrices, (nf4 ? "linear maps in NF4, the rest " : "") + (half ? "16-bit" : "float32")));
        if (r.task() == MemoryPlan.Task.LORA || nf4)
            items.add(new MemoryPlan.Item(MemoryPlan.WEIGHTS, rounded(1, (long) w * MemoryPlan.loraParameters(c, r.loraRank(), r.loraTargets())),
                    "LoRA adapter, rank " + r.loraRank()));
        if (r.task() == MemoryPlan.Task.INFERENCE) {
            int tokens = r.kvTokens() > 0 ? r.kvTokens() : T;
            items.add(new MemoryPlan.Item(MemoryPlan.KV_CACHE, rounded(2L * L, (long) w * c.kvDim() * tokens * B), "K and V per layer"));
            items.add(new MemoryPlan.Item(MemoryPlan.HEAD, rounded(1, 4L * B * V), "last position's logits, float32"));
            items.add(new MemoryPlan.Item(MemoryPlan.OVERHEAD, CUBLAS_WORKSPACE, "cuBLAS workspace"));
            return MemoryPlan.finish(r, items, new long[0]);
        }
        boolean adapter = r.task() != MemoryPlan.Task.TRAIN;
        long trainable = adapter ? MemoryPlan.loraParameters(c, r.loraRank(), r.loraTargets()) : P;
        double gradShare = r.strategy() == MemoryPlan.Strategy.ZERO2 || r.strategy() == MemoryPlan.Strategy.ZERO3 ? 1.0 / N : adapter ? 1 : share;
        double stateShare = r.strategy().name().startsWith("ZERO") ? 1.0 / N : adapter ? 1 : share;
        if (half) items.add(new MemoryPlan.Item(MemoryPlan.OPTIMIZER, rounded(1, (long) (4 * trainable * stateShare)), "float32 master weights"));
        int moments = r.optimizer() == MemoryPlan.Optimizer.ADAMW ? 2 : 0;
        if (moments > 0) items.add(new MemoryPlan.Item(MemoryPlan.OPTIMIZER, rounded(moments, (long) (4 * trainable * stateShare)), "AdamW moments, float32"));
        items.add(new MemoryPlan.Item(MemoryPlan.GRADIENTS, rounded(1, (long) (w * trainable * gradShare)), half ? "16-bit" : "float32"));
        items.add(new MemoryPlan.Item(MemoryPlan.ACTIVATIONS, rounded(1, 8 * n), "token ids, int64"));
        // per layer: the input and every linear map's output, 16-bit (LLMem's count of what autograd saves)
        long tp = r.strategy() == MemoryPlan.Strategy.TP ? N : 1;
        long ff = c.intermediateSize(), gated = c.activation() != ModelConfig.Activation.GELU ? 2 : 1;
        long[] layers = new long[L];
        for (int l = 0; l < L; l++) {
            long outs = rounded(1, w * n * d) + rounded(3, w * n * c.qDim() / tp) + rounded(1, w * n * d);
            if (c.sparse(l)) outs += rounded(c.numExperts(), w * n * c.expertsPerToken() / c.numExperts() * c.expertSize() * (gated + 1) / tp)
                    + rounded(1, w * n * c.numExperts());
            else outs += rounded(gated, w * n * ff / tp) + rounded(1, w * n * d);
            if (tp > 1) outs += rounded(1, w * n * d * (tp - 1) / tp);   // all-gathered inputs of backward
            layers[l] = outs;
        }
        long act = 0;
        if (r.checkpointEvery() > 0) {
            long segment = 0;
            for (int s = 0; s < L; s += r.checkpointEvery()) {
                long seg = 0;
                for (int l = s; l < Math.min(L, s + r.checkpointEvery()); l++) seg += layers[l];
                segment = Math.max(segment, seg);
            }
            act = MemoryPlan.ceilDiv(L, r.checkpointEvery()) * rounded(1, w * n * d) + segment;
        } else for (long x : layers) act += x;
        if (r.strategy() == MemoryPlan.Strategy.PP) act = (long) (act * share);
        items.add(new MemoryPlan.Item(MemoryPlan.ACTIVATIONS, act, r.checkpointEvery() > 0 ? "segment inputs + one segment" : "every layer's input and linear outputs"));
        long logits = rounded(1, (half ? 2 : 4) * n * V) + rounded(2, 4L * B * (T - 1) * V);
        items.add(new MemoryPlan.Item(MemoryPlan.HEAD, logits, "logits, then the shifted float32 logits the loss makes, twice"));
        items.add(new MemoryPlan.Item(MemoryPlan.OVERHEAD, CUBLAS_WORKSPACE, "cuBLAS workspace"));
        return MemoryPlan.finish(r, items, layers);
    }
}
