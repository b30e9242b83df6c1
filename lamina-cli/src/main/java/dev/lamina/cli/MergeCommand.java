package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.hf.PeftAdapter;
import dev.lamina.infer.PreparedModel;
import dev.lamina.model.Decoder;
import dev.lamina.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "merge", mixinStandardHelpOptions = true,
        description = "Fold a LoRA adapter (PEFT files) into its base model: W + (alpha/r)·B·A, written as a run directory.")
final class MergeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "The base: run directory, Hugging Face directory or FILE.gguf.")
    Path model;
    @Option(names = "--adapter", required = true, description = "Directory with adapter_config.json and adapter_model.safetensors.")
    Path adapter;
    @Option(names = "--out", required = true, description = "Run directory to write (then `lamina export hf` or `export gguf` it).")
    Path out;

    @Override
    public Integer call() {
        Lamina.Model base = Lamina.load(model, Main.kernels(null));
        Decoder d = base.decoder();
        int merged = PreparedModel.fold(d, PeftAdapter.load(adapter, d));
        Checkpoint.saveModel(out, d, 0);
        base.tokenizer().save(out.resolve(Checkpoint.TOKENIZER));
        System.out.printf("merged the adapter into %d linear maps; wrote %s%n", merged, out);
        return 0;
    }
}
