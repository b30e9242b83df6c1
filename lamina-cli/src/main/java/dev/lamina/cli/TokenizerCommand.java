package dev.lamina.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** `lamina tokenizer train|encode|decode|chat`. */
@Command(name = "tokenizer", mixinStandardHelpOptions = true,
        description = "Train byte-level BPE tokenizers, encode or decode with them, render chat templates.",
        subcommands = {TokenizerTrainCommand.class, TokenizerEncodeCommand.class, TokenizerDecodeCommand.class, TokenizerChatCommand.class})
public final class TokenizerCommand implements Runnable {
    @Spec CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: train, encode, decode or chat");
    }
}
