package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.infer.Sampler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate text from a trained model, streamed to stdout.")
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Run directory (config.json, model.safetensors, tokenizer/).")
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
    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() {
        if (maxTokens < 1) throw new dev.lamina.io.LaminaException("--max-tokens must be >= 1, got " + maxTokens);
        Lamina.Model m = Lamina.load(model);
        System.out.print(prompt);
        m.generate(prompt, maxTokens, new Sampler(temperature, topK, topP, seed), text -> {
            System.out.print(text);
            System.out.flush();
        });
        System.out.println();
        return 0;
    }
}
