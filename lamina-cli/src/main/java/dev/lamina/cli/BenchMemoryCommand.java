package dev.lamina.cli;

import dev.lamina.autograd.Tape;
import dev.lamina.infer.InferenceSession;
import dev.lamina.infer.PreparedModel;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.Lora;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Parameters;
import dev.lamina.model.Presets;
import dev.lamina.model.TapeExecutor;
import dev.lamina.tensor.Rng;
import dev.lamina.train.AdamW;
import dev.lamina.train.TrainConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Live memory of inference and of full, LoRA and QLoRA fine-tuning on one model shape (random
 * weights): the JVM's heap in use right after a full collection at the step's peak (after
 * backward, with weights, adapter, gradients, optimizer moments and activations all alive), beside
 * the sum of those buffers' sizes. One process per figure, so each starts from an empty heap.
 */
@Command(name = "memory", mixinStandardHelpOptions = true,
        description = "Live memory of inference or one fine-tuning step (full, lora, qlora) of a model shape with random weights.")
final class BenchMemoryCommand implements Callable<Integer> {
    @Option(names = "--preset", defaultValue = "llama-m", description = "llama-s, llama-m or tinyllama (TinyLlama-1.1B's shape) (default ${DEFAULT-VALUE}).")
    String preset;
    @Option(names = "--layers", description = "Override the number of layers (memory scales with it).") Integer layers;
    @Option(names = "--model", paramLabel = "MODEL", description = "Inference: a run directory, Hugging Face directory or GGUF file, "
            + "loaded as serve loads it (weights as stored, tokenizer) instead of --preset's random weights.") java.nio.file.Path modelPath;
    @Option(names = "--method", defaultValue = "qlora", description = "inference, full, lora or qlora (default ${DEFAULT-VALUE}).") String method;
    @Option(names = "--rank", defaultValue = "16", description = "LoRA rank, every linear map, alpha 2r (default ${DEFAULT-VALUE}).") int rank;
    @Option(names = "--batch", defaultValue = "1", description = "Sequences per step (default ${DEFAULT-VALUE}).") int batch;
    @Option(names = "--seq", defaultValue = "256", description = "Tokens per sequence (default ${DEFAULT-VALUE}).") int seq;
    @Option(names = "--threads", description = "Worker threads (default: all cores).") Integer threads;
    @Option(names = "--checkpoint-activations", arity = "0..1", fallbackValue = "1", paramLabel = "N",
            description = "Activation checkpointing every N layers (default N 1).") int checkpointEvery;
    @Option(names = "--precision", defaultValue = "fp32", description = "fp32, bf16 or fp16: full training's storage, as train --precision "
            + "(the model's weights are float32 master weights, read rounded), or bf16 inference weights (--weights bf16); default ${DEFAULT-VALUE}.") String precision;
    @Option(names = "--kv-cache-dtype", defaultValue = "f32", description = "Inference: " + ServeCommand.KV_HELP) String kvDtype;

    static ModelConfig shape(String preset) {
        return switch (preset) {
            case "llama-s" -> Presets.get("llama-s").config().apply(8192);
            case "llama-m" -> Presets.get("llama-m").config().apply(16384);
            case "tinyllama" -> ModelConfig.builder().vocabSize(32000).hiddenSize(2048).numHiddenLayers(22).numAttentionHeads(32)
                    .numKeyValueHeads(4).intermediateSize(5632).maxPositionEmbeddings(2048).normEps(1e-5).build();
            default -> throw new LaminaException("--preset must be llama-s, llama-m or tinyllama, got " + preset);
        };
    }

