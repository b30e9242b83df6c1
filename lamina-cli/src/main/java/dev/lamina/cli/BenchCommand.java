package dev.lamina.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

@Command(name = "bench", mixinStandardHelpOptions = true, description = "Measure speed.",
        subcommands = {BenchInferCommand.class})
final class BenchCommand implements Runnable {
    @Override public void run() { new CommandLine(this).usage(System.out); }
}
