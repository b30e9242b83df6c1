package dev.lamina.server;

import dev.lamina.Lamina;
import dev.lamina.infer.ChatTemplate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static dev.lamina.server.LaminaServerTest.assertError;
import static dev.lamina.server.LaminaServerTest.post;
import static org.assertj.core.api.Assertions.assertThat;

/** /v1/chat/completions with a model directory that ships its own chat template. */
class ModelChatTemplateServerTest {
    static final Path GPT2 = Path.of("../lamina-core/src/test/resources/hf/models/gpt2");
    static final String TEMPLATE = "{%- for m in messages %}"
            + "{% if m.role == 'system' and not loop.first %}{{ raise_exception('The system message must come first.') }}{% endif %}"
            + "{{ m.role }}: {% if m.tool_calls %}{% for c in m.tool_calls %}{{ c.function.name }}({{ c.function.arguments.city }}){% endfor %}"
            + "{% else %}{{ m.content }}{% endif %}{{ '\\n' }}{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

    @TempDir static Path tmp;
    static Lamina.Model model;
    static LaminaServer server;

    @BeforeAll
    static void start() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("gpt2-chat"));
        try (var files = Files.list(GPT2)) {
            for (Path f : files.toList()) Files.copy(f, dir.resolve(f.getFileName()));
        }
        Files.writeString(dir.resolve("chat_template.jinja"), TEMPLATE);
        model = Lamina.load(dir);
        assertThat(model.chatTemplate().isBuiltIn()).isFalse();
        server = LaminaServer.start(ServerOptions.defaults("gpt2-chat").withPort(0).withMaxTokens(16), () -> model);
        assertThat(server.awaitReady(Duration.ofSeconds(30))).as("load error: %s", server.loadError()).isTrue();
    }

    @AfterAll
    static void stop() { server.close(); }

    @Test
    void thePromptIsTheModelsTemplate() throws Exception {
        var r = post(server, "/v1/chat/completions", """
                {"model": "gpt2-chat", "max_tokens": 4, "temperature": 0,
                 "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}""");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        String prompt = "system: Be brief.\nuser: Hi\nassistant:";
        assertThat(model.chatTemplate().render(List.of(java.util.Map.of("role", "system", "content", "Be brief."),
                java.util.Map.of("role", "user", "content", "Hi")), true)).isEqualTo(prompt);
        JsonNode usage = r.json().get("usage");
        assertThat(usage.get("prompt_tokens").intValue()).isEqualTo(model.tokenizer().encode(prompt).length)
                .isNotEqualTo(model.tokenizer().encode(ChatTemplate.render(List.of(new ChatTemplate.Message("system", "Be brief."),
                        new ChatTemplate.Message("user", "Hi")))).length);
    }

    @Test
    void toolCallHistoryReachesTheTemplateWithParsedArguments() throws Exception {
        var r = post(server, "/v1/chat/completions", """
                {"model": "gpt2-chat", "max_tokens": 2, "temperature": 0, "messages": [
                  {"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}]},
                  {"role": "tool", "tool_call_id": "c1", "content": "18 C"}]}""");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        String prompt = "user: Weather in Paris?\nassistant: get_weather(Paris)\ntool: 18 C\nassistant:";
        assertThat(r.json().get("usage").get("prompt_tokens").intValue()).isEqualTo(model.tokenizer().encode(prompt).length);
    }

    @Test
    void aTemplateThatRaisesIsA400WithItsMessage() throws Exception {
        var r = post(server, "/v1/chat/completions", """
                {"model": "gpt2-chat", "messages": [{"role": "user", "content": "Hi"}, {"role": "system", "content": "Late."}]}""");
        assertError(r, 400, "invalid_request_error", null);
        assertThat(r.json().get("error").get("message").stringValue()).endsWith("refused the input: The system message must come first.");
        assertThat(r.json().get("error").get("param").stringValue()).isEqualTo("messages");
    }
}
