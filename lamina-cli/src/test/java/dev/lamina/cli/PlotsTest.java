package dev.lamina.cli;

import dev.lamina.research.Figure;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class PlotsTest {

    @Test
    void drawsEveryFigureKindAsPngAndSvg(@TempDir Path dir) throws Exception {
        double[] y = {1, 0.5, Double.NaN, 2};
        Map<String, double[]> bars = Figure.bars();
        bars.put("cost", y);
        Plots.INSTANCE.drawAll(dir, List.of(
                new Figure.Lines("lines", "Lines", "x", "y", List.of(Figure.overLayers("a", y), new Figure.Series("empty", new double[0], new double[0])), true, true),
                new Figure.Bars("bars", "Bars", "layer", "cost", bars),
                new Figure.Heatmap("heat", "Heat", "l", "n", new int[] {0, 1}, new int[] {1, 2}, new double[][] {{0.1, Double.NaN}, {0.3, 0.4}})));
        for (String name : List.of("lines", "bars", "heat")) {
            byte[] png = Files.readAllBytes(dir.resolve(name + ".png"));
            assertThat(png).startsWith((byte) 0x89, (byte) 'P', (byte) 'N', (byte) 'G');
            assertThat(Files.readString(dir.resolve(name + ".svg"))).startsWith("<?xml").contains("<svg");
        }
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).allMatch(n -> n.endsWith(".png") || n.endsWith(".svg")); // no temp files left
        }
    }
}
