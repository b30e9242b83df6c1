package dev.lamina.cli;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.io.TextFiles;
import dev.lamina.tokenizer.BpeTokenizer;
import dev.lamina.tokenizer.PipelineTokenizer;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.tokenizer.Tokenizers;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectWriter;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** `lamina tokenizer encode`: ids of one string, or of the "text" of every line of a JSONL file. */
@Command(name = "encode", mixinStandardHelpOptions = true,
        description = "Encode text to token ids. With --jsonl, prints each line back with an added \"ids\" array; with --text, prints the ids comma-separated.")
final class TokenizerEncodeCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--tokenizer", required = true, paramLabel = "DIR|FILE",
            description = "A tokenizer.json, SentencePiece tokenizer.model or GGUF file, or a directory with tokenizer.json, "
                    + "GPT-2's encoder.json + vocab.bpe, or tokenizer.model (or the word 'bytes').")
    String tokenizer;

    @Option(names = "--add-special-tokens", description = "Add the tokens the model expects around a text (Llama's <s>), as the tokenizer's post-processor says.")
    boolean addSpecialTokens;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--jsonl", paramLabel = "FILE", description = "JSON lines, each an object with a \"text\" string.")
        Path jsonl;

        @Option(names = "--text", paramLabel = "STRING", description = "One string to encode.")
        String text;
    }

    @Override
    public Integer call() {
        Tokenizer tok = Tokenizers.load(tokenizer);
        PrintWriter out = spec.commandLine().getOut();
        java.util.function.Function<String, int[]> encode = addSpecialTokens && tok instanceof PipelineTokenizer p
                ? text -> p.encode(text, true) : tok::encode;
        if (input.text != null) {
            out.println(Arrays.stream(encode.apply(input.text)).mapToObj(Integer::toString).collect(Collectors.joining(",")));
        } else {
            // parse everything first so a bad line stops the command before anything is printed
            List<ObjectNode> rows = readJsonl(input.jsonl);
            List<String> texts = rows.stream().map(r -> r.get("text").stringValue()).toList();
            int[][] ids = tok instanceof BpeTokenizer bpe ? bpe.encodeAll(texts) : texts.stream().map(encode).toArray(int[][]::new);
            ObjectWriter compact = Json.MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT);
            for (int i = 0; i < rows.size(); i++) {
                ArrayNode arr = rows.get(i).putArray("ids");
                for (int id : ids[i]) arr.add(id);
                out.println(compact.writeValueAsString(rows.get(i)));
            }
        }
        out.flush();
        return 0;
    }

    private static List<ObjectNode> readJsonl(Path file) {
        List<String> lines = TextFiles.lines(file);
        List<ObjectNode> rows = new ArrayList<>(lines.size());
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) continue;
            String where = file + ": line " + (i + 1);
            JsonNode n;
            try {
                n = Json.MAPPER.readTree(lines.get(i));
            } catch (JacksonException e) {
                throw new LaminaException(where + ": not valid JSON; each line must be an object like {\"text\": \"...\"}");
            }
            if (!(n instanceof ObjectNode obj) || !n.path("text").isString())
                throw new LaminaException(where + ": expected an object with a \"text\" string, like {\"text\": \"...\"}");
            rows.add(obj);
        }
        return rows;
    }
}
