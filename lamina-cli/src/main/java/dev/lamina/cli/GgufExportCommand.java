package dev.lamina.cli;

import dev.lamina.data.Dataset;
import dev.lamina.data.TokenFile;
import dev.lamina.gguf.GgmlType;
import dev.lamina.gguf.GgufModel;
import dev.lamina.gguf.GgufQuantType;
import dev.lamina.io.LaminaException;
import dev.lamina.io.TextFiles;
import dev.lamina.model.Decoder;
import dev.lamina.quant.Calibrate;
import dev.lamina.quant.Grid;
import dev.lamina.quant.Ptq;
import dev.lamina.research.LayerDiagnostics;
import dev.lamina.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code lamina export gguf} and its alias {@code lamina quantize}: one model as one GGUF file. With
 * {@code --method mse|aciq|gptq} the layers' weights are calibrated onto the block grid of a 32-weight
 * type (q8_0, q4_0, q4_1, q5_0, q5_1) before they are written: better scales and levels, the same
 * layout, so every GGUF reader loads the file.
 */
@Command(name = "gguf", mixinStandardHelpOptions = true,
        description = "Write a model as a GGUF file that llama.cpp loads (llama for rmsnorm+rope+swiglu, qwen3 with q/k "
                + "norms, gemma/gemma2/gemma3 for the Gemmas, gpt2 for layernorm+learned+gelu with biases; Pre-LN models only). "
                + "Vectors stay f32; the _m mixes follow llama.cpp's recipe (docs/INTEROP.md). --method calibrates the layers' "
                + "weights (PTQ) for the 32-weight block types.")
final class GgufExportCommand implements Callable<Integer> {
    @Parameters(paramLabel = "MODEL", description = "Run directory, Hugging Face directory or GGUF file.")
    Path model;
    @Option(names = "--out", required = true, paramLabel = "FILE.gguf", description = "File to write (replaced if it exists).")
    Path out;
    @Option(names = "--type", defaultValue = "f16",
            paramLabel = "f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q4_k|q5_k|q6_k|q4_k_m|q5_k_m",
            description = "Weight format (default ${DEFAULT-VALUE}).")
    String type;
    @Option(names = "--method", defaultValue = "rtn", description = "How the layers' scales and levels are chosen: rtn (round to nearest, "
            + "as llama.cpp), mse (the clipping that minimises ‖W − Q(W)‖²), aciq (analytical clipping for a Laplace or Gaussian fit) or "
            + "gptq (Hessian-aware with error feedback; needs --calib) (default ${DEFAULT-VALUE}).") String method;
    @Option(names = "--calib", paramLabel = "FILE|DIR", description = "GPTQ calibration: a UTF-8 text file, or prepared data (its training tokens).") Path calib;
    @Option(names = "--calib-tokens", defaultValue = "16384", description = "Calibration tokens (default ${DEFAULT-VALUE}).") long calibTokens;
    @Option(names = "--act-order", description = "GPTQ: quantize columns by decreasing Hessian diagonal (static groups).") boolean actOrder;
    @Option(names = "--damp", defaultValue = "0.01", description = "GPTQ: damping, a share of the mean Hessian diagonal (default ${DEFAULT-VALUE}).") double damp;
    @Option(names = "--aciq-fit", defaultValue = "laplace", description = "ACIQ: laplace or gaussian (default ${DEFAULT-VALUE}).") String aciqFit;
    @Option(names = "--eval", paramLabel = "DIR", description = "Prepared data whose validation perplexity is printed for the float and the quantized layers.") Path eval;
    @Option(names = "--threads", description = "Worker threads (default: all cores).") Integer threads;

