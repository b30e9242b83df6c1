package dev.lamina.cli;

import dev.lamina.kernels.WeightFormat;
import dev.lamina.Lamina;
import dev.lamina.infer.Sampler;
import dev.lamina.infer.SamplingParams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate text from a trained model, streamed to stdout.")
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Run directory (config.json, model.safetensors, tokenizer/), Hugging Face directory or FILE.gguf.")
    Path model;
    @Option(names = "--prompt", required = true, description = "Text to continue.")
    String prompt;
    @Option(names = "--max-tokens", defaultValue = "100", description = "Tokens to generate (default ${DEFAULT-VALUE}).")
    int maxTokens;
    @Option(names = "--temperature", defaultValue = "0.8", description = "0 for greedy (default ${DEFAULT-VALUE}).")
    double temperature;
    @Option(names = "--top-k", defaultValue = "40", description = "Keep the k most likely tokens, 0 for all (default ${DEFAULT-VALUE}).")
    int topK;
    @Option(names = "--top-p", defaultValue = "0.95", description = "Nucleus probability mass (default ${DEFAULT-VALUE}).")
    double topP;
    @Option(names = "--min-p", defaultValue = "0", description = "Drop tokens below this fraction of the most likely one's probability (default ${DEFAULT-VALUE}).")
    double minP;
    @Option(names = "--repetition-penalty", defaultValue = "1", description = "Penalty on tokens already in the prompt or output, 1 for none (default ${DEFAULT-VALUE}).")
    double repetitionPenalty;
    @Option(names = "--stop", description = "Stop before this text (repeatable).")
    List<String> stop;
    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--threads", description = "Worker threads (default: every core).")
    Integer threads;
    @Option(names = "--adapter", description = "A LoRA adapter directory (PEFT files) to apply to the model; repeatable: "
            + "several adapters act together, their updates summed as PEFT sums active adapters.")
    List<Path> adapters;
    @Option(names = "--weights", defaultValue = "stored", description = ServeCommand.WEIGHTS_HELP)
    String weights;
    @Option(names = "--kv-cache-dtype", defaultValue = "f32", description = ServeCommand.KV_HELP)
    String kvDtype;

    @Option(names = "--json", description = "Constrain the output to any JSON object (as response_format json_object).")
    boolean json;
    @Option(names = "--json-schema", paramLabel = "FILE", description = "Constrain the output to this JSON Schema (the subset the server's "
            + "response_format json_schema enforces): it ends complete and valid within --max-tokens.")
    Path jsonSchema;

    @Override
    public Integer call() {
        if (maxTokens < 1) throw new dev.lamina.io.LaminaException("--max-tokens must be >= 1, got " + maxTokens);
        Sampler sampler;
        try {
            sampler = new Sampler(new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, 0, 0, seed));
        } catch (dev.lamina.io.LaminaException e) {
            throw new dev.lamina.io.LaminaException("--" + e.getMessage().replace('_', '-'));
        }
        var kv = dev.lamina.infer.KvRows.parse(kvDtype);
        Lamina.Model m = Lamina.load(model, Main.kernels(threads), formatWith(WeightFormat.parse(weights), adapters)).withKvCache(kv);
        foldAdapters(m, adapters);
        dev.lamina.structured.JsonConstraint constraint = null;
        if (json || jsonSchema != null) {
            dev.lamina.structured.Schema schema = dev.lamina.structured.Schema.anyObject();
            if (jsonSchema != null) schema = dev.lamina.structured.Schema.read(jsonSchema);
            if (maxTokens < dev.lamina.structured.JsonConstraint.minTokens(schema))
                throw new dev.lamina.io.LaminaException("--max-tokens " + maxTokens + " cannot hold the shortest valid output ("
                        + dev.lamina.structured.JsonConstraint.minTokens(schema) + " tokens)");
            constraint = dev.lamina.structured.JsonConstraint.of(schema, m.tokenizer());
        }
        System.out.print(prompt);
        m.generator().generate(prompt, maxTokens, sampler, stop == null ? List.of() : stop, constraint, text -> {
            System.out.print(text);
            System.out.flush();
        });
        System.out.println();
        return 0;
    }

    /** Adapters are folded into float weights: a quantized file kept as stored is dequantized for them. */
    static WeightFormat formatWith(WeightFormat f, List<Path> adapters) {
        return f == WeightFormat.STORED && adapters != null && !adapters.isEmpty() ? WeightFormat.F32 : f;
    }

    /**
     * Folds LoRA adapters (PEFT directories) into a loaded model's weights: every adapter is read
     * and checked against the base first, then W + Σ sᵢ·Bᵢ·Aᵢ, as PEFT sums active adapters.
     */
    static void foldAdapters(Lamina.Model m, List<Path> dirs) {
        List<dev.lamina.model.Lora.Adapter> loaded = new java.util.ArrayList<>();
        for (Path dir : dirs == null ? List.<Path>of() : dirs) loaded.add(dev.lamina.hf.PeftAdapter.load(dir, m.decoder()));
        for (dev.lamina.model.Lora.Adapter a : loaded) dev.lamina.infer.PreparedModel.fold(m.decoder(), a);
    }
}
