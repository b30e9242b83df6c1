package dev.lamina.cli;

import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.tokenizer.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/** `lamina tokenizer decode`: the text of comma-separated ids. */
@Command(name = "decode", mixinStandardHelpOptions = true, description = "Decode token ids to text.")
final class TokenizerDecodeCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--tokenizer", required = true, paramLabel = "DIR|FILE",
            description = "A tokenizer.json, SentencePiece tokenizer.model or GGUF file, or a directory with tokenizer.json, "
                    + "GPT-2's encoder.json + vocab.bpe, or tokenizer.model (or the word 'bytes').")
    String tokenizer;

    @Option(names = "--ids", required = true, split = ",", paramLabel = "ID", description = "Token ids, comma-separated: 1,2,3.")
    int[] ids;

    @Override
    public Integer call() {
        Tokenizer tok = Tokenizers.load(tokenizer);
        String text = tok.decode(ids);
        spec.commandLine().getOut().println(text);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
