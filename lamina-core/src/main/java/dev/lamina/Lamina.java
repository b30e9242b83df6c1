package dev.lamina;

import dev.lamina.chat.ModelChatTemplate;
import dev.lamina.data.DataPrep;
import dev.lamina.data.Dataset;
import dev.lamina.gguf.GgufModel;
import dev.lamina.hf.HfCheckpoint;
import dev.lamina.infer.Generator;
import dev.lamina.infer.PreparedModel;
import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.WeightFormat;
import dev.lamina.kernels.Kernels;
import dev.lamina.infer.Sampler;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Presets;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.tokenizer.Tokenizers;
import dev.lamina.train.Checkpoint;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * The front door of the library: prepare data, train, load and generate in a few calls. The CLI is
 * a thin layer over these methods.
 *
 * <pre>{@code
 * Lamina.prepare(List.of(Path.of("corpus.txt")), "bytes", Path.of("runs/data"));
 * Lamina.train("tiny", Path.of("runs/data"), TrainConfig.defaults(200, 8, 64), Path.of("runs/demo"));
 * Lamina.Model model = Lamina.load(Path.of("runs/demo"));
 * String text = model.generate("The jury said", 40, Sampler.greedy(), null);
 * }</pre>
 */
public final class Lamina {
    private Lamina() {}

    /**
     * A trained decoder with its tokenizer. Its weights are prepared for inference on the first
     * {@link #generate} and kept, so later calls do not repack them; the parameters must not be
     * trained further through this object.
     */
    public static final class Model {
        private volatile Decoder decoder;
        private final Tokenizer tokenizer;
        private final WeightFormat weights;
        private final ModelChatTemplate chatTemplate;
        private volatile PreparedModel prepared;
        private volatile Generator generator;
        private boolean inferenceOnly;
        private dev.lamina.tensor.Precision kvCache = dev.lamina.tensor.Precision.FP32;

        public Model(Decoder decoder, Tokenizer tokenizer) { this(decoder, tokenizer, WeightFormat.F32); }

        /** A model whose inference stores its linear weights in the given format (8-bit: a quarter of the bytes per token). */
        public Model(Decoder decoder, Tokenizer tokenizer, WeightFormat weights) {
            this(decoder, tokenizer, weights, ModelChatTemplate.builtIn());
        }

        /** A model with its own chat template (the one its directory or GGUF file ships). */
        public Model(Decoder decoder, Tokenizer tokenizer, WeightFormat weights, ModelChatTemplate chatTemplate) {
            this.decoder = decoder;
            this.tokenizer = tokenizer;
            this.weights = weights;
            this.chatTemplate = chatTemplate;
        }

        /** The decoder; once {@link #prepared()} has run on a model loaded for inference, the one holding the prepared weights. */
        public Decoder decoder() { return decoder; }

        /**
         * Marks a model loaded only to run (by {@link Lamina#load}): when its weights are prepared, the
         * decoder's float copies of the linear maps are dropped and the prepared ones are its weights.
         */
        Model inferenceOnly() {
            inferenceOnly = true;
            return this;
        }
        /**
         * Keeps the KV caches of this model's generation and serving in precision (fp32, the default; bf16;
         * or fp16, as llama.cpp's default cache): call before anything is generated.
         */
        public Model withKvCache(dev.lamina.tensor.Precision precision) {
            synchronized (this) {
                if (prepared != null && prepared.kvCache() != precision)
                    throw new IllegalStateException("the KV cache precision is set before the model is prepared");
                kvCache = precision;
            }
            return this;
        }

        public Tokenizer tokenizer() { return tokenizer; }
        public WeightFormat weights() { return weights; }
        /** The model's chat template: its own, or Lamina's built-in one when it ships none. */
        public ModelChatTemplate chatTemplate() { return chatTemplate; }

        /** The weights prepared for inference, made once. */
        public PreparedModel prepared() {
            PreparedModel p = prepared;
            if (p == null) {
                synchronized (this) {
                    if ((p = prepared) == null) {
                        p = PreparedModel.of(decoder, weights).withKvCache(kvCache);
                        PreparedModel lean = inferenceOnly ? p.withoutFloatCopies() : null;
                        if (lean != null) {
                            p = lean;
                            decoder = lean.model();
                        }
                        prepared = p;
                    }
                }
            }
            return p;
        }

        /** The generator over the prepared weights, made once. */
        public Generator generator() {
            Generator g = generator;
            if (g == null) {
                synchronized (this) {
                    if ((g = generator) == null) generator = g = new Generator(prepared(), tokenizer);
                }
            }
            return g;
        }

