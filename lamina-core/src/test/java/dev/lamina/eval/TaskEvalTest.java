package dev.lamina.eval;

import dev.lamina.Lamina;
import dev.lamina.io.LaminaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class TaskEvalTest {
    private static final Lamina.Model GPT2 = EvalFixtures.model("gpt2");

    private static TaskEval eval() { return new TaskEval(GPT2.prepared(), GPT2.tokenizer()); }

    @Test
    void loglikelihoodsMatchTransformersWithLmEvalsTokenSplit() {
        TaskEval e = eval();
        for (JsonNode r : EvalFixtures.reference().get("loglikelihood")) {
            String ctx = r.get("context").stringValue(), cont = r.get("continuation").stringValue();
            TaskEval.Pair p = e.encode("t", ctx, cont);
            assertThat(p.context()).as(ctx).containsExactly(EvalFixtures.ints(r.get("context_ids")));
            assertThat(p.continuation()).as(cont).containsExactly(EvalFixtures.ints(r.get("continuation_ids")));
            TaskEval.Loglikelihood ll = e.loglikelihood("t", ctx, cont);
            assertThat(ll.logprob()).as("%s|%s", ctx, cont).isCloseTo(r.get("logprob").doubleValue(), within(1e-4));
            assertThat(ll.greedy()).isEqualTo(r.get("greedy").booleanValue());
        }
    }

    @Test
    void accuracyPicksTheLikeliestChoiceAndNormalisesByLength(@TempDir Path dir) throws Exception {
        TaskEval e = eval();
        String[][] rows = {{"The jury said", " that", " it was", " xq"}, {"The Fulton County", " Grand Jury", " jury", " of"},
                {"an investigation of", " Atlanta", " the city of Atlanta", " it"}};
        StringBuilder jsonl = new StringBuilder();
        double[] acc = new double[rows.length], norm = new double[rows.length];
        for (int i = 0; i < rows.length; i++) {
            double[] ll = new double[3];
            for (int j = 0; j < 3; j++) ll[j] = e.loglikelihood("t", rows[i][0], rows[i][j + 1]).logprob();
            int best = 0, bestNorm = 0;
            for (int j = 1; j < 3; j++) {
                if (ll[j] > ll[best]) best = j;
                if (ll[j] / rows[i][j + 1].length() > ll[bestNorm] / rows[i][bestNorm + 1].length()) bestNorm = j;
            }
            int gold = i % 3;                                   // some right, some wrong
            acc[i] = best == gold ? 1 : 0;
            norm[i] = bestNorm == gold ? 1 : 0;
            jsonl.append("{\"context\": \"").append(rows[i][0]).append("\", \"choices\": [\"").append(rows[i][1]).append("\", \"")
                    .append(rows[i][2]).append("\", \"").append(rows[i][3]).append("\"], \"gold\": ").append(gold).append("}\n");
        }
        Path f = Files.writeString(dir.resolve("mini.jsonl"), jsonl.toString());
        List<Task> tasks = Task.load(f.toString());
        assertThat(tasks).hasSize(1);
        TaskEval.Report r = e.run(tasks.getFirst(), 0, 0, null);
        assertThat(r.task()).isEqualTo("mini");
        assertThat(r.examples()).isEqualTo(3);
        assertThat(r.metrics().get(0)).isEqualTo(TaskEval.Metric.of("acc", acc));
        assertThat(r.metrics().get(1)).isEqualTo(TaskEval.Metric.of("acc_norm", norm));
        assertThat(r.metrics().get(2).name()).isEqualTo("acc_bytes");
    }

    @Test
    void standardErrorIsLmEvalsSampleStderrOfTheMean() {
        TaskEval.Metric m = TaskEval.Metric.of("acc", new double[]{1, 0, 1, 1});
        assertThat(m.value()).isEqualTo(0.75);
        assertThat(m.stderr()).isCloseTo(0.25, within(1e-12));          // sqrt(0.75/3) / sqrt(4)
        assertThat(TaskEval.Metric.of("acc", new double[]{1}).stderr()).isNaN();
    }

    @Test
    void fewShotDrawsOtherExamplesWithTheSeed() {
        List<Task.Example> xs = new ArrayList<>();
        for (int i = 0; i < 6; i++) xs.add(new Task.Choice(i + 1, "c" + i, List.of(" a" + i, " b" + i), i % 2));
        for (int i = 0; i < xs.size(); i++) {
            String s = TaskEval.fewShot(xs, i, 3, new SplittableRandom(7));
            String[] shots = s.split("\n\n");
            assertThat(shots).hasSize(3).doesNotHaveDuplicates().doesNotContain("c" + i + " " + (i % 2 == 0 ? "a" : "b") + i);
            for (String shot : shots) {
                int k = shot.charAt(1) - '0';
                assertThat(shot).isEqualTo("c" + k + (k % 2 == 0 ? " a" : " b") + k);   // context + gold choice
            }
            assertThat(s).endsWith("\n\n").isEqualTo(TaskEval.fewShot(xs, i, 3, new SplittableRandom(7)));
        }
        assertThat(TaskEval.fewShot(xs, 0, 3, new SplittableRandom(7))).isNotEqualTo(TaskEval.fewShot(xs, 0, 3, new SplittableRandom(8)));
    }

    @Test
    void generationIsExactMatchOfTheGreedyOutput(@TempDir Path dir) throws Exception {
        TaskEval e = eval();
        String out = GPT2.generator().generate("The jury", 5, dev.lamina.infer.Sampler.greedy(), List.of(), null).text();
        Path f = Files.writeString(dir.resolve("gen.jsonl"), "{\"prompt\": \"The jury\", \"reference\": " + dev.lamina.io.Json.MAPPER.writeValueAsString(out) + "}\n"
                + "{\"prompt\": \"The jury\", \"reference\": \"certainly not this\"}\n");
        Task t = Task.read(f);
        // a stop after the fifth token's text would be needed for a longer reference; the first matches only when generation ends there
        TaskEval.Report r = e.run(t, 0, 0, null);
        assertThat(r.metrics()).hasSize(1);
        assertThat(r.metrics().getFirst().name()).isEqualTo("exact_match");
        String full = GPT2.generator().generate("The jury", TaskEval.MAX_GEN_TOKENS, dev.lamina.infer.Sampler.greedy(), List.of(), null).text();
        assertThat(r.metrics().getFirst().value()).isEqualTo(full.equals(out) ? 0.5 : 0.0);
        // with the full output as reference, exact match
        Path g = Files.writeString(dir.resolve("gen2.jsonl"), "{\"prompt\": \"The jury\", \"reference\": " + dev.lamina.io.Json.MAPPER.writeValueAsString(full) + "}\n");
        assertThat(e.run(Task.read(g), 0, 0, null).metrics().getFirst().value()).isEqualTo(1.0);
    }

    @Test
    void badTaskLinesAreRefusedWithFileAndLine(@TempDir Path dir) throws Exception {
        String ok = "{\"context\": \"a\", \"choices\": [\" b\", \" c\"], \"gold\": 1}\n";
        String[][] cases = {
                {ok + "\n{\"context\": \"a\", \"choices\": [\" b\", \" c\"]}\n", ":3: no \"gold\""},
                {ok + "{\"context\": \"a\", \"choices\": [\" b\", \" c\"], \"gold\": 2}\n", ":2: gold 2 is out of range for 2 choices"},
                {ok + "{\"context\": \"a\", \"choices\": [\" b\", \" c\"], \"gold\": -1}\n", ":2: gold -1 is out of range"},
                {ok + "{\"context\": \"a\", \"choices\": [\" b\"], \"gold\": 0}\n", ":2: \"choices\" must be an array of at least two"},
                {ok + "{\"context\": \"a\", \"choices\": [\" b\", \" c\"], \"gold\": \"x\"}\n", ":2: \"gold\" must be an integer"},
                {ok + "not json\n", ":2: not a JSON object"},
                {ok + "{\"prompt\": \"p\", \"reference\": \"r\"}\n", ":2: a generation example in a task of multiple-choice examples"},
                {"{\"prompt\": \"p\"}\n", ":1: no \"reference\""},
                {"{\"text\": \"p\"}\n", ":1: neither a multiple-choice example"},
                {"\n\n", ": the task has no examples"}};
        for (String[] c : cases) {
            Path f = Files.writeString(dir.resolve("bad.jsonl"), c[0]);
            assertThatThrownBy(() -> Task.load(f.toString())).isInstanceOf(LaminaException.class)
                    .hasMessageStartingWith(f + c[1]).hasMessageNotContaining("\n");
        }
        assertThatThrownBy(() -> Task.load(dir.resolve("none.jsonl").toString())).isInstanceOf(LaminaException.class)
                .hasMessageContaining("none.jsonl: no such task file or directory; built-in tasks: brown-cloze");
        Path f = Files.writeString(dir.resolve("ok.jsonl"), ok);
        assertThatThrownBy(() -> eval().run(Task.read(f), 1, 0, null)).isInstanceOf(LaminaException.class)
                .hasMessageContaining("shots is 1 but task ok has only 1 examples");
    }

    @Test
    void continuationsLongerThanTheModelAreRefusedAndLongContextsCutOnTheLeft() {
        TaskEval e = eval();
        String longText = "The jury said it did. ".repeat(30);
        assertThatThrownBy(() -> e.loglikelihood("tasks.jsonl:4", "The", longText)).isInstanceOf(LaminaException.class)
                .hasMessageStartingWith("tasks.jsonl:4: the continuation is").hasMessageContaining("longer than the model's context of 64");
        // a long context keeps its last 64 - |continuation| + 1 tokens, as lm-eval's left truncation
        TaskEval.Pair p = e.encode("t", longText.strip(), " that");
        int[] ctx = p.context();
        double full = e.loglikelihood("t", longText.strip(), " that").logprob();
        int keep = 64 + 1 - p.continuation().length;
        String tail = GPT2.tokenizer().decode(java.util.Arrays.copyOfRange(ctx, ctx.length - keep, ctx.length));
        assertThat(e.encode("t", tail, " that").context()).hasSize(keep);
        assertThat(full).isCloseTo(e.loglikelihood("t", tail, " that").logprob(), within(1e-9));
    }

    @Test
    void brownClozeShipsAsABuiltInTask() {
        Task t = Task.load("brown-cloze").getFirst();
        assertThat(t.examples()).hasSize(400);
        assertThat(t.multipleChoice()).isTrue();
        for (Task.Example x : t.examples()) {
            Task.Choice c = (Task.Choice) x;
            assertThat(c.choices()).hasSize(4).allMatch(s -> s.startsWith(" "));
        }
    }
}
