package dev.lamina.cli;

import dev.lamina.kernels.WeightFormat;
import dev.lamina.kernels.KernelSet;
import dev.lamina.Lamina;
import dev.lamina.io.LaminaException;
import dev.lamina.server.LaminaServer;
import dev.lamina.server.ServerOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve a trained model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /v1/models, /health).")
final class ServeCommand implements Callable<Integer> {
    /** The --weights option of serve, generate and bench infer. */
    static final String WEIGHTS_HELP = "How inference stores the linear weights: stored (as the model file does: a GGUF file's "
            + "Q8_0/Q4_0/Q4_K/Q6_K blocks as they are, BF16 or F16 matrices in 16 bits, else float32), f32, bf16 (bfloat16), f16 "
            + "(IEEE float16, finite values up to ±65504) (both half of float32's bytes, the same product as float32 weights holding "
            + "the rounded values), or q8_0 (8-bit blocks, a quarter of float32's bytes); default ${DEFAULT-VALUE}.";
    /** The --kv-cache-dtype option of serve, generate, bench infer and plan memory. */
    static final String KV_HELP = "What the KV cache stores keys and values in: f32, bf16 or f16 (half the bytes of f32 per "
            + "position, as llama.cpp's default f16 cache; f16 saturates at ±65504); default ${DEFAULT-VALUE}.";
    @Option(names = "--model", description = "Run directory (config.json, model.safetensors, tokenizer/), Hugging Face directory or FILE.gguf.")
    Path model;
    @Option(names = "--cascade", paramLabel = "FILE.yaml", description = "Also serve this FrugalGPT cascade (see `lamina cascade --help`) under its name; repeatable.")
    java.util.List<Path> cascades;
    @Option(names = "--router", paramLabel = "FILE.yaml", description = "Also serve this xLLM router (see `lamina router --help`) under its name; repeatable.")
    java.util.List<Path> routers;
    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Interface to listen on (default ${DEFAULT-VALUE}).")
    String host;
    @Option(names = "--port", defaultValue = "8080", description = "Port (default ${DEFAULT-VALUE}; 0: any free port).")
    int port;
    @Option(names = "--api-key", description = "Require 'Authorization: Bearer KEY' on /v1 requests (default: $LAMINA_API_KEY, else none).")
    String apiKey;
    @Option(names = "--model-name", description = "Model id clients use (default: the run directory's name).")
    String modelName;
    @Option(names = "--max-concurrent", defaultValue = "8", description = "Sequences generated at once (default ${DEFAULT-VALUE}).")
    int maxConcurrent;
    @Option(names = "--max-queue", description = "Requests waiting for a slot before 429 (default: 4 x --max-concurrent).")
    Integer maxQueue;
    @Option(names = "--max-tokens", defaultValue = "512", description = "Largest max_tokens per request, and the default (default ${DEFAULT-VALUE}).")
    int maxTokens;
    @Option(names = "--max-body", defaultValue = "1048576", description = "Largest request body in bytes before 413 (default ${DEFAULT-VALUE}).")
    int maxBody;
    @Option(names = "--kv-blocks", defaultValue = "0", description = "KV cache blocks of 16 tokens (default: enough for every slot's full context).")
    int kvBlocks;
    @Option(names = "--kv-cache-dtype", defaultValue = "f32", description = KV_HELP)
    String kvDtype;
    private dev.lamina.tensor.Precision kvCache;
    @Option(names = "--weights", defaultValue = "stored", description = ServeCommand.WEIGHTS_HELP)
    String weights;
    @Option(names = "--threads", description = "Worker threads for the model (default: all cores).")
    Integer threads;
    @Option(names = "--force", description = "Start even when the memory plan exceeds the JVM's heap or the machine's memory.")
    boolean force;
    @Option(names = "--lora", paramLabel = "NAME=DIR", description = "Serve a LoRA adapter (PEFT files in DIR) as model NAME beside the base; "
            + "repeatable. Every adapter shares the one base model and its batches.")
    java.util.List<String> loras;

