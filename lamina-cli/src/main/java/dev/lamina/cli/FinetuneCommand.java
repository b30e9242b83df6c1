package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Lora;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Qat;
import dev.lamina.quant.QatExport;
import dev.lamina.plan.MemoryPlan;
import dev.lamina.train.Checkpoint;
import dev.lamina.train.FineTune;
import dev.lamina.train.FineTuneRun;
import dev.lamina.train.TrainConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "finetune", mixinStandardHelpOptions = true,
        description = "Fine-tune a model on JSONL examples ({\"text\"}, {\"prompt\",\"completion\"} or {\"messages\"}), fully or with a "
                + "LoRA adapter saved as PEFT saves it.")
final class FinetuneCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Run directory, Hugging Face directory or FILE.gguf.")
    Path model;
    @Option(names = "--data", required = true, description = "Training examples, one JSON object per line.")
    Path data;
    @Option(names = "--eval-data", description = "Held-out examples scored every --eval-every steps and at the end.")
    Path evalData;
    @Option(names = "--eval-fraction", description = "Without --eval-data: hold out this share of --data (chosen by --seed) for evaluation.")
    Double evalFraction;
    @Option(names = "--out", required = true, description = "Run directory: the adapter's PEFT files (lora) or the model (full), "
            + "optimizer and state at the last checkpoint, metrics.jsonl, and best/ (the lowest eval loss).")
    Path out;
    @Option(names = "--resume", description = "Continue the run in --out from its last checkpoint (same settings and data).")
    boolean resume;
    @Option(names = "--pack", description = "Pack several examples into each --seq window (the loss still counts only what they count).")
    boolean pack;
    @Option(names = "--method", defaultValue = "lora", description = "full, lora, qlora (LoRA over the base frozen in 4-bit NF4) or qat "
            + "(quantization-aware: every weight trains, the layer maps compute on a --bits grid) (default ${DEFAULT-VALUE}).")
    String method;
    @Option(names = "--bits", defaultValue = "4", description = "qat: 2, 3, 4 or 8 bits a weight (default ${DEFAULT-VALUE}).")
    int bits;
    @Option(names = "--group", defaultValue = "32", description = "qat: inputs sharing a step, 32, 64, 128 or channel (default ${DEFAULT-VALUE}).")
    String group;
    @Option(names = "--lsq", description = "qat: learn the steps (LSQ, Esser et al.), else each step follows its group's largest weight.")
    boolean lsq;
    @Option(names = "--rank", defaultValue = "8", description = "LoRA rank r (default ${DEFAULT-VALUE}).")
    int rank;
    @Option(names = "--alpha", defaultValue = "16", description = "LoRA alpha; the update is scaled by alpha/r (default ${DEFAULT-VALUE}).")
    double alpha;
    @Option(names = "--dropout", defaultValue = "0", description = "LoRA dropout on the adapter's input, training only, as PEFT's lora_dropout (default ${DEFAULT-VALUE}).")
    double dropout;
    @Option(names = "--targets", defaultValue = "all-linear", description = "q,k,v,o,gate,up,down or all-linear (default ${DEFAULT-VALUE}).")
    String targets;
    @Option(names = "--rslora", description = "Scale by alpha/sqrt(r) (rank-stabilised LoRA).")
    boolean rslora;
    @Option(names = "--lr", description = "Peak learning rate (default: 2e-4 for lora, 2e-5 for full).")
    Double lr;
    @Option(names = "--steps", description = "Optimizer steps (default: --epochs passes over the data).")
    Integer steps;
    @Option(names = "--epochs", defaultValue = "1", description = "Passes over the data when --steps is not given (default ${DEFAULT-VALUE}).")
    int epochs;
    @Option(names = "--batch", defaultValue = "8", description = "Examples per micro-batch (default ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--accum", defaultValue = "1", description = "Micro-batches per step; a step equals one batch this many times larger (default ${DEFAULT-VALUE}).")
    int accum;
    @Option(names = "--seq", defaultValue = "256", description = "Longest example in tokens; longer ones are truncated (default ${DEFAULT-VALUE}).")
    int seq;
    @Option(names = "--warmup", description = "Warm-up steps (default: 5%% of the steps).")
    Integer warmup;
    @Option(names = "--weight-decay", defaultValue = "0", description = "AdamW weight decay (default ${DEFAULT-VALUE}).")
    double weightDecay;
    @Option(names = "--clip", defaultValue = "1.0", description = "Gradient-norm clip, 0 for none (default ${DEFAULT-VALUE}).")
    double clip;
    @Option(names = "--eval-every", defaultValue = "0", description = "Score the eval data and checkpoint every N steps (default: only at the end).")
    int evalEvery;
    @Option(names = "--seed", defaultValue = "0", description = "Seed for the adapter's initialisation and the data order (default ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--train-on-prompt", description = "Count the loss on prompts and user turns too.")
    boolean trainOnPrompt;
    @Option(names = "--threads", description = "Worker threads (default: every core).")
    Integer threads;
    @Option(names = "--checkpoint-activations", arity = "0..1", fallbackValue = "1", paramLabel = "N",
            description = "Activation checkpointing: keep only every N-th block input (default N 1) and recompute the blocks "
                    + "during backward; less memory, about one more forward of time, the same gradients bit for bit.")
    Integer checkpointEvery;
    @Option(names = "--precision", defaultValue = "fp32", paramLabel = "fp32|bf16", description = "bf16 (LoRA and QLoRA): the base's "
            + "weights rounded to bfloat16, activations and their gradients stored in 16 bits, the adapter and its optimizer in float32 "
            + "(as PEFT keeps them); default ${DEFAULT-VALUE}.")
    String precision;
    @Option(names = "--force", description = "Start even when the memory plan exceeds the JVM's heap or the machine's memory.")
    boolean force;

    @Override
    public Integer call() {
        FineTune.Method m = switch (method.toLowerCase(Locale.ROOT)) {
            case "lora" -> FineTune.Method.LORA;
            case "full" -> FineTune.Method.FULL;
            case "qlora" -> FineTune.Method.QLORA;
            case "qat" -> FineTune.Method.QAT;
            default -> throw new LaminaException("--method must be full, lora, qlora or qat, got '" + method + "'");
        };
        boolean qat = m == FineTune.Method.QAT, adapter = m == FineTune.Method.LORA || m == FineTune.Method.QLORA;
        Qat.Config qc = qat ? new Qat.Config(bits, Qat.Config.parseGroup(group), lsq) : null;
        if (seq < 2) throw new LaminaException("--seq must be >= 2, got " + seq);
        if (batch < 1) throw new LaminaException("--batch must be >= 1, got " + batch);
        if (epochs < 1) throw new LaminaException("--epochs must be >= 1, got " + epochs);
        if (m == FineTune.Method.QLORA || qat) refuseQuantized(model, m);
        Lora.Config lc = adapter ? new Lora.Config(rank, alpha, dropout, Lora.Config.parseTargets(targets), rslora) : null;
        if (accum < 1) throw new LaminaException("--accum must be >= 1, got " + accum);
        if (checkpointEvery != null && checkpointEvery < 1)
            throw new LaminaException("--checkpoint-activations must be >= 1 layer, got " + checkpointEvery);
        if (evalFraction != null && evalData != null) throw new LaminaException("give --eval-data or --eval-fraction, not both");
        dev.lamina.tensor.Precision storage = dev.lamina.tensor.Precision.parse(precision);
        if (storage != dev.lamina.tensor.Precision.FP32 && (!adapter || storage != dev.lamina.tensor.Precision.BF16))
            throw new LaminaException("--precision " + storage.label() + ": fine-tuning stores 16 bits with --method lora or qlora in bf16; "
                    + "use --precision bf16 with LoRA or QLoRA, or `lamina train --init MODEL --precision " + storage.label() + "` for all parameters");
        FineTuneRun run = new FineTuneRun(out, model.toAbsolutePath().toString(), null, data.toAbsolutePath().toString());
        if (run.resumable() && !resume)
            throw new LaminaException(out + " holds a fine-tuning run; add --resume to continue it, or choose a new --out");
        if (resume && !run.resumable()) throw new LaminaException(out + ": no checkpoint to resume (no state.json)");
        String plan;
        {   // the plan, before the base is loaded: --seq is the longest example, so this is the step's peak
            ModelConfig mc = Main.configOf(model);
            MemoryPlan.Task task = !adapter ? MemoryPlan.Task.TRAIN : m == FineTune.Method.LORA ? MemoryPlan.Task.LORA : MemoryPlan.Task.QLORA;
            plan = PlanMemoryCommand.guard("fine-tuning", MemoryPlan.plan(MemoryPlan.Request.lamina(mc, task, MemoryPlan.Precision.valueOf(storage.name()),
                    batch, Math.min(seq, mc.maxPositionEmbeddings()),
                    accum, checkpointEvery == null ? 0 : checkpointEvery, rank, lc == null ? java.util.Set.of() : lc.targets())), force);
        }
        Base base = Base.load(model, threads, m == FineTune.Method.QLORA);
        run = new FineTuneRun(out, run.base(), base.tokenizer(), run.data());
        FineTune.Data train = FineTune.read(data, base.tokenizer(), base.template(), seq, trainOnPrompt);
        FineTune.Data eval = evalData == null ? null : FineTune.read(evalData, base.tokenizer(), base.template(), seq, trainOnPrompt);
        if (evalFraction != null) {
            FineTune.Split split;
            try {
                split = train.split(evalFraction, seed);
            } catch (LaminaException e) {
                throw new LaminaException("--" + e.getMessage().replace("evalFraction", "eval-fraction"));
            }
            train = split.train();
            eval = split.eval();
        }
        int examples = train.examples().size(), heldOut = eval == null ? 0 : eval.examples().size();
        if (pack) {
            train = train.packed(seq);
            if (eval != null) eval = eval.packed(seq);
        }
        int perStep = batch * accum;
        int n = steps != null ? steps : epochs * ((train.examples().size() + perStep - 1) / perStep);
        TrainConfig c = TrainConfig.builder(n, batch, seq).lr(lr != null ? lr : adapter ? 2e-4 : 2e-5)
                .warmup(warmup != null ? warmup : Math.max(1, n / 20)).weightDecay(weightDecay).clip(clip).accum(accum).evalEvery(evalEvery)
                .seed(seed).checkpointEvery(checkpointEvery == null ? 0 : checkpointEvery).precision(storage).build();
        System.err.println(plan);
        System.err.printf("finetune: %s, %s, %d examples (%d truncated to %d tokens%s)%s, %d steps of %d%s%s%n", model.getFileName(),
                qat ? "all parameters, quantization-aware " + qc : m == FineTune.Method.FULL ? "all parameters" : (m == FineTune.Method.QLORA ? "QLoRA (NF4 base) r=" : "LoRA r=")
                        + rank + " alpha=" + alpha + " on " + lc.targets(),
                examples, train.truncated(), seq, pack ? ", packed into " + train.examples().size() + " sequences" : "",
                eval == null ? "" : ", " + heldOut + " held out", n, batch, accum > 1 ? " x " + accum + " micro-batches" : "",
                resume ? ", resuming from step " + Checkpoint.readState(out).step() : "");
        FineTune.Result r;
        try (ConsoleProgress p = new ConsoleProgress("finetune", n, System.err)) {
            r = FineTune.run(base.decoder(), m, lc, qc, train, eval, c, run, s -> p.update(s.step(), String.format(Locale.ROOT, "loss %.4f", s.loss())));
        }
        String gguf = null;
        if (qat) {                    // the learned steps as the blocks' scales: what llama.cpp and every GGUF reader run
            Path f = out.resolve("model-" + QatExport.type(qc).name().toLowerCase(Locale.ROOT) + ".gguf");
            try {
                QatExport.write(r.model(), dev.lamina.gguf.GgufVocab.writable(base.tokenizer(), r.model().config().vocabSize()) ? base.tokenizer() : null, f);
                gguf = f.toString();
            } catch (LaminaException e) {
                System.err.println("finetune: no GGUF file: " + e.getMessage());
            }
        }
        var metrics = run.metrics();
        double finalLoss = metrics.isEmpty() ? Double.NaN : metrics.getLast().get("loss").doubleValue();
        ObjectNode j = Json.MAPPER.createObjectNode();
        j.put("method", m.name().toLowerCase(Locale.ROOT));
        j.put("base", model.toAbsolutePath().toString());
        j.put("steps", n);
        j.put("trainable_parameters", r.trainable());
        j.put("final_loss", finalLoss);
        if (!Double.isNaN(r.evalLoss())) j.put("eval_loss", r.evalLoss());
        if (r.bestStep() > 0) j.put("best_eval_loss", r.bestEvalLoss()).put("best_step", r.bestStep());
        j.put("seconds", r.seconds());
        if (qat) {
            j.put("bits", qc.bits()).put("group", qc.group() == 0 ? "channel" : Integer.toString(qc.group())).put("lsq", qc.lsq());
            if (gguf != null) j.put("gguf", gguf);
        }
        AtomicFiles.writeString(out.resolve("finetune.json"), Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(j) + "\n");
        System.out.printf(Locale.ROOT, "trainable parameters: %,d of %,d%n", r.trainable(), base.parameters());
        if (!Double.isNaN(r.evalLoss())) System.out.printf(Locale.ROOT, "eval loss %.4f%n", r.evalLoss());
        if (r.bestStep() > 0) System.out.printf(Locale.ROOT, "best eval loss %.4f at step %d (in %s)%n", r.bestEvalLoss(), r.bestStep(),
                out.resolve(FineTuneRun.BEST));
        if (gguf != null) System.out.printf(Locale.ROOT, "quantized model with its learned scales: %s%n", gguf);
        System.out.printf(Locale.ROOT, "final loss %.4f after %d steps in %.0fs; wrote %s%n", finalLoss, n, r.seconds(), out);
        return 0;
    }

    /**
     * What fine-tuning needs of the base model. For QLoRA the decoder is quantized to NF4 here, so
     * the float32 weights it came from are unreachable once this returns.
     */
    private record Base(dev.lamina.model.Decoder decoder, dev.lamina.tokenizer.Tokenizer tokenizer,
                        dev.lamina.chat.ModelChatTemplate template, long parameters) {
        static Base load(Path model, Integer threads, boolean nf4) {
            Lamina.Model m = Lamina.load(model, Main.kernels(threads));
            dev.lamina.model.Decoder d = m.decoder();
            long count = d.parameterCount();
            if (nf4) {
                d = d.withNf4Base();
                long weights = 0;
                for (var l : d.linears()) if (l.nf4() != null) weights += l.nf4().size();
                System.err.printf(Locale.ROOT, "finetune: base linear maps in NF4: %,d weights in %.1f MB (%.3f bits a weight)%n",
                        weights, d.nf4Bytes() / 1e6, 8.0 * d.nf4Bytes() / weights);
            }
            return new Base(d, m.tokenizer(), m.chatTemplate(), count);
        }
    }

    /** QLoRA and QAT quantize a float base themselves: a GGUF file with quantized tensors is refused. */
    private static void refuseQuantized(Path model, FineTune.Method m) {
        if (!model.toString().toLowerCase(Locale.ROOT).endsWith(".gguf")) return;
        try (var f = dev.lamina.gguf.GgufFile.open(model)) {
            for (var t : f.tensors().values())
                switch (t.type()) {
                    case F32, F16, BF16 -> { }
                    default -> throw new LaminaException(model + " is already quantized (" + t.name() + " is " + t.type() + "); "
                            + (m == FineTune.Method.QAT ? "quantization-aware training starts from float weights: give the float model (f32/f16/bf16)"
                            : "QLoRA quantizes a float base to NF4 itself: give the float model (f32/f16/bf16), or use --method lora"));
                }
        }
    }
}
