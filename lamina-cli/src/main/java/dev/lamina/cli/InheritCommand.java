package dev.lamina.cli;

import dev.lamina.kernels.KernelSet;
import dev.lamina.data.Dataset;
import dev.lamina.research.Inheritune;
import dev.lamina.train.Checkpoint;
import dev.lamina.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "inherit", mixinStandardHelpOptions = true,
        description = "Inheritune: train a smaller model built from the first layers of a trained reference, growing it "
                + "by more inherited layers until its val loss matches the reference's; compares with the same size trained "
                + "from scratch. Writes OUT/report.md and every model as a run directory.")
final class InheritCommand implements Callable<Integer> {
    @Option(names = "--reference", required = true, description = "Reference: a run directory (its training recipe is reused) or a Hugging Face / imported model directory (then give --data and --steps).") Path reference;
    @Option(names = "--data", description = "Prepared data directory (default: the reference's).") Path data;
    @Option(names = "--layers", defaultValue = "0", description = "Layers of the first student (default: half the reference's).") int layers;
    @Option(names = "--grow-by", defaultValue = "2", description = "Inherited layers added per round (default ${DEFAULT-VALUE}).") int growBy;
    @Option(names = "--steps", defaultValue = "0", description = "Training steps per round (default: the reference's).") int steps;
    @Option(names = "--max-rounds", defaultValue = "3", description = "Rounds at most (default ${DEFAULT-VALUE}).") int maxRounds;
    @Option(names = "--inherit", defaultValue = "attn,mlp,norms,embeddings,head,positions",
            description = "Parts taken from the reference: attn, mlp, norms, embeddings, head, positions, final-norm (default ${DEFAULT-VALUE}).") String parts;
    @Option(names = "--no-baseline", description = "Skip the same-size model trained from scratch.") boolean noBaseline;
    @Option(names = "--out", required = true, description = "Output directory.") Path out;
    @Option(names = "--threads", description = "Worker threads (default: all cores).") Integer threads;

    @Override
    public Integer call() {
        KernelSet kernels = Main.kernels(threads);
        Path dataDir = data;
        if (dataDir == null && Checkpoint.hasTrainingState(reference)) dataDir = Path.of(Checkpoint.readState(reference).data());
        if (dataDir == null) throw new dev.lamina.io.LaminaException("--data is required: " + reference + " has no state.json naming its data");
        Inheritune.Settings s = new Inheritune.Settings(layers, growBy, steps, maxRounds, Inheritune.parseParts(parts), !noBaseline);
        long t0 = System.nanoTime();
        try (Dataset d = Dataset.open(dataDir)) {
            Inheritune.Result r = Inheritune.run(reference, d, s, out, new Listener(), kernels);
            Inheritune.writeReport(r, out, Plots.INSTANCE);
            System.out.println(r.parity()
                    ? String.format(Locale.ROOT, "parity with %d of %d layers", r.rounds().getLast().layers(), r.refConfig().numHiddenLayers())
                    : String.format(Locale.ROOT, "no parity after %d round(s)", r.rounds().size()));
        }
        System.out.printf(Locale.ROOT, "done in %.1f min; report: %s%n", (System.nanoTime() - t0) / 60e9, out.resolve("report.md"));
        return 0;
    }

    private static final class Listener implements Inheritune.Listener {
        private ConsoleProgress bar;

        @Override public void started(String name, int layers, long params, int steps) {
            if (bar != null) bar.close();
            System.err.printf(Locale.ROOT, "== %s: %d layers, %,d parameters, %d steps%n", name, layers, params, steps);
            bar = new ConsoleProgress(name, steps, System.err);
        }

        @Override public void step(String name, Trainer.Progress p) {
            bar.update(p.step(), String.format(Locale.ROOT, "loss %.3f | %.0f tok/s", p.loss(), p.tokensPerSec()));
        }

        @Override public void finished(Inheritune.Round r, double ref) {
            bar.println(String.format(Locale.ROOT, "%s: %d layers, val loss %.4f (reference %.4f, gap %+.4f)", r.name(), r.layers(),
                    r.valLoss(), ref, r.valLoss() - ref));
        }
    }
}
