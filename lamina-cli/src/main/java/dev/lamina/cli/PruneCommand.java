package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.data.Dataset;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.research.LayerDiagnostics;
import dev.lamina.research.ModelCost;
import dev.lamina.research.Pruning;
import dev.lamina.train.Batcher;
import dev.lamina.train.Checkpoint;
import dev.lamina.train.SparsityMask;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Pruning a trained model: layers (a block by angular distance, Gromov et al., or single layers by
 * removal cost), attention heads and MLP channels (Minitron's activation importance), and unstructured
 * or 2:4 sparsity (magnitude or Wanda). The result is a run directory, ready to be healed with
 * `lamina train --init` or `lamina distill --student`; a sparse one keeps its zeros while it trains.
 */
@Command(name = "prune", mixinStandardHelpOptions = true,
        description = "Remove layers, attention heads or MLP channels from a model, or zero a share of its weights, and write the result.")
final class PruneCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "A run or Hugging Face directory (float weights).") Path model;
    @Option(names = "--out", required = true, description = "Run directory for the pruned model.") Path out;
    @Option(names = "--data", required = true, description = "Prepared data (its validation tokens score the parts and the result).") Path data;
    @Option(names = "--drop-layers", paramLabel = "N", description = "Layers to remove.") Integer dropLayers;
    @Option(names = "--by", defaultValue = "angular", description = "With --drop-layers: angular (the block of N layers whose input and output differ least), "
            + "removal-cost (the N layers whose removal raises perplexity least) or last (the last N: Inheritune's cut) (default ${DEFAULT-VALUE}).") String by;
    @Option(names = "--heads", paramLabel = "FRACTION", description = "Share of the attention heads to remove in every layer, the least active first "
            + "(mean L2 norm of a head's output); with grouped queries, the same number from each KV group.") Double heads;
    @Option(names = "--mlp", paramLabel = "FRACTION", description = "Share of the MLP channels to remove in every layer, the least active first "
            + "(mean |activation| entering down_proj).") Double mlp;
    @Option(names = "--sparsity", paramLabel = "FRACTION", description = "Share of each layer map's weights to set to zero (kept at zero in further training).") Double sparsity;
    @Option(names = "--pattern", defaultValue = "unstructured", description = "With --sparsity: unstructured (the lowest of each output row) or 2:4 "
            + "(the two lowest of every four inputs) (default ${DEFAULT-VALUE}).") String pattern;
    @Option(names = "--score", defaultValue = "wanda", description = "With --sparsity: magnitude |W| or wanda |W|·‖X‖ (default ${DEFAULT-VALUE}).") String score;
    @Option(names = "--batch", defaultValue = "4", description = "Sequences per scoring batch (default ${DEFAULT-VALUE}).") int batch;
    @Option(names = "--seq", defaultValue = "128", description = "Tokens per sequence (default ${DEFAULT-VALUE}).") int seq;
    @Option(names = "--tokens", defaultValue = "16384", description = "Validation tokens scored (default ${DEFAULT-VALUE}).") long tokens;
    @Option(names = "--no-speed", description = "Skip measuring prefill and decode speed before and after.") boolean noSpeed;
    @Option(names = "--threads", description = "Worker threads (default: every core).") Integer threads;

    @Override
    public Integer call() {
        String rule = by.toLowerCase(Locale.ROOT);
        if (dropLayers == null && heads == null && mlp == null && sparsity == null)
            throw new LaminaException("say what to prune: --drop-layers N, --heads FRACTION, --mlp FRACTION or --sparsity FRACTION");
        if (!rule.equals("angular") && !rule.equals("removal-cost") && !rule.equals("last"))
            throw new LaminaException("--by must be angular, removal-cost or last, got '" + by + "'");
        Pruning.Pattern pat = switch (pattern.toLowerCase(Locale.ROOT)) {
            case "unstructured" -> Pruning.Pattern.UNSTRUCTURED;
            case "2:4" -> Pruning.Pattern.TWO_FOUR;
            default -> throw new LaminaException("--pattern must be unstructured or 2:4, got '" + pattern + "'");
        };
        Pruning.Score sc = switch (score.toLowerCase(Locale.ROOT)) {
            case "magnitude" -> Pruning.Score.MAGNITUDE;
            case "wanda" -> Pruning.Score.WANDA;
            default -> throw new LaminaException("--score must be magnitude or wanda, got '" + score + "'");
        };
        for (var f : new Object[][] {{"heads", heads}, {"mlp", mlp}, {"sparsity", sparsity}})
            if (f[1] != null && !((Double) f[1] > 0 && (Double) f[1] < 1))
                throw new LaminaException("--" + f[0] + " is the fraction to remove, in (0, 1); got " + f[1]);
        if (batch < 1 || seq < 2) throw new LaminaException("--batch must be >= 1 and --seq >= 2");
        if (Files.exists(out.resolve(Checkpoint.CONFIG))) throw new LaminaException(out + " already holds a model; choose a new --out");
        Lamina.Model loaded = Lamina.load(model, Main.kernels(threads));
        Decoder m = loaded.decoder();
        if (m.hasStored()) throw new LaminaException(model + ": quantized weights; prune a float model (a run, Hugging Face directory or F32/F16/BF16 GGUF)");
        ModelConfig c = m.config();
        int L = c.numHiddenLayers();
        if (dropLayers != null && (dropLayers < 1 || dropLayers >= L))
            throw new LaminaException("--drop-layers must be between 1 and " + (L - 1) + " (the model has " + L + " layers), got " + dropLayers);
        int T = Math.min(seq, Math.min(c.maxPositionEmbeddings(), c.contextLimit()));
        Dataset d = Dataset.open(data);
        if (d.tokenizer().vocabSize() > c.vocabSize())
            throw new LaminaException(data + ": tokenized with " + d.tokenizer().vocabSize() + " tokens but the model has " + c.vocabSize()
                    + "; prepare the data with the model's tokenizer");
        if (d.val().size() < T + 2) throw new LaminaException(data + ": too few validation tokens for --seq " + T);
        int batches = (int) Math.max(1, (tokens + (long) batch * T - 1) / ((long) batch * T));
        ObjectNode j = Json.MAPPER.createObjectNode().put("model", model.toAbsolutePath().toString());
        List<String> steps = new ArrayList<>();

        double before = LayerDiagnostics.loss(m, d.val(), batch, T, batches, l -> false);
        Decoder p = m;
        if (dropLayers != null) {
            int[] drop = dropLayers(p, d, T, batches, before, rule, j);
            p = Pruning.dropLayers(p, drop);
            steps.add("removed layers " + Arrays.toString(drop) + " of " + L + " (" + switch (rule) {
                case "angular" -> "the block whose input and output are closest in angle";
                case "last" -> "the last ones, the first " + (L - dropLayers) + " kept";
                default -> "the cheapest single layers by perplexity increase";
            } + ")");
        }
        Pruning.Activations acts = heads != null || mlp != null || sparsity != null && sc == Pruning.Score.WANDA
                ? Pruning.activations(p, d.val(), batch, T, batches) : null;
        if (heads != null || mlp != null) {
            ModelConfig pc = p.config();
            int[][] keptHeads = heads == null ? null : Pruning.keptHeads(acts.heads(), pc.numAttentionHeads(), pc.numKeyValueHeads(), heads);
            int[][] keptChannels = mlp == null ? null : Pruning.keptChannels(acts.channels(), pc.intermediateSize(), mlp);
            p = Pruning.width(p, keptHeads, keptChannels);
            if (heads != null) {
                j.put("heads", heads).set("kept_heads", Json.MAPPER.valueToTree(keptHeads));
                steps.add(String.format(Locale.ROOT, "kept %d of %d attention heads in every layer (%d KV heads)", p.config().numAttentionHeads(),
                        pc.numAttentionHeads(), p.config().numKeyValueHeads()));
            }
            if (mlp != null) {
                j.put("mlp", mlp).set("kept_channels", Json.MAPPER.valueToTree(keptChannels));
                steps.add(String.format(Locale.ROOT, "kept %d of %d MLP channels in every layer", p.config().intermediateSize(), pc.intermediateSize()));
            }
        }
        if (sparsity != null) {
            if (sc == Pruning.Score.WANDA && (heads != null || mlp != null)) acts = Pruning.activations(p, d.val(), batch, T, batches);   // the pruned maps' inputs
            p = Pruning.sparsify(p, sparsity, pat, sc, acts);
            j.put("sparsity", sparsity).put("pattern", pattern.toLowerCase(Locale.ROOT)).put("score", sc.name().toLowerCase(Locale.ROOT))
                    .put("zero_share", Pruning.sparsity(p));
            steps.add(String.format(Locale.ROOT, "set %.1f%% of the layers' weights to zero (%s, by %s)", 100 * Pruning.sparsity(p),
                    pattern.toLowerCase(Locale.ROOT), sc.name().toLowerCase(Locale.ROOT)));
        }
        double after = LayerDiagnostics.loss(p, d.val(), batch, T, batches, l -> false);

        if (!noSpeed) ModelCost.timed(m);             // a first run compiles the kernels, so neither model is timed cold
        ModelCost sb = noSpeed ? ModelCost.of(m) : ModelCost.timed(m), sa = noSpeed ? ModelCost.of(p) : ModelCost.timed(p);
        Checkpoint.saveModel(out, p, 0);              // written once everything is measured
        loaded.tokenizer().save(out.resolve(Checkpoint.TOKENIZER));
        if (sparsity != null) SparsityMask.of(p, pattern.toLowerCase(Locale.ROOT), sparsity).write(out);
        j.put("val_loss_before", before).put("val_loss_after", after).put("parameters_before", m.parameterCount())
                .put("parameters_after", p.parameterCount()).put("eval_tokens", (long) batches * batch * T);
        j.set("before", sb.json());
        j.set("after", sa.json());
        AtomicFiles.writeString(out.resolve("prune.json"), j.toPrettyString());

        System.out.printf("%s: %s%n%n", model.getFileName(), String.join("; ", steps));
        System.out.println("| model | layers | heads | MLP width | parameters | weights MB | KV cache KB/token | prefill tok/s | decode tok/s | val perplexity |");
        System.out.println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        System.out.println(row("before", m, sb, Math.exp(before)));
        System.out.println(row("pruned", p, sa, Math.exp(after)));
        if (sparsity != null)
            System.out.printf("%nthe zeros are stored and computed as dense float32 weights: sparsity makes the model neither lighter nor faster "
                    + "on these kernels; they stay zero when it trains on%n");
        System.out.printf(Locale.ROOT, "%nwrote %s; heal it with `lamina train --init %s --data %s --out RUN` or "
                + "`lamina distill --teacher %s --student %s --data %s --out RUN`%n", out, out, data, model, out, data);
        return 0;
    }

    /** The layers --drop-layers removes by the chosen rule (their scores recorded in j). */
    private int[] dropLayers(Decoder m, Dataset d, int T, int batches, double before, String rule, ObjectNode j) {
        int L = m.config().numHiddenLayers();
        double[] scores = new double[L];
        int[] drop;
        if (rule.equals("last")) {
            drop = Pruning.last(L, dropLayers);
            Arrays.fill(scores, Double.NaN);
        } else if (rule.equals("angular")) {
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
        j.put("by", rule).put("drop_layers", dropLayers);
        var dropped = j.putArray("dropped");
        for (int l : drop) dropped.add(l);
        if (!rule.equals("last")) {
            var sc = j.putArray(rule.equals("angular") ? "angular_distance_by_start" : "removal_cost_by_layer");
            for (double s : scores) { if (Double.isNaN(s)) sc.addNull(); else sc.add(s); }
        }
        return drop;
    }

    private static String row(String name, Decoder m, ModelCost cost, double ppl) {
        ModelConfig c = m.config();
        return String.format(Locale.ROOT, "| %s | %d | %d | %d | %,d | %.1f | %.2f | %s | %s | %.2f |", name, c.numHiddenLayers(), c.numAttentionHeads(),
                c.intermediateSize(), cost.parameters(), cost.weightBytes() / 1e6, cost.kvBytesPerToken() / 1024.0,
                cost.measured() ? String.format(Locale.ROOT, "%.0f", cost.prefill()) : "-", cost.measured() ? String.format(Locale.ROOT, "%.1f", cost.decode()) : "-", ppl);
    }
}
