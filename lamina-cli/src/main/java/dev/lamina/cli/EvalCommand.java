package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.data.Dataset;
import dev.lamina.eval.Comparison;
import dev.lamina.eval.Divergence;
import dev.lamina.eval.Perplexity;
import dev.lamina.eval.Task;
import dev.lamina.eval.TaskEval;
import dev.lamina.eval.TokenScorer;
import dev.lamina.infer.SamplingParams;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Evaluate a model: perplexity on text (sliding window; bits per byte and per character compare models "
                + "across tokenizers), multiple-choice and generation tasks from JSONL files, or models side by side (--compare).")
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "M", description = "Run directory, Hugging Face directory or FILE.gguf.")
    Path model;
    @Option(names = "--adapter", paramLabel = "DIR", description = "A LoRA adapter directory (PEFT files) to apply to the model; "
            + "repeatable, as for generate.")
    List<Path> adapters = new ArrayList<>();
    @Option(names = "--text", arity = "1..*", paramLabel = "FILE", description = "UTF-8 text files to score (each on its own).")
    List<Path> texts = new ArrayList<>();
    @Option(names = "--data", paramLabel = "DIR", description = "A prepared data directory: score its token file (see --split).")
    Path data;
    @Option(names = "--split", paramLabel = "val|train", defaultValue = "val", description = "Which token file of --data: val or train (default ${DEFAULT-VALUE}).")
    String split;
    @Option(names = "--reference", paramLabel = "M", description = "With --text or --data: also the divergence from this model's "
            + "next-token distributions (mean KL per token, same top token), e.g. the float32 original of a quantized model.")
    Path reference;
    @Option(names = "--context", paramLabel = "N", description = "Tokens per window (default: the model's context).")
    Integer context;
    @Option(names = "--stride", paramLabel = "S", description = "Start a window every this many tokens (sliding window); without it a text must fit in one window.")
    Integer stride;
    @Option(names = "--tasks", paramLabel = "FILE.jsonl|DIR|NAME", description = "Task files, a directory of them, or a built-in task (brown-cloze); repeatable.")
    List<String> tasks = new ArrayList<>();
    @Option(names = "--shots", paramLabel = "N", defaultValue = "0", description = "Few-shot examples before each task example (default ${DEFAULT-VALUE}).")
    int shots;
    @Option(names = "--seed", paramLabel = "S", defaultValue = "1234", description = "Seed of the few-shot draw and of --compare's sampling (default ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--limit", paramLabel = "N", description = "Evaluate only the first N examples of each task.")
    Integer limit;
    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;
    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: every core).")
    Integer threads;
    @Option(names = "--compare", arity = "2..*", paramLabel = "M", description = "Models side by side on --prompts, written as one HTML page (--out).")
    List<Path> compare = new ArrayList<>();
    @Option(names = "--prompts", paramLabel = "FILE", description = "Prompts for --compare, one a line.")
    Path prompts;
    @Option(names = "--out", defaultValue = "compare.html", paramLabel = "FILE.html", description = "The --compare page (default ${DEFAULT-VALUE}).")
    Path out;
    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "40", description = "Tokens each model continues a --compare prompt with (default ${DEFAULT-VALUE}).")
    int maxTokens;
    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0.8", description = "--compare's sampling temperature, 0 for greedy (default ${DEFAULT-VALUE}).")
    double temperature;

    @Override
    public Integer call() {
        if (!compare.isEmpty()) return compare();
        if (model == null) throw new LaminaException("give --model M (or --compare M1 M2 ... with --prompts FILE)");
        if (texts.isEmpty() && data == null && tasks.isEmpty())
            throw new LaminaException("nothing to evaluate: give --text FILE..., --data DIR or --tasks FILE.jsonl|DIR|brown-cloze");
        if (limit != null && limit < 1) throw new LaminaException("--limit must be >= 1, got " + limit);
        if (!split.equals("val") && !split.equals("train")) throw new LaminaException("--split must be val or train, got " + split);
        List<Task> taskList = new ArrayList<>();
        for (String t : tasks) taskList.addAll(Task.load(t));           // bad task files fail before the model loads
        Lamina.Model m = Lamina.load(model, Main.kernels(threads),
                GenerateCommand.formatWith(dev.lamina.kernels.WeightFormat.STORED, adapters));
        GenerateCommand.foldAdapters(m, adapters);
        ObjectNode report = Json.MAPPER.createObjectNode();
        report.put("model", model.toString());
        for (Path a : adapters) report.withArray("adapters").add(a.toString());

        Perplexity.Result total = null;
        if (!texts.isEmpty() || data != null) {
            TokenScorer scorer = new TokenScorer(m.decoder());
            int ctx = context == null ? scorer.contextLimit() : context;
            List<Perplexity.Text> inputs = new ArrayList<>();
            for (Path t : texts) inputs.add(Perplexity.Text.read(t, m.tokenizer()));
            if (data != null) inputs.add(dataText(m));
            int step = stride == null ? 0 : stride;
            report.put("context", ctx);
            if (stride != null) report.put("stride", stride);
            long all = 0;
            for (Perplexity.Text t : inputs) all += t.scored();
            ArrayNode rows = report.putArray("texts");
            total = Perplexity.Result.EMPTY;
            List<String> lines = new ArrayList<>();
            try (ConsoleProgress bar = new ConsoleProgress("perplexity", all, System.err)) {
                for (Perplexity.Text t : inputs) {
                    Perplexity.Result before = total;
                    Perplexity.Result r = Perplexity.of(scorer, t, ctx, step, run -> {
                        Perplexity.Result sum = before.plus(run);
                        bar.update(sum.tokens(), String.format("%s ppl %.3f", shortName(t.name()), sum.perplexity()));
                    });
                    total = total.plus(r);
                    rows.add(figures(Json.MAPPER.createObjectNode().put("name", t.name()), r));
                    lines.add(line(t.name(), r));
                }
            }
            if (!json) lines.forEach(System.out::println);
            figures(report.putObject("total"), total);
            if (!json && inputs.size() > 1) System.out.println(line("all", total));
            if (reference != null) divergence(scorer, inputs, ctx, step, all, report);
        }

        if (!taskList.isEmpty()) {
            TaskEval te = new TaskEval(m.prepared(), m.tokenizer());
            ArrayNode rows = report.putArray("tasks");
            for (Task t : taskList) {
                Task run = limit == null || limit >= t.examples().size() ? t : new Task(t.name(), t.source(), t.examples().subList(0, limit));
                TaskEval.Report r;
                try (ConsoleProgress bar = new ConsoleProgress(t.name(), run.examples().size(), System.err)) {
                    r = te.run(run, shots, seed, done -> bar.update(done, ""));
                }
                ObjectNode o = rows.addObject().put("task", r.task()).put("examples", r.examples()).put("shots", r.shots());
                StringBuilder s = new StringBuilder(String.format("%s (%d examples, %d-shot):", r.task(), r.examples(), r.shots()));
                for (TaskEval.Metric x : r.metrics()) {
                    number(o, x.name(), x.value());
                    number(o, x.name() + "_stderr", x.stderr());
                    s.append(String.format(" %s %.4f ± %.4f", x.name(), x.value(), x.stderr()));
                }
                if (!json) System.out.println(s);
            }
        }
        if (json) System.out.println(report);
        else if (total != null) System.out.println("perplexity=" + total.perplexity());
        return 0;
    }

    /** --reference: each text under the reference model and this one, their distributions compared. */
    private void divergence(TokenScorer scorer, List<Perplexity.Text> inputs, int ctx, int step, long all, ObjectNode report) {
        Lamina.Model ref = Lamina.load(reference, Main.kernels(threads));
        if (ref.decoder().config().vocabSize() != scorer.model().config().vocabSize())
            throw new LaminaException("--reference " + reference + " has a vocabulary of " + ref.decoder().config().vocabSize()
                    + " tokens, the model " + scorer.model().config().vocabSize() + ": compare models that share a tokenizer");
        TokenScorer refScorer = new TokenScorer(ref.decoder());
        Divergence.Result r = Divergence.Result.NONE;
        try (ConsoleProgress bar = new ConsoleProgress("divergence", all, System.err)) {
            for (Perplexity.Text t : inputs) {
                long before = r.tokens();
                r = r.plus(Divergence.of(refScorer, scorer, t.ids(), ctx, step == 0 ? ctx : step, n -> bar.update(before + n, "")));
            }
        }
        long tokens = r.tokens();
        report.putObject("divergence").put("reference", reference.toString()).put("tokens", tokens).put("mean_kl", r.meanKl())
                .put("same_top", r.sameTopFraction()).put("reference_perplexity", r.referencePerplexity()).put("perplexity", r.perplexity());
        if (!json)
            System.out.printf(java.util.Locale.ROOT, "divergence from %s: %d tokens, mean KL %.6f nats/token, same top token %.2f%%, "
                    + "perplexity %.4f (reference %.4f)%n", reference, tokens, r.meanKl(), 100 * r.sameTopFraction(), r.perplexity(),
                    r.referencePerplexity());
    }

    /** --compare: every prompt through every model, one HTML page. */
    private int compare() {
        if (model != null || !texts.isEmpty() || data != null || !tasks.isEmpty())
            throw new LaminaException("--compare stands alone: give the models to it, with --prompts (not --model, --text, --data or --tasks)");
        if (prompts == null) throw new LaminaException("--compare needs --prompts FILE (one prompt a line)");
        if (maxTokens < 1) throw new LaminaException("--max-tokens must be >= 1, got " + maxTokens);
        SamplingParams sampling;
        try {
            sampling = SamplingParams.of(temperature, 40, 0.95, seed);
        } catch (LaminaException e) {
            throw new LaminaException("--" + e.getMessage());
        }
        List<Comparison.Prompt> list = Comparison.readPrompts(prompts);
        List<Lamina.Model> models = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (Path m : compare) {
            models.add(Lamina.load(m, Main.kernels(threads)));
            names.add(m.toString());
        }
        Comparison c;
        try (ConsoleProgress bar = new ConsoleProgress("compare", list.size(), System.err)) {
            c = Comparison.run(names, models, prompts, list, sampling, maxTokens, done -> bar.update(done, ""));
        }
        AtomicFiles.writeString(out, ComparePage.html(c));
        System.out.println("wrote " + out + ": " + list.size() + " prompts, " + models.size() + " models");
        return 0;
    }

    private Perplexity.Text dataText(Lamina.Model m) {
        try (Dataset d = Dataset.open(data)) {
            if (d.tokenizer().vocabSize() != m.tokenizer().vocabSize())
                throw new LaminaException(data + ": its tokenizer (" + d.tokenizer().describe() + ") is not the model's ("
                        + m.tokenizer().describe() + "); prepare the data with the model's tokenizer");
            var file = split.equals("val") ? d.val() : d.train();
            if (file.size() > Integer.MAX_VALUE - 8) throw new LaminaException(file.file() + ": too many tokens to score at once");
            return Perplexity.Text.ofTokens(file.file().toString(), file.toArray(), d.tokenizer());
        }
    }

    private static String shortName(String name) { return Path.of(name).getFileName().toString(); }

    private static String line(String name, Perplexity.Result r) {
        return String.format("%s: %d tokens scored, nll/token %.4f, perplexity %.4f, bits/byte %.4f, bits/char %.4f",
                name, r.tokens(), r.meanNll(), r.perplexity(), r.bitsPerByte(), r.bitsPerChar());
    }

    private static ObjectNode figures(ObjectNode o, Perplexity.Result r) {
        o.put("tokens", r.tokens()).put("bytes", r.bytes()).put("chars", r.chars());
        number(o, "nll", r.nll());
        number(o, "perplexity", r.perplexity());
        number(o, "bits_per_byte", r.bitsPerByte());
        number(o, "bits_per_char", r.bitsPerChar());
        return o;
    }

    /** JSON has no NaN: a figure that does not exist is null. */
    private static void number(ObjectNode o, String key, double v) {
        if (Double.isFinite(v)) o.put(key, v);
        else o.putNull(key);
    }
}