    @Override
    public Integer call() {
        if (modelPath != null) return served();
        ModelConfig mc = shape(preset);
        if (layers != null) mc = mc.withLayers(layers);
        if (seq > mc.maxPositionEmbeddings()) throw new LaminaException("--seq must be <= " + mc.maxPositionEmbeddings() + ", got " + seq);
        String m = method.toLowerCase(Locale.ROOT);
        if (!m.matches("inference|full|lora|qlora")) throw new LaminaException("--method must be inference, full, lora or qlora, got " + method);
        Decoder model = Decoder.create(mc, 0, Main.kernels(threads));
        long n = model.parameterCount();
        System.out.printf(Locale.ROOT, "%s%s: %,d parameters (%.0f MB in float32), method %s, batch %d x %d%n", preset,
                layers != null ? " (" + layers + " layers)" : "", n, 4e-6 * n, m, batch, seq);
        int[] ids = new int[batch * seq], targets = new int[batch * seq];
        Rng rng = new Rng(1);
        for (int i = 0; i < ids.length; i++) { ids[i] = (int) rng.nextLong(mc.vocabSize()); targets[i] = (int) rng.nextLong(mc.vocabSize()); }
        dev.lamina.tensor.Precision storage = dev.lamina.tensor.Precision.parse(precision);
        if (storage == dev.lamina.tensor.Precision.FP16 && !m.equals("full") || storage == dev.lamina.tensor.Precision.BF16 && m.matches("lora|qlora"))
            throw new LaminaException("--precision " + storage.label() + " is measured for full training (fp16, bf16) and inference (bf16); "
                    + "use --method full or inference, or --precision fp32");
        var kv = dev.lamina.infer.KvRows.parse(kvDtype);
        if (kv != dev.lamina.tensor.Precision.FP32 && !m.equals("inference"))
            throw new LaminaException("--kv-cache-dtype is for --method inference (training keeps no KV cache)");
        if (m.equals("inference")) {
            PreparedModel prepared = PreparedModel.of(model, storage == dev.lamina.tensor.Precision.BF16 ? dev.lamina.kernels.WeightFormat.BF16
                    : dev.lamina.kernels.WeightFormat.F32), lean = prepared.withoutFloatCopies();
            if (lean != null) prepared = lean;                            // as Lamina.load's models: one copy of the weights
            model = null;                                                 // the prepared weights are the model now
            try (InferenceSession s = new InferenceSession(prepared, new dev.lamina.infer.ContiguousKvCache(prepared.model().config(), seq, kv))) {
                s.forward(java.util.Arrays.copyOf(ids, seq));
                report("prepared weights + " + dev.lamina.infer.KvRows.label(kv) + " KV cache of " + seq + " positions");
            }
            return 0;
        }
        Parameters trainable = model.params();
        boolean sixteenBit = storage != dev.lamina.tensor.Precision.FP32;   // full training: the weights are master weights, read rounded (as Trainer)
        long adapterBytes = 0, nf4Bytes = 0;
        if (!m.equals("full")) {
            Lora.Adapter a = Lora.Adapter.create(model, new Lora.Config(rank, 2.0 * rank, 0, Lora.TARGETABLE, false), 0);
            if (m.equals("qlora")) model = model.withNf4Base();          // the float model becomes garbage
            model = model.withAdapter(a);
            trainable = a.params();
            adapterBytes = 4L * a.size();
            nf4Bytes = model.nf4Bytes();
        }
        AdamW opt = new AdamW(trainable, model.kernels());
        // full training in 16 bits keeps its step gradient in 16 bits, as the trainer does (null: one float32 buffer)
        dev.lamina.train.StepGradients half = sixteenBit ? dev.lamina.train.StepGradients.of(trainable, model.kernels(), mc.numHiddenLayers(), storage, 1) : null;
        Tape tape = Tape.training(model.kernels()).checkpointEvery(checkpointEvery).precision(storage).masterWeights(sixteenBit);
        TapeExecutor ex = new TapeExecutor(model, tape, ids, batch, seq);
        TrainConfig tc = TrainConfig.peerBenchmark(2, batch, seq);
        for (int step = 0; step < 2; step++) {
            if (half == null) trainable.zeroGrad();
            tape.reset();
            if (half != null) half.begin(tape, true);
            model.loss(ex, targets);
            tape.backward();
            if (half != null) half.end(tape);
            if (step == 1) {
                long weights = 4L * model.params().count() + nf4Bytes, grads = half != null ? half.bytes() : 4L * trainable.count(), moments = 8L * trainable.count();
                System.out.printf(Locale.ROOT, "accounted: weights %.0f MB (float32%s %.0f + NF4 %.0f) + adapter %.0f MB + gradients %.0f MB "
                                + "+ AdamW moments %.0f MB + activations %.0f MB%s + NF4 scratch %.0f MB = %.0f MB%n",
                        weights / 1e6, sixteenBit ? " master" : "", 4e-6 * model.params().count(),
                        nf4Bytes / 1e6, adapterBytes / 1e6, grads / 1e6, moments / 1e6,
                        tape.bytes() / 1e6, sixteenBit ? " (norm gains and biases read rounded: 16-bit copies included)" : "", model.frozenScratch() == null ? 0 : 4e-6 * model.frozenScratch().size(),
                        (weights + adapterBytes + grads + moments + tape.bytes() + (model.frozenScratch() == null ? 0 : 4L * model.frozenScratch().size())) / 1e6);
                report("after backward, before the optimizer step");
            }
            opt.stepAllDecay(tc.lr(), tc, half);
        }
        return 0;
    }

    /** Inference on a real model as serve holds it: its weights as stored, its tokenizer, a KV cache of --seq positions. */
    private Integer served() {
        if (!method.toLowerCase(Locale.ROOT).equals("inference"))
            throw new LaminaException("--model is measured for --method inference (the fine-tuning methods take --preset's shapes)");
        if (!precision.equals("fp32")) throw new LaminaException("--precision is --preset's; a --model is served as stored");
        if (batch != 1 || layers != null || checkpointEvery != 0)
            throw new LaminaException("--batch, --layers and --checkpoint-activations are --preset's; a --model is measured as one sequence of --seq tokens");
        var kv = dev.lamina.infer.KvRows.parse(kvDtype);
        Main.configOf(modelPath);                                          // a path that is no model: its one-line error
        dev.lamina.Lamina.Model m = dev.lamina.Lamina.load(modelPath, Main.kernels(threads), dev.lamina.kernels.WeightFormat.STORED).withKvCache(kv);
        ModelConfig mc = m.decoder().config();
        if (seq > mc.maxPositionEmbeddings()) throw new LaminaException("--seq must be <= " + mc.maxPositionEmbeddings() + ", got " + seq);
        System.out.printf(Locale.ROOT, "%s: %,d parameters, weights %s, inference, batch 1 x %d%n", modelPath.getFileName(),
                mc.parameterCount(), m.weights().name().toLowerCase(Locale.ROOT), seq);
        int[] ids = new int[seq];
        Rng rng = new Rng(1);
        for (int i = 0; i < seq; i++) ids[i] = (int) rng.nextLong(mc.vocabSize());
        PreparedModel prepared = m.prepared();
        try (InferenceSession s = new InferenceSession(prepared, new dev.lamina.infer.ContiguousKvCache(mc, seq, kv))) {
            s.forward(ids);
            report("served weights + tokenizer + " + dev.lamina.infer.KvRows.label(kv) + " KV cache of " + seq + " positions");
            java.lang.ref.Reference.reachabilityFence(m);
        }
        return 0;
    }

    /** Heap in use after a full collection: what is reachable now. */
    private static void report(String when) {
        for (int i = 0; i < 2; i++) System.gc();
        long used = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        System.out.printf(Locale.ROOT, "live heap %s: %.0f MB%n", when, used / 1e6);
        System.out.printf(Locale.ROOT, "live_mb=%.0f%n", used / 1e6);
    }
}
