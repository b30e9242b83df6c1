package dev.lamina.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

@Command(name = "experiment", mixinStandardHelpOptions = true, description = "Controlled experiments that write a report.",
        subcommands = {ExperimentDepthCommand.class, ExperimentMoeCommand.class, ExperimentLowbitCommand.class,
                ExperimentPrecisionCommand.class})
final class ExperimentCommand implements Runnable {
    @Override public void run() { new CommandLine(this).usage(System.out); }

    /** The bundled Brown corpus with a trained byte-level BPE tokenizer of vocabSize, prepared into DIR/data (reused when there). */
    static java.nio.file.Path prepareBrown(java.nio.file.Path dir, int vocabSize) {
        java.nio.file.Path dataDir = dir.resolve("data");
        if (java.nio.file.Files.isRegularFile(dataDir.resolve(dev.lamina.data.DataPrep.INFO))) {
            System.err.println("reusing " + dataDir);
            return dataDir;
        }
        System.err.println("preparing the bundled Brown corpus with a " + vocabSize + "-token byte-level BPE tokenizer");
        java.nio.file.Path corpus = dev.lamina.data.BundledCorpus.unpack(dir.resolve("corpus"));
        dev.lamina.tokenizer.Tokenizer tok = QuickstartTokenizer.train(java.util.List.of(corpus), vocabSize, dir.resolve("tokenizer"));
        dev.lamina.data.DataPrep.prepare(java.util.List.of(corpus), tok, dataDir, 0.05, 0);
        return dataDir;
    }
}