        /** Generates up to maxTokens after prompt; onText (may be null) receives text as it is produced. */
        public String generate(String prompt, int maxTokens, Sampler sampler, Consumer<String> onText) {
            return generator().generate(prompt, maxTokens, sampler, onText);
        }
    }

    /** Tokenizes text files into train/val token files in out; tokenizer is "bytes" or a tokenizer directory. */
    public static DataPrep.Stats prepare(List<Path> corpus, String tokenizer, Path out) {
        return DataPrep.prepare(corpus, Tokenizers.load(tokenizer), out, 0.05, 0);
    }

    /** Trains a preset model (vocabulary from the data's tokenizer) into run; returns the trained model. */
    public static Model train(String preset, Path data, TrainConfig config, Path run) {
        try (Dataset d = Dataset.open(data)) {
            ModelConfig mc = Presets.get(preset).config().apply(d.tokenizer().vocabSize());
            return train(mc, d, config, run, null);
        }
    }

    /** Trains a model of the given config on an open dataset, reporting every step to onStep (may be null). */
    public static Model train(ModelConfig model, Dataset data, TrainConfig config, Path run, Consumer<Trainer.Progress> onStep) {
        Trainer t = Trainer.start(Decoder.create(model, config.seed()), data, data.dir().toString(), config, run);
        t.train(config.steps(), onStep);
        return new Model(t.model(), data.tokenizer());
    }

    /**
     * Loads a run directory (config.json, model.safetensors, tokenizer/), or a Hugging Face
     * directory (config.json with a model_type, safetensors weights, tokenizer.json; without a
     * usable tokenizer.json the model loads but text operations fail with the reason), or a GGUF
     * file (its block-quantized linear maps kept in their blocks with {@link WeightFormat#STORED}; a
     * Hugging Face directory's or a GGUF file's BF16 or F16 weights kept in 16 bits).
     */
    public static Model load(Path run) { return load(run, Kernels.defaults()); }

    /** As {@link #load(Path)}, the model computing with kernels (and their threads). */
    public static Model load(Path run, KernelSet kernels) { return load(run, kernels, WeightFormat.STORED, false); }

    /**
     * The format inference keeps run's linear weights in when asked for weights: {@link
     * WeightFormat#STORED} becomes {@link WeightFormat#BF16} or {@link WeightFormat#F16} for a Hugging Face
     * directory or GGUF file whose matrices are all stored so; anything else stands as asked.
     */
    public static WeightFormat servedFormat(Path run, WeightFormat weights) {
        if (weights != WeightFormat.STORED) return weights;
        if (GgufModel.isGguf(run)) return GgufModel.storedFormat(run);
        return HfCheckpoint.isHfDirectory(run) ? HfCheckpoint.storedFormat(run) : weights;
    }

    /**
     * As {@link #load(Path, KernelSet)}, inference storing the linear weights in the given format; with
     * {@link WeightFormat#STORED} a GGUF file's or Hugging Face directory's F16 or BF16 matrices are read
     * into 16-bit weights directly (no float32 copy of the model on the way).
     */
    public static Model load(Path run, KernelSet kernels, WeightFormat weights) { return load(run, kernels, weights, true); }

    /** keepHalf: 16-bit matrices are read into 16-bit weights when served as stored (else float32, for the uses needing floats). */
    private static Model load(Path run, KernelSet kernels, WeightFormat weights, boolean keepHalf) {
        WeightFormat as = servedFormat(run, weights);
        if (GgufModel.isGguf(run)) {
            boolean stored = weights == WeightFormat.STORED;
            GgufModel.Loaded g = GgufModel.load(run, stored, stored && keepHalf);
            return new Model(g.decoder().withKernels(kernels), g.tokenizer(), as, ModelChatTemplate.ofGguf(run)).inferenceOnly();
        }
        if (HfCheckpoint.isHfDirectory(run)) {
            Decoder d = weights == WeightFormat.STORED && keepHalf ? HfCheckpoint.loadStored(run) : HfCheckpoint.load(run);
            return new Model(d.withKernels(kernels), HfCheckpoint.tokenizer(run), as, ModelChatTemplate.of(run))
                    .inferenceOnly();
        }
        return new Model(Checkpoint.loadModel(run).withKernels(kernels), Tokenizers.load(run.resolve(Checkpoint.TOKENIZER)), as,
                ModelChatTemplate.of(run.resolve(Checkpoint.TOKENIZER))).inferenceOnly();
    }
}
