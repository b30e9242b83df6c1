package dev.lamina.cli;

import dev.lamina.autograd.Tape;
import dev.lamina.data.BundledCorpus;
import dev.lamina.data.DataPrep;
import dev.lamina.data.Dataset;
import dev.lamina.infer.Sampler;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Presets;
import dev.lamina.tensor.Rng;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.train.Baselines;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "quickstart", mixinStandardHelpOptions = true,
        description = "The whole pipeline on the bundled Brown corpus: tokenizer, data, training the `small` model, "
                + "evaluation against a unigram baseline, and a generated sample. Everything goes under one run directory.")
final class QuickstartCommand implements Callable<Integer> {
    @Option(names = "--out", description = "Run directory (default: runs/quickstart-<time>).") Path out;
    @Option(names = "--minutes", defaultValue = "6", description = "Training budget in minutes (default ${DEFAULT-VALUE}).") double minutes;
    @Option(names = "--steps", description = "Train exactly this many steps instead of a time budget.") Integer steps;
    @Option(names = "--vocab-size", defaultValue = "8192", description = "BPE vocabulary size (default ${DEFAULT-VALUE}).") int vocabSize;
    @Option(names = "--prompt", defaultValue = "The jury said", description = "Prompt for the sample (default: ${DEFAULT-VALUE}).") String prompt;

    @Override
    public Integer call() {
        long t0 = System.nanoTime();
        Path run = out != null ? out : Path.of("runs", "quickstart-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        System.err.println("== 1/5 corpus: unpacking the bundled Brown corpus");
        Path corpus = BundledCorpus.unpack(run.resolve("corpus"));

        System.err.println("== 2/5 tokenizer");
        Tokenizer tok = QuickstartTokenizer.train(List.of(corpus), vocabSize, run.resolve("tokenizer"));

        System.err.println("== 3/5 data: tokenizing, 5% of documents held out for validation");
        DataPrep.Stats stats = DataPrep.prepare(List.of(corpus), tok, run.resolve("data"), 0.05, 0);
        System.err.printf("train %,d tokens, val %,d tokens; %.2f bytes per token%n", stats.train().tokens(),
                stats.val().tokens(), (double) (stats.train().bytes() + stats.val().bytes()) / (stats.train().tokens() + stats.val().tokens()));

        try (Dataset data = Dataset.open(run.resolve("data"))) {
            Presets.Preset preset = Presets.get("small");
            ModelConfig mc = preset.config().apply(data.tokenizer().vocabSize());
            Decoder model = Decoder.create(mc, 1234);
            int B = preset.batch(), T = preset.seq();
            int n = steps != null ? steps : stepsForBudget(model, B, T, minutes);
            TrainConfig tc = TrainConfig.builder(n, B, T).lr(2e-3).warmup(Math.max(1, n / 10)).evalEvery(Math.max(1, n / 4))
                    .evalBatches(16).build();
            System.err.printf("== 4/5 training the small model (%,d parameters) for %d steps of %d x %d tokens%n",
                    model.parameterCount(), n, B, T);
            Path modelDir = run.resolve("model");
            Trainer trainer = Trainer.start(model, data, run.resolve("data").toString(), tc, modelDir);
            double val = TrainCommand.run(trainer); // the last step always evaluates
            double unigram = Baselines.unigramLoss(data.train(), data.val(), mc.vocabSize(), B, T, tc.evalBatches());
            System.out.printf("%nval perplexity: model %.2f, unigram baseline %.2f (same %,d val tokens)%n",
                    Math.exp(val), Math.exp(unigram), (long) tc.evalBatches() * B * T);

            System.err.println("== 5/5 sample");
            System.out.print("\n" + prompt);
            new dev.lamina.infer.Generator(trainer.model(), data.tokenizer())
                    .generate(prompt, 60, new Sampler(0.8, 40, 0.95, 7), s -> { System.out.print(s); System.out.flush(); });
            System.out.println("\n");
        }
        System.out.printf("done in %.1f min; everything is in %s%n", (System.nanoTime() - t0) / 60e9, run);
        System.out.printf("try: bin/lamina generate --model %s --prompt \"The city\"%n", run.resolve("model"));
        return 0;
    }

    /** Times a few forward/backward passes and returns how many steps fit in the budget (at least 50). */
    static int stepsForBudget(Decoder model, int B, int T, double minutes) {
        Decoder probe = Decoder.create(model.config(), 99);
        Tape tape = Tape.training();
        int[] ids = new int[B * T], tg = new int[B * T];
        Rng r = new Rng(1);
        for (int i = 0; i < ids.length; i++) { ids[i] = (int) r.nextLong(model.config().vocabSize()); tg[i] = ids[i]; }
        double best = Double.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            long t = System.nanoTime();
            tape.reset();
            probe.loss(tape, ids, tg, B, T);
            tape.backward();
            best = Math.min(best, (System.nanoTime() - t) / 1e9);
        }
        double perStep = best * 1.15; // optimizer, data and periodic evaluation
        return (int) Math.max(50, Math.min(20000, minutes * 60 / perStep));
    }
}
