package dev.lamina.infer;

import dev.lamina.io.LaminaException;

import java.util.List;
import java.util.Locale;

/**
 * The chat template of Lamina models: plain text, so that it works with any tokenizer (none of
 * Lamina's tokenizers has chat special tokens) and reads naturally to a model trained on prose.
 * Each message becomes a header line naming the role, the content, and a blank line; the prompt
 * ends with the assistant header, and the reply ends at end-of-text or at a line starting with
 * {@code ###} (the next header):
 *
 * <pre>
 * ### System:
 * You are terse.
 *
 * ### User:
 * Name a colour.
 *
 * ### Assistant:
 * </pre>
 *
 * Roles: system (also "developer", OpenAI's newer name for it), user, assistant.
 */
public final class ChatTemplate {
    private ChatTemplate() {}

    /** One message. */
    public record Message(String role, String content) {}

    /** Stop sequences that end the assistant's turn (added to the caller's). */
    public static final List<String> STOP = List.of("\n###");

    /**
     * This template in Jinja, as Hugging Face tokenizers carry one (written to tokenizer_config.json
     * on export, so transformers' apply_chat_template and lm-evaluation-harness render what the
     * server renders). With add_generation_prompt it gives exactly {@link #render}'s text.
     */
    public static final String JINJA = "{%- for message in messages -%}"
            + "{%- set role = message['role'] | lower -%}"
            + "{%- if role == 'system' or role == 'developer' -%}{%- set header = 'System' -%}"
            + "{%- elif role == 'user' -%}{%- set header = 'User' -%}"
            + "{%- elif role == 'assistant' -%}{%- set header = 'Assistant' -%}"
            + "{%- else -%}{{- raise_exception(\"unsupported message role '\" ~ message['role'] ~ \"' (use system, user or assistant)\") -}}"
            + "{%- endif -%}"
            + "{{- '### ' ~ header ~ ':\\n' ~ message['content'] ~ '\\n\\n' -}}"
            + "{%- endfor -%}"
            + "{%- if add_generation_prompt -%}{{- '### Assistant:\\n' -}}{%- endif -%}";

    /** The prompt for messages, ending where the assistant's reply starts. */
    public static String render(List<Message> messages) {
        if (messages.isEmpty()) throw new LaminaException("messages must not be empty");
        StringBuilder s = new StringBuilder();
        for (Message m : messages) s.append("### ").append(header(m.role())).append(":\n").append(m.content()).append("\n\n");
        return s.append("### Assistant:\n").toString();
    }

    private static String header(String role) {
        return switch (role == null ? "" : role.toLowerCase(Locale.ROOT)) {
            case "system", "developer" -> "System";
            case "user" -> "User";
            case "assistant" -> "Assistant";
            default -> throw new LaminaException("unsupported message role '" + role + "' (use system, user or assistant)");
        };
    }
}
