package dev.lamina.cli;

import dev.lamina.io.LaminaException;
import dev.lamina.model.Lora;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Presets;
import dev.lamina.plan.MemoryPlan;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** The peak memory of a task before it runs, and which settings fit a memory size (LLMem's question, on paper). */
@Command(name = "memory", mixinStandardHelpOptions = true,
        description = "Plan the peak memory of inference, training, LoRA or QLoRA from a config: weights, gradients, optimizer "
                + "states, activations per layer, the head's logits, KV cache, temporaries; --fit lists what fits.")
final class PlanMemoryCommand implements Callable<Integer> {
    @Option(names = "--model", description = "A run directory, Hugging Face directory or FILE.gguf (only its config is read).") Path model;
    @Option(names = "--config", description = "A model config JSON.") Path config;
    @Option(names = "--preset", description = "A preset (vocabulary --vocab).") String preset;
    @Option(names = "--vocab", defaultValue = "32000", description = "Vocabulary of a preset (default ${DEFAULT-VALUE}).") int vocab;
    @Option(names = "--task", defaultValue = "train", description = "inference, train, lora or qlora (default ${DEFAULT-VALUE}).") String task;
    @Option(names = "--precision", description = "fp32, bf16 or fp16 (Lamina: 16 bits in full training and inference weights, bf16 also LoRA and "
            + "QLoRA; default fp32, or for --task inference of a --model stored in BF16 or F16, that: as serve runs it).") String precision;
    @Option(names = "--batch", defaultValue = "8", description = "Sequences per step, across all workers (default ${DEFAULT-VALUE}).") int batch;
    @Option(names = "--seq", description = "Tokens per sequence (default: 256, or the model's context if shorter).") Integer seq;
    @Option(names = "--accum", defaultValue = "1", description = "Micro-batches per step (memory is one micro-batch's; default ${DEFAULT-VALUE}).") int accum;
    @Option(names = "--checkpoint-activations", arity = "0..1", fallbackValue = "1", paramLabel = "N",
            description = "Plan with activation checkpointing every N layers (default N 1).") int checkpointEvery;
    @Option(names = "--optimizer", defaultValue = "adamw", description = "adamw or sgd (default ${DEFAULT-VALUE}).") String optimizer;
    @Option(names = "--kv-cache-tokens", defaultValue = "0", description = "Inference: KV cache positions per sequence (default: --seq).") int kvTokens;
    @Option(names = "--kv-cache-dtype", defaultValue = "f32", description = ServeCommand.KV_HELP) String kvDtype;
    @Option(names = "--rank", defaultValue = "8", description = "LoRA rank for lora and qlora (default ${DEFAULT-VALUE}).") int rank;
    @Option(names = "--targets", defaultValue = "all-linear", description = "LoRA targets: q,k,v,o,gate,up,down or all-linear (default ${DEFAULT-VALUE}).") String targets;
    @Option(names = "--workers", defaultValue = "1", description = "Workers (default ${DEFAULT-VALUE}).") int workers;
    @Option(names = "--strategy", defaultValue = "dp", description = "dp, zero1, zero2, zero3, tp or pp (default ${DEFAULT-VALUE}).") String strategy;
    @Option(names = "--target", defaultValue = "lamina", description = "lamina or pytorch-gpu (LLMem's method for PyTorch on CUDA) (default ${DEFAULT-VALUE}).") String target;
    @Option(names = "--fit", paramLabel = "SIZE", description = "List the task/precision/strategy/checkpointing combinations that fit SIZE (e.g. 24GB, 512MB) with the largest batch of each.") String fit;

    @Override
    public Integer call() {
        int given = (model != null ? 1 : 0) + (config != null ? 1 : 0) + (preset != null ? 1 : 0);
        if (given != 1) throw new LaminaException("give one of --model DIR|FILE.gguf, --config FILE or --preset NAME");
        Served sv = model != null ? served(model, dev.lamina.kernels.WeightFormat.STORED) : null;
        ModelConfig c = model != null ? sv.config() : config != null ? ModelConfig.read(config) : Presets.get(preset).config().apply(vocab);
        String name = model != null ? model.getFileName().toString() : config != null ? config.getFileName().toString() : preset;
        int T = seq != null ? seq : Math.min(256, c.maxPositionEmbeddings());
        MemoryPlan.Task t = parse(MemoryPlan.Task.class, "task", task);
        boolean served = model != null && t == MemoryPlan.Task.INFERENCE;     // planned as serve would run it
        var as = served ? sv.format() : null;
        MemoryPlan.Precision p = precision != null ? parse(MemoryPlan.Precision.class, "precision", precision)
                : served ? ServeCommand.weightPrecision(as) : MemoryPlan.Precision.FP32;
        MemoryPlan.Request r = request(c, t, p, batch, T, checkpointEvery, parse(MemoryPlan.Strategy.class, "strategy", strategy));
        if (fit != null) return fit(name, r, size(fit));
        MemoryPlan.Plan plan = served ? asServed(model, dev.lamina.kernels.WeightFormat.STORED, sv, r, null) : MemoryPlan.plan(r);
        print(name, plan);
        return 0;
    }

    private MemoryPlan.Request request(ModelConfig c, MemoryPlan.Task t, MemoryPlan.Precision p, int B, int T, int every, MemoryPlan.Strategy s) {
        return new MemoryPlan.Request(c, t, p, B, T, accum, every, parse(MemoryPlan.Optimizer.class, "optimizer", optimizer), kvTokens,
                workers, s, parse(MemoryPlan.Target.class, "target", target), rank, Lora.Config.parseTargets(targets),
                ServeCommand.kvPrecision(dev.lamina.infer.KvRows.parse(kvDtype)));
    }

    static <E extends Enum<E>> E parse(Class<E> type, String option, String value) {
        String v = value.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (E e : type.getEnumConstants()) if (e.name().equals(v)) return e;
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) names.add(e.name().toLowerCase(Locale.ROOT).replace('_', '-'));
        throw new LaminaException("--" + option + " must be one of " + String.join(", ", names) + ", got '" + value + "'");
    }

    /** 24GB, 24GiB, 512MB, 1.5TB or a number of bytes. */
    static long size(String s) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)\\s*([0-9]+(?:\\.[0-9]+)?)\\s*(|b|kb|kib|mb|mib|gb|gib|tb|tib)\\s*").matcher(s);
        if (!m.matches()) throw new LaminaException("--fit takes a size such as 24GB, 16GiB or 512MB, got '" + s + "'");
        double scale = switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "kb" -> 1e3; case "kib" -> 1024; case "mb" -> 1e6; case "mib" -> 1 << 20;
            case "gb" -> 1e9; case "gib" -> 1L << 30; case "tb" -> 1e12; case "tib" -> 1L << 40;
            default -> 1;
        };
        return (long) (Double.parseDouble(m.group(1)) * scale);
    }

    static String human(long bytes) {
        double b = bytes;
        if (b >= 1e9) return String.format(Locale.ROOT, "%.2f GB", b / 1e9);
        if (b >= 1e6) return String.format(Locale.ROOT, "%.1f MB", b / 1e6);
        return String.format(Locale.ROOT, "%.1f KB", b / 1e3);
    }

    private static void print(String name, MemoryPlan.Plan p) {
        MemoryPlan.Request r = p.request();
        System.out.printf(Locale.ROOT, "%s: %s, %s, batch %d x %d%s%s, %s%s; target %s%n", name, r.task().name().toLowerCase(Locale.ROOT),
                r.precision().name().toLowerCase(Locale.ROOT), r.batch(), r.seq(),
                r.checkpointEvery() > 0 ? ", activation checkpointing every " + r.checkpointEvery() : "",
                r.task() == MemoryPlan.Task.LORA || r.task() == MemoryPlan.Task.QLORA ? ", rank " + r.loraRank() : "",
                r.training() ? r.optimizer().name().toLowerCase(Locale.ROOT) : "no optimizer",
                r.workers() > 1 ? ", " + r.workers() + " workers (" + r.strategy().name().toLowerCase(Locale.ROOT) + "), per worker" : "",
                r.target().name().toLowerCase(Locale.ROOT).replace('_', '-'));
        System.out.println();
        System.out.println("| part | bytes | size | what |");
        System.out.println("| --- | ---: | ---: | --- |");
        for (MemoryPlan.Item i : p.items())
            System.out.printf(Locale.ROOT, "| %s | %,d | %s | %s |%n", i.part(), i.bytes(), human(i.bytes()), i.note());
        System.out.printf(Locale.ROOT, "| **peak** | **%,d** | **%s** | |%n", p.peak(), human(p.peak()));
        long[] layers = p.layerBytes();
        if (layers.length > 0) {
            System.out.println();
            System.out.println("| layer | activations kept (without checkpointing) |");
            System.out.println("| ---: | ---: |");
            for (int l = 0; l < layers.length; l++) {
                if (layers.length > 12 && l >= 4 && l < layers.length - 4) {
                    if (l == 4) System.out.printf(Locale.ROOT, "| 4-%d | %s each |%n", layers.length - 5, human(layers[4]));
                    continue;
                }
                System.out.printf(Locale.ROOT, "| %d | %s |%n", l, human(layers[l]));
            }
        }
        System.out.println();
        if (p.bytes(MemoryPlan.LOADING) > 0) System.out.printf(Locale.ROOT, "steady_bytes=%d%n", p.steady());
        System.out.printf(Locale.ROOT, "peak_bytes=%d%n", p.peak());
    }

    /** Largest batch (up to 2^16) that fits, for each combination; 0 when even the smallest does not. */
    private Integer fit(String name, MemoryPlan.Request base, long budget) {
        System.out.printf(Locale.ROOT, "%s, %d-token sequences, %d worker%s, target %s: what fits in %s%n%n", name, base.seq(), workers,
                workers > 1 ? "s" : "", target, human(budget));
        System.out.println("| task | precision | strategy | checkpointing | largest batch | peak at that batch |");
        System.out.println("| --- | --- | --- | --- | ---: | ---: |");
        boolean lamina = base.target() == MemoryPlan.Target.LAMINA;
        List<MemoryPlan.Strategy> strategies = new ArrayList<>();
        if (workers == 1) strategies.add(MemoryPlan.Strategy.DP);
        else for (MemoryPlan.Strategy s : MemoryPlan.Strategy.values()) strategies.add(s);
        int fits = 0;
        for (MemoryPlan.Task t : MemoryPlan.Task.values())
            for (MemoryPlan.Precision p : MemoryPlan.Precision.values()) {
                if (lamina && p == MemoryPlan.Precision.FP16 && t != MemoryPlan.Task.TRAIN && t != MemoryPlan.Task.INFERENCE) continue;   // refused
                for (MemoryPlan.Strategy s : strategies)
                    for (int every : t == MemoryPlan.Task.INFERENCE ? new int[] {0} : new int[] {0, 1}) {
                        int step = s == MemoryPlan.Strategy.DP || s.name().startsWith("ZERO") ? workers : 1;
                        MemoryPlan.Plan best = null;
                        String why = null;
                        try {
                            int lo = 0, hi = 1 << 16;                      // batch = k·step; the largest k that fits
                            while (lo < hi) {
                                int mid = (lo + hi + 1) >>> 1;
                                MemoryPlan.Plan plan = MemoryPlan.plan(request(base.config(), t, p, mid * step, base.seq(), every, s));
                                if (plan.peak() <= budget) { lo = mid; best = plan; } else hi = mid - 1;
                            }
                        } catch (LaminaException e) {
                            why = e.getMessage();
                        }
                        String row = String.format(Locale.ROOT, "| %s | %s | %s | %s | ", t.name().toLowerCase(Locale.ROOT), p.name().toLowerCase(Locale.ROOT),
                                s.name().toLowerCase(Locale.ROOT), every > 0 ? "every layer" : "none");
                        if (why != null) System.out.println(row + "n/a | " + why + " |");
                        else if (best == null) System.out.println(row + "none fits | |");
                        else {
                            fits++;
                            System.out.println(row + best.request().batch() + " | " + human(best.peak()) + " |");
                        }
                    }
            }
        System.out.println();
        System.out.printf(Locale.ROOT, "fitting_combinations=%d%n", fits);
        return 0;
    }

    /** The heap this JVM may grow to, and the machine's memory. */
    static long maxHeap() { return Runtime.getRuntime().maxMemory(); }

    static long machineMemory() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
    }

    /**
     * A model's config, the format inference keeps its weights in when asked for weights ({@link
     * dev.lamina.Lamina#servedFormat}), for a GGUF file the arrays it holds served as stored (null when it
     * keeps none), and its tokenizer's token and merge counts (merges taken as one a token where they
     * are not read): a GGUF file's header read once.
     */
    record Served(ModelConfig config, dev.lamina.kernels.WeightFormat format, long[] ggufArrays, long tokens, long merges) {}

    static Served served(Path model, dev.lamina.kernels.WeightFormat weights) {
        if (!dev.lamina.gguf.GgufModel.isGguf(model)) {
            ModelConfig c = Main.configOf(model);                     // merges unread: a BPE vocabulary has about one per token
            return new Served(c, dev.lamina.Lamina.servedFormat(model, weights), null, c.vocabSize(), c.vocabSize());
        }
        var h = dev.lamina.gguf.GgufModel.header(model);
        return new Served(h.config(), weights == dev.lamina.kernels.WeightFormat.STORED ? h.stored() : weights, h.servedArrays(), h.tokens(), h.merges());
    }

    /**
     * The plan of inference request r on model as it is served when asked for weights, its calls of
     * the given size (null: a session's): a GGUF file served as stored keeps its quantized blocks and
     * 16-bit matrices in the kernels' form (on the heap, read from the file directly, with no float32
     * copy while loading); a 16-bit Hugging Face directory is read one tensor at a time; anything else
     * stands as the config plans it; the tokenizer is held beside. served: what {@link #served} read
     * of model and weights. (Another target than Lamina is planned from the config alone.)
     */
    static MemoryPlan.Plan asServed(Path model, dev.lamina.kernels.WeightFormat weights, Served served, MemoryPlan.Request r, MemoryPlan.Call call) {
        if (r.target() != MemoryPlan.Target.LAMINA) return MemoryPlan.plan(r);
        boolean gguf = dev.lamina.gguf.GgufModel.isGguf(model);
        return weightsAsServed(model, weights, served, r, call).adding(new MemoryPlan.Item(MemoryPlan.TOKENIZER,
                MemoryPlan.tokenizerBytes(served.tokens(), served.merges()), served.tokens() == 0 ? "none: the file holds no vocabulary"
                        : String.format(Locale.ROOT, "held while serving: %,d tokens and %,d merges%s", served.tokens(), served.merges(),
                                gguf ? "" : " (merges taken as one a token)")));
    }

    private static MemoryPlan.Plan weightsAsServed(Path model, dev.lamina.kernels.WeightFormat weights, Served served, MemoryPlan.Request r,
                                                   MemoryPlan.Call call) {
        boolean stored = weights == dev.lamina.kernels.WeightFormat.STORED;
        if (stored && served.ggufArrays() != null) return MemoryPlan.served(r, served.ggufArrays(), call);   // a GGUF file's kept tensors
        MemoryPlan.Plan plan = MemoryPlan.served(r, null, call);   // anything else (a float32 GGUF file too) as the config plans it
        if (!stored || !dev.lamina.hf.HfCheckpoint.isHfDirectory(model)) return plan;
        if (served.format() != dev.lamina.kernels.WeightFormat.BF16 && served.format() != dev.lamina.kernels.WeightFormat.F16) return plan;
        return plan.replacing(MemoryPlan.LOADING, 4 * dev.lamina.hf.HfCheckpoint.largestTensor(model),
                "while loading, one tensor at a time in float32 (the largest here) as its 16-bit copy is packed");
    }

    /**
     * Refuses (unless force) to start what plan describes when its peak exceeds the heap this JVM
     * may use (or the machine's memory), naming settings that would fit; returns the one line to
     * print when it starts (printed by the caller once its input has been checked, so that a bad
     * input's error stays one line).
     */
    static String guard(String what, MemoryPlan.Plan plan, boolean force) {
        long machine = machineMemory(), heap = maxHeap();
        MemoryPlan.Request r = plan.request();
        String line = String.format(Locale.ROOT, "memory plan: peak %s (weights %s, gradients and optimizer %s, activations and logits %s); "
                        + "this JVM may use %s of the machine's %s", human(plan.peak()), human(plan.bytes(MemoryPlan.WEIGHTS)),
                human(plan.bytes(MemoryPlan.GRADIENTS) + plan.bytes(MemoryPlan.OPTIMIZER)),
                human(plan.bytes(MemoryPlan.ACTIVATIONS) + plan.bytes(MemoryPlan.HEAD) + plan.bytes(MemoryPlan.KV_CACHE)), human(heap), human(machine));
        if (plan.peak() <= heap && plan.peak() <= machine) return line;
        List<String> fixes = new ArrayList<>();
        if (r.training() && r.checkpointEvery() == 0) {
            MemoryPlan.Plan ck = MemoryPlan.plan(with(r, r.batch(), 1));
            if (ck.peak() <= Math.min(heap, machine)) fixes.add("--checkpoint-activations (peak " + human(ck.peak()) + ")");
        }
        for (int b = r.batch() / 2; b >= 1; b /= 2) {
            MemoryPlan.Plan smaller = MemoryPlan.plan(with(r, b, r.checkpointEvery()));
            if (smaller.peak() <= Math.min(heap, machine)) {
                fixes.add("--batch " + b + (r.training() ? " with --accum " + Math.max(1, r.batch() / b * r.accum()) + " for the same step" : "")
                        + " (peak " + human(smaller.peak()) + ")");
                break;
            }
        }
        if (plan.peak() <= machine * 0.9 && plan.peak() > heap)
            fixes.add("a larger heap: LAMINA_JAVA_OPTS=-Xmx" + (long) Math.ceil(plan.peak() * 1.15 / (1L << 30)) + "g");
        String msg = what + " needs about " + human(plan.peak()) + " at its peak but "
                + (plan.peak() > machine ? "the machine has " + human(machine) : "this JVM may use " + human(heap))
                + (fixes.isEmpty() ? "" : "; try " + String.join(", or ", fixes)) + " (or --force to start anyway; `lamina plan memory` shows the breakdown)";
        if (!force) throw new LaminaException(msg);
        return line + "\nwarning: " + msg;
    }

    private static MemoryPlan.Request with(MemoryPlan.Request r, int batch, int every) {
        return new MemoryPlan.Request(r.config(), r.task(), r.precision(), batch, r.seq(), r.accum(), every, r.optimizer(), r.kvTokens(),
                r.workers(), r.strategy(), r.target(), r.loraRank(), r.loraTargets(), r.kvCache());
    }
}
