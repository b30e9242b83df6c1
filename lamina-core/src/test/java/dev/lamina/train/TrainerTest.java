package dev.lamina.train;

import dev.lamina.data.Dataset;
import dev.lamina.model.Decoder;
import dev.lamina.model.Presets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TrainerTest {

    @TempDir static Path dataDir;
    private static Dataset data;

    /** Repetitive byte-level text, written as token files once for all tests. */
    static synchronized Dataset data() {
        if (data == null) data = TrainerTestData.write(dataDir);
        return data;
    }

    static TrainConfig config(int steps) {
        return TrainConfig.builder(steps, 4, 32).lr(3e-3).warmup(2).seed(42).evalEvery(3).evalBatches(2).build();
    }

    @Test
    void lossFallsOnRepetitiveText(@TempDir Path run) {
        Decoder model = Decoder.create(Presets.get("tiny").config().apply(257), 1);
        Trainer t = Trainer.start(model, data(), "test", config(40), run);
        List<Float> losses = t.train(40, null);
        assertThat(losses).hasSize(40);
        assertThat(losses.getLast()).isLessThan(losses.getFirst() * 0.6f);
        assertThat(run.resolve("model.safetensors")).exists();
        assertThat(run.resolve("metrics.jsonl")).exists();
    }

    @Test
    void resumeGivesBitwiseIdenticalLosses(@TempDir Path a, @TempDir Path b) {
        Dataset data = data();
        Trainer straight = Trainer.start(Decoder.create(Presets.get("tiny").config().apply(257), 5), data, "test", config(10), a);
        List<Float> expected = straight.train(10, null);

        Trainer first = Trainer.start(Decoder.create(Presets.get("tiny").config().apply(257), 5), data, "test", config(10), b);
        List<Float> got = new ArrayList<>(first.train(6, null)); // checkpoints at step 3 and 6 (evalEvery 3)
        Trainer resumed = Trainer.resume(b, data, "test", 0);
        assertThat(resumed.step()).isEqualTo(6);
        got.addAll(resumed.train(10, null));
        assertThat(got).hasSize(10);
        for (int i = 0; i < 10; i++)
            assertThat(Float.floatToRawIntBits(got.get(i))).as("loss at step %d", i + 1)
                    .isEqualTo(Float.floatToRawIntBits(expected.get(i)));
    }

    @Test
    void sameSeedSameRun(@TempDir Path a, @TempDir Path b) {
        List<Float> x = Trainer.start(Decoder.create(Presets.get("tiny").config().apply(257), 9), data(), "t", config(4), a).train(4, null);
        List<Float> y = Trainer.start(Decoder.create(Presets.get("tiny").config().apply(257), 9), data(), "t", config(4), b).train(4, null);
        assertThat(x).isEqualTo(y);
    }

    @Test
    void scheduleWarmsUpThenDecaysToTenPercent() {
        TrainConfig c = TrainConfig.builder(100, 1, 8).warmup(10).weightDecay(0).seed(1).evalEvery(0).evalBatches(1).build();
        assertThat(c.lrAt(0)).isCloseTo(1e-4, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(c.lrAt(9)).isCloseTo(1e-3, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(c.lrAt(99)).isCloseTo(1e-4, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(c.lrAt(50)).isBetween(1e-4, 1e-3);
    }

    @Test
    void resumeRefusesADirectoryWithoutState(@TempDir Path run) {
        assertThatThrownBy(() -> Trainer.resume(run, data(), "t", 0)).hasMessageContaining("no training state");
    }

    @Test
    void resumeRefusesAnOptimizerMomentOfTheWrongSize(@TempDir Path run) {
        Trainer.start(Decoder.create(Presets.get("tiny").config().apply(257), 5), data(), "test", config(3), run).train(3, null);
        Path opt = run.resolve(Checkpoint.OPTIMIZER);
        dev.lamina.io.SafeTensors.Writer w = new dev.lamina.io.SafeTensors.Writer();
        String cut;
        try (dev.lamina.io.SafeTensors st = dev.lamina.io.SafeTensors.open(opt)) {
            st.metadata().forEach(w::metadata);
            cut = st.names().stream().filter(n -> n.startsWith("v.")).findFirst().orElseThrow();
            for (String n : st.names()) {
                float[] v = st.floats(n);
                if (n.equals(cut)) w.putFloats(n, java.util.Arrays.copyOf(v, v.length - 1), v.length - 1);
                else w.putFloats(n, v, st.shape(n));
            }
        }
        w.write(opt);
        assertThatThrownBy(() -> Trainer.resume(run, data(), "test", 0))
                .hasMessageContaining(cut).hasMessageContaining("cannot be resumed");
    }
}
