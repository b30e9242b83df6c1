package dev.lamina.eval;

import dev.lamina.data.Dataset;
import dev.lamina.data.TokenFile;
import dev.lamina.infer.PreparedModel;
import dev.lamina.io.Json;
import dev.lamina.model.Decoder;
import dev.lamina.model.Presets;
import dev.lamina.tokenizer.ByteTokenizer;
import dev.lamina.train.Checkpoint;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Trainer.withEvalTasks: task metrics beside the loss at every evaluation, as TaskEval gives them on those weights. */
class TrainingTasksTest {
    @Test
    void evaluationStepsLogTaskMetrics(@TempDir Path dir) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 300; i++) sb.append("the cat sat on the mat. the dog ate the bone ").append(i % 7).append(". ");
        int[] all = ByteTokenizer.INSTANCE.encode(sb.toString());
        TokenFile.write(dir.resolve("train.bin"), Arrays.copyOf(all, all.length * 9 / 10), 257);
        TokenFile.write(dir.resolve("val.bin"), Arrays.copyOfRange(all, all.length * 9 / 10, all.length), 257);
        Path taskFile = Files.writeString(dir.resolve("cats.jsonl"), """
                {"context": "the cat sat on the", "choices": [" mat", " bone", " dog"], "gold": 0}
                {"context": "the dog ate the", "choices": [" mat", " bone"], "gold": 1}
                {"context": "the cat", "choices": [" sat", " ate"], "gold": 0}
                """);
        Path gen = Files.writeString(dir.resolve("gen.jsonl"), "{\"prompt\": \"the cat sat on\", \"reference\": \" the mat\", \"stop\": [\".\"]}\n");
        List<Task> tasks = new ArrayList<>(Task.load(taskFile.toString()));
        tasks.addAll(Task.load(gen.toString()));
        Path run = dir.resolve("run");
        TrainConfig cfg = TrainConfig.builder(6, 4, 32).lr(3e-3).warmup(2).seed(42).evalEvery(3).evalBatches(1).build();
        List<Trainer.Progress> seen = new ArrayList<>();
        try (Dataset data = new Dataset(dir, TokenFile.open(dir.resolve("train.bin")), TokenFile.open(dir.resolve("val.bin")), ByteTokenizer.INSTANCE)) {
            Trainer t = Trainer.start(Decoder.create(Presets.get("tiny").config().apply(257), 5), data, "test", cfg, run).withEvalTasks(tasks);
            t.train(6, seen::add);
        }
        List<String> lines = Files.readAllLines(run.resolve(Checkpoint.METRICS));
        assertThat(lines).hasSize(6);
        for (int i = 0; i < 6; i++) {
            JsonNode o = Json.MAPPER.readTree(lines.get(i));
            boolean eval = (i + 1) % 3 == 0;
            assertThat(o.has("cats/acc")).isEqualTo(eval);
            assertThat(seen.get(i).tasks().isEmpty()).isEqualTo(!eval);
            if (eval) assertThat(seen.get(i).tasks()).containsOnlyKeys("cats/acc", "cats/acc_norm", "cats/acc_bytes", "gen/exact_match");
        }
        // the last line's figures are those of the saved model
        JsonNode last = Json.MAPPER.readTree(lines.getLast());
        Decoder saved = Checkpoint.loadModel(run);
        TaskEval.Report r = new TaskEval(PreparedModel.of(saved), ByteTokenizer.INSTANCE).run(tasks.getFirst(), 0, 42, null);
        assertThat(last.get("cats/acc").doubleValue()).isEqualTo(r.metrics().get(0).value());
        assertThat(last.get("cats/acc_norm").doubleValue()).isEqualTo(r.metrics().get(1).value());
    }
}
