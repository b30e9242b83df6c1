package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.io.LaminaException;
import dev.lamina.structured.JsonBenchmark;
import dev.lamina.structured.Schema;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "json", mixinStandardHelpOptions = true,
        description = "The cost of constrained JSON decoding: one stream decoded freely and under a schema (or json_object), "
                + "milliseconds per token of each and the constraint's share.")
final class BenchJsonCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Run directory, Hugging Face directory or FILE.gguf.") Path model;
    @Option(names = "--schema", description = "A JSON Schema file (default: any JSON object, as response_format json_object).") Path schema;
    @Option(names = "--prompt", defaultValue = "Answer in JSON:", description = "Prompt text (default ${DEFAULT-VALUE}).") String prompt;
    @Option(names = "--tokens", defaultValue = "128", description = "max_tokens of each response (default ${DEFAULT-VALUE}).") int tokens;
    @Option(names = "--repeats", defaultValue = "5", description = "Repetitions; medians are reported (default ${DEFAULT-VALUE}).") int repeats;
    @Option(names = "--threads", description = "Worker threads (default: every core).") Integer threads;

    @Override
    public Integer call() {
        if (tokens < 2 || repeats < 1) throw new LaminaException("--tokens must be >= 2 and --repeats >= 1");
        Schema s = schema == null ? Schema.anyObject() : Schema.read(schema);
        Lamina.Model m = Lamina.load(model, Main.kernels(threads));
        int[] ids = m.tokenizer().encode(prompt);
        if (ids.length == 0) throw new LaminaException("--prompt encodes to no tokens");
        JsonBenchmark.Result r = JsonBenchmark.run(m.decoder(), m.tokenizer(), s, ids, tokens, repeats, System.err::println);
        System.out.printf(Locale.ROOT, "| model | schema | free ms/token | constrained ms/token | difference | masks alone, cold cache | masks alone, warm | mean constrained tokens |%n");
        System.out.printf(Locale.ROOT, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |%n");
        System.out.printf(Locale.ROOT, "| %s | %s | %.2f | %.2f | %+.1f%% | %.3f ms (%.1f%%) | %.3f ms (%.1f%%) | %.1f |%n", model.getFileName(),
                schema == null ? "json_object" : schema.getFileName(), r.freeMsPerToken(), r.constrainedMsPerToken(), 100 * r.overhead(),
                r.coldMaskMs(), 100 * r.coldMaskMs() / r.freeMsPerToken(), r.warmMaskMs(), 100 * r.warmMaskMs() / r.freeMsPerToken(),
                r.meanConstrainedTokens());
        return 0;
    }
}
