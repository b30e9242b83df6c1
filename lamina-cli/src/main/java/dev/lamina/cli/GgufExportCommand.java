package dev.lamina.cli;

import dev.lamina.gguf.GgmlType;
import dev.lamina.gguf.GgufModel;
import dev.lamina.gguf.GgufQuantType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** {@code lamina export gguf} and its alias {@code lamina quantize}: one model as one GGUF file. */
@Command(name = "gguf", mixinStandardHelpOptions = true,
        description = "Write a model as a GGUF file that llama.cpp loads (llama for rmsnorm+rope+swiglu, qwen3 with q/k "
                + "norms, gemma/gemma2/gemma3 for the Gemmas, gpt2 for layernorm+learned+gelu with biases; Pre-LN models only). "
                + "Vectors stay f32; the _m mixes follow llama.cpp's recipe (docs/INTEROP.md).")
final class GgufExportCommand implements Callable<Integer> {
    @Parameters(paramLabel = "MODEL", description = "Run directory, Hugging Face directory or GGUF file.")
    Path model;
    @Option(names = "--out", required = true, paramLabel = "FILE.gguf", description = "File to write (replaced if it exists).")
    Path out;
    @Option(names = "--type", defaultValue = "f16",
            paramLabel = "f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q4_k|q5_k|q6_k|q4_k_m|q5_k_m",
            description = "Weight format (default ${DEFAULT-VALUE}).")
    String type;

    @Override
    public Integer call() {
        GgufQuantType t = GgufQuantType.parse(type);
        GgufModel.Exported r = GgufModel.export(model, out, t);
        Map<GgmlType, Integer> counts = new TreeMap<>();
        r.tensorTypes().values().forEach(g -> counts.merge(g, 1, Integer::sum));
        System.out.printf("exported %s as GGUF %s (%s), tensors %s -> %s%n", model, r.arch(), t.label(), counts, out);
        if (r.vocabularyNote() != null) System.err.println("note: " + r.vocabularyNote());
        return 0;
    }
}
