package dev.lamina.cli;

import dev.lamina.io.AtomicFiles;
import dev.lamina.research.Figure;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.Color;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Draws the research figures, each as NAME.png and NAME.svg (XChart; needs a headless AWT). */
final class Plots implements Figure.Plotter {
    static final Plots INSTANCE = new Plots();

    private Plots() {}

    @Override
    public void draw(Path dir, Figure figure) {
        switch (figure) {
            case Figure.Lines l -> lines(dir, l.name(), l.title(), l.xTitle(), l.yTitle(), l.series(), l.logY(), l.markers());
            case Figure.Bars b -> bars(dir, b.name(), b.title(), b.xTitle(), b.yTitle(), b.series());
            case Figure.Heatmap h -> heatmap(dir, h.name(), h.title(), h.xTitle(), h.yTitle(), h.xs(), h.ys(), h.value());
        }
    }

    static final int W = 800, H = 480;

    /** Lines with markers; logY for quantities that span decades (hidden-state norms). */
    private static void lines(Path dir, String name, String title, String xTitle, String yTitle, List<Figure.Series> series,
                             boolean logY, boolean markers) {
        XYChart c = new XYChartBuilder().width(W).height(H).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        style(c.getStyler());
        c.getStyler().setYAxisLogarithmic(logY);
        c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        for (Figure.Series s : series) {
            double[] x = s.x(), y = s.y();
            if (logY) { // log axes reject values <= 0
                List<double[]> keep = new ArrayList<>();
                for (int i = 0; i < y.length; i++) if (y[i] > 0 && Double.isFinite(y[i])) keep.add(new double[] {x[i], y[i]});
                x = keep.stream().mapToDouble(p -> p[0]).toArray();
                y = keep.stream().mapToDouble(p -> p[1]).toArray();
            }
            if (x.length == 0) continue;
            XYSeries xs = c.addSeries(s.name(), x, y);
            xs.setMarker(markers ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
        }
        save(c, dir, name);
    }

    /** Grouped bars over layer indices 0..n-1 (one group per layer, one bar per series). */
    private static void bars(Path dir, String name, String title, String xTitle, String yTitle, Map<String, double[]> series) {
        CategoryChart c = new CategoryChartBuilder().width(W).height(H).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        style(c.getStyler());
        c.getStyler().setOverlapped(false);
        for (Map.Entry<String, double[]> e : series.entrySet()) {
            double[] y = e.getValue(), x = new double[y.length];
            for (int i = 0; i < x.length; i++) x[i] = i;
            double[] clean = y.clone();
            for (int i = 0; i < clean.length; i++) if (!Double.isFinite(clean[i])) clean[i] = 0;
            c.addSeries(e.getKey(), x, clean);
        }
        save(c, dir, name);
    }

    /** A heat map of value[x][y] (NaN cells left empty). */
    private static void heatmap(Path dir, String name, String title, String xTitle, String yTitle, int[] xs, int[] ys,
                               double[][] value) {
        HeatMapChart c = new HeatMapChartBuilder().width(W).height(H).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setPlotContentSize(1);
        c.getStyler().setShowValue(false);
        c.getStyler().setHeatMapValueDecimalPattern("0.000");
        c.getStyler().setRangeColors(new Color[] {new Color(0x0d0887), new Color(0x7e03a8), new Color(0xcc4778),
                new Color(0xf89540), new Color(0xf0f921)});
        List<Number[]> cells = new ArrayList<>();
        for (int i = 0; i < xs.length; i++)
            for (int j = 0; j < ys.length; j++)
                if (Double.isFinite(value[i][j])) cells.add(new Number[] {i, j, value[i][j]});
        List<Integer> xl = new ArrayList<>(), yl = new ArrayList<>();
        for (int x : xs) xl.add(x);
        for (int y : ys) yl.add(y);
        c.addSeries(title, xl, yl, cells);
        save(c, dir, name);
    }

    private static void style(Styler s) {
        s.setChartBackgroundColor(Color.WHITE);
        s.setLegendPosition(Styler.LegendPosition.OutsideE);
    }

    /** Writes dir/name.png and dir/name.svg atomically. */
    static void save(Chart<?, ?> chart, Path dir, String name) {
        AtomicFiles.write(dir.resolve(name + ".png"), out -> BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG));
        AtomicFiles.write(dir.resolve(name + ".svg"),
                out -> VectorGraphicsEncoder.saveVectorGraphic(chart, out, VectorGraphicsEncoder.VectorGraphicsFormat.SVG));
    }
}
