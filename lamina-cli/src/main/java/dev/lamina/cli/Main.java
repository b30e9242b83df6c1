package dev.lamina.cli;

import dev.lamina.io.LaminaException;
import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.Kernels;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The `lamina` command: a thin layer over the library's public API. */
@Command(name = "lamina", mixinStandardHelpOptions = true, version = "Lamina 0.1.0",
        description = "Train, study and serve small decoder-only language models on the JVM.",
        subcommands = {CommandLine.HelpCommand.class, QuickstartCommand.class, TokenizerCommand.class, PrepareCommand.class,
                TrainCommand.class, DistillCommand.class, PruneCommand.class, RightsizeCommand.class, GenerateCommand.class, VerifyCommand.class, ImportCommand.class, ExportCommand.class,
                EvalCommand.class, DiagnoseCommand.class, ExperimentCommand.class, InheritCommand.class, BenchCommand.class, ServeCommand.class, FinetuneCommand.class, MergeCommand.class, PlanCommand.class, AgentCommand.class,
                CascadeCommand.class, RouterCommand.class})
public final class Main implements Runnable {

    @Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT, description = "Print stack traces on errors.")
    static boolean debug;

    @Override public void run() { new CommandLine(this).usage(System.out); }

    public static void main(String[] args) { System.exit(run(args)); }

    /**
     * The kernels a command computes with: the default kind ({@code -Dlamina.kernels}) on --threads
     * threads (null: {@code -Dlamina.threads}, else every core).
     */
    static KernelSet kernels(Integer threads) {
        if (threads != null && threads < 1) throw new LaminaException("--threads must be >= 1, got " + threads);
        KernelSet k = Kernels.defaults();
        return threads == null ? k : Kernels.withThreads(k, threads);
    }

    /** The config of a run directory, Hugging Face directory or GGUF file, read without its weights. */
    static dev.lamina.model.ModelConfig configOf(java.nio.file.Path model) {
        if (dev.lamina.gguf.GgufModel.isGguf(model))
            try (dev.lamina.gguf.GgufFile f = dev.lamina.gguf.GgufFile.open(model)) {
                return dev.lamina.gguf.GgufModel.config(f);
            }
        if (dev.lamina.hf.HfCheckpoint.isHfDirectory(model)) return dev.lamina.hf.HfCheckpoint.config(model).config();
        java.nio.file.Path json = model.resolve(dev.lamina.train.Checkpoint.CONFIG);
        if (!java.nio.file.Files.isRegularFile(json))
            throw new LaminaException(model + ": not a run directory, Hugging Face directory or GGUF file (no " + json.getFileName() + ")");
        return dev.lamina.model.ModelConfig.read(json);
    }

    /**
     * The error's message in the command's words: a library error about a setting (weightDecay) names
     * the flag that sets it (--weight-decay) when the command has one.
     */
    static String message(Exception ex, CommandLine.Model.CommandSpec spec) {
        String m = ex.getMessage();
        if (!(ex instanceof LaminaException le) || le.field() == null) return m;
        String flag = "--" + le.field().replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(java.util.Locale.ROOT);
        if (spec.findOption(flag) == null) return m;
        return m.startsWith(le.field()) ? flag + m.substring(le.field().length()) : m + " (" + flag + ")";
    }

    /** Runs the CLI and returns its exit code (1: failed, 2: bad usage). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.addSubcommand("quantize", new GgufExportCommand());   // llama.cpp's word for export gguf
        try {                                                      // lamina spark, when lamina-spark is on the class path
            cl.addSubcommand("spark", Class.forName("dev.lamina.spark.SparkCommand").getDeclaredConstructor().newInstance());
        } catch (ReflectiveOperationException | LinkageError absent) {
            // built without Spark: `bin/lamina spark` builds it
        }
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            boolean user = ex instanceof LaminaException || ex instanceof IllegalArgumentException;
            if (debug || !user) {
                if (debug) ex.printStackTrace();
                else cmd.getErr().println("lamina: error: " + ex + " (run again with --debug for the stack trace)");
            }
            if (user && !debug) cmd.getErr().println("lamina: error: " + message(ex, cmd.getCommandSpec()));
            return 1;
        });
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("lamina: " + ex.getMessage());
            cmd.getErr().println("Run '" + cmd.getCommandSpec().qualifiedName() + " --help' for usage.");
            return 2;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {
            if (debug) e.printStackTrace();
            System.err.printf("lamina: error: out of memory (this JVM may use %.1f GB); `lamina plan memory` shows what the task needs; "
                    + "give the JVM more with LAMINA_JAVA_OPTS=-Xmx<N>g, or use a smaller --batch or --seq%n", Runtime.getRuntime().maxMemory() / 1e9);
            return 1;
        }
    }
}
