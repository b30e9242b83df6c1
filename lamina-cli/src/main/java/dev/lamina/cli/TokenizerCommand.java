package dev.lamina.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** `lamina tokenizer train|encode|decode`. */
@Command(name = "tokenizer", mixinStandardHelpOptions = true,
        description = "Train byte-level BPE tokenizers and encode or decode with them.",
        subcommands = {TokenizerTrainCommand.class, TokenizerEncodeCommand.class, TokenizerDecodeCommand.class})
public final class TokenizerCommand implements Runnable {
    @Spec CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: train, encode or decode");
    }
}
