package dev.lamina.train;

import dev.lamina.io.LaminaException;
import dev.lamina.kernels.KernelSet;
import dev.lamina.model.Decoder;
import dev.lamina.model.Lora;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Presets;
import dev.lamina.model.Qat;
import dev.lamina.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FineTuneTest {
    private static final ByteTokenizer TOK = ByteTokenizer.INSTANCE;

    static Path write(Path dir, String name, String... lines) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, String.join("\n", lines) + "\n");
        return f;
    }

    @Test
    void theLossCountsOnlyWhatTheModelShouldSay(@TempDir Path dir) throws Exception {
        Path f = write(dir, "d.jsonl",
                "{\"text\": \"abc\"}",
                "{\"prompt\": \"Q: 1+1\\n\", \"completion\": \"2\"}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}");
        FineTune.Data d = FineTune.read(f, TOK, 64, false);
        assertThat(d.examples()).hasSize(3);
        FineTune.Example text = d.examples().get(0), qa = d.examples().get(1), chat = d.examples().get(2);
        assertThat(text.counted()).isEqualTo(3);                       // b, c, end-of-text
        assertThat(qa.counted()).isEqualTo(2);                         // "2" and end-of-text
        int last = qa.ids().length - 1;
        assertThat(qa.targets()[last]).isEqualTo(TOK.eotId());
        assertThat(qa.targets()[last - 1]).isEqualTo('2');
        assertThat(qa.targets()[0]).isEqualTo(KernelSet.IGNORE);
        assertThat(chat.counted()).isEqualTo("yo\n\n".length() + 1);
        assertThat(FineTune.read(f, TOK, 64, true).examples().get(1).counted()).isEqualTo(qa.ids().length);
        FineTune.Data cut = FineTune.read(f, TOK, 8, true);
        assertThat(cut.truncated()).isEqualTo(1);                     // the chat line: 9 tokens fit in 8 + 1
        assertThat(cut.examples().get(2).ids()).hasSize(8);
    }

    /** ChatML, as Qwen's and many other models' tokenizer_config.json carry it. */
    static final dev.lamina.chat.ModelChatTemplate CHATML = dev.lamina.chat.ModelChatTemplate.of(
            "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
                    + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}", "chatml", java.util.Map.of());

    /** The text of the counted targets of an example (what the loss trains the model to say). */
    static String countedText(FineTune.Example e) {
        StringBuilder b = new StringBuilder();
        for (int t : e.targets()) if (t != KernelSet.IGNORE && t != TOK.eotId()) b.append((char) t);
        return b.toString();
    }

    /**
     * A conversation with OpenAI's tools, an assistant tool call and a tool result trains on the text
     * the server prompts with for the built-in template (ToolPrompt): the loss counts the call's tag
     * and the final answer, not the tool section, the question or the tool's result.
     */
    @Test
    void toolConversationsTrainOnTheServersToolPrompt(@TempDir Path dir) throws Exception {
        String tools = "[{\"type\": \"function\", \"function\": {\"name\": \"calc\", \"parameters\": {\"type\": \"object\", "
                + "\"properties\": {\"e\": {\"type\": \"string\"}}}}}]";
        String messages = "[{\"role\": \"user\", \"content\": \"2*3?\"}, {\"role\": \"assistant\", \"content\": null, \"tool_calls\": "
                + "[{\"id\": \"c1\", \"type\": \"function\", \"function\": {\"name\": \"calc\", \"arguments\": \"{\\\"e\\\": \\\"2*3\\\"}\"}}]}, "
                + "{\"role\": \"tool\", \"tool_call_id\": \"c1\", \"content\": \"6\"}, {\"role\": \"assistant\", \"content\": \"6.\"}]";
        Path f = write(dir, "t.jsonl", "{\"tools\": " + tools + ", \"messages\": " + messages + "}");
        FineTune.Example e = FineTune.read(f, TOK, 2048, false).examples().getFirst();
        var fns = java.util.List.of(dev.lamina.io.Json.MAPPER.readTree(tools).get(0).get("function"));
        var question = dev.lamina.io.Json.MAPPER.createArrayNode().add(dev.lamina.io.Json.MAPPER.readTree(messages).get(0));
        String prompt = dev.lamina.infer.ChatTemplate.render(dev.lamina.chat.ToolPrompt.messages(question, fns));
        StringBuilder all = new StringBuilder();
        for (int id : e.ids()) all.append((char) id);
        assertThat(all.toString()).startsWith(prompt);               // the server's prompt for the question, byte for byte
        assertThat(countedText(e)).isEqualTo("<tool_call>{\"name\": \"calc\", \"arguments\": {\"e\": \"2*3\"}}</tool_call>\n\n6.\n\n");
        assertThat(all.toString()).contains("### User:\n<tool_response>\n6\n</tool_response>\n\n");
        Path bad = write(dir, "b.jsonl", "{\"tools\": {}, \"messages\": " + messages + "}");
        assertThatThrownBy(() -> FineTune.read(bad, TOK, 2048, false)).hasMessageContaining("b.jsonl:1: \"tools\" must be a list");
        Path own = write(dir, "o.jsonl", "{\"tools\": " + tools + ", \"messages\": " + messages + "}");
        assertThatThrownBy(() -> FineTune.read(own, TOK, CHATML, 2048, false)).hasMessageContaining("has its own chat template");
    }

    @Test
    void chatLinesUseTheModelsOwnTemplateAndCountOnlyTheAssistantsTurns(@TempDir Path dir) throws Exception {
        Path f = write(dir, "c.jsonl",
                "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"user\", \"content\": \"hi\"}, "
                        + "{\"role\": \"assistant\", \"content\": \"yo\"}, {\"role\": \"user\", \"content\": \"and?\"}, "
                        + "{\"role\": \"assistant\", \"content\": \"done\"}]}");
        FineTune.Example e = FineTune.read(f, TOK, CHATML, 256, false).examples().getFirst();
        String whole = "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nyo<|im_end|>\n"
                + "<|im_start|>user\nand?<|im_end|>\n<|im_start|>assistant\ndone<|im_end|>\n";
        int[] ids = e.ids();
        StringBuilder in = new StringBuilder();
        for (int id : ids) in.append((char) id);
        assertThat(in + "\n").isEqualTo(whole);                       // the model's rendering, no end-of-text added
        assertThat(countedText(e)).isEqualTo("yo<|im_end|>\ndone<|im_end|>\n");
        assertThat(FineTune.read(f, TOK, CHATML, 256, true).examples().getFirst().counted()).isEqualTo(ids.length);
        // without a template of its own the model gets Lamina's built-in one
        assertThat(countedText(FineTune.read(f, TOK, 256, false).examples().getFirst())).isEqualTo("yo\n\ndone\n\n");
        assertThatThrownBy(() -> FineTune.read(write(dir, "w.jsonl", "{\"text\": \"ok\"}",
                "{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}"), TOK, CHATML, 64, false))
                .isInstanceOf(LaminaException.class).hasMessageEndingWith("w.jsonl:2: messages[0]: unknown role 'wizard' (use system, user, assistant or tool)");
    }

    @Test
    void badLinesAreRefusedWithFileAndLine(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> FineTune.read(write(dir, "a.jsonl", "{\"text\": \"ok\"}", "{oops"), TOK, 64, false))
                .isInstanceOf(LaminaException.class).hasMessageEndingWith("a.jsonl:2: not a JSON object");
        assertThatThrownBy(() -> FineTune.read(write(dir, "b.jsonl", "{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}"), TOK, 64, false))
                .hasMessageContaining("b.jsonl:1: messages[0]").hasMessageContaining("wizard");
        assertThatThrownBy(() -> FineTune.read(write(dir, "c.jsonl", "{\"prompt\": \"x\"}"), TOK, 64, false))
                .hasMessageContaining("c.jsonl:1: \"completion\" must be a string");
        assertThatThrownBy(() -> FineTune.read(write(dir, "e.jsonl", "", " "), TOK, 64, false)).hasMessageContaining("no examples");
        Files.write(dir.resolve("u.jsonl"), new byte[] {'{', (byte) 0xC3, '}'});
        assertThatThrownBy(() -> FineTune.read(dir.resolve("u.jsonl"), TOK, 64, false)).hasMessageContaining("not valid UTF-8");
    }

    @Test
    void loraLearnsACompletionWithTheBaseFrozenAndFullTuningToo(@TempDir Path dir) throws Exception {
        String[] lines = new String[8];
        for (int i = 0; i < lines.length; i++) lines[i] = "{\"prompt\": \"n" + i + "=\", \"completion\": \"" + "xyz".repeat(i % 3 + 1) + "\"}";
        FineTune.Data data = FineTune.read(write(dir, "t.jsonl", lines), TOK, 32, false);
        ModelConfig mc = Presets.get("tiny").config().apply(TOK.vocabSize());
        Decoder base = Decoder.create(mc, 1);
        // a random base's head (N(0, 0.02)) cannot express a confident prediction whatever the hidden
        // state, and LoRA leaves the head alone; a pretrained head can: give this one that range
        var head = base.params().value(base.head().key().name());
        for (int i = 0; i < head.size(); i++) head.set(i, head.get(i) * 50);
        float[] before = base.params().data().clone();
        TrainConfig c = TrainConfig.builder(60, 4, 32).lr(1e-2).warmup(2).evalEvery(0).seed(3).build();
        FineTune.Result lora = FineTune.run(base, FineTune.Method.LORA,
                new Lora.Config(8, 16, 0, Lora.Config.parseTargets("all-linear"), false), data, data, c, null);
        double first = lora.steps().getFirst().loss(), lastLoss = lora.steps().getLast().loss();
        assertThat(lastLoss).as("LoRA loss %f -> %f", first, lastLoss).isLessThan(0.1 * first);
        assertThat(lora.evalLoss()).isLessThan(0.1 * first);
        assertThat(base.params().data()).isEqualTo(before);                // the base did not move
        assertThat(lora.trainable()).isEqualTo(lora.adapter().size()).isLessThan(base.parameterCount() / 2);

        FineTune.Result full = FineTune.run(new Decoder(mc, base.params()), FineTune.Method.FULL, null, data, null, c, null);
        assertThat(full.steps().getLast().loss()).isLessThan(0.5 * full.steps().getFirst().loss());
        assertThat(full.trainable()).isEqualTo(base.parameterCount());
    }

    /**
     * bf16 LoRA and QLoRA: the base's float parameters become bfloat16 values, activations are stored in
     * 16 bits, the adapter stays float32; it learns as float32 does, resumes bit for bit, and other
     * methods and formats are refused naming --precision.
     */
    @Test
    void bf16LoraAndQloraLearnAsFloat32DoesAndResumeBitwise(@TempDir Path dir) throws Exception {
        FineTune.Split data = arithmetic(dir, 12).split(0.25, 4);
        ModelConfig mc = Presets.get("tiny").config().apply(TOK.vocabSize());
        Lora.Config lc = new Lora.Config(4, 8, 0.1, Lora.Config.parseTargets("all-linear"), false);
        for (FineTune.Method method : new FineTune.Method[] {FineTune.Method.LORA, FineTune.Method.QLORA}) {
            TrainConfig fp32 = TrainConfig.builder(10, 3, 32).lr(1e-2).warmup(2).evalEvery(4).seed(5).accum(2).build(),
                    bf16 = fp32.toBuilder().precision(dev.lamina.tensor.Precision.BF16).build();
            Decoder base = Decoder.create(mc, 1);
            FineTune.Result f = FineTune.run(Decoder.create(mc, 1), method, lc, null, data.train(), data.eval(), fp32, null, null);
            FineTune.Result b = FineTune.run(base, method, lc, null, data.train(), data.eval(), bf16, null, null);
            for (float w : b.model().params().data()) assertThat(dev.lamina.tensor.Precision.bf16(w)).isEqualTo(w);   // the base as bf16 holds it
            int unrounded = 0;
            for (float w : b.adapter().params().data()) if (dev.lamina.tensor.Precision.bf16(w) != w) unrounded++;
            assertThat((long) unrounded).as("the adapter stays float32").isGreaterThan(b.adapter().size() / 2);
            assertThat(b.steps().getLast().loss()).isNotEqualTo(f.steps().getLast().loss())
                    .isCloseTo(f.steps().getLast().loss(), org.assertj.core.data.Percentage.withPercentage(5));
            assertThat(b.steps().getLast().loss()).isLessThan(0.95 * b.steps().getFirst().loss());   // (fp32: the same fall, within 5%)

            Path whole = dir.resolve(method + "-whole"), cut = dir.resolve(method + "-cut");
            FineTune.Result r = FineTune.run(Decoder.create(mc, 1), method, lc, null, data.train(), data.eval(), bf16,
                    new FineTuneRun(whole, "base", TOK, "t.jsonl"), null);
            assertThatThrownBy(() -> FineTune.run(Decoder.create(mc, 1), method, lc, null, data.train(), data.eval(), bf16,
                    new FineTuneRun(cut, "base", TOK, "t.jsonl"), s -> { if (s.step() == 7) throw new IllegalStateException("killed"); }))
                    .hasMessage("killed");
            FineTune.Result resumed = FineTune.run(Decoder.create(mc, 1), method, lc, null, data.train(), data.eval(), bf16,
                    new FineTuneRun(cut, "base", TOK, "t.jsonl"), null);
            assertThat(resumed.adapter().params().data()).isEqualTo(r.adapter().params().data());
            assertThatThrownBy(() -> FineTune.run(Decoder.create(mc, 1), method, lc, null, data.train(), data.eval(), fp32,
                    new FineTuneRun(cut, "base", TOK, "t.jsonl"), null)).isInstanceOf(LaminaException.class).hasMessageContaining("other settings");
        }
        TrainConfig fp16 = TrainConfig.builder(2, 3, 32).precision(dev.lamina.tensor.Precision.FP16).build(),
                fullBf16 = TrainConfig.builder(2, 3, 32).precision(dev.lamina.tensor.Precision.BF16).build();
        assertThatThrownBy(() -> FineTune.run(Decoder.create(mc, 1), FineTune.Method.LORA, lc, null, data.train(), null, fp16, null, null))
                .isInstanceOf(LaminaException.class).hasMessageContaining("bf16 only");
        assertThatThrownBy(() -> FineTune.run(Decoder.create(mc, 1), FineTune.Method.FULL, null, null, data.train(), null, fullBf16, null, null))
                .isInstanceOf(LaminaException.class).hasMessageContaining("LoRA and QLoRA");
    }

    static FineTune.Data arithmetic(Path dir, int n) throws Exception {
        String[] lines = new String[n];
        for (int i = 0; i < n; i++) lines[i] = "{\"prompt\": \"" + i + "+" + (i % 5) + "=\", \"completion\": \"" + (i + i % 5) + "\"}";
        return FineTune.read(write(dir, "t.jsonl", lines), TOK, 32, false);
    }

    @ParameterizedTest
    @EnumSource(FineTune.Method.class)
    void anInterruptedRunResumedFromItsDirectoryEqualsTheUninterruptedRunBitwise(FineTune.Method method, @TempDir Path dir) throws Exception {
        FineTune.Split data = arithmetic(dir, 12).split(0.25, 4);
        ModelConfig mc = Presets.get("tiny").config().apply(TOK.vocabSize());
        // with LoRA dropout and two micro-batches a step, whose masks and order a resumed run must draw again
        Lora.Config lc = lora(method) ? new Lora.Config(4, 8, 0.1, Lora.Config.parseTargets("q,v,down"), false) : null;
        Qat.Config qc = qat(method);
        TrainConfig c = TrainConfig.builder(10, 3, 32).lr(lora(method) ? 1e-2 : 1e-3).warmup(2).evalEvery(4).seed(5)
                .accum(2).build();
        FineTuneRun whole = new FineTuneRun(dir.resolve("whole"), "base", TOK, "t.jsonl"), cut = new FineTuneRun(dir.resolve("cut"), "base", TOK, "t.jsonl");
        FineTune.Result r = FineTune.run(Decoder.create(mc, 1), method, lc, qc, data.train(), data.eval(), c, whole, null);

        // killed during step 7: its checkpoint is step 4's, and the lines of steps 5 and 6 are an orphaned tail
        assertThatThrownBy(() -> FineTune.run(Decoder.create(mc, 1), method, lc, qc, data.train(), data.eval(), c, cut, s -> {
            if (s.step() == 7) throw new IllegalStateException("killed");
        })).hasMessage("killed");
        FineTune.Result resumed = FineTune.run(Decoder.create(mc, 1), method, lc, qc, data.train(), data.eval(), c, cut, null);
        assertThat(resumed.steps().getFirst().step()).isEqualTo(5);
        float[] want = (lora(method) ? r.adapter().params() : r.model().params()).data(),
                got = (lora(method) ? resumed.adapter().params() : resumed.model().params()).data();
        assertThat(got).isEqualTo(want);
        assertThat(cut.metrics()).hasSize(10).isEqualTo(whole.metrics());       // every loss, grad norm and eval loss, bitwise
        String weights = lora(method) ? "adapter_model.safetensors" : "model.safetensors";
        assertThat(Files.readAllBytes(cut.dir().resolve(weights))).isEqualTo(Files.readAllBytes(whole.dir().resolve(weights)));
        if (qc != null)
            assertThat(Files.readAllBytes(cut.dir().resolve(FineTuneRun.QAT_STATE))).isEqualTo(Files.readAllBytes(whole.dir().resolve(FineTuneRun.QAT_STATE)));
        // best/ holds the weights of the lowest eval loss
        double best = Double.MAX_VALUE;
        int bestStep = -1;
        for (var j : whole.metrics())
            if (j.has("eval_loss") && j.get("eval_loss").doubleValue() < best) { best = j.get("eval_loss").doubleValue(); bestStep = j.get("step").intValue(); }
        assertThat(r.bestStep()).isEqualTo(bestStep);
        assertThat(resumed.bestStep()).isEqualTo(bestStep);
        assertThat(r.bestEvalLoss()).isEqualTo(best);
        assertThat(Files.readString(cut.dir().resolve("best/best.json"))).contains("\"step\":" + bestStep);
        assertThat(Files.readAllBytes(cut.dir().resolve("best").resolve(weights))).isEqualTo(Files.readAllBytes(whole.dir().resolve("best").resolve(weights)));

        // another setting, or other data, is refused rather than silently mixed in
        TrainConfig other = TrainConfig.builder(10, 3, 32).lr(5e-3).warmup(2).evalEvery(4).seed(5).accum(2).build();
        assertThatThrownBy(() -> FineTune.run(Decoder.create(mc, 1), method, lc, qc, data.train(), data.eval(), other, cut, null))
                .isInstanceOf(LaminaException.class).hasMessageContaining("other settings");
        FineTune.Data fewer = new FineTune.Data(data.train().examples().subList(0, 5), 0);
        assertThatThrownBy(() -> FineTune.run(Decoder.create(mc, 1), method, lc, qc, fewer, data.eval(), c, cut, null))
                .isInstanceOf(LaminaException.class).hasMessageContaining("training data differs");
    }

    @ParameterizedTest
    @EnumSource(FineTune.Method.class)
    void microBatchesAccumulateToOneBatchTheirTotalSize(FineTune.Method method, @TempDir Path dir) throws Exception {
        FineTune.Data data = arithmetic(dir, 24);                    // completions of 1 to 2 digits: micro-batches count unequal tokens
        ModelConfig mc = Presets.get("tiny").config().apply(TOK.vocabSize());
        Lora.Config lc = lora(method) ? new Lora.Config(4, 8, 0, Lora.Config.parseTargets("all-linear"), false) : null;
        Qat.Config qc = qat(method);
        TrainConfig big = TrainConfig.builder(3, 8, 32).lr(1e-2).warmup(1).evalEvery(0).seed(2).build();
        TrainConfig micro = TrainConfig.builder(3, 2, 32).lr(1e-2).warmup(1).evalEvery(0).seed(2).accum(4).build();
        FineTune.Result a = FineTune.run(Decoder.create(mc, 1), method, lc, qc, data, null, big, null, null);
        FineTune.Result b = FineTune.run(Decoder.create(mc, 1), method, lc, qc, data, null, micro, null, null);
        // float32 sums in another order. QAT keeps less of it: LSQ's step gradients, Σ dy·(q − w/s) over a row, cancel;
        // and after the first update a weight that lands on the other side of a rounding edge moves its ŵ by a whole step
        for (int i = 0; i < 3; i++) {
            var close = org.assertj.core.data.Percentage.withPercentage(qc == null ? 1e-3 : i == 0 ? 1e-2 : 1e-1);
            assertThat(b.steps().get(i).loss()).isCloseTo(a.steps().get(i).loss(), close);
            assertThat(b.steps().get(i).gradNorm()).isCloseTo(a.steps().get(i).gradNorm(), close);
        }
        float[] want = (lc != null ? a.adapter().params() : a.model().params()).data(), got = (lc != null ? b.adapter().params() : b.model().params()).data();
        float[] start = (lc != null ? Lora.Adapter.create(Decoder.create(mc, 1), lc, 2).params()
                : qc != null ? Decoder.create(mc, 1).withQat(qc).params() : Decoder.create(mc, 1).params()).data();
        // AdamW divides by sqrt(v): where a gradient is near zero, float noise in it moves a weight by up
        // to lr, so compare the whole update (L2) rather than its worst element
        double moved = 0, off = 0;
        for (int i = 0; i < want.length; i++) { moved += sq(want[i] - start[i]); off += sq(got[i] - want[i]); }
        assertThat(Math.sqrt(moved)).isGreaterThan(1e-2);           // the steps did move the weights
        assertThat(Math.sqrt(off / moved)).as("update's relative difference from one batch of 8").isLessThan(qc == null ? 1e-3 : 1e-2);
    }

    private static double sq(double v) { return v * v; }

    static boolean lora(FineTune.Method m) { return m == FineTune.Method.LORA || m == FineTune.Method.QLORA; }

    /** QAT's settings in the tests that run every method: 4 bits, a learned step per output channel (LSQ; tiny's MLP is 176 wide). */
    static Qat.Config qat(FineTune.Method m) { return m == FineTune.Method.QAT ? new Qat.Config(4, 0, true) : null; }

    @Test
    void loraDropoutMasksTheAdaptersInputInTrainingOnly(@TempDir Path dir) throws Exception {
        FineTune.Data data = arithmetic(dir, 8);
        ModelConfig mc = Presets.get("tiny").config().apply(TOK.vocabSize());
        TrainConfig c = TrainConfig.builder(4, 4, 32).lr(1e-2).warmup(1).evalEvery(0).seed(2).build();
        java.util.function.DoubleFunction<FineTune.Result> run = p -> FineTune.run(Decoder.create(mc, 1), FineTune.Method.LORA,
                new Lora.Config(4, 8, p, Lora.Config.parseTargets("all-linear"), false), data, null, c, null);
        FineTune.Result none = run.apply(0), some = run.apply(0.3), again = run.apply(0.3);
        assertThat(some.steps().getFirst().loss()).isEqualTo(none.steps().getFirst().loss());   // B = 0 at the start: no branch output
        assertThat(some.adapter().params().data()).isNotEqualTo(none.adapter().params().data());
        assertThat(again.adapter().params().data()).isEqualTo(some.adapter().params().data());  // masks come from the seed
        // evaluation runs on an inference tape: no masks, the same loss every time
        assertThat(FineTune.evaluate(some.model(), data, 4)).isEqualTo(FineTune.evaluate(some.model(), data, 4));
    }

    @Test
    void packingKeepsWholeExamplesAndTheirTargets(@TempDir Path dir) throws Exception {
        FineTune.Data d = arithmetic(dir, 12);
        FineTune.Data p = d.packed(20);
        assertThat(p.examples().size()).isLessThan(d.examples().size());
        int counted = 0, positions = 0;
        for (FineTune.Example e : p.examples()) {
            assertThat(e.ids().length).isLessThanOrEqualTo(20);
            counted += e.counted();
            positions += e.ids().length;
        }
        assertThat(counted).isEqualTo(d.examples().stream().mapToInt(FineTune.Example::counted).sum());
        assertThat(positions).isEqualTo(d.examples().stream().mapToInt(e -> e.ids().length).sum());
        // the first packed sequence is the first examples end to end, targets included
        FineTune.Example a = d.examples().get(0), b = d.examples().get(1), first = p.examples().getFirst();
        assertThat(java.util.Arrays.copyOfRange(first.targets(), a.ids().length, a.ids().length + b.ids().length)).isEqualTo(b.targets());
        assertThat(java.util.Arrays.copyOf(first.targets(), a.ids().length)).isEqualTo(a.targets());

        FineTune.Split s = d.split(0.25, 1);
        assertThat(s.eval().examples()).hasSize(3);
        assertThat(s.train().examples()).hasSize(9).doesNotContainAnyElementsOf(s.eval().examples());
        assertThat(d.split(0.25, 1).eval().examples()).isEqualTo(s.eval().examples());
    }
}
