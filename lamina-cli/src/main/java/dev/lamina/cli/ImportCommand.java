package dev.lamina.cli;

import dev.lamina.hf.HfCheckpoint;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "import", mixinStandardHelpOptions = true, description = "Convert a model from another format into a run directory.",
        subcommands = ImportCommand.Hf.class)
final class ImportCommand implements Runnable {
    @Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: hf");
    }

    @Command(name = "hf", mixinStandardHelpOptions = true,
            description = "Import a Hugging Face gpt2, llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3_text or phi3 checkpoint directory (config.json, model.safetensors or "
                    + "shards with model.safetensors.index.json, tokenizer.json) into a new run directory.")
    static final class Hf implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", description = "The Hugging Face directory.")
        Path dir;
        @Option(names = "--out", required = true, paramLabel = "RUN", description = "Run directory to create (must not exist or be empty).")
        Path out;

        @Override
        public Integer call() {
            HfCheckpoint.Imported r = HfCheckpoint.importTo(dir, out);
            var c = r.config();
            System.out.printf("imported %s: %d layers, hidden %d, %d heads (%d kv), vocab %d, %,d parameters -> %s%n",
                    r.arch(), c.numHiddenLayers(), c.hiddenSize(), c.numAttentionHeads(), c.numKeyValueHeads(), c.vocabSize(),
                    r.parameters(), out);
            if (r.tokenizerNote() != null) System.err.println("note: no tokenizer imported: " + r.tokenizerNote());
            return 0;
        }
    }
}
