package dev.lamina.research;

import dev.lamina.data.Dataset;
import dev.lamina.gguf.GgmlType;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.quant.Calibrate;
import dev.lamina.quant.Grid;
import dev.lamina.quant.Ptq;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Post-training quantization methods side by side on one trained model: for each grid (bits × group,
 * asymmetric, float32 scales; and the 32-weight GGUF block types with their half-precision scales),
 * each method (RTN, MSE, ACIQ, GPTQ) quantizes every layer's linear maps and the validation
 * perplexity is measured on the same tokens, with the time the method took.
 */
public final class LowBitStudy {
    private LowBitStudy() {}

    /** One cell: a grid's name ("4-bit g32", "q4_0"), its bits, its group (0: per channel), a method, val loss and seconds. */
    public record Cell(String grid, int bits, int group, Calibrate.Method method, double valLoss, double seconds) {}

    public record Result(double floatLoss, List<Cell> cells, long evalTokens, long calibTokens) {}

    /**
     * Scores every grid × method on evalBatches batches of evalB x evalT validation tokens; GPTQ calibrates on calib.
     */
    public static Result run(Decoder model, Dataset data, int[] bits, int[] groups, List<Calibrate.Method> methods, List<GgmlType> formats,
                             Ptq.Calibration calib, int evalB, int evalT, int evalBatches, Consumer<String> log) {
        List<Cell> cells = new ArrayList<>();
        List<Object[]> grids = new ArrayList<>();
        for (int b : bits) for (int g : groups) grids.add(new Object[] {b + "-bit " + (g == 0 ? "channel" : "g" + g), Grid.of(b, g, false)});
        for (GgmlType t : formats) grids.add(new Object[] {t.name().toLowerCase(Locale.ROOT), Grid.of(t)});
        for (Object[] gr : grids)                  // every grid must cover every layer map: a cell with a map left in float would flatter it
            for (var slot : model.params().slots().values())
                if (Ptq.calibrated(slot.key()) && ((Grid) gr[1]).group() > 0 && slot.shape()[1] % ((Grid) gr[1]).group() != 0)
                    throw LaminaException.field("groups", gr[0] + ": a group of " + ((Grid) gr[1]).group() + " does not divide the " + slot.shape()[1]
                            + " inputs of " + slot.name() + "; choose groups that divide every layer map's rows, or channel");
        double base = LayerDiagnostics.loss(model, data.val(), evalB, evalT, evalBatches, l -> false);
        log.accept(String.format(Locale.ROOT, "float32: val perplexity %.3f", Math.exp(base)));
        for (Object[] gr : grids) {
            Grid grid = (Grid) gr[1];
            for (Calibrate.Method m : methods) {
                Ptq.Options o = Ptq.Options.of(m);
                Ptq.Result r = Ptq.run(model, k -> grid, o, m == Calibrate.Method.GPTQ ? calib : null, null);
                double loss = LayerDiagnostics.loss(r.model(), data.val(), evalB, evalT, evalBatches, l -> false);
                Cell c = new Cell((String) gr[0], grid.bits(), grid.group(), m, loss, r.seconds());
                cells.add(c);
                log.accept(String.format(Locale.ROOT, "%-14s %-5s val perplexity %9.3f  (%.1f s)", c.grid(), m.name().toLowerCase(Locale.ROOT),
                        Math.exp(loss), r.seconds()));
            }
        }
        return new Result(base, cells, (long) evalB * evalT * evalBatches, calib == null ? 0 : calib.size());
    }

    /** OUT/lowbit.md, lowbit.json and the figures (perplexity against bits per method, one per group). */
    public static String writeReport(Result r, int[] bits, int[] groups, List<Calibrate.Method> methods, Path out, String setup, Figure.Plotter plotter) {
        StringBuilder md = new StringBuilder(setup).append("\n\n");
        md.append(String.format(Locale.ROOT, "float32: validation perplexity **%.3f**.%n%n", Math.exp(r.floatLoss())));
        md.append("| grid |");
        for (Calibrate.Method m : methods) md.append(' ').append(m.name().toLowerCase(Locale.ROOT)).append(" |");
        md.append('\n').append("| --- |");
        for (int i = 0; i < methods.size(); i++) md.append(" ---: |");
        md.append('\n');
        String current = null;
        for (Cell c : r.cells()) {
            if (!c.grid().equals(current)) {
                if (current != null) md.append('\n');
                current = c.grid();
                md.append("| ").append(c.grid()).append(" |");
            }
            md.append(String.format(Locale.ROOT, " %.3f (%.1f s) |", Math.exp(c.valLoss()), c.seconds()));
        }
        md.append("\n\nEach cell: validation perplexity (the time the method took to quantize every layer's linear maps).\n");
        List<Figure> figures = new ArrayList<>();
        for (int g : groups) {
            List<Figure.Series> series = new ArrayList<>();
            for (Calibrate.Method m : methods) {
                double[] x = new double[bits.length], y = new double[bits.length];
                int n = 0;
                for (int b : bits)
                    for (Cell c : r.cells())
                        if (c.bits() == b && c.group() == g && c.method() == m && c.grid().contains("-bit")) { x[n] = b; y[n++] = Math.exp(c.valLoss()); }
                series.add(new Figure.Series(m.name().toLowerCase(Locale.ROOT), java.util.Arrays.copyOf(x, n), java.util.Arrays.copyOf(y, n)));
            }
            series.add(new Figure.Series("float32", new double[] {bits[bits.length - 1], bits[0]}, new double[] {Math.exp(r.floatLoss()), Math.exp(r.floatLoss())}));
            String name = "ppl_vs_bits_" + (g == 0 ? "channel" : "g" + g);
            figures.add(new Figure.Lines(name, "Validation perplexity against bits, " + (g == 0 ? "per channel" : "groups of " + g), "bits", "perplexity",
                    series, true, true));
            md.append(String.format(Locale.ROOT, "%n![%s](%s.png)%n", name, name));
        }
        plotter.drawAll(out, figures);
        ObjectNode j = Json.MAPPER.createObjectNode().put("float_val_loss", r.floatLoss()).put("eval_tokens", r.evalTokens()).put("calib_tokens", r.calibTokens());
        ArrayNode cs = j.putArray("cells");
        for (Cell c : r.cells())
            cs.addObject().put("grid", c.grid()).put("bits", c.bits()).put("group", c.group()).put("method", c.method().name().toLowerCase(Locale.ROOT))
                    .put("val_loss", c.valLoss()).put("val_ppl", Math.exp(c.valLoss())).put("seconds", c.seconds());
        AtomicFiles.writeString(out.resolve("lowbit.md"), md.toString());
        AtomicFiles.writeString(out.resolve("lowbit.json"), j.toPrettyString());
        return md.toString();
    }
}
