package dev.lamina.cli;

import dev.lamina.hf.HfCheckpoint;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "export", mixinStandardHelpOptions = true, description = "Write a model in another format.",
        subcommands = {ExportCommand.Hf.class, GgufExportCommand.class})
final class ExportCommand implements Runnable {
    @Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: hf or gguf");
    }

    @Command(name = "hf", mixinStandardHelpOptions = true,
            description = "Export a run as a Hugging Face directory that transformers loads with AutoModelForCausalLM "
                    + "(llama for rmsnorm+rope+swiglu, mistral with a sliding window, qwen3 with q/k norms, gemma, gemma2 and gemma3_text for "
                    + "geglu with scaled embeddings, gpt2 for layernorm+learned+gelu with biases; Pre-LN models only; docs/INTEROP.md).")
    static final class Hf implements Callable<Integer> {
        @Parameters(paramLabel = "RUN", description = "Run directory (or a Hugging Face directory).")
        Path run;
        @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory to create (must not exist or be empty).")
        Path out;
        @Option(names = "--dtype", defaultValue = "f32", paramLabel = "f32|f16|bf16",
                description = "Weight format (default ${DEFAULT-VALUE}).")
        String dtype;

        @Override
        public Integer call() {
            HfCheckpoint.DType d = HfCheckpoint.DType.parse(dtype);
            HfCheckpoint.Exported r = HfCheckpoint.export(run, out, d);
            System.out.printf("exported %s as %s (%s) -> %s%n", run, r.arch().causalLm, d.torch, out);
            if (r.tokenizerNote() != null) System.err.println("note: " + r.tokenizerNote());
            return 0;
        }
    }
}
