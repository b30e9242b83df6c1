package dev.lamina.train;

import dev.lamina.io.LaminaException;
import dev.lamina.research.Figure;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TrainingCurvesTest {

    @Test
    void lossAndTaskCurvesComeFromTheMetricsAndTheLaterLineOfARepeatedStepWins(@TempDir Path run) throws Exception {
        Files.writeString(run.resolve(Checkpoint.METRICS), """
                {"step":1,"loss":5.0,"lr":0.1,"grad_norm":1.0,"tokens_per_s":10.0}
                {"step":2,"loss":4.0,"lr":0.1,"grad_norm":1.0,"tokens_per_s":10.0,"val_loss":4.5,"val_ppl":90.0,"t/acc":0.25}
                {"step":3,"loss":3.9,"lr":0.1,"grad_norm":1.0,"tokens_per_s":10.0}
                {"step":3,"loss":3.5,"lr":0.1,"grad_norm":1.0,"tokens_per_s":10.0}
                {"step":4,"loss":3.0,"lr":0.1,"grad_norm":1.0,"tokens_per_s":10.0,"mfu":0.3,"val_loss":3.25,"val_ppl":25.8,"t/acc":0.5}
                """);
        List<Figure> figures = TrainingCurves.figures(run);
        assertThat(figures).extracting(Figure::name).containsExactly("loss", "tasks");
        Figure.Lines loss = (Figure.Lines) figures.getFirst();
        assertThat(loss.series()).extracting(Figure.Series::name).containsExactly("train", "validation");
        assertThat(loss.series().get(0).x()).containsExactly(1, 2, 3, 4);
        assertThat(loss.series().get(0).y()).containsExactly(5.0, 4.0, 3.5, 3.0);
        assertThat(loss.series().get(1).x()).containsExactly(2, 4);
        assertThat(loss.series().get(1).y()).containsExactly(4.5, 3.25);
        Figure.Lines tasks = (Figure.Lines) figures.get(1);
        assertThat(tasks.series()).singleElement().satisfies(s -> {
            assertThat(s.name()).isEqualTo("t/acc");
            assertThat(s.y()).containsExactly(0.25, 0.5);
        });
    }

    @Test
    void aRunWithoutMetricsHasNoCurvesAndADamagedLineIsNamed(@TempDir Path run) throws Exception {
        assertThat(TrainingCurves.figures(run)).isEmpty();
        Files.writeString(run.resolve(Checkpoint.METRICS), "{\"step\":1,\"loss\":5.0}\n{\"step\":2,\"lo");
        assertThatThrownBy(() -> TrainingCurves.figures(run)).isInstanceOf(LaminaException.class)
                .hasMessage(run.resolve(Checkpoint.METRICS) + ":2: not a JSON object; the run's metrics are damaged");
    }
}
