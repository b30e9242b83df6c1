package dev.lamina.research;

import dev.lamina.data.Dataset;
import dev.lamina.gguf.GgmlType;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.Qat;
import dev.lamina.tensor.Rng;
import dev.lamina.train.FineTune;
import dev.lamina.train.TrainConfig;
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
 * Low-bit methods side by side on one trained model: for each grid (bits × group, asymmetric, float32
 * scales; and the 32-weight GGUF block types with their half-precision scales), each post-training
 * method (RTN, MSE, ACIQ, GPTQ) quantizes every layer's linear maps and the validation perplexity is
 * measured on the same tokens, with the time the method took. Optionally quantization-aware
 * training with LSQ fine-tunes the float model on each bits × group grid (symmetric, half-precision
 * steps, learned), with a control: the float model fine-tuned the same steps, which tells how much
 * of QAT's score is the extra training alone.
 */
public final class LowBitStudy {
    private LowBitStudy() {}

    /** One cell: a grid's name ("4-bit g32", "q4_0"), its bits, its group (0: per channel), a method ("rtn", ..., "lsq"), val loss and seconds. */
    public record Cell(String grid, int bits, int group, String method, double valLoss, double seconds) {}

    /** tunedFloatLoss: the control of the QAT cells (the float model fine-tuned as they were), NaN without them. */
    public record Result(double floatLoss, List<Cell> cells, long evalTokens, long calibTokens, double tunedFloatLoss, QatRun qat) {}

    /** The method name of the QAT cells. */
    public static final String LSQ = "lsq";

    /** QAT cells: LSQ fine-tuning from the float model, steps of batch sequences of seq training tokens, peak learning rate lr. */
    public record QatRun(int steps, int batch, int seq, double lr) {
        public long tokens() { return (long) steps * batch * seq; }
    }

