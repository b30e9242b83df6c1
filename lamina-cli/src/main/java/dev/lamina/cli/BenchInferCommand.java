package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.infer.PreparedModel;
import dev.lamina.kernels.WeightFormat;
import dev.lamina.infer.InferenceBenchmark;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.Presets;
import dev.lamina.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "infer", mixinStandardHelpOptions = true,
        description = "Inference speed of a preset with random weights: prefill, batch-1 decode against the memory-bandwidth bound, "
                + "aggregate decode at several concurrencies, time to first token.")
final class BenchInferCommand implements Callable<Integer> {
    @Option(names = "--preset", defaultValue = "small", description = "Model preset (default ${DEFAULT-VALUE}).")
    String preset;
    @Option(names = "--model", description = "Measure this model instead of a preset: run directory, Hugging Face directory or "
            + "FILE.gguf (its blocks kept as they are, see --weights).")
    java.nio.file.Path modelPath;
    @Option(names = "--vocab", description = "Vocabulary size (default: 8192 for small, else 16384).")
    Integer vocab;
    @Option(names = "--weights", defaultValue = "stored", description = ServeCommand.WEIGHTS_HELP)
    String weights;
    @Option(names = "--kv-cache-dtype", defaultValue = "f32", description = ServeCommand.KV_HELP)
    String kvDtype;
    @Option(names = "--threads", description = "Worker threads (default: all cores).")
    Integer threads;
    @Option(names = "--prompt", defaultValue = "128", description = "Prefill tokens (default ${DEFAULT-VALUE}).")
    int prompt;
    @Option(names = "--tokens", defaultValue = "128", description = "Decoded tokens per measurement (batch 1: after the --prompt tokens) and per stream (default ${DEFAULT-VALUE}).")
    int tokens;
    @Option(names = "--repeats", defaultValue = "3", description = "Timed repetitions; medians are reported (default ${DEFAULT-VALUE}).")
    int repeats;
    @Option(names = "--concurrency", split = ",", defaultValue = "1,4,16", description = "Concurrent streams (default ${DEFAULT-VALUE}).")
    int[] concurrency;
    @Option(names = "--warmup", defaultValue = "5", description = "Seconds of warm-up before timing (default ${DEFAULT-VALUE}).")
    double warmup;

    @Override
    public Integer call() {
        if (repeats < 1) throw new LaminaException("--repeats must be >= 1");
        if (prompt < 1 || tokens < 1) throw new LaminaException("--prompt and --tokens must be >= 1");
        for (int c : concurrency) if (c < 1) throw new LaminaException("--concurrency values must be >= 1, got " + c);
        int v = vocab != null ? vocab : preset.equals("small") ? 8192 : 16384;
        WeightFormat format = WeightFormat.parse(weights);
        var kv = dev.lamina.infer.KvRows.parse(kvDtype);
        Lamina.Model loaded = modelPath != null ? Lamina.load(modelPath, Main.kernels(threads), format) : null;
        if (loaded != null) format = loaded.weights();       // as served: a BF16 or F16 file's matrices in 16 bits
        Decoder model = loaded != null ? loaded.decoder() : Decoder.create(Presets.get(preset).config().apply(v), 1, Main.kernels(threads));
        String name = (modelPath != null ? modelPath.getFileName().toString() : preset) + (format == WeightFormat.F32 || format == WeightFormat.STORED ? "" : " " + format)
                + (kv == dev.lamina.tensor.Precision.FP32 ? "" : ", KV cache " + dev.lamina.infer.KvRows.label(kv));
        System.err.printf("bench infer: %s, vocab %d, %d threads, kernels %s%n", name, model.config().vocabSize(), model.kernels().threads(),
                model.kernels().describe());
        InferenceBenchmark.Report r = InferenceBenchmark.run(name, (loaded != null ? loaded.prepared() : PreparedModel.of(model, format)).withKvCache(kv),
                new InferenceBenchmark.Settings(prompt, tokens, repeats, concurrency, warmup), s -> System.err.println("  " + s));
        System.out.print(r.format());
        return 0;
    }
}
