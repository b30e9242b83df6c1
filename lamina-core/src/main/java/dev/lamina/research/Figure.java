package dev.lamina.research;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A chart described as data: the research code decides what to show, a {@link Plotter} (the CLI's
 * draws PNG and SVG) decides how. Core stays free of any plotting library.
 */
public sealed interface Figure {

    /** File stem: the plotter writes NAME.png and NAME.svg. */
    String name();

    String title();

    /** A named series of points. */
    record Series(String name, double[] x, double[] y) {}

    /** Lines (optionally with markers); logY for quantities that span decades. */
    record Lines(String name, String title, String xTitle, String yTitle, List<Series> series, boolean logY,
                 boolean markers) implements Figure {}

    /** Grouped bars over layer indices 0..n-1: one group per layer, one bar per series. */
    record Bars(String name, String title, String xTitle, String yTitle, Map<String, double[]> series) implements Figure {}

    /** A heat map of value[x][y]; NaN cells are left empty. */
    record Heatmap(String name, String title, String xTitle, String yTitle, int[] xs, int[] ys, double[][] value)
            implements Figure {}

    /** Series over layer indices 0..n-1. */
    static Series overLayers(String name, double[] y) {
        double[] x = new double[y.length];
        for (int i = 0; i < x.length; i++) x[i] = i;
        return new Series(name, x, y);
    }

    /** An insertion-ordered map for {@link Bars}. */
    static Map<String, double[]> bars() { return new LinkedHashMap<>(); }

    /** Draws figures into a directory. */
    @FunctionalInterface
    interface Plotter {
        /** Draws nothing: reports still reference NAME.png, which a later plotter run can supply. */
        Plotter NONE = (dir, f) -> {};

        void draw(Path dir, Figure figure);

        default void drawAll(Path dir, List<? extends Figure> figures) {
            for (Figure f : figures) draw(dir, f);
        }
    }
}