    /**
     * Scores every grid × method on evalBatches batches of evalB x evalT validation tokens; GPTQ calibrates on calib.
     */
    public static Result run(Decoder model, Dataset data, int[] bits, int[] groups, List<Calibrate.Method> methods, List<GgmlType> formats,
                             Ptq.Calibration calib, int evalB, int evalT, int evalBatches, QatRun qat, Consumer<String> log) {
        if (qat != null)                           // a group LSQ's GGUF blocks cannot hold is refused before any work
            for (int g : groups)
                if (g % 32 != 0) throw LaminaException.field("groups", "LSQ cells need groups that are multiples of 32 (whole GGUF blocks) or channel, got " + g);
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
                cells.add(logged(new Cell((String) gr[0], grid.bits(), grid.group(), m.name().toLowerCase(Locale.ROOT), loss, r.seconds()), log));
            }
            if (qat != null && ((String) gr[0]).contains("-bit")) {
                FineTune.Result r = tune(model, FineTune.Method.QAT, new Qat.Config(grid.bits(), grid.group(), true), data, qat);
                double loss = LayerDiagnostics.loss(r.model(), data.val(), evalB, evalT, evalBatches, l -> false);
                cells.add(logged(new Cell((String) gr[0], grid.bits(), grid.group(), LSQ, loss, r.seconds()), log));
            }
        }
        double tuned = Double.NaN;
        if (qat != null) {
            FineTune.Result r = tune(new Decoder(model.config(), copy(model.params()), model.kernels()), FineTune.Method.FULL, null, data, qat);
            tuned = LayerDiagnostics.loss(r.model(), data.val(), evalB, evalT, evalBatches, l -> false);
            log.accept(String.format(Locale.ROOT, "float32 fine-tuned as QAT is: val perplexity %.3f  (%.1f s)", Math.exp(tuned), r.seconds()));
        }
        return new Result(base, cells, (long) evalB * evalT * evalBatches, calib == null ? 0 : calib.size(), tuned, qat);
    }

    private static Cell logged(Cell c, Consumer<String> log) {
        log.accept(String.format(Locale.ROOT, "%-14s %-5s val perplexity %9.3f  (%.1f s)", c.grid(), c.method(), Math.exp(c.valLoss()), c.seconds()));
        return c;
    }

    /**
     * model fine-tuned by method (QAT with q, or FULL) on q.steps() batches of training windows drawn
     * with a fixed seed (the same windows for every cell), cosine schedule, 10% warm-up, no decay.
     */
    static FineTune.Result tune(Decoder model, FineTune.Method method, Qat.Config q, Dataset data, QatRun run) {
        int T = run.seq(), n = run.steps() * run.batch();
        long span = data.train().size() - T - 1;
        if (span < 1) throw new LaminaException(data.dir() + ": too few training tokens for QAT windows of " + T);
        Rng rng = new Rng(0x15A);
        List<FineTune.Example> ex = new ArrayList<>(n);
        int[] w = new int[T + 1];
        for (int i = 0; i < n; i++) {
            data.train().read(rng.nextLong(span), w, 0, T + 1);
            ex.add(new FineTune.Example(java.util.Arrays.copyOf(w, T), java.util.Arrays.copyOfRange(w, 1, T + 1)));
        }
        TrainConfig c = TrainConfig.builder(run.steps(), run.batch(), T).lr(run.lr()).warmup(Math.max(1, run.steps() / 10)).weightDecay(0)
                .clip(1.0).seed(7).build();
        return FineTune.run(model, method, null, q, new FineTune.Data(ex, 0), null, c, null, null);
    }

    private static dev.lamina.model.Parameters copy(dev.lamina.model.Parameters p) {
        dev.lamina.model.Parameters.Layout l = new dev.lamina.model.Parameters.Layout();
        for (var s : p.slots().values()) l.add(s.key(), s.shape());
        dev.lamina.model.Parameters c = l.build();
        c.copyFrom(p);
        return c;
    }

    /** OUT/lowbit.md, lowbit.json and the figures (perplexity against bits per method, one per group). */
    public static String writeReport(Result r, int[] bits, int[] groups, List<Calibrate.Method> ptq, Path out, String setup, Figure.Plotter plotter) {
        List<String> methods = new ArrayList<>();
        for (Calibrate.Method m : ptq) methods.add(m.name().toLowerCase(Locale.ROOT));
        if (r.qat() != null) methods.add(LSQ);
        StringBuilder md = new StringBuilder(setup).append("\n\n");
        md.append(String.format(Locale.ROOT, "float32: validation perplexity **%.3f**.", Math.exp(r.floatLoss())));
        if (r.qat() != null)
            md.append(String.format(Locale.ROOT, " The same model fine-tuned in float32 as the LSQ cells are (%d steps of %d × %d tokens, peak lr %.0e): "
                    + "**%.3f**, the score LSQ is to be read against.", r.qat().steps(), r.qat().batch(), r.qat().seq(), r.qat().lr(), Math.exp(r.tunedFloatLoss())));
        md.append("\n\n| grid |");
        for (String m : methods) md.append(' ').append(m).append(" |");
        md.append('\n').append("| --- |");
        for (int i = 0; i < methods.size(); i++) md.append(" ---: |");
        md.append('\n');
        java.util.Map<String, java.util.Map<String, Cell>> byGrid = new java.util.LinkedHashMap<>();
        for (Cell c : r.cells()) byGrid.computeIfAbsent(c.grid(), k -> new java.util.HashMap<>()).put(c.method(), c);
        for (var e : byGrid.entrySet()) {
            md.append("| ").append(e.getKey()).append(" |");
            for (String m : methods) {
                Cell c = e.getValue().get(m);
                md.append(c == null ? " — |" : String.format(Locale.ROOT, " %.3f (%.1f s) |", Math.exp(c.valLoss()), c.seconds()));
            }
            md.append('\n');
        }
        md.append("\nEach cell: validation perplexity (the time the method took to quantize every layer's linear maps; for LSQ, its fine-tuning).\n");
        List<Figure> figures = new ArrayList<>();
        for (int g : groups) {
            List<Figure.Series> series = new ArrayList<>();
            for (String m : methods) {
                double[] x = new double[bits.length], y = new double[bits.length];
                int n = 0;
                for (int b : bits)
                    for (Cell c : r.cells())
                        if (c.bits() == b && c.group() == g && c.method().equals(m) && c.grid().contains("-bit")) { x[n] = b; y[n++] = Math.exp(c.valLoss()); }
                series.add(new Figure.Series(m, java.util.Arrays.copyOf(x, n), java.util.Arrays.copyOf(y, n)));
            }
            series.add(new Figure.Series("float32", new double[] {bits[bits.length - 1], bits[0]}, new double[] {Math.exp(r.floatLoss()), Math.exp(r.floatLoss())}));
            if (r.qat() != null)                       // LSQ's baseline: the float model fine-tuned as its cells were
                series.add(new Figure.Series("float32 fine-tuned", new double[] {bits[bits.length - 1], bits[0]},
                        new double[] {Math.exp(r.tunedFloatLoss()), Math.exp(r.tunedFloatLoss())}));
            String name = "ppl_vs_bits_" + (g == 0 ? "channel" : "g" + g);
            figures.add(new Figure.Lines(name, "Validation perplexity against bits, " + (g == 0 ? "per channel" : "groups of " + g), "bits", "perplexity",
                    series, true, true));
            md.append(String.format(Locale.ROOT, "%n![%s](%s.png)%n", name, name));
        }
        plotter.drawAll(out, figures);
        ObjectNode j = Json.MAPPER.createObjectNode().put("float_val_loss", r.floatLoss()).put("eval_tokens", r.evalTokens()).put("calib_tokens", r.calibTokens());
        if (r.qat() != null)
            j.put("tuned_float_val_loss", r.tunedFloatLoss()).put("qat_steps", r.qat().steps()).put("qat_batch", r.qat().batch())
                    .put("qat_seq", r.qat().seq()).put("qat_lr", r.qat().lr());
        ArrayNode cs = j.putArray("cells");
        for (Cell c : r.cells())
            cs.addObject().put("grid", c.grid()).put("bits", c.bits()).put("group", c.group()).put("method", c.method())
                    .put("val_loss", c.valLoss()).put("val_ppl", Math.exp(c.valLoss())).put("seconds", c.seconds());
        AtomicFiles.writeString(out.resolve("lowbit.md"), md.toString());
        AtomicFiles.writeString(out.resolve("lowbit.json"), j.toPrettyString());
        return md.toString();
    }
}
