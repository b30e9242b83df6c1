package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.data.Dataset;
import dev.lamina.gguf.GgmlType;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.quant.Calibrate;
import dev.lamina.quant.Ptq;
import dev.lamina.research.LowBitStudy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "lowbit", mixinStandardHelpOptions = true,
        description = "Quantize a trained model's layers by RTN, MSE, ACIQ and GPTQ at several bits and group sizes (and the GGUF block types), "
                + "and report the validation perplexity and time of each: OUT/lowbit.md, lowbit.json and plots.")
final class ExperimentLowbitCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "A run or Hugging Face directory (float weights).") Path model;
    @Option(names = "--data", required = true, description = "Prepared data: calibration from its training tokens, scores on its validation tokens.") Path data;
    @Option(names = "--bits", defaultValue = "8,4,3,2", description = "Bit widths (default ${DEFAULT-VALUE}).") String bits;
    @Option(names = "--groups", defaultValue = "32,64,128,channel", description = "Group sizes, or channel (default ${DEFAULT-VALUE}).") String groups;
    @Option(names = "--methods", defaultValue = "rtn,mse,aciq,gptq", description = "Methods (default ${DEFAULT-VALUE}).") String methods;
    @Option(names = "--formats", defaultValue = "q8_0,q4_0,q4_1,q5_0,q5_1", description = "GGUF block types also measured, or none (default ${DEFAULT-VALUE}).") String formats;
    @Option(names = "--calib-tokens", defaultValue = "16384", description = "GPTQ calibration tokens (default ${DEFAULT-VALUE}).") long calibTokens;
    @Option(names = "--eval-tokens", defaultValue = "65536", description = "Validation tokens scored (default ${DEFAULT-VALUE}).") long evalTokens;
    @Option(names = "--seq", defaultValue = "128", description = "Tokens per sequence (default ${DEFAULT-VALUE}).") int seq;
    @Option(names = "--qat-steps", defaultValue = "0", description = "Also fine-tune each bits × group grid with LSQ quantization-aware "
            + "training for this many steps (and the float model as their control); 0 for none (default ${DEFAULT-VALUE}).") int qatSteps;
    @Option(names = "--qat-batch", defaultValue = "8", description = "Sequences of --seq training tokens per LSQ step (default ${DEFAULT-VALUE}).") int qatBatch;
    @Option(names = "--qat-lr", defaultValue = "1e-4", description = "Peak learning rate of the LSQ fine-tuning and its control (default ${DEFAULT-VALUE}).") double qatLr;
    @Option(names = "--out", description = "Output directory (default: runs/lowbit-<time>).") Path out;
    @Option(names = "--threads", description = "Worker threads (default: all cores).") Integer threads;

    @Override
    public Integer call() {
        int[] b = ints("bits", bits);
        for (int x : b) if (x != 2 && x != 3 && x != 4 && x != 8) throw new LaminaException("--bits must be among 2, 3, 4 and 8, got " + x);
        int[] g = Arrays.stream(groups.split(",")).map(String::trim).mapToInt(s -> s.equalsIgnoreCase("channel") ? 0 : ints("groups", s)[0]).toArray();
        List<Calibrate.Method> ms = new ArrayList<>();
        for (String s : methods.split(",")) ms.add(Calibrate.Method.parse(s));
        List<GgmlType> fs = new ArrayList<>();
        if (!formats.equalsIgnoreCase("none"))
            for (String s : formats.split(",")) {
                GgmlType t;
                try { t = GgmlType.valueOf(s.trim().toUpperCase(Locale.ROOT)); } catch (IllegalArgumentException e) { t = null; }
                if (t == null || dev.lamina.quant.Grid.of(t) == null) throw new LaminaException("--formats takes q8_0, q4_0, q4_1, q5_0, q5_1 or none, got '" + s + "'");
                fs.add(t);
            }
        Path dir = out != null ? out : Path.of("runs", "lowbit-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        long t0 = System.nanoTime();
        Lamina.Model loaded = Lamina.load(model, Main.kernels(threads));
        Decoder m = loaded.decoder();
        if (m.hasStored()) throw new LaminaException(model + ": the weights are already quantized; give a float model");
        try (Dataset d = Dataset.open(data)) {
            int T = Math.min(seq, Math.min(m.config().maxPositionEmbeddings(), m.config().contextLimit())), B = 4;
            int evalBatches = (int) Math.max(1, evalTokens / ((long) B * T));
            int calibBatches = (int) Math.max(1, calibTokens / ((long) B * T));
            if (d.train().size() < (long) B * T + 1) throw new LaminaException(data + ": too few training tokens to calibrate with");
            var calib = new Ptq.Calibration(d.train(), B, T, calibBatches);
            if (qatSteps < 0 || qatBatch < 1 || !(qatLr > 0))
                throw new LaminaException("--qat-steps must be >= 0, --qat-batch >= 1 and --qat-lr > 0");
            var qat = qatSteps > 0 ? new LowBitStudy.QatRun(qatSteps, qatBatch, T, qatLr) : null;
            LowBitStudy.Result r = LowBitStudy.run(m, d, b, g, ms, fs, calib, B, T, evalBatches, qat, System.err::println);
            String setup = String.format(Locale.ROOT, "# Low-bit weights: PTQ methods%s side by side%n%nModel: %s (%,d parameters). Every layer's linear maps "
                            + "are quantized (the embeddings and head stay float32); grids are asymmetric (ŵ = d·q + m, float32 d and m) per group of "
                            + "inputs, and the GGUF rows use their block type's grid with half-precision scales. GPTQ: %,d calibration tokens from the "
                            + "training split, damping 0.01, no act-order, layer by layer.%s Scored on %,d validation tokens of %s. %d threads, %.1f min. "
                            + "Command: `lamina experiment lowbit --model %s --data %s%s`.",
                    qat == null ? "" : " and LSQ", model, m.parameterCount(), calib.size(), qat == null ? "" : String.format(Locale.ROOT, " LSQ: quantization-aware fine-tuning of "
                            + "the float model on each bits × group grid (symmetric, −2^(b−1)..2^(b−1)−1, −127..127 at 8 bits, half-precision steps "
                            + "learned with the weights), %d steps of %d × %d training tokens, AdamW, peak lr %.0e, cosine, 10%% warm-up.",
                            qat.steps(), qat.batch(), qat.seq(), qat.lr()),
                    r.evalTokens(), data, m.kernels().threads(), (System.nanoTime() - t0) / 60e9, model, data,
                    " --bits " + bits + " --groups " + groups + " --methods " + methods + " --formats " + formats + " --eval-tokens " + evalTokens
                            + (qat == null ? "" : " --qat-steps " + qatSteps + " --qat-batch " + qatBatch + " --qat-lr " + qatLr));
            System.out.println(LowBitStudy.writeReport(r, b, g, ms, dir, setup, Plots.INSTANCE));
        }
        System.out.printf(Locale.ROOT, "done in %.1f min; report: %s%n", (System.nanoTime() - t0) / 60e9, dir.resolve("lowbit.md"));
        return 0;
    }

    private static int[] ints(String field, String csv) {
        try {
            return Arrays.stream(csv.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new LaminaException("--" + field + " must be comma-separated integers, got '" + csv + "'");
        }
    }
}