    @Override
    public Integer call() {
        GgufQuantType t = GgufQuantType.parse(type);
        Calibrate.Method m = Calibrate.Method.parse(method);
        if (m == Calibrate.Method.RTN && eval == null) {
            GgufModel.Exported r = GgufModel.export(model, out, t);
            report(r, t);
            return 0;
        }
        if (m != Calibrate.Method.RTN && Grid.of(t.base) == null)
            throw new LaminaException("--method " + method + " calibrates the 32-weight block types q8_0, q4_0, q4_1, q5_0 and q5_1; "
                    + t.label() + "'s scales are chosen by llama.cpp's own search: use --method rtn");
        Calibrate.Fit fit = switch (aciqFit.toLowerCase(Locale.ROOT)) {
            case "laplace" -> Calibrate.Fit.LAPLACE;
            case "gaussian" -> Calibrate.Fit.GAUSSIAN;
            default -> throw new LaminaException("--aciq-fit must be laplace or gaussian, got '" + aciqFit + "'");
        };
        if (calib != null && m != Calibrate.Method.GPTQ) throw new LaminaException("--calib is for --method gptq; " + method + " needs no data");
        GgufModel.Source src = GgufModel.source(model);
        Decoder d = src.decoder().withKernels(Main.kernels(threads));
        if (d.hasStored()) throw new LaminaException(model + ": the weights are already quantized; calibrate a float model (a run, Hugging Face directory or F32/F16/BF16 GGUF)");
        var types = GgufModel.types(d.config(), d.params(), t);
        Ptq.Options o = new Ptq.Options(m, fit, damp, actOrder, Calibrate.Method.RTN);
        Ptq.Calibration cal = m == Calibrate.Method.GPTQ ? calibration(d, src.tokenizer()) : null;
        Ptq.Result r;
        int L = d.config().numHiddenLayers();
        try (ConsoleProgress bar = new ConsoleProgress(m.name().toLowerCase(Locale.ROOT), L, System.err)) {
            r = Ptq.run(d, k -> Grid.of(types.get(k)), o, cal, l -> bar.update(l, "layer " + (l - 1)));
        }
        System.err.printf(Locale.ROOT, "calibrated %d tensors by %s in %.1f s%s%n", r.tensors().size(), m.name().toLowerCase(Locale.ROOT), r.seconds(),
                cal == null ? "" : String.format(Locale.ROOT, " on %,d calibration tokens", cal.size()));
        if (eval != null) {
            try (Dataset ds = Dataset.open(eval)) {
                int T = Math.min(128, Math.min(d.config().maxPositionEmbeddings(), d.config().contextLimit()));
                int batches = (int) Math.max(1, Math.min(64, (ds.val().size() - 1) / (4L * T)));
                double before = LayerDiagnostics.loss(d, ds.val(), 4, T, batches, l -> false), after = LayerDiagnostics.loss(r.model(), ds.val(), 4, T, batches, l -> false);
                System.out.printf(Locale.ROOT, "validation perplexity on %,d tokens: float %.3f, %s layers by %s %.3f%n", (long) batches * 4 * T,
                        Math.exp(before), t.label(), m.name().toLowerCase(Locale.ROOT), Math.exp(after));
            }
        }
        GgufModel.Exported e = GgufModel.write(r.model(), src.tokenizer(), src.chatTemplate(), out, t, r.tensors()).withNote(src.note());
        report(e, t);
        return 0;
    }

    private void report(GgufModel.Exported r, GgufQuantType t) {
        Map<GgmlType, Integer> counts = new TreeMap<>();
        r.tensorTypes().values().forEach(g -> counts.merge(g, 1, Integer::sum));
        System.out.printf("exported %s as GGUF %s (%s), tensors %s -> %s%n", model, r.arch(), t.label(), counts, out);
        if (r.vocabularyNote() != null) System.err.println("note: " + r.vocabularyNote());
    }

    /** --calib as batches of 4 x T tokens: a prepared data directory's training tokens, or a text file tokenized with the model's tokenizer. */
    private Ptq.Calibration calibration(Decoder d, Tokenizer tok) {
        if (calib == null) throw new LaminaException("--method gptq needs calibration text: give --calib FILE (UTF-8 text) or a prepared data directory");
        if (calibTokens < 1) throw new LaminaException("--calib-tokens must be positive, got " + calibTokens);
        int T = Math.min(128, Math.min(d.config().maxPositionEmbeddings(), d.config().contextLimit())), B = 4;
        TokenFile tokens;
        if (Files.isDirectory(calib)) tokens = Dataset.open(calib).train();
        else {
            if (!Files.isRegularFile(calib)) throw new LaminaException(calib + ": no such calibration file");
            if (tok == null) throw new LaminaException(model + ": no tokenizer to encode " + calib + " with; give prepared data as --calib");
            int[] ids = tok.encode(TextFiles.read(calib));
            try {
                Path f = Files.createTempFile("lamina-calib", ".bin");
                f.toFile().deleteOnExit();
                TokenFile.write(f, ids, d.config().vocabSize());
                tokens = TokenFile.open(f);
            } catch (IOException e) {
                throw new LaminaException("cannot write the calibration tokens (" + e.getMessage() + ")");
            }
        }
        if (tokens.size() < T + 1) throw new LaminaException(calib + ": " + tokens.size() + " tokens, too few to calibrate with (at least " + (T + 1) + ")");
        int batches = (int) Math.max(1, Math.min(calibTokens / ((long) B * T), (tokens.size() - 1) / ((long) B * T)));
        if ((tokens.size() - 1) < (long) B * T) B = 1;
        return new Ptq.Calibration(tokens, B, T, batches);
    }
}
