package dev.lamina.cli;

import dev.lamina.io.LaminaException;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Presets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** What a model configuration needs, on paper: no weights are made or read. */
@Command(name = "plan", mixinStandardHelpOptions = true, description = "What a model configuration needs, computed without weights.",
        subcommands = {PlanCommand.Params.class, PlanMemoryCommand.class})
final class PlanCommand implements Runnable {
    @Override public void run() { new picocli.CommandLine(this).usage(System.out); }

    @Command(name = "params", mixinStandardHelpOptions = true,
            description = "Total and active (per token) parameters of a config by part, and its weights' size at each precision.")
    static final class Params implements Callable<Integer> {
        @Option(names = "--config", description = "A model config JSON (e.g. configs/mixtral-8x7b.json, configs/grok-1.json, RUN/config.json).")
        Path config;
        @Option(names = "--preset", description = "A preset instead (vocabulary 32000 unless --vocab).") String preset;
        @Option(names = "--vocab", defaultValue = "32000", description = "Vocabulary of a preset (default ${DEFAULT-VALUE}).") int vocab;

        @Override
        public Integer call() {
            if ((config == null) == (preset == null)) throw new LaminaException("give one of --config FILE or --preset NAME");
            ModelConfig c = config != null ? ModelConfig.read(config) : Presets.get(preset).config().apply(vocab);
            String name = config != null ? config.getFileName().toString() : preset;
            ModelConfig.ParameterCounts p = c.parameterCounts();
            long total = p.total(), active = p.active();
            int sparse = 0;
            for (int l = 0; l < c.numHiddenLayers(); l++) if (c.sparse(l)) sparse++;
            System.out.printf(Locale.ROOT, "%s: %s parameters", name, billions(total));
            if (c.moe())
                System.out.printf(Locale.ROOT, ", %s active per token (%.1f%%): %d experts, %d per token, in %d of %d layers",
                        billions(active), 100.0 * active / total, c.numExperts(), c.expertsPerToken(), sparse, c.numHiddenLayers());
            System.out.println();
            System.out.println();
            System.out.println("| part | parameters | share of total |");
            System.out.println("| --- | ---: | ---: |");
            row("embeddings" + (c.tieWordEmbeddings() ? " (tied head)" : ""), p.embeddings(), total);
            row("attention", p.attention(), total);
            if (p.mlp() > 0) row("dense MLPs", p.mlp(), total);
            if (c.moe()) {
                row("experts, all", p.experts(), total);
                row("experts, active per token", p.activeExperts(), total);
                row("routers", p.routers(), total);
            }
            row("norms", p.norms(), total);
            if (p.head() > 0) row("head", p.head(), total);
            System.out.println();
            System.out.println("| weights in | all | read per token" + (c.moe() ? " (active)" : "") + " |");
            System.out.println("| --- | ---: | ---: |");
            for (String[] f : new String[][] {{"float32", "32"}, {"bf16 / fp16", "16"}, {"8-bit (Q8_0, 8.5 bits)", "8.5"}, {"4-bit (Q4_0, 4.5 bits)", "4.5"}}) {
                double bits = Double.parseDouble(f[1]);
                System.out.printf(Locale.ROOT, "| %s | %s | %s |%n", f[0], gigabytes(total * bits / 8), gigabytes(active * bits / 8));
            }
            return 0;
        }

        private static void row(String part, long n, long total) {
            System.out.printf(Locale.ROOT, "| %s | %,d | %.1f%% |%n", part, n, 100.0 * n / total);
        }

        private static String billions(long n) {
            return n >= 1e9 ? String.format(Locale.ROOT, "%.2fB", n / 1e9) : String.format(Locale.ROOT, "%.1fM", n / 1e6);
        }

        private static String gigabytes(double bytes) {
            return bytes >= 1e9 ? String.format(Locale.ROOT, "%.1f GB", bytes / 1e9) : String.format(Locale.ROOT, "%.0f MB", bytes / 1e6);
        }
    }
}
