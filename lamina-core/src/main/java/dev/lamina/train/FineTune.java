package dev.lamina.train;

import dev.lamina.autograd.Tape;
import dev.lamina.chat.ModelChatTemplate;
import dev.lamina.chat.ToolPrompt;
import dev.lamina.infer.ChatTemplate;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.io.TextFiles;
import dev.lamina.kernels.KernelSet;
import dev.lamina.model.Decoder;
import dev.lamina.model.Lora;
import dev.lamina.model.Parameters;
import dev.lamina.model.Qat;
import dev.lamina.tensor.Rng;
import dev.lamina.tokenizer.Tokenizer;
import tools.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Fine-tuning on examples, fully or with a LoRA adapter beside the frozen base. Examples come one
 * JSON object per line: {@code {"text": ...}}, {@code {"prompt": ..., "completion": ...}} or
 * {@code {"messages": [{"role": ..., "content": ...}, ...]}} (OpenAI's chat format, rendered with
 * the model's own chat template, or Lamina's built-in one when it has none). The loss counts only
 * the completion and the assistant's replies unless trainOnPrompt; other targets are
 * {@link KernelSet#IGNORE}.
 */
public final class FineTune {
    private FineTune() {}

    /**
     * FULL: every parameter; LORA: an adapter beside the frozen base; QLORA: the same over a base frozen
     * in NF4; QAT: every parameter, the layer maps computing fake-quantized ({@link Qat}; with LSQ their
     * steps train too).
     */
    public enum Method { FULL, LORA, QLORA, QAT }

    /** One training sequence: ids[n] and the target of each position (the next id, or IGNORE). */
    public record Example(int[] ids, int[] targets) {
        public int counted() {
            int c = 0;
            for (int t : targets) if (t != KernelSet.IGNORE) c++;
            return c;
        }
    }

    /** The examples of a file, and how many were cut to the sequence length. */
    public record Data(List<Example> examples, int truncated) {
        /**
         * The examples packed into sequences of at most seq positions: whole examples, one after the
         * other in order, each keeping its own targets, so the loss still counts only what it counted
         * (a sequence's last target is its own last token: no target crosses into the next example).
         */
        public Data packed(int seq) {
            List<Example> out = new ArrayList<>();
            int[] ids = new int[seq], tg = new int[seq];
            int n = 0;
            for (Example e : examples) {
                int len = e.ids().length;                  // <= seq: read() cut longer ones
                if (n > 0 && n + len > seq) {
                    out.add(new Example(java.util.Arrays.copyOf(ids, n), java.util.Arrays.copyOf(tg, n)));
                    n = 0;
                }
                System.arraycopy(e.ids(), 0, ids, n, len);
                System.arraycopy(e.targets(), 0, tg, n, len);
                n += len;
            }
            if (n > 0) out.add(new Example(java.util.Arrays.copyOf(ids, n), java.util.Arrays.copyOf(tg, n)));
            return new Data(List.copyOf(out), truncated);
        }

        /** A held-out share of the examples (at least one, chosen by seed), and the rest, each in file order. */
        public Split split(double evalFraction, long seed) {
            if (!(evalFraction > 0 && evalFraction < 1))
                throw LaminaException.field("evalFraction", "evalFraction must be in (0, 1), got " + evalFraction);
            int n = examples.size(), held = (int) Math.ceil(evalFraction * n);
            if (held >= n) throw LaminaException.field("evalFraction", "evalFraction leaves no training examples of " + n);
            int[] order = new int[n];
            shuffle(order, new Rng(seed ^ 0xE7A1L));
            boolean[] isEval = new boolean[n];
            for (int i = 0; i < held; i++) isEval[order[i]] = true;
            List<Example> train = new ArrayList<>(), eval = new ArrayList<>();
            for (int i = 0; i < n; i++) (isEval[i] ? eval : train).add(examples.get(i));
            return new Split(new Data(List.copyOf(train), truncated), new Data(List.copyOf(eval), 0));
        }
    }

    /** Training and held-out examples. */
    public record Split(Data train, Data eval) {}

    private record Segment(String text, boolean counted) {}

    /** The roles a chat example may use. */
    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool");

    /** As {@link #read(Path, Tokenizer, ModelChatTemplate, int, boolean)} with Lamina's built-in chat template. */
    public static Data read(Path file, Tokenizer tok, int seq, boolean trainOnPrompt) {
        return read(file, tok, ModelChatTemplate.builtIn(), seq, trainOnPrompt);
    }

    /**
     * Reads FILE.jsonl into examples of at most seq positions, chat lines rendered with template.
     * Every line is checked before training starts; a bad one is a one-line error naming file:line
     * and the reason.
     */
    public static Data read(Path file, Tokenizer tok, ModelChatTemplate template, int seq, boolean trainOnPrompt) {
        String text = TextFiles.read(file);
        List<Example> out = new ArrayList<>();
        int truncated = 0, lineNo = 0;
        for (String line : text.split("\n", -1)) {
            lineNo++;
            if (line.isBlank()) continue;
            String where = file + ":" + lineNo;
            JsonNode j;
            try {
                j = Json.MAPPER.readTree(line);
            } catch (RuntimeException e) {
                throw new LaminaException(where + ": not a JSON object");
            }
            if (!j.isObject()) throw new LaminaException(where + ": not a JSON object");
            boolean templated = !template.isBuiltIn() && j.has("messages") && !j.has("text") && !j.has("prompt") && !j.has("completion");
            if (templated && j.has("tools"))
                throw new LaminaException(where + ": a conversation with \"tools\" is trained in the built-in chat template's tool format "
                        + "(Hermes tags), and this model has its own chat template; train it on that template's rendered text as {\"text\"} lines");
            List<Segment> segs = templated ? templated(j, template, where, trainOnPrompt) : segments(j, where, trainOnPrompt);
            List<Integer> ids = new ArrayList<>();
            List<Boolean> count = new ArrayList<>();
            for (Segment s : segs)
                for (int id : tok.encode(s.text())) { ids.add(id); count.add(s.counted()); }
            if (tok.eotId() >= 0 && !templated) { ids.add(tok.eotId()); count.add(true); }   // a model's template ends each turn itself
            if (ids.size() < 2) throw new LaminaException(where + ": too short to train on (fewer than 2 tokens)");
            if (ids.size() > seq + 1) { truncated++; ids = ids.subList(0, seq + 1); count = count.subList(0, seq + 1); }
            int n = ids.size() - 1;
            int[] in = new int[n], tg = new int[n];
            for (int i = 0; i < n; i++) { in[i] = ids.get(i); tg[i] = count.get(i + 1) ? ids.get(i + 1) : KernelSet.IGNORE; }
            Example e = new Example(in, tg);
            if (e.counted() == 0)
                throw new LaminaException(where + ": no completion tokens left within " + seq + " positions; raise the sequence length");
            out.add(e);
        }
        if (out.isEmpty()) throw new LaminaException(file + ": no examples (one JSON object per line)");
        return new Data(out, truncated);
    }

    private static List<Segment> segments(JsonNode j, String where, boolean all) {
        if (j.has("text")) return List.of(new Segment(string(j, "text", where), true));
        if (j.has("prompt") || j.has("completion"))
            return List.of(new Segment(string(j, "prompt", where), all), new Segment(string(j, "completion", where), true));
        JsonNode ms = j.get("messages");
        if (ms == null) throw new LaminaException(where + ": needs \"text\", \"prompt\" and \"completion\", or \"messages\"");
        if (!ms.isArray() || ms.isEmpty()) throw new LaminaException(where + ": \"messages\" must be a non-empty list");
        List<ChatTemplate.Message> messages = new ArrayList<>();
        if (j.has("tools")) {                  // OpenAI's tools and tool calls, as the server prompts with them
            try {
                messages = ToolPrompt.messages(ms, functions(j.get("tools"), where));
            } catch (ToolPrompt.Invalid e) {
                throw new LaminaException(where + ": " + e.field + ": " + e.getMessage());
            }
        } else {
            for (int i = 0; i < ms.size(); i++) {
                JsonNode m = ms.get(i);
                String role = m.has("role") && m.get("role").isString() ? m.get("role").asString() : null;
                String content = m.has("content") && m.get("content").isString() ? m.get("content").asString() : null;
                if (role == null || content == null)
                    throw new LaminaException(where + ": messages[" + i + "] needs a string \"role\" and \"content\"");
                messages.add(new ChatTemplate.Message(role, content));
            }
        }
        List<Segment> segs = new ArrayList<>();
        boolean reply = false;
        for (int i = 0; i < messages.size(); i++) {
            ChatTemplate.Message m = messages.get(i);
            String rendered;
            try {
                rendered = ChatTemplate.render(List.of(m));
            } catch (LaminaException e) {
                throw new LaminaException(where + ": messages[" + i + "]: " + e.getMessage());
            }
            if (m.role().equals("assistant")) {
                segs.add(new Segment("### Assistant:\n", all));
                segs.add(new Segment(m.content() + "\n\n", true));
                reply = true;
            } else {
                segs.add(new Segment(rendered.substring(0, rendered.length() - "### Assistant:\n".length()), all));
            }
        }
        if (!reply && !all) throw new LaminaException(where + ": no assistant message to learn from");
        return segs;
    }

    /** The "function" objects of a line's OpenAI-style "tools". */
    private static List<JsonNode> functions(JsonNode tools, String where) {
        if (!tools.isArray()) throw new LaminaException(where + ": \"tools\" must be a list of {\"type\": \"function\", \"function\": {...}}");
        List<JsonNode> out = new ArrayList<>();
        for (int i = 0; i < tools.size(); i++) {
            JsonNode f = tools.get(i).get("function");
            if (f == null || !f.isObject() || !f.path("name").isString())
                throw new LaminaException(where + ": tools[" + i + "] must be {\"type\": \"function\", \"function\": {\"name\": ..., ...}}");
            out.add(f);
        }
        return out;
    }

    /**
     * A conversation through the model's own template. Each assistant turn is what rendering the
     * conversation up to and including it adds to rendering the turns before it with the
     * generation prompt (its content and the template's end of turn); the rest is prompt.
     */
    private static List<Segment> templated(JsonNode j, ModelChatTemplate template, String where, boolean all) {
        JsonNode ms = j.get("messages");
        if (!ms.isArray() || ms.isEmpty()) throw new LaminaException(where + ": \"messages\" must be a non-empty list");
        List<Map<String, Object>> messages = new ArrayList<>();
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            String role = m.has("role") && m.get("role").isString() ? m.get("role").asString() : null;
            if (role == null || !m.has("content") || !m.get("content").isString())
                throw new LaminaException(where + ": messages[" + i + "] needs a string \"role\" and \"content\"");
            if (!ROLES.contains(role))
                throw new LaminaException(where + ": messages[" + i + "]: unknown role '" + role + "' (use system, user, assistant or tool)");
            messages.add(Map.of("role", role, "content", m.get("content").asString()));
        }
        List<Segment> segs = new ArrayList<>();
        String done = "";                                   // the rendering so far, split into segments
        boolean reply = false;
        try {
            for (int i = 0; i < messages.size(); i++) {
                if (!messages.get(i).get("role").equals("assistant")) continue;
                String before = template.render(messages.subList(0, i), true), through = template.render(messages.subList(0, i + 1), false);
                if (!before.startsWith(done) || !through.startsWith(before))
                    throw new LaminaException(where + ": the model's chat template does not render this conversation turn by turn "
                            + "(a later rendering changes an earlier one), so the assistant's tokens cannot be told apart");
                segs.add(new Segment(before.substring(done.length()), all));
                segs.add(new Segment(through.substring(before.length()), true));
                done = through;
                reply = true;
            }
            String whole = template.render(messages, false);
            if (!whole.startsWith(done))
                throw new LaminaException(where + ": the model's chat template does not render this conversation turn by turn");
            if (whole.length() > done.length()) segs.add(new Segment(whole.substring(done.length()), all));
        } catch (LaminaException e) {
            if (e.getMessage().startsWith(where)) throw e;
            throw new LaminaException(where + ": " + e.getMessage());
        }
        if (!reply && !all) throw new LaminaException(where + ": no assistant message to learn from");
        return segs;
    }

    private static String string(JsonNode j, String f, String where) {
        JsonNode v = j.get(f);
        if (v == null || !v.isString()) throw new LaminaException(where + ": \"" + f + "\" must be a string");
        return v.asString();
    }

    /** One logged step: step (1-based), loss, gradient norm, learning rate. */
    public record Step(int step, double loss, double gradNorm, double lr) {}

    /**
     * What a run produced: the tuned model (with its adapter for LoRA), the per-step log of this
     * call (a resumed run's starts after its checkpoint), the last eval loss, the best eval loss and
     * its step, trainable parameters.
     */
    public record Result(Decoder model, Lora.Adapter adapter, List<Step> steps, double evalLoss, long trainable, double seconds,
                         double bestEvalLoss, int bestStep) {}

    /** As {@link #run(Decoder, Method, Lora.Config, Data, Data, TrainConfig, FineTuneRun, Consumer)} in memory only. */
    public static Result run(Decoder base, Method method, Lora.Config lora, Data train, Data eval, TrainConfig c, Consumer<Step> onStep) {
        return run(base, method, lora, train, eval, c, null, onStep);
    }

    /**
     * Fine-tunes base: method LORA trains only the adapter (base frozen: no gradients, no optimizer
     * state for it), QLORA the same over the base's linear maps in NF4 ({@link Decoder#withNf4Base}),
     * FULL every parameter. Batches of c.batch() examples drawn in a seeded order,
     * padded to the longest (padding is ignored). Eval (may be null) is scored every c.evalEvery()
     * steps and at the end. With a run directory (may be null) each of those steps is also a
     * checkpoint, the best eval loss's weights are kept in best/, and a directory holding a
     * checkpoint is continued from it (full tuning then overwrites base's parameters with it).
     */
    public static Result run(Decoder base, Method method, Lora.Config lora, Data train, Data eval, TrainConfig c, FineTuneRun out,
                             Consumer<Step> onStep) {
        return run(base, method, lora, null, train, eval, c, out, onStep);
    }

    /** As above; method QAT trains base quantization-aware with qat (its grid, and whether steps are learned). */
    public static Result run(Decoder base, Method method, Lora.Config lora, Qat.Config qat, Data train, Data eval, TrainConfig c,
                             FineTuneRun out, Consumer<Step> onStep) {
        long t0 = System.nanoTime();
        Decoder model;
        Lora.Adapter adapter = null;
        Parameters trainable;
        if (method == Method.QAT) {
            if (qat == null) throw LaminaException.field("qat", "method QAT needs its bits and group");
            model = base.withQat(qat);
            trainable = model.params();
        } else if (method != Method.FULL) {
            if (lora == null) throw LaminaException.field("lora", "method " + method + " needs a LoRA config");
            adapter = Lora.Adapter.create(base, lora, c.seed());
            // QLoRA: the linear maps in NF4; the float ones are freed once the caller drops base (or passes an NF4 base)
            model = (method == Method.QLORA ? base.withNf4Base() : base).withAdapter(adapter);
            trainable = adapter.params();
        } else {
            model = base;
            trainable = base.params();
        }
        if (c.precision() != dev.lamina.tensor.Precision.FP32) {
            if (adapter == null || c.precision() != dev.lamina.tensor.Precision.BF16)
                throw LaminaException.field("precision", "fine-tuning in " + c.precision().label() + " is built for LoRA and QLoRA in bf16 only "
                        + "(a bf16 base, float32 adapters, 16-bit activations); use --precision bf16 with --method lora or qlora, or fp32");
            Parameters frozen = model.params();           // the base's float parameters as bf16 holds them; the adapter stays float32
            model.kernels().round(frozen.flatData(), c.precision());
        }
        AdamW opt = new AdamW(trainable, model.kernels());
        Order order = new Order(train.examples().size(), c.seed());
        int start = 0;
        if (out != null && out.resumable()) {
            Checkpoint.State st = out.restore(method, adapter, model, opt, c);
            start = st.step();
            for (int step = 0; step < start; step++) order.batch(c.batch() * c.accum());   // the data order is replayed, not stored
            if (order.rng.state() != st.rngState())
                throw new LaminaException(out.dir() + ": the training data differs from the run's (" + train.examples().size()
                        + " examples now); continue with the same data or write to a new directory");
        } else if (out != null) {
            out.start();
        }
        List<Example> ex = train.examples();
        List<Step> log = new ArrayList<>();
        FineTuneRun.Best prior = out == null ? new FineTuneRun.Best(Double.NaN, -1) : out.best();
        double evalLoss = Double.NaN, best = prior.evalLoss();
        int bestStep = prior.step();
        for (int step = start; step < c.steps(); step++) {
            double loss = accumulate(model, trainable, ex, order.batch(c.batch() * c.accum()), c, step);
            double norm = opt.clip(c.clip());
            double lr = c.lrAt(step);
            opt.step(lr, c);
            Step s = new Step(step + 1, loss, norm, lr);
            log.add(s);
            boolean last = step + 1 == c.steps(), due = c.evalEvery() > 0 && (step + 1) % c.evalEvery() == 0;
            double scored = Double.NaN;
            if (eval != null && (due || last)) evalLoss = scored = evaluate(model, eval, c.batch());
            if (!Double.isNaN(scored) && !(scored >= best)) {
                best = scored;
                bestStep = step + 1;
                if (out != null) out.saveBest(step + 1, scored, adapter, model);
            }
            if (out != null) {
                out.log(s, scored);
                if (due || last) out.save(step + 1, adapter, model, opt, c, order.rng.state());
            }
            if (onStep != null) onStep.accept(s);
        }
        return new Result(model, adapter, log, evalLoss, trainable.count(), (System.nanoTime() - t0) / 1e9, best, bestStep);
    }

    /**
     * One step's gradients in trainable: c.accum() micro-batches of c.batch() examples (the drawn
     * indices, in order), each micro-batch's mean loss weighted by its share of the step's counted
     * tokens, so the step equals one batch c.accum() times larger (padding aside, which is ignored).
     * Weighting happens on the accumulated buffer: before micro-batch i adds its gradient, the sum so
     * far is scaled by w(i−1)/w(i), and at the end by the last w. Returns the step's mean loss.
     */
    private static double accumulate(Decoder model, Parameters trainable, List<Example> ex, int[] drawn, TrainConfig c, int step) {
        int micro = c.accum(), B = c.batch();
        long[] counted = new long[micro];
        long total = 0;
        for (int m = 0; m < micro; m++) {
            for (int i = 0; i < B; i++) counted[m] += ex.get(drawn[m * B + i]).counted();
            total += counted[m];
        }
        trainable.zeroGrad();
        double loss = 0, prior = 0;
        for (int m = 0; m < micro; m++) {
            double w = (double) counted[m] / total;
            if (m > 0) model.kernels().scale(trainable.flatGrad(), (float) (prior / w));
            List<Example> batch = new ArrayList<>(B);
            for (int i = 0; i < B; i++) batch.add(ex.get(drawn[m * B + i]));
            // LoRA dropout masks: a function of (seed, step, micro-batch), so a resumed run draws the same ones
            Tape tape = Tape.training(model.kernels()).dropoutSeed(c.seed() * 0x9E3779B97F4A7C15L + step * 1_000_003L + m)
                    .checkpointEvery(c.checkpointEvery()).precision(c.precision());
            loss += w * loss(model, tape, batch);
            tape.backward();
            prior = w;
        }
        if (micro > 1) model.kernels().scale(trainable.flatGrad(), (float) prior);
        return loss;
    }

    /** The data order: a seeded shuffle of every example, drawn batch by batch, reshuffled after each pass. */
    private static final class Order {
        final Rng rng;
        final int[] order;
        int pos;

        Order(int n, long seed) {
            rng = new Rng(seed ^ 0x5EEDL);
            order = new int[n];
            pos = n;
        }

        int[] batch(int size) {
            int[] b = new int[size];
            for (int i = 0; i < size; i++) {
                if (pos == order.length) { shuffle(order, rng); pos = 0; }
                b[i] = order[pos++];
            }
            return b;
        }
    }

    private static void shuffle(int[] order, Rng rng) {
        for (int i = 0; i < order.length; i++) order[i] = i;
        for (int i = order.length - 1; i > 0; i--) {
            int j = (int) rng.nextLong(i + 1);
            int t = order[i]; order[i] = order[j]; order[j] = t;
        }
    }

    /** Mean loss over the counted targets of a batch, each example padded to the batch's longest. */
    static double loss(Decoder model, Tape tape, List<Example> batch) {
        int T = 0;
        for (Example e : batch) T = Math.max(T, e.ids().length);
        int B = batch.size();
        int[] ids = new int[B * T], tg = new int[B * T];
        java.util.Arrays.fill(tg, KernelSet.IGNORE);
        for (int b = 0; b < B; b++) {
            Example e = batch.get(b);
            System.arraycopy(e.ids(), 0, ids, b * T, e.ids().length);
            System.arraycopy(e.targets(), 0, tg, b * T, e.targets().length);
        }
        return model.loss(tape, ids, tg, B, T);
    }

    /** Mean loss per counted token over every example of data (no gradients). */
    public static double evaluate(Decoder model, Data data, int batch) {
        double sum = 0;
        long tokens = 0;
        List<Example> ex = data.examples();
        for (int i = 0; i < ex.size(); i += batch) {
            List<Example> b = ex.subList(i, Math.min(ex.size(), i + batch));
            long n = 0;
            for (Example e : b) n += e.counted();
            sum += loss(model, Tape.inference(model.kernels()), b) * n;
            tokens += n;
        }
        return sum / tokens;
    }
}
