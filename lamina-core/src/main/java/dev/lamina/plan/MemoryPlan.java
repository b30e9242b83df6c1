package dev.lamina.plan;

import dev.lamina.io.LaminaException;
import dev.lamina.model.Lora;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Role;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The peak memory of a task, computed from a config before anything runs (LLMem's purpose: pick the
 * method, precision and batch that fit, then run).
 *
 * <p>Target {@link Target#LAMINA} counts what Lamina allocates: the weights and, in training, the
 * gradients and AdamW's two moments (float32); the buffers the training tape keeps for backward, op
 * by op as {@code autograd.Ops} allocates them (so a layer is a list of buffers, and activation
 * checkpointing keeps each segment's input plus one segment's buffers, position by position as the
 * segment tape reuses them); the gradients lent during backward (the largest set alive at once, by
 * shape, as the tape's pool reuses them); the fused head's logits chunk; a QLoRA base's NF4 codes and
 * its decode scratch; an inference run's KV cache and per-call buffers. {@code MemoryPlanTest} holds
 * it to the allocations Lamina makes, over a grid of configs, tasks and shapes.
 *
 * <p>Target {@link Target#PYTORCH_GPU} follows LLMem (Kim et al., IJCAI 2024) for PyTorch on CUDA:
 * 16-bit weights and activations with float32 master weights and moments under mixed precision, the
 * outputs of every linear and embedding and every layer input saved for backward, float32 logits
 * counted as the loss computes them, every tensor rounded up to the caching allocator's 2 MiB
 * blocks, and the CUDA context and cuBLAS workspace.
 */
public final class MemoryPlan {
    private MemoryPlan() {}

    public enum Task { INFERENCE, TRAIN, LORA, QLORA }
    public enum Precision { FP32, BF16, FP16 }
    public enum Optimizer { ADAMW, SGD }
    public enum Strategy { DP, ZERO1, ZERO2, ZERO3, TP, PP }
    public enum Target { LAMINA, PYTORCH_GPU }

    /**
     * What to plan. batch is the global batch of sequences (split across workers by dp and zero*),
     * seq its length, checkpointEvery the layers per checkpointed segment (0: none), kvTokens the KV
     * cache's positions per sequence (inference; 0: seq) and kvCache what it stores them in, loraRank
     * and loraTargets the adapter (lora, qlora).
     */
    public record Request(ModelConfig config, Task task, Precision precision, int batch, int seq, int accum, int checkpointEvery,
                          Optimizer optimizer, int kvTokens, int workers, Strategy strategy, Target target, int loraRank,
                          Set<Role> loraTargets, Precision kvCache) {
        /** A request whose KV cache (inference) is float32. */
        public Request(ModelConfig config, Task task, Precision precision, int batch, int seq, int accum, int checkpointEvery,
                       Optimizer optimizer, int kvTokens, int workers, Strategy strategy, Target target, int loraRank, Set<Role> loraTargets) {
            this(config, task, precision, batch, seq, accum, checkpointEvery, optimizer, kvTokens, workers, strategy, target, loraRank,
                    loraTargets, Precision.FP32);
        }

        public Request {
            if (batch < 1) throw new LaminaException("--batch must be >= 1, got " + batch);
            if (seq < 1) throw new LaminaException("--seq must be >= 1, got " + seq);
            if (accum < 1) throw new LaminaException("--accum must be >= 1, got " + accum);
            if (checkpointEvery < 0) throw new LaminaException("--checkpoint-activations must be >= 1, got " + checkpointEvery);
            if (kvTokens < 0) throw new LaminaException("--kv-cache-tokens must be >= 0, got " + kvTokens);
            if (workers < 1) throw new LaminaException("--workers must be >= 1, got " + workers);
            if (loraRank < 1 && (task == Task.LORA || task == Task.QLORA)) throw new LaminaException("--rank must be >= 1, got " + loraRank);
            if (seq > config.maxPositionEmbeddings())
                throw new LaminaException("--seq " + seq + " exceeds the model's max_position_embeddings " + config.maxPositionEmbeddings());
            boolean splitsBatch = strategy == Strategy.DP || strategy.name().startsWith("ZERO");
            if (splitsBatch && batch % workers != 0)
                throw new LaminaException("--batch " + batch + " does not divide over " + workers + " workers (" + strategy.name().toLowerCase(Locale.ROOT)
                        + " gives each worker batch/workers sequences); use a multiple of " + workers);
            if (strategy == Strategy.TP && (config.numAttentionHeads() % workers != 0 || config.numKeyValueHeads() % workers != 0))
                throw new LaminaException("tensor parallelism splits the heads: " + config.numAttentionHeads() + " attention and "
                        + config.numKeyValueHeads() + " key/value heads do not divide over " + workers + " workers");
            if (strategy == Strategy.PP && workers > config.numHiddenLayers())
                throw new LaminaException("pipeline parallelism over " + workers + " workers needs at least as many layers; the model has "
                        + config.numHiddenLayers());
            if (target == Target.LAMINA && precision == Precision.FP16 && task != Task.TRAIN && task != Task.INFERENCE)
                throw new LaminaException("Lamina stores fp16 in full training and inference weights only (bf16: also LoRA and QLoRA); plan --task "
                        + task.name().toLowerCase(Locale.ROOT) + " with --precision bf16 or fp32, or with --target pytorch-gpu");
            if (target == Target.LAMINA && optimizer == Optimizer.SGD && task != Task.INFERENCE)
                throw new LaminaException("Lamina trains with AdamW; plan --optimizer sgd with --target pytorch-gpu");
        }

        /** A Lamina run on one machine: float32, AdamW, no KV cache beyond --seq (the plan train, finetune and distill check). */
        public static Request lamina(ModelConfig config, Task task, int batch, int seq, int accum, int checkpointEvery, int loraRank,
                                     Set<Role> loraTargets) {
            return lamina(config, task, Precision.FP32, batch, seq, accum, checkpointEvery, loraRank, loraTargets);
        }

        /** As above in precision (16 bits: full training only). */
        public static Request lamina(ModelConfig config, Task task, Precision precision, int batch, int seq, int accum, int checkpointEvery,
                                     int loraRank, Set<Role> loraTargets) {
            return new Request(config, task, precision, batch, seq, accum, checkpointEvery, Optimizer.ADAMW, 0, 1, Strategy.DP,
                    Target.LAMINA, loraRank, loraTargets);
        }

        /** Sequences each worker runs at a time. */
        public int localBatch() { return strategy == Strategy.DP || strategy.name().startsWith("ZERO") ? batch / workers : batch; }

        public boolean training() { return task != Task.INFERENCE; }
    }

    /** One line of the breakdown. */
    public record Item(String part, long bytes, String note) {}

    /** The breakdown, each layer's activations, and the peak (their sum) per worker. */
    public record Plan(Request request, List<Item> items, long[] layerBytes, long peak) {
        /** This plan with part's items replaced by one (what a loaded file says, where the config alone cannot). */
        public Plan replacing(String part, long bytes, String note) {
            List<Item> kept = new ArrayList<>();
            for (Item i : items) if (!i.part().equals(part)) kept.add(i);
            kept.add(0, new Item(part, bytes, note));
            return finish(request, kept, layerBytes);
        }

        /** This plan with one more item (a teacher beside a student). */
        public Plan adding(Item item) {
            List<Item> all = new ArrayList<>(items);
            all.add(item);
            return finish(request, all, layerBytes);
        }

        /** The peak once loaded: without the load's transient (what a server holds while it serves). */
        public long steady() { return peak - bytes(LOADING); }

        public long bytes(String part) {
            long b = 0;
            for (Item i : items) if (i.part().equals(part)) b += i.bytes();
            return b;
        }
    }

    public static final String WEIGHTS = "weights", GRADIENTS = "gradients", OPTIMIZER = "optimizer states", ACTIVATIONS = "activations",
            HEAD = "LM head logits", KV_CACHE = "KV cache", TEMPORARIES = "temporaries", OVERHEAD = "allocator and runtime",
            LOADING = "loading", TOKENIZER = "tokenizer";

    /**
     * Heap a loaded tokenizer holds, about 180 bytes a token and 110 a merge: Lamina's tokenizers built
     * from six GGUF vocabularies (16k-262k tokens, 0-515k merges; 2.6-95 MB) measured within 9 MB of it.
     */
    public static long tokenizerBytes(long tokens, long merges) { return 180 * tokens + 110 * merges; }

    /** The plan, for Lamina on this JVM's heap (its G1 region size) or for PyTorch on a GPU. */
    public static Plan plan(Request r) { return plan(r, heapRegion()); }

    /** As {@link #plan(Request)} for a heap of G1 regions of this many bytes (0: no region rounding). */
    public static Plan plan(Request r, long region) {
        return r.target() == Target.LAMINA ? lamina(r, region, null, null) : PytorchGpu.plan(r);
    }

    /**
     * The rows one inference call computes and the rows it keeps logits for: a session's prompt in
     * chunks of {@link dev.lamina.infer.InferenceSession#DEFAULT_CHUNK} (batch × min(seq, chunk), one
     * logit row a sequence), or a batch engine's step (a token per slot and a prompt chunk).
     */
    public record Call(long rows, long logitRows) {
        static Call of(Request r) {
            return new Call((long) r.localBatch() * Math.min(r.seq(), dev.lamina.infer.InferenceSession.DEFAULT_CHUNK), r.localBatch());
        }
    }

    /**
     * Inference on this JVM's heap, its calls of the given size (null: {@link Call#of}), and when
     * heldWeights is not null, the weights held as those arrays (bytes each: a GGUF file's kept blocks,
     * {@code GgufModel.servedArrays}) instead of the matrices the config implies, read into that form
     * directly, so loading adds nothing.
     */
    public static Plan served(Request r, long[] heldWeights, Call call) {
        if (r.task() != Task.INFERENCE || r.target() != Target.LAMINA) throw new IllegalArgumentException("a served plan is Lamina's inference");
        return lamina(r, heapRegion(), heldWeights, call);
    }

    // ---- Lamina ----------------------------------------------------------------------------------

    /**
     * Heap a Lamina process holds beside the model's arrays (the JVM's own objects, classes' statics,
     * the command's small objects): measured as bench memory's live heap beyond the arrays it
     * accounts for, 9-10 MB above a 6 MiB first guess on every case of bench/memory_plan.sh.
     */
    static final long LAMINA_RUNTIME = 15L << 20;

    private static Plan lamina(Request r, long region, long[] held, Call call) {
        ModelConfig c = r.config();
        List<Item> items = new ArrayList<>();
        int B = r.localBatch(), T = r.seq(), L = c.numHiddenLayers();
        long n = (long) B * T, P = c.parameterCount();
        double share = sharedFraction(r);            // the part of the weights each worker holds (tp, pp, zero3)
        if (r.task() == Task.INFERENCE) {
            Heap heap = new Heap(region);
            int tokens = r.kvTokens() > 0 ? r.kvTokens() : T;
            long weights = 0, bytesPer = r.precision() == Precision.FP32 ? 4 : 2;
            if (held != null) {
                for (long a : held) weights += heap.bytes(a);
                items.add(new Item(WEIGHTS, weights, "the file's tensors as inference holds them: quantized blocks and 16-bit matrices as stored, the rest float32"));
                items.add(new Item(LOADING, 0, "none: read from the file into the kernels' form directly"));
            } else {
                weights = inferenceWeights(c, heap, share, bytesPer);
                items.add(new Item(WEIGHTS, weights, bytesPer == 2 ? "the linear maps in " + (r.precision() == Precision.BF16 ? "bfloat16" : "float16")
                        + ", the rest float32, prepared once for the kernels" : "float32, prepared once for the kernels"));
            }
            long kv = 0, kvBytes = r.kvCache() == Precision.FP32 ? 4 : 2;
            for (int l = 0; l < 2 * L; l++) kv += heap.bytes((long) ((long) c.kvDim() * tokens * B * share) * kvBytes);   // each layer's K and V
            items.add(new Item(KV_CACHE, kv, B + " x " + tokens + " positions, " + L + " layers, K and V in "
                    + switch (r.kvCache()) { case FP32 -> "float32"; case BF16 -> "bfloat16"; case FP16 -> "float16"; }));
            if (call == null) call = Call.of(r);
            long rows = call.rows(), wide = Math.max(c.intermediateSize(), c.moe() ? (long) c.expertSize() * c.expertsPerToken() : 0);
            // the runner's buffers, each [rows, width]: the residual stream, a norm's output, q, k, v, the attention's
            // output, the output projection's, the second norm's, gate, up and their product, the down projection's
            long d = c.hiddenSize(), perCall = 0;
            for (long width : new long[] {d, d, c.qDim(), c.kvDim(), c.kvDim(), c.qDim(), d, d, wide, wide, wide, d}) perCall += heap.floats(rows * width);
            perCall += heap.floats(call.logitRows() * c.vocabSize()) + heap.floats((long) c.numAttentionHeads() * tokens * 4);   // logits, scores
            items.add(new Item(ACTIVATIONS, perCall, "one forward call over " + rows + " rows (buffers reused layer to layer; a session runs a longer prompt in chunks of "
                    + dev.lamina.infer.InferenceSession.DEFAULT_CHUNK + ")"));
            items.add(overhead(heap));
            // loading a float32 model: its weights and their packed copy are both alive until packing ends
            long steady = 0;
            for (Item i : items) steady += i.bytes();
            long load = (bytesPer == 2 ? (long) (4.0 * P * share) + weights : 2 * weights) + LAMINA_RUNTIME;
            if (held == null && load > steady) items.add(new Item(LOADING, load - steady, "while loading, the float32 weights beside their packed copy (not for a GGUF file's stored blocks)"));
            return finish(r, items, new long[0]);
        }
        boolean adapter = r.task() != Task.TRAIN;
        long trainable = adapter ? loraParameters(c, r.loraRank(), r.loraTargets()) : P;
        Heap heap = new Heap(region);
        if (r.task() == Task.QLORA) {
            long linear = 0, nf4 = 0, largest = 0;
            for (long[] m : linearMaps(c)) {
                long w = m[1] * m[2];                    // each of m[0] matrices [out, in]
                linear += m[0] * w;
                largest = Math.max(largest, w);
                for (int i = 0; i < m[0]; i++)
                    nf4 += heap.bytes(ceilDiv(w, 2)) + heap.bytes(ceilDiv(w, 64)) + heap.bytes(4 * ceilDiv(ceilDiv(w, 64), 256)) + 4;
            }
            items.add(new Item(WEIGHTS, heap.floats(P - linear), "float32: embeddings, norms, head"));
            items.add(new Item(WEIGHTS, nf4, "the linear maps in NF4 (4.127 bits a weight)"));
            items.add(new Item(TEMPORARIES, heap.floats(largest), "the largest NF4 map decoded for its product"));
        } else {
            items.add(new Item(WEIGHTS, heap.floats((long) (P * share)), "float32" + (adapter ? ", frozen"
                    : r.precision() != Precision.FP32 ? " master weights, read rounded to " + r.precision().name().toLowerCase(Locale.ROOT)
                    + " by the products (no copy; the norms' gains and the biases are copied rounded, counted with the activations)" : "")));
        }
        if (adapter) items.add(new Item(WEIGHTS, heap.floats(trainable), "LoRA adapter, rank " + r.loraRank()));
        double gradShare = r.strategy() == Strategy.ZERO2 || r.strategy() == Strategy.ZERO3 ? 1.0 / r.workers() : adapter ? 1 : share;
        double momentShare = r.strategy().name().startsWith("ZERO") ? 1.0 / r.workers() : adapter ? 1 : share;
        // one worker's full training keeps its step gradient as Trainer's StepGradients does (null: one float32 buffer)
        var byRegion = r.task() == Task.TRAIN && r.workers() == 1 ? dev.lamina.train.StepGradients.mode(dev.lamina.tensor.Precision.valueOf(r.precision().name()), r.accum()) : null;
        String p16 = r.precision().name().toLowerCase(Locale.ROOT);
        if (byRegion != null) {
            long[] regions = new long[L + 2];
            var counts = c.parameterCounts();
            regions[0] = counts.embeddings();
            regions[L + 1] = P - regions[0];                                            // the final norm and the head: the rest
            for (int l = 0; l < L; l++) regions[L + 1] -= regions[1 + l] = c.layerParameterCount(l);
            long working = dev.lamina.train.StepGradients.workingFloats(regions, c.tieWordEmbeddings());
            if (byRegion == dev.lamina.train.StepGradients.Mode.HALF) {
                items.add(new Item(GRADIENTS, heap.bytes(2 * P), p16 + ", one per parameter (each region rounded once backward has passed it)"));
                items.add(new Item(GRADIENTS, heap.floats(working) + heap.floats(dev.lamina.train.StepGradients.chunkFloats(P)),
                        "float32 working buffer" + (c.tieWordEmbeddings() ? "s" : "") + " for the region backward is in (the largest region"
                                + (c.tieWordEmbeddings() ? ", and the tied embeddings'" : "") + "), and the chunk the update reads back"));
            } else {
                items.add(new Item(GRADIENTS, heap.floats(P), "float32, the sum of " + r.accum() + " micro-batches"
                        + (r.precision() != Precision.FP32 ? " (each rounded to " + p16 + ")" : "") + ", added region by region"));
                items.add(new Item(GRADIENTS, heap.floats(working), "float32 working buffer" + (c.tieWordEmbeddings() ? "s" : "")
                        + " for the region backward is in"));
            }
        } else {
            items.add(new Item(GRADIENTS, heap.floats((long) (trainable * gradShare)), "float32, one per trainable parameter"
                    + (r.precision() != Precision.FP32 && r.task() == Task.TRAIN ? " (each micro-batch's sum rounded to " + p16 + ")" : "")));
        }
        long moment = (long) (trainable * momentShare);
        items.add(new Item(OPTIMIZER, heap.floats(moment) + heap.floats(moment), "AdamW's two moments, float32"));

        boolean copies = r.precision() != Precision.FP32 && r.task() == Task.TRAIN;   // master weights: gains and biases read rounded into the tape
        Tape tape = tape(c, B, T, r.checkpointEvery(), adapter ? r.loraRank() : 0, adapter ? r.loraTargets() : Set.of(), r.task() == Task.QLORA, copies);
        long[] layers = new long[L];
        for (int l = 0; l < L; l++) layers[l] = 4 * sum(tape.layers().get(l));
        double layerShare = r.strategy() == Strategy.PP ? share : 1;
        boolean stash = r.precision() != Precision.FP32 && r.checkpointEvery() == 0;
        items.add(new Item(ACTIVATIONS, (long) ((stash ? stashed(c, tape, n, heap) : heap.all(tape.kept())) * layerShare), r.checkpointEvery() > 0
                ? "block inputs of " + ceilDiv(L, r.checkpointEvery()) + " segments + one segment's buffers, embeddings, final norm"
                : stash ? "one layer's float32 buffers, shared; the other layers' kept in 16 bits (norm statistics and routing in float32); "
                        + "each layer's output, embeddings, final norm" + (r.task() == Task.TRAIN ? "; the norms' gains and the biases read rounded, with each layer's buffers" : "")
                : "every layer's buffers kept for backward, embeddings, final norm"));
        items.add(new Item(HEAD, heap.all(tape.head()), "the fused head's logits, " + tape.chunk() + " rows at a time"));
        items.add(new Item(TEMPORARIES, heap.all(tape.lent()), "gradients of activations, lent during backward"));
        if (adapter) items.add(new Item(TEMPORARIES, heap.floats(n * maxOut(c)), "the LoRA branch's product"));
        items.add(overhead(heap));
        return finish(r, items, layers);
    }

    /** The config's weights as inference prepares them: the linear maps in bytesPer bytes (a 16-bit head too, its table read from it), the rest float32. */
    private static long inferenceWeights(ModelConfig c, Heap heap, double share, long bytesPer) {
        long weights = 0, rest = c.parameterCount();
        for (long[] m : linearMaps(c)) {
            for (int i = 0; i < m[0]; i++) weights += heap.bytes((long) (m[1] * m[2] * share) * bytesPer);
            rest -= m[0] * m[1] * m[2];
        }
        if (bytesPer == 2) {                          // the head in 16 bits too; a tied table is read from it (no float32 copy)
            long head = (long) c.vocabSize() * c.hiddenSize();
            weights += heap.bytes(2 * head);
            rest -= head;
        }
        return weights + heap.floats(rest);
    }

    /** The allocator's share: G1's rounding of large arrays to whole regions, and the JVM's heap before the model. */
    private static Item overhead(Heap heap) {
        return new Item(OVERHEAD, heap.waste + LAMINA_RUNTIME, heap.region > 0
                ? String.format(Locale.ROOT, "G1 gives an array of half a region (%d MiB here) or more whole regions: %,d bytes; the JVM's heap before the model",
                heap.region >> 20, heap.waste)
                : "the JVM's heap before the model");
    }

    /**
     * The Java heap's arrays: their bytes, and what the G1 collector adds to them. An array of half
     * a region or more is "humongous" and takes whole regions (as CUDA's caching allocator rounds to
     * 2 MiB blocks, LLMem's point); smaller ones share regions.
     */
    static final class Heap {
        final long region;
        long waste;

        Heap(long region) { this.region = region; }

        /** An array of this many bytes: returns them, and counts the region rounding. */
        long bytes(long b) {
            long with = b + 16;                          // the array's header
            if (region > 0 && with >= region / 2) waste += ceilDiv(with, region) * region - b;
            return b;
        }

        long floats(long n) { return bytes(4 * n); }

        long all(List<Long> floats) {
            long b = 0;
            for (long n : floats) b += floats(n);
            return b;
        }
    }

    /** The G1 region size of this JVM (0 under another collector): plan with the heap the run will have. */
    public static long heapRegion() {
        try {
            var bean = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            if (!Boolean.parseBoolean(bean.getVMOption("UseG1GC").getValue())) return 0;
            return Long.parseLong(bean.getVMOption("G1HeapRegionSize").getValue());
        } catch (RuntimeException e) {
            return 0;
        }
    }

    static Plan finish(Request r, List<Item> items, long[] layers) {
        long peak = 0;
        for (Item i : items) peak += i.bytes();
        return new Plan(r, List.copyOf(items), layers, peak);
    }

    /** The share of the weights a worker holds: 1/N of the layers (pp) or of every matrix (tp, zero3). */
    static double sharedFraction(Request r) {
        return switch (r.strategy()) {
            case DP, ZERO1, ZERO2 -> 1;
            case ZERO3, TP -> 1.0 / r.workers();
            case PP -> (double) ceilDiv(r.config().numHiddenLayers(), r.workers()) / r.config().numHiddenLayers();
        };
    }

    static long ceilDiv(long a, long b) { return (a + b - 1) / b; }

    private static long sum(List<Long> xs) {
        long s = 0;
        for (long x : xs) s += x;
        return s;
    }

    /** Bytes of one matrix of w weights in NF4: codes, 8-bit block scales, their float32 scales, the mean. */
    static long nf4Bytes(long w) {
        long blocks = ceilDiv(w, 64);
        return ceilDiv(w, 2) + blocks + 4 * ceilDiv(blocks, 256) + 4;
    }

    /** Every linear map but the head as {count, out, in}: what QLoRA holds in NF4. */
    static List<long[]> linearMaps(ModelConfig c) {
        List<long[]> maps = new ArrayList<>();
        for (int l = 0; l < c.numHiddenLayers(); l++)
            for (Role role : new Role[] {Role.Q, Role.K, Role.V, Role.O, Role.GATE, Role.UP, Role.DOWN, Role.ROUTER, Role.EXPERT_GATE,
                    Role.EXPERT_UP, Role.EXPERT_DOWN, Role.SHARED_GATE, Role.SHARED_UP, Role.SHARED_DOWN, Role.SHARED_EXPERT_GATE}) {
                int[] s = dev.lamina.model.Decoder.linearShape(c, role);
                if (s == null) continue;
                boolean sparse = c.sparse(l);
                boolean expert = role.name().startsWith("EXPERT"), moeOnly = expert || role == Role.ROUTER || role.name().startsWith("SHARED");
                boolean dense = role == Role.GATE || role == Role.UP || role == Role.DOWN;
                if (moeOnly && !sparse || dense && sparse) continue;
                maps.add(new long[] {expert ? c.numExperts() : 1, s[0], s[1]});
            }
        return maps;
    }

    /** LoRA parameters: r·(in + out) for each targeted map of each layer (dense maps only: experts carry none). */
    static long loraParameters(ModelConfig c, int rank, Set<Role> targets) {
        long n = 0;
        for (int l = 0; l < c.numHiddenLayers(); l++)
            for (Role role : Lora.TARGETABLE) {
                int[] s = dev.lamina.model.Decoder.linearShape(c, role);
                if (s == null || !targets.contains(role) || c.sparse(l) && (role == Role.GATE || role == Role.UP || role == Role.DOWN)) continue;
                n += (long) rank * (s[0] + s[1]);
            }
        return n;
    }

    private static long maxOut(ModelConfig c) {
        return Math.max(Math.max(c.qDim(), c.hiddenSize()), c.intermediateSize());
    }

    /** Rows per chunk of the fused head (as Ops.headChunk: 512 while the chunk stays within 16 MiB, else 256). */
    static int headChunk(int V) { return (long) 512 * V * Float.BYTES <= 16 << 20 ? 512 : 256; }

    // ---- the training tape, op by op ---------------------------------------------------------------

    /**
     * The training tape's buffers, in floats: each layer's in op order; every buffer it keeps (kept),
     * the head's (head) and the lent gradients' pool (lent), one entry per array.
     */
    record Tape(List<List<Long>> layers, List<Long> kept, List<Long> head, int chunk, List<Long> lent) {
        long keptFloats() { return sum(kept); }
        long headFloats() { return sum(head); }
        long lentFloats() { return sum(lent); }
    }

    /**
     * The tape of one training step of B x T tokens (rank 0: no adapter), as Decoder and Ops allocate
     * it; copies: the weights are master weights, the norms' gains and the biases each read rounded
     * into a buffer of the tape (the products read their weight matrices rounded in place).
     */
    static Tape tape(ModelConfig c, int B, int T, int every, int rank, Set<Role> targets, boolean frozen, boolean copies) {
        long n = (long) B * T, d = c.hiddenSize();
        int L = c.numHiddenLayers();
        List<List<Long>> layers = new ArrayList<>();
        for (int l = 0; l < L; l++) layers.add(layer(c, l, B, T, rank, targets, frozen, copies));
        List<Long> kept = new ArrayList<>();
        kept.add(n * d);                                 // the embeddings (and their scaled copy)
        if (copies && c.position() == ModelConfig.Position.LEARNED) kept.add((long) T * d);   // the first T position rows, rounded
        if (c.scaleEmbeddings()) kept.add(n * d);
        normInto(c, kept, n, d, copies);                 // the final norm
        if (every == 0) {
            for (List<Long> layer : layers) kept.addAll(layer);
        } else {
            // the segment tape: position p holds the buffer of the last segment run that reached p, and backward runs segment 0 last
            List<List<Long>> segments = new ArrayList<>();
            for (int s = 0; s < L; s += every) {
                List<Long> seg = new ArrayList<>();
                for (int l = s; l < Math.min(L, s + every); l++) seg.addAll(layers.get(l));
                segments.add(seg);
                kept.add(n * d);                         // the segment's output, on the main tape
            }
            int longest = segments.stream().mapToInt(List::size).max().orElse(0);
            for (int p = 0; p < longest; p++)
                for (List<Long> seg : segments)
                    if (seg.size() > p) { kept.add(seg.get(p)); break; }
        }
        int V = c.vocabSize(), chunk = (int) Math.min(headChunk(V), n);
        List<Long> head = new ArrayList<>(List.of((long) chunk * V, n));
        if (c.logitSoftcap() > 0) head.add((long) chunk * V);
        Map<Shape, Integer> most = new HashMap<>();
        for (int l = 0; l < L; l++)
            for (Map<Shape, Integer> phase : lentPhases(c, l, n, rank, targets))
                phase.forEach((shape, k) -> most.merge(shape, k, Math::max));
        if (every > 0) most.merge(new Shape(n, d), 1, Integer::sum);    // a segment's output gradient, beside its input's
        List<Long> lent = new ArrayList<>();
        most.forEach((shape, k) -> { for (int i = 0; i < k; i++) lent.add(shape.rows() * shape.width()); });
        return new Tape(layers, kept, head, chunk, lent);
    }

    /**
     * The kept activations of 16-bit storage (Tape.stashing): the main tape's own buffers and each
     * layer's output copy; the buffers the layers compute in, shared by position (a layer whose buffer
     * at a position differs in size keeps its own); every layer but the last packed to 16 bits where
     * its values are 16-bit (all but the norms' statistics and a sparse layer's routing weights and
     * probabilities, which stay float32 copies).
     */
    private static long stashed(ModelConfig c, Tape tape, long n, Heap heap) {
        List<List<Long>> layers = tape.layers();
        long inLayers = 0;
        for (List<Long> l : layers) inLayers += l.size();
        List<Long> own = new ArrayList<>(tape.kept().subList(0, (int) (tape.kept().size() - inLayers)));   // embeddings, final norm
        for (int l = 0; l < layers.size(); l++) own.add(n * c.hiddenSize());                               // each layer's output, on the main tape
        List<Long> pool = new ArrayList<>();
        long bytes = heap.all(own);
        for (int l = 0; l < layers.size(); l++) {
            List<Long> bufs = layers.get(l);
            for (int p = 0; p < bufs.size(); p++) {
                long size = bufs.get(p);
                if (p == pool.size()) {
                    pool.add(size);
                    bytes += heap.floats(size);
                }
                if (pool.get(p) != size) bytes += heap.floats(size);            // its own buffer, never packed
                else if (l < layers.size() - 1) {
                    boolean floats = size == n || c.sparse(l) && (size == n * c.expertsPerToken() || size == n * c.numExperts());
                    bytes += floats ? heap.floats(size) : heap.bytes(2 * size);
                }
            }
        }
        return bytes;
    }

    /** A norm's buffers over rows of width w: the output and its statistics (RMSNorm: 1/rms; LayerNorm: mean and 1/std). */
    private static List<Long> norm(ModelConfig c, long rows, long w) {
        return c.norm() == ModelConfig.Norm.RMSNORM ? List.of(rows * w, rows) : List.of(rows * w, rows, rows);
    }

    /** A norm's buffers into b, after its gain (and LayerNorm's bias) [w] read rounded from master weights when copies. */
    private static void normInto(ModelConfig c, List<Long> b, long rows, long w, boolean copies) {
        if (copies) {
            b.add(w);
            if (c.norm() == ModelConfig.Norm.LAYERNORM) b.add(w);
        }
        b.addAll(norm(c, rows, w));
    }

    /** Whether a linear map's bias is read rounded into a buffer (master weights; its weight the product reads in place). */
    private static boolean biasCopy(boolean copies, boolean bias) { return copies && bias; }

    /** Whether the dense MLP's maps have biases (GPT-2's GELU MLP with the config's bias; gated MLPs never). */
    private static boolean mlpBias(ModelConfig c) { return c.bias() && c.activation() == ModelConfig.Activation.GELU; }

    /**
     * Layer l's buffers in the order the ops allocate them (Decoder.layer and what it calls; Ops's
     * tape.var and tape.alloc). A frozen base (QLoRA's NF4) computes a residual projection as a
     * product and an add: one buffer more than the fused residual.
     */
    static List<Long> layer(ModelConfig c, int l, int B, int T, int rank, Set<Role> targets, boolean frozen, boolean copies) {
        long n = (long) B * T, d = c.hiddenSize();
        List<Long> b = new ArrayList<>();
        if (c.isPostLn(l)) {                        // N1(x + Attn(x)); N2(x + MLP(x))
            attention(c, b, n, B, T, rank, targets, copies);
            linear(b, n, d, c.qDim(), Role.O, rank, targets, biasCopy(copies, c.bias()));
            if (frozen) b.add(n * d);
            normInto(c, b, n, d, copies);
            mlpInto(c, l, b, n, rank, targets, frozen, copies);
            normInto(c, b, n, d, copies);
        } else if (c.sandwichNorms()) {             // x + Nao(Attn(N1(x))); x + Nmo(MLP(N2(x)))
            normInto(c, b, n, d, copies);
            attention(c, b, n, B, T, rank, targets, copies);
            linear(b, n, d, c.qDim(), Role.O, rank, targets, biasCopy(copies, c.bias()));
            normInto(c, b, n, d, copies);
            b.add(n * d);
            normInto(c, b, n, d, copies);
            if (c.sparse(l)) moe(c, b, n);
            else {
                mlp(c, b, n, rank, targets, copies);
                linear(b, n, d, c.intermediateSize(), Role.DOWN, rank, targets, biasCopy(copies, mlpBias(c)));
            }
            normInto(c, b, n, d, copies);
            b.add(n * d);
        } else {                                    // x + Attn(N1(x)); x + MLP(N2(x))
            normInto(c, b, n, d, copies);
            attention(c, b, n, B, T, rank, targets, copies);
            linear(b, n, d, c.qDim(), Role.O, rank, targets, biasCopy(copies, c.bias()));
            if (frozen) b.add(n * d);
            normInto(c, b, n, d, copies);
            mlpInto(c, l, b, n, rank, targets, frozen, copies);
        }
        return b;
    }

    private static void attention(ModelConfig c, List<Long> b, long n, int B, int T, int rank, Set<Role> targets, boolean copies) {
        long d = c.hiddenSize();
        boolean w = biasCopy(copies, c.bias());
        linear(b, n, c.qDim(), d, Role.Q, rank, targets, w);
        linear(b, n, c.kvDim(), d, Role.K, rank, targets, w);
        linear(b, n, c.kvDim(), d, Role.V, rank, targets, w);
        if (c.qkNorm()) {                           // RMSNorm over each head of q and k (each gain [hd] read rounded first)
            if (copies) b.add((long) c.headDim());
            b.add(n * c.qDim());
            b.add(n * c.numAttentionHeads());
            if (copies) b.add((long) c.headDim());
            b.add(n * c.kvDim());
            b.add(n * c.numKeyValueHeads());
        }                                           // RoPE works in place
        b.add(n * c.qDim());
        b.add((long) B * c.numAttentionHeads() * T * T);   // the attention probabilities, kept for backward
    }

    /**
     * A linear map's output [n, out] (the residual add fused or not: one buffer), and its LoRA branch's
     * when targeted; before them, with biasCopy, its bias read rounded from master weights.
     */
    private static void linear(List<Long> b, long n, long out, long in, Role role, int rank, Set<Role> targets, boolean biasCopy) {
        if (biasCopy) b.add(out);
        b.add(n * out);
        if (rank > 0 && targets.contains(role)) {   // x·Aᵀ, then scaled; the B product is added in place (dropout 0)
            b.add(n * rank);
            b.add(n * rank);
        }
    }

    private static void mlpInto(ModelConfig c, int l, List<Long> b, long n, int rank, Set<Role> targets, boolean frozen, boolean copies) {
        if (c.sparse(l)) {
            moe(c, b, n);
            b.add(n * c.hiddenSize());              // + the residual
        } else {
            mlp(c, b, n, rank, targets, copies);
            linear(b, n, c.hiddenSize(), c.intermediateSize(), Role.DOWN, rank, targets, biasCopy(copies, mlpBias(c)));
            if (frozen) b.add(n * c.hiddenSize());
        }
    }

    private static void mlp(ModelConfig c, List<Long> b, long n, int rank, Set<Role> targets, boolean copies) {
        long d = c.hiddenSize(), ff = c.intermediateSize();
        boolean w = biasCopy(copies, mlpBias(c));
        if (c.activation() != ModelConfig.Activation.GELU) linear(b, n, ff, d, Role.GATE, rank, targets, w);
        linear(b, n, ff, d, Role.UP, rank, targets, w);
        activation(c, b, n, ff);
    }

    private static void activation(ModelConfig c, List<Long> b, long rows, long ff) {
        b.add(rows * ff);
        if (c.activation() == ModelConfig.Activation.GEGLU) b.add(rows * ff);   // gelu(gate), kept for backward
    }

    /** A sparse layer: router logits, routing weights and probabilities, rows grouped by expert, the experts' MLPs, the combine, a shared expert. */
    private static void moe(ModelConfig c, List<Long> b, long n) {
        long d = c.hiddenSize(), E = c.numExperts(), k = c.expertsPerToken(), fe = c.expertSize(), nk = n * k;
        b.add(n * E);
        b.add(n * k);
        b.add(n * E);
        b.add(nk * d);
        if (c.activation() != ModelConfig.Activation.GELU) {
            b.add(nk * fe);
        }
        b.add(nk * fe);
        activation(c, b, nk, fe);
        b.add(nk * d);
        b.add(n * d);
        long s = c.sharedExpertIntermediateSize();
        if (s > 0) {
            if (c.activation() != ModelConfig.Activation.GELU) {
                b.add(n * s);
            }
            b.add(n * s);
            activation(c, b, n, s);
            b.add(n * d);
            b.add(n);
            b.add(n * d);
        }
    }

    /** A gradient buffer's shape, [rows, width]: the tape's pool reuses a buffer for a node of the same shape. */
    record Shape(long rows, long width) {}

    /**
     * The activation gradients alive together at the busiest moments of layer l's backward, as
     * {shape: count} per moment (the tape's pool keeps, for each shape, as many as were ever lent at
     * once): in the MLP, the residual stream's, the MLP input's and the gate, up and product
     * gradients (a sparse layer's: over the grouped rows, with the router's and a shared expert's);
     * in attention, the stream's and those of the output, q, k and v.
     */
    static List<Map<Shape, Integer>> lentPhases(ModelConfig c, int l, long n, int rank, Set<Role> targets) {
        long d = c.hiddenSize();
        boolean gated = c.activation() != ModelConfig.Activation.GELU;
        List<Map<Shape, Integer>> phases = new ArrayList<>();
        Map<Shape, Integer> mlp = new HashMap<>();
        if (c.sparse(l)) {
            long nk = n * c.expertsPerToken(), s = c.sharedExpertIntermediateSize();
            mlp.merge(new Shape(n, d), s > 0 ? 4 : 3, Integer::sum);
            mlp.merge(new Shape(nk, d), 1, Integer::sum);
            mlp.merge(new Shape(nk, c.expertSize()), gated ? 3 : 2, Integer::sum);
            mlp.merge(new Shape(n, c.numExperts()), 1, Integer::sum);
            mlp.merge(new Shape(n, c.expertsPerToken()), 1, Integer::sum);
            if (s > 0) {
                mlp.merge(new Shape(n, s), gated ? 3 : 2, Integer::sum);
                mlp.merge(new Shape(n, 1), 1, Integer::sum);
            }
        } else {
            mlp.merge(new Shape(n, d), 2, Integer::sum);
            mlp.merge(new Shape(n, c.intermediateSize()), gated ? 3 : 2, Integer::sum);
        }
        if (rank > 0) mlp.merge(new Shape(n, rank), 2, Integer::sum);
        phases.add(mlp);
        Map<Shape, Integer> attention = new HashMap<>();
        attention.merge(new Shape(n, d), 1, Integer::sum);
        attention.merge(new Shape(n, c.qDim()), 2, Integer::sum);
        attention.merge(new Shape(n, c.kvDim()), 2, Integer::sum);
        if (rank > 0) attention.merge(new Shape(n, rank), 2, Integer::sum);
        phases.add(attention);
        Map<Shape, Integer> qkv = new HashMap<>();
        qkv.merge(new Shape(n, d), 2, Integer::sum);
        qkv.merge(new Shape(n, c.qDim()), 1, Integer::sum);
        qkv.merge(new Shape(n, c.kvDim()), 2, Integer::sum);
        phases.add(qkv);
        return phases;
    }
}
