package dev.lamina.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

@Command(name = "experiment", mixinStandardHelpOptions = true, description = "Controlled experiments that write a report.",
        subcommands = {ExperimentDepthCommand.class})
final class ExperimentCommand implements Runnable {
    @Override public void run() { new CommandLine(this).usage(System.out); }
}
