package dev.lamina.cli;

import dev.lamina.chat.ModelChatTemplate;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/** `lamina tokenizer chat`: a conversation rendered with the model's chat template. */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = "Print the prompt a conversation becomes under the model's chat template (Lamina's built-in one if it has none).")
final class TokenizerChatCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--tokenizer", required = true, paramLabel = "DIR",
            description = "Tokenizer or model directory: chat_template.jinja or tokenizer_config.json's chat_template.")
    Path tokenizer;

    @Option(names = "--messages", required = true, paramLabel = "FILE.json",
            description = "A JSON array of messages ({\"role\", \"content\"}, tool_calls ...), or {\"messages\": [...], \"tools\": [...]}.")
    Path messages;

    @Option(names = "--add-generation-prompt", description = "End with the start of the assistant's turn.")
    boolean addGenerationPrompt;

    @Override
    public Integer call() {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(Files.readString(messages));
        } catch (IOException e) {
            throw new LaminaException("cannot read " + messages + ": " + e.getMessage(), e);
        } catch (JacksonException e) {
            throw new LaminaException(messages + " is not valid JSON: " + e.getOriginalMessage());
        }
        boolean wrapped = root.isObject();
        var list = ModelChatTemplate.messages(wrapped ? root.get("messages") : root, messages + (wrapped ? " messages" : ""));
        var tools = wrapped ? ModelChatTemplate.tools(root.get("tools"), messages + " tools") : null;
        String prompt = ModelChatTemplate.of(tokenizer).render(list, tools, addGenerationPrompt, Map.of());
        spec.commandLine().getOut().print(prompt);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