    @Override
    public Integer call() throws InterruptedException {
        if (model == null && cascades == null && routers == null) throw new LaminaException("give --model, --cascade or --router: there is nothing to serve");
        if (model == null) return serveVirtual();
        if (!Files.isDirectory(model) && !dev.lamina.gguf.GgufModel.isGguf(model))
            throw new LaminaException(model + ": not a run directory, Hugging Face directory or GGUF file");
        KernelSet kernels = Main.kernels(threads);
        WeightFormat format = WeightFormat.parse(weights);
        kvCache = dev.lamina.infer.KvRows.parse(kvDtype);
        String name = modelName != null ? modelName : model.toAbsolutePath().normalize().getFileName().toString();
        ServerOptions o = options(name);
        String key = o.apiKey();
        java.util.Map<String, Path> adapters = new java.util.LinkedHashMap<>();
        for (String spec : loras == null ? java.util.List.<String>of() : loras) {
            int eq = spec.indexOf('=');
            if (eq <= 0 || eq == spec.length() - 1) throw new LaminaException("--lora must be NAME=DIR, got '" + spec + "'");
            String n = spec.substring(0, eq).trim();
            Path dir = Path.of(spec.substring(eq + 1).trim());
            if (!Files.isDirectory(dir)) throw new LaminaException("--lora " + n + ": " + dir + " is not a directory");
            if (adapters.put(n, dir) != null) throw new LaminaException("--lora: the name '" + n + "' is given twice");
        }
        String plan = guard(format);
        dev.lamina.cascade.Fleet fleet = CascadeCommand.fleet(threads);
        java.util.List<dev.lamina.server.VirtualModel> virtual = virtualModels(fleet);
        LaminaServer server = LaminaServer.start(o, () -> Lamina.load(model, kernels, format).withKvCache(kvCache), adapters, virtual);
        System.err.printf("lamina: listening on %s (model '%s' loading from %s)%n", server.baseUrl(), name, model);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> { server.close(); fleet.close(); stopped.countDown(); }));
        if (!server.awaitReady(Duration.ofDays(1))) {
            server.close();
            throw new LaminaException("cannot load " + model + ": " + server.loadError());
        }
        System.err.println(plan);
        System.err.printf("lamina: ready: %s/v1 serves '%s'%s (%d concurrent sequences, context %s tokens, KV cache %s)%s%n", server.baseUrl(), name,
                adapters.isEmpty() ? "" : " with adapters " + String.join(", ", adapters.keySet()),
                maxConcurrent, server.engine().contextLimit() == Integer.MAX_VALUE ? "unbounded" : server.engine().contextLimit(),
                dev.lamina.infer.KvRows.label(kvCache),
                key != null ? "; API key required" : "");
        stopped.await();
        return 0;
    }

    /** The cascades and routers of --cascade and --router, their models loaded and served in-process. */
    private java.util.List<dev.lamina.server.VirtualModel> virtualModels(dev.lamina.cascade.Fleet fleet) {
        java.util.List<dev.lamina.server.VirtualModel> out = new java.util.ArrayList<>();
        for (Path c : cascades == null ? java.util.List.<Path>of() : cascades) {
            dev.lamina.cascade.Cascade k = dev.lamina.cascade.Cascade.open(dev.lamina.cascade.CascadeConfig.read(c), fleet);
            System.err.printf("lamina: cascade '%s': tiers %s%n", k.name(), k.tiers().stream()
                    .map(t -> t.name() + (t == k.tiers().getLast() ? "" : t.threshold() == dev.lamina.cascade.Thresholds.NEVER ? " (never kept)"
                            : String.format(" (kept at P(right) >= %.3f)", t.threshold()))).toList());
            out.add(k);
        }
        for (Path r : routers == null ? java.util.List.<Path>of() : routers) {
            dev.lamina.cascade.Router k = dev.lamina.cascade.Router.open(dev.lamina.cascade.RouterConfig.read(r), fleet);
            System.err.printf("lamina: router '%s': categories %s%n", k.name(), k.categories());
            out.add(k);
        }
        return out;
    }

    /** The server's options from the flags (the key from $LAMINA_API_KEY when --api-key is absent); a bad value names its flag. */
    private ServerOptions options(String name) {
        String key = apiKey != null ? apiKey : System.getenv("LAMINA_API_KEY");
        try {
            return new ServerOptions(host, port, key, name, maxConcurrent, maxQueue != null ? maxQueue : 4 * maxConcurrent, maxTokens, maxBody, kvBlocks);
        } catch (IllegalArgumentException e) {
            throw new LaminaException("--" + e.getMessage());
        }
    }

    /** Cascades and routers alone, without a model of the server's own. */
    private Integer serveVirtual() throws InterruptedException {
        if (loras != null) throw new LaminaException("--lora needs --model (the base the adapters sit on)");
        ServerOptions o = options(modelName != null ? modelName : "lamina");
        String key = o.apiKey();
        dev.lamina.cascade.Fleet fleet = CascadeCommand.fleet(threads);
        LaminaServer server;
        try {
            server = LaminaServer.start(o, null, java.util.Map.of(), virtualModels(fleet));
        } catch (RuntimeException e) {
            fleet.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> { server.close(); fleet.close(); stopped.countDown(); }));
        System.err.printf("lamina: ready: %s/v1 serves %s%s%n", server.baseUrl(),
                String.join(", ", server.virtualModelNames()), key != null ? "; API key required" : "");
        stopped.await();
        return 0;
    }

    /**
     * Prints the planned peak of serving: the weights (a GGUF file's stored blocks and 16-bit matrices
     * as inference holds them), the KV cache of every slot's full context (or --kv-blocks), one call's
     * buffers; refuses when it cannot fit, unless --force.
     */
    private String guard(WeightFormat format) {
        PlanMemoryCommand.Served served = PlanMemoryCommand.served(model, format);
        dev.lamina.model.ModelConfig c = served.config();
        // as the engine holds it: one KV pool array per layer for K and V, and a step's rows (a token per slot and a prompt chunk)
        var engine = dev.lamina.infer.BatchEngine.Options.defaults(maxConcurrent).withKvBlocks(kvBlocks);
        long positions = (long) dev.lamina.infer.BatchEngine.poolBlocks(c, engine) * dev.lamina.infer.BlockPool.DEFAULT_BLOCK_SIZE;
        var request = new dev.lamina.plan.MemoryPlan.Request(c, dev.lamina.plan.MemoryPlan.Task.INFERENCE, weightPrecision(served.format()),
                1, Math.min(256, c.maxPositionEmbeddings()), 1, 0, dev.lamina.plan.MemoryPlan.Optimizer.ADAMW, (int) Math.min(positions, Integer.MAX_VALUE),
                1, dev.lamina.plan.MemoryPlan.Strategy.DP, dev.lamina.plan.MemoryPlan.Target.LAMINA, 0, java.util.Set.of(), kvPrecision(kvCache));
        var plan = PlanMemoryCommand.asServed(model, format, served, request,
                new dev.lamina.plan.MemoryPlan.Call(dev.lamina.infer.BatchEngine.runnerRows(c, engine), maxConcurrent));
        return PlanMemoryCommand.guard("serving " + model.getFileName(), plan, force);
    }

    /**
     * The precision of served linear weights ({@link dev.lamina.Lamina#servedFormat}: bf16 or fp16 when asked for, or for a
     * Hugging Face directory or GGUF file stored in BF16 or F16), as the plan takes it; else fp32.
     */
    /** A KV cache's precision as the plan takes it. */
    static dev.lamina.plan.MemoryPlan.Precision kvPrecision(dev.lamina.tensor.Precision p) {
        return dev.lamina.plan.MemoryPlan.Precision.valueOf(p.name());
    }

    static dev.lamina.plan.MemoryPlan.Precision weightPrecision(WeightFormat served) {
        return switch (served) {
            case BF16 -> dev.lamina.plan.MemoryPlan.Precision.BF16;
            case F16 -> dev.lamina.plan.MemoryPlan.Precision.FP16;
            default -> dev.lamina.plan.MemoryPlan.Precision.FP32;
        };
    }
}
