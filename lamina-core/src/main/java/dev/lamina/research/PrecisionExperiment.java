package dev.lamina.research;

import dev.lamina.data.Dataset;
import dev.lamina.io.AtomicFiles;
import dev.lamina.kernels.KernelSet;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.tensor.Precision;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The same model, data, seed and batches trained with weights, activations and gradients stored in
 * fp32, bf16 and fp16 (float32 master weights and moments, float32 arithmetic; fp16 with dynamic
 * loss scaling): the loss curves side by side, the final validation loss, the steps fp16 skipped,
 * and the time and memory of each.
 */
public final class PrecisionExperiment {
    private PrecisionExperiment() {}

    /** One precision's run: losses per step, validation at each evaluation, the median step's tokens/s, the live training bytes. */
    public record Outcome(Precision precision, double[] trainLoss, int[] evalSteps, double[] evalLoss, long skipped, float finalScale,
                          double tokensPerSecond, long liveBytes) {
        public double finalValLoss() { return evalLoss[evalLoss.length - 1]; }
    }

    /** Hears each run start and each of its steps. */
    public interface Listener {
        void run(Precision p, int index, int count);

        void step(Precision p, Trainer.Progress progress, Trainer trainer);
    }

    /** Trains config on data once per precision, each run in dir/PRECISION (fp32 first: the others are set beside it). */
    public static List<Outcome> run(Dataset data, String dataName, ModelConfig config, TrainConfig train, List<Precision> precisions, Path dir,
                                    Listener listener, KernelSet kernels) {
        List<Outcome> out = new ArrayList<>();
        for (int i = 0; i < precisions.size(); i++) {
            Precision p = precisions.get(i);
            listener.run(p, i + 1, precisions.size());
            Trainer t = Trainer.start(Decoder.create(config, train.seed(), kernels), data, dataName, train.toBuilder().precision(p).build(),
                    dir.resolve(p.label()));
            double[] loss = new double[train.steps()], tps = new double[train.steps()];
            List<double[]> evals = new ArrayList<>();
            t.train(train.steps(), pr -> {
                loss[pr.step() - 1] = pr.loss();
                tps[pr.step() - 1] = pr.tokensPerSec();
                if (!Double.isNaN(pr.valLoss())) evals.add(new double[] {pr.step(), pr.valLoss()});
                listener.step(p, pr, t);
            });
            double[] settled = Arrays.copyOfRange(tps, Math.min(tps.length - 1, 10), tps.length);   // past the JIT's warm-up
            Arrays.sort(settled);
            long params = t.model().params().count();
            long live = 16 * params + t.activationBytes();     // a 16-bit run's 16-bit weight copies are tape buffers: counted there
            out.add(new Outcome(p, loss, evals.stream().mapToInt(e -> (int) e[0]).toArray(), evals.stream().mapToDouble(e -> e[1]).toArray(),
                    t.lossScaler() != null ? t.lossScaler().skipped() : 0, t.lossScaler() != null ? t.lossScaler().scale() : 1f,
                    settled[settled.length / 2], live));
        }
        return out;
    }

    /** report.md with the table, and loss.png/svg (train, smoothed) and val_loss.png/svg (every evaluation). */
    public static void writeReport(List<Outcome> outcomes, Path dir, String setup, Figure.Plotter plotter) {
        List<Figure.Series> train = new ArrayList<>(), val = new ArrayList<>(), diff = new ArrayList<>();
        Outcome ref = outcomes.stream().filter(o -> o.precision() == Precision.FP32).findFirst().orElse(outcomes.getFirst());
        for (Outcome o : outcomes) {
            if (o != ref) {
                double[] x = new double[o.trainLoss().length], d = new double[x.length];
                for (int i = 0; i < x.length; i++) { x[i] = i + 1; d[i] = o.trainLoss()[i] - ref.trainLoss()[i]; }
                diff.add(new Figure.Series(o.precision().label() + " − " + ref.precision().label(), x, LayerDiagnostics.smooth(d, 20)));
            }
            double[] x = new double[o.trainLoss().length];
            for (int i = 0; i < x.length; i++) x[i] = i + 1;
            train.add(new Figure.Series(o.precision().label(), x, LayerDiagnostics.smooth(o.trainLoss(), 20)));
            double[] vx = new double[o.evalSteps().length];
            for (int i = 0; i < vx.length; i++) vx[i] = o.evalSteps()[i];
            val.add(new Figure.Series(o.precision().label(), vx, o.evalLoss()));
        }
        List<Figure> figures = new ArrayList<>(List.of(
                new Figure.Lines("loss", "Training loss by storage precision (moving average of 20 steps)", "step", "cross-entropy (nats/token)", train, false, false),
                new Figure.Lines("val_loss", "Validation loss by storage precision", "step", "cross-entropy (nats/token)", val, false, true)));
        if (!diff.isEmpty())
            figures.add(new Figure.Lines("loss_difference", "Training loss against " + ref.precision().label() + " on the same batches (moving average of 20 steps)",
                    "step", "difference (nats/token)", diff, false, false));
        plotter.drawAll(dir, figures);
        StringBuilder r = new StringBuilder(setup).append("\n\n");
        r.append("| precision | val loss | val perplexity | against fp32 | train loss, last 10% of steps | steps skipped (fp16 overflow) | final loss scale | tok/s (median step) | time against fp32 | live training memory MB |\n");
        r.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (Outcome o : outcomes) {
            double tail = 0;
            int n = Math.max(1, o.trainLoss().length / 10);
            for (int i = o.trainLoss().length - n; i < o.trainLoss().length; i++) tail += o.trainLoss()[i] / n;
            r.append(String.format(Locale.ROOT, "| %s | %.4f | %.2f | %+.2f%% | %.4f | %s | %s | %.0f | %.2fx | %.0f |%n", o.precision().label(),
                    o.finalValLoss(), Math.exp(o.finalValLoss()), 100 * (Math.exp(o.finalValLoss() - ref.finalValLoss()) - 1), tail,
                    o.precision() == Precision.FP16 ? Long.toString(o.skipped()) : "-", o.precision() == Precision.FP16 ? String.format(Locale.ROOT, "%.0f", o.finalScale()) : "-",
                    o.tokensPerSecond(), ref.tokensPerSecond() / o.tokensPerSecond(), o.liveBytes() / 1e6));
        }
        r.append("\n\"against fp32\": the validation perplexity's difference. Time: the median step's, evaluations left out. Live memory: ")
                .append("parameters (a 16-bit run's: its float32 master weights), gradients and AdamW's two moments (16 bytes a parameter), ")
                .append("and the tape's buffers: a 16-bit run keeps its layers' activations and its weights as ops read them, rounded, in 16 bits ")
                .append("(one layer's float32 buffers shared by all; the head's weight in float32), while its gradients are float32 arrays ")
                .append("holding 16-bit values.\n\n![](loss.png)\n\n")
                .append(diff.isEmpty() ? "" : "![](loss_difference.png)\n\n").append("![](val_loss.png)\n");
        AtomicFiles.writeString(dir.resolve("report.md"), r.toString());
    }
}
