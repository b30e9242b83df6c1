package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Lora;
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
    @Option(names = "--method", defaultValue = "lora", description = "full or lora (default ${DEFAULT-VALUE}).")
    String method;
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

    @Override
    public Integer call() {
        FineTune.Method m = switch (method.toLowerCase(Locale.ROOT)) {
            case "lora" -> FineTune.Method.LORA;
            case "full" -> FineTune.Method.FULL;
            case "qlora" -> throw new LaminaException("--method qlora is not supported yet; use lora or full");
            default -> throw new LaminaException("--method must be full or lora, got '" + method + "'");
        };
        if (seq < 2) throw new LaminaException("--seq must be >= 2, got " + seq);
        if (batch < 1) throw new LaminaException("--batch must be >= 1, got " + batch);
        if (epochs < 1) throw new LaminaException("--epochs must be >= 1, got " + epochs);
        Lora.Config lc = m == FineTune.Method.LORA ? new Lora.Config(rank, alpha, dropout, Lora.Config.parseTargets(targets), rslora) : null;
        if (accum < 1) throw new LaminaException("--accum must be >= 1, got " + accum);
        if (evalFraction != null && evalData != null) throw new LaminaException("give --eval-data or --eval-fraction, not both");
        FineTuneRun run = new FineTuneRun(out, model.toAbsolutePath().toString(), null, data.toAbsolutePath().toString());
        if (run.resumable() && !resume)
            throw new LaminaException(out + " holds a fine-tuning run; add --resume to continue it, or choose a new --out");
        if (resume && !run.resumable()) throw new LaminaException(out + ": no checkpoint to resume (no state.json)");
        Lamina.Model base = Lamina.load(model, Main.kernels(threads));
        run = new FineTuneRun(out, run.base(), base.tokenizer(), run.data());
        FineTune.Data train = FineTune.read(data, base.tokenizer(), base.chatTemplate(), seq, trainOnPrompt);
        FineTune.Data eval = evalData == null ? null : FineTune.read(evalData, base.tokenizer(), base.chatTemplate(), seq, trainOnPrompt);
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
        TrainConfig c = TrainConfig.builder(n, batch, seq).lr(lr != null ? lr : m == FineTune.Method.LORA ? 2e-4 : 2e-5)
                .warmup(warmup != null ? warmup : Math.max(1, n / 20)).weightDecay(weightDecay).clip(clip).accum(accum).evalEvery(evalEvery)
                .seed(seed).build();
        System.err.printf("finetune: %s, %s, %d examples (%d truncated to %d tokens%s)%s, %d steps of %d%s%s%n", model.getFileName(),
                m == FineTune.Method.LORA ? "LoRA r=" + rank + " alpha=" + alpha + " on " + lc.targets() : "all parameters",
                examples, train.truncated(), seq, pack ? ", packed into " + train.examples().size() + " sequences" : "",
                eval == null ? "" : ", " + heldOut + " held out", n, batch, accum > 1 ? " x " + accum + " micro-batches" : "",
                resume ? ", resuming from step " + Checkpoint.readState(out).step() : "");
        FineTune.Result r;
        try (ConsoleProgress p = new ConsoleProgress("finetune", n, System.err)) {
            r = FineTune.run(base.decoder(), m, lc, train, eval, c, run, s -> p.update(s.step(), String.format(Locale.ROOT, "loss %.4f", s.loss())));
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
        AtomicFiles.writeString(out.resolve("finetune.json"), Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(j) + "\n");
        System.out.printf(Locale.ROOT, "trainable parameters: %,d of %,d%n", r.trainable(), base.decoder().parameterCount());
        if (!Double.isNaN(r.evalLoss())) System.out.printf(Locale.ROOT, "eval loss %.4f%n", r.evalLoss());
        if (r.bestStep() > 0) System.out.printf(Locale.ROOT, "best eval loss %.4f at step %d (in %s)%n", r.bestEvalLoss(), r.bestStep(),
                out.resolve(FineTuneRun.BEST));
        System.out.printf(Locale.ROOT, "final loss %.4f after %d steps in %.0fs; wrote %s%n", finalLoss, n, r.seconds(), out);
        return 0;
    }
}
