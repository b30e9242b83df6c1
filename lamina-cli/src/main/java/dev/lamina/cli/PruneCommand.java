package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.data.Dataset;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.research.LayerDiagnostics;
import dev.lamina.research.Pruning;
import dev.lamina.train.Batcher;
import dev.lamina.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Structured pruning by depth: removes N layers chosen by angular distance (a block, Gromov et al.)
 * or by removal cost (single layers) and writes the smaller model as a run directory, ready to be
 * healed with `lamina train --init` or `lamina distill --student`.
 */
@Command(name = "prune", mixinStandardHelpOptions = true,
        description = "Remove layers from a model (a block by angular distance, or single layers by removal cost) and write the smaller model.")
final class PruneCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "A run or Hugging Face directory (float weights).") Path model;
    @Option(names = "--out", required = true, description = "Run directory for the pruned model.") Path out;
    @Option(names = "--data", required = true, description = "Prepared data (its validation tokens score the layers and the result).") Path data;
    @Option(names = "--drop-layers", required = true, paramLabel = "N", description = "Layers to remove.") int dropLayers;
    @Option(names = "--by", defaultValue = "angular", description = "angular (the block of N layers whose input and output differ least) "
            + "or removal-cost (the N layers whose removal raises perplexity least) (default ${DEFAULT-VALUE}).") String by;
    @Option(names = "--batch", defaultValue = "4", description = "Sequences per scoring batch (default ${DEFAULT-VALUE}).") int batch;
    @Option(names = "--seq", defaultValue = "128", description = "Tokens per sequence (default ${DEFAULT-VALUE}).") int seq;
    @Option(names = "--tokens", defaultValue = "16384", description = "Validation tokens scored (default ${DEFAULT-VALUE}).") long tokens;
    @Option(names = "--threads", description = "Worker threads (default: every core).") Integer threads;

    @Override
    public Integer call() {
        String rule = by.toLowerCase(Locale.ROOT);
        if (!rule.equals("angular") && !rule.equals("removal-cost")) throw new LaminaException("--by must be angular or removal-cost, got '" + by + "'");
        if (batch < 1 || seq < 2) throw new LaminaException("--batch must be >= 1 and --seq >= 2");
        if (Files.exists(out.resolve(Checkpoint.CONFIG))) throw new LaminaException(out + " already holds a model; choose a new --out");
        Lamina.Model loaded = Lamina.load(model, Main.kernels(threads));
        Decoder m = loaded.decoder();
        if (m.hasStored()) throw new LaminaException(model + ": quantized weights; prune a float model (a run, Hugging Face directory or F32/F16/BF16 GGUF)");
        int L = m.config().numHiddenLayers();
        if (dropLayers < 1 || dropLayers >= L)
            throw new LaminaException("--drop-layers must be between 1 and " + (L - 1) + " (the model has " + L + " layers), got " + dropLayers);
        int T = Math.min(seq, Math.min(m.config().maxPositionEmbeddings(), m.config().contextLimit()));
        Dataset d = Dataset.open(data);
        if (d.tokenizer().vocabSize() > m.config().vocabSize())
            throw new LaminaException(data + ": tokenized with " + d.tokenizer().vocabSize() + " tokens but the model has " + m.config().vocabSize()
                    + "; prepare the data with the model's tokenizer");
        if (d.val().size() < T + 2) throw new LaminaException(data + ": too few validation tokens for --seq " + T);
        int batches = (int) Math.max(1, (tokens + (long) batch * T - 1) / ((long) batch * T));
        double before = LayerDiagnostics.loss(m, d.val(), batch, T, batches, l -> false);
        int[] drop;
        double[] scores = new double[L];
        if (rule.equals("angular")) {
            int[] ids = new int[batch * T], tg = new int[batch * T];
            Batcher.fixed(d.val(), 0, 1, batch, T, ids, tg);
            double[][] angular = LayerDiagnostics.hidden(Pruning.states(m, ids, batch, T), m.config().hiddenSize()).angular();
            drop = Pruning.blockByAngle(angular, dropLayers);
            Arrays.fill(scores, Double.NaN);
            for (int l = 0; l + dropLayers <= L; l++) scores[l] = angular[l][dropLayers];
        } else {
            try (ConsoleProgress bar = new ConsoleProgress("removal cost", L, System.err)) {
                for (int l = 0; l < L; l++) {
                    int skipped = l;
                    scores[l] = Math.exp(LayerDiagnostics.loss(m, d.val(), batch, T, batches, k -> k == skipped)) - Math.exp(before);
                    bar.update(l + 1, "layer " + l);
                }
            }
            drop = Pruning.byRemovalCost(scores, dropLayers);
        }
        Decoder pruned = Pruning.dropLayers(m, drop);
        double after = LayerDiagnostics.loss(pruned, d.val(), batch, T, batches, l -> false);
        Checkpoint.saveModel(out, pruned, 0);
        loaded.tokenizer().save(out.resolve(Checkpoint.TOKENIZER));
        var j = Json.MAPPER.createObjectNode().put("model", model.toAbsolutePath().toString()).put("by", rule).put("drop_layers", dropLayers);
        var dropped = j.putArray("dropped");
        for (int l : drop) dropped.add(l);
        var sc = j.putArray(rule.equals("angular") ? "angular_distance_by_start" : "removal_cost_by_layer");
        for (double s : scores) { if (Double.isNaN(s)) sc.addNull(); else sc.add(s); }
        j.put("val_loss_before", before).put("val_loss_after", after).put("parameters_before", m.parameterCount())
                .put("parameters_after", pruned.parameterCount()).put("eval_tokens", (long) batches * batch * T);
        AtomicFiles.writeString(out.resolve("prune.json"), j.toPrettyString());

        System.out.printf(Locale.ROOT, "%s: removed layers %s of %d (%s)%n%n", model.getFileName(), Arrays.toString(drop), L,
                rule.equals("angular") ? "the block whose input and output are closest in angle, d = " + String.format(Locale.ROOT, "%.4f", scores[drop[0]])
                        : "the cheapest single layers by perplexity increase");
        System.out.println("| model | layers | parameters | val perplexity |");
        System.out.println("| --- | ---: | ---: | ---: |");
        System.out.printf(Locale.ROOT, "| before | %d | %,d | %.2f |%n", L, m.parameterCount(), Math.exp(before));
        System.out.printf(Locale.ROOT, "| pruned | %d | %,d | %.2f |%n", L - dropLayers, pruned.parameterCount(), Math.exp(after));
        System.out.printf(Locale.ROOT, "%nwrote %s; heal it with `lamina train --init %s --data %s --out RUN` or "
                + "`lamina distill --teacher %s --student %s --data %s --out RUN`%n", out, out, data, model, out, data);
        return 0;
    }
}
