package dev.lamina.research;

import dev.lamina.data.Dataset;
import dev.lamina.model.Decoder;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class LayerGradLogTest {

    static TrainConfig config() { return TrainConfig.builder(6, 2, 32).lr(3e-3).warmup(1).seed(42).evalEvery(3)
            .evalBatches(2).build(); }

    @Test
    void resumedRunDropsTheInterruptedTailAndLogsTheSameNumbers(@TempDir Path dir) {
        Dataset data = ResearchData.dataset(dir.resolve("data"));
        Path a = dir.resolve("a"), b = dir.resolve("b");
        Trainer straight = Trainer.start(Decoder.create(ResearchData.tiny(), 5), data, "t", config(), a);
        LayerGradLog.attach(straight, 1);
        straight.train(6, null);

        Trainer first = Trainer.start(Decoder.create(ResearchData.tiny(), 5), data, "t", config(), b);
        LayerGradLog.attach(first, 1);
        first.train(5, null);                                    // checkpoint at step 3, log up to step 5
        assertThat(LayerGradLog.read(b)).hasSize(5);
        Trainer resumed = Trainer.resume(b, data, "t", 0);
        LayerGradLog.attach(resumed, 1);
        assertThat(LayerGradLog.read(b)).extracting(LayerGradLog.Entry::step).containsExactly(1, 2, 3);
        resumed.train(6, null);

        List<LayerGradLog.Entry> x = LayerGradLog.read(a), y = LayerGradLog.read(b);
        assertThat(y).extracting(LayerGradLog.Entry::step).containsExactly(1, 2, 3, 4, 5, 6);
        for (int i = 0; i < 6; i++) {
            assertThat(y.get(i).grads().layer()).isEqualTo(x.get(i).grads().layer());
            assertThat(y.get(i).grads().global()).isEqualTo(x.get(i).grads().global());
        }
    }

    @Test
    void everyNStepsAndAlwaysTheLast(@TempDir Path dir) {
        Dataset data = ResearchData.dataset(dir.resolve("data"));
        Trainer t = Trainer.start(Decoder.create(ResearchData.tiny(), 5), data, "t", config().withSteps(7), dir.resolve("r"));
        LayerGradLog.attach(t, 3);
        t.train(7, null);
        assertThat(LayerGradLog.read(dir.resolve("r"))).extracting(LayerGradLog.Entry::step).containsExactly(3, 6, 7);
    }
}
