package dev.lamina.cli;

import dev.lamina.data.Dataset;
import dev.lamina.model.Decoder;
import dev.lamina.research.LayerDiagnostics;
import dev.lamina.research.LayerGradLog;
import dev.lamina.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "diagnose", mixinStandardHelpOptions = true,
        description = "Per-layer diagnostics of a trained model: gradient norms, angular distances between layers, "
                + "layer-removal costs, hidden-state growth and attention ranks. Writes report.md, diagnostics.json and "
                + "PNG/SVG plots into RUN/diagnostics (or --out).")
final class DiagnoseCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Run directory (config.json + model.safetensors).") Path model;
    @Option(names = "--data", description = "Prepared data directory (default: the one the run was trained on).") Path data;
    @Option(names = "--tokens", defaultValue = "16384", description = "Validation tokens for the removal costs (default ${DEFAULT-VALUE}).") long tokens;
    @Option(names = "--batch", description = "Sequences in the fixed batch (default: the run's, else 8).") Integer batch;
    @Option(names = "--seq", description = "Tokens per sequence, at most 256 (default: the run's, else 128).") Integer seq;
    @Option(names = "--energy", defaultValue = "0.9", description = "Energy share for the attention rank (default ${DEFAULT-VALUE}).") double energy;
    @Option(names = "--lazy-rank", defaultValue = "2", description = "Heads with rank <= this count as collapsed (default ${DEFAULT-VALUE}).") int lazyRank;
    @Option(names = "--out", description = "Output directory (default: RUN/diagnostics).") Path out;
    @Option(names = "--threads", description = "Worker threads (default: all cores).") Integer threads;

    @Override
    public Integer call() {
        Decoder m = Checkpoint.loadModel(model).withKernels(Main.kernels(threads));
        int B = 8, T = Math.min(128, m.config().maxPositionEmbeddings());
        Path dataDir = data;
        if (Checkpoint.hasTrainingState(model)) {
            Checkpoint.State st = Checkpoint.readState(model);
            B = st.train().batch();
            T = Math.min(256, st.train().seq());
            if (dataDir == null) dataDir = Path.of(st.data());
        }
        if (dataDir == null)
            throw new dev.lamina.io.LaminaException("--data is required: " + model + " has no state.json naming its data directory");
        LayerDiagnostics.Options o = new LayerDiagnostics.Options(batch != null ? batch : B, seq != null ? seq : T, tokens, energy, lazyRank);
        Path dir = out != null ? out : model.resolve("diagnostics");
        try (Dataset d = Dataset.open(dataDir);
             ConsoleProgress bar = new ConsoleProgress("diagnose", m.config().numHiddenLayers() + 1, System.err)) {
            LayerDiagnostics.Report r = LayerDiagnostics.run(m, d.val(), o, model.getFileName().toString(),
                    (task, done, total) -> bar.update(done, task));
            LayerDiagnostics.write(r, dir, LayerGradLog.read(model), Plots.INSTANCE);
            bar.println(String.format(Locale.ROOT, "val perplexity %.2f; gradient-norm CV across layers %.3f; lazy layers: %d of %d",
                    r.valPerplexity(), r.grads().layerCv(), java.util.stream.IntStream.range(0, r.layers()).filter(l -> r.attention().lazy()[l]).count(),
                    r.layers()));
        }
        System.out.println("wrote " + dir.resolve("report.md"));
        return 0;
    }
}
