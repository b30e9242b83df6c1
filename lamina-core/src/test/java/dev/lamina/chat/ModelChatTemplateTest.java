package dev.lamina.chat;

import dev.lamina.infer.ChatTemplate;
import dev.lamina.io.LaminaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Where a model's template comes from, and how bad templates and inputs fail. */
class ModelChatTemplateTest {
    static final List<Map<String, Object>> CHAT = List.of(Map.of("role", "system", "content", "Be brief."), Map.of("role", "user", "content", "Hi"));
    static final List<Map<String, Object>> TOOLS = List.of(Map.of("type", "function", "function", Map.of("name", "f")));
    static final String ROLES = "{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}";

    @TempDir Path dir;

    @Test
    void tokenizerConfigStringWithSpecialTokensInBothForms() throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token": {"content": "<|begin|>", "lstrip": false}, "eos_token": "<|end|>",
                 "chat_template": "{{ bos_token }}ROLES{% if add_generation_prompt %}A:{% endif %}{{ eos_token }}"}
                """.replace("ROLES", ROLES));
        ModelChatTemplate t = ModelChatTemplate.of(dir);
        assertThat(t.isBuiltIn()).isFalse();
        assertThat(t.render(CHAT, true)).isEqualTo("<|begin|>system:Be brief.;user:Hi;A:<|end|>");
        assertThat(t.render(CHAT, false)).isEqualTo("<|begin|>system:Be brief.;user:Hi;<|end|>");
        assertThat(t.stop()).containsExactly("<|end|>");
    }

    @Test
    void namedTemplatesPickToolUseWhenToolsAreGiven() throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"chat_template": [{"name": "default", "template": "plain"},
                                   {"name": "tool_use", "template": "tools={{ tools | map(attribute='function.name') | join(',') }}"}]}
                """);
        ModelChatTemplate t = ModelChatTemplate.of(dir);
        assertThat(t.render(CHAT, true)).isEqualTo("plain");
        assertThat(t.render(CHAT, TOOLS, true, Map.of())).isEqualTo("tools=f");
    }

    @Test
    void chatTemplateFileTakesPriorityAndSpecialTokensMapFillsIn() throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"from config\"}");
        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"eos_token\": \"</s>\"}");
        Files.writeString(dir.resolve("chat_template.jinja"), "from file {{ eos_token }} {{ enable_thinking }}\n");
        ModelChatTemplate t = ModelChatTemplate.of(dir);
        assertThat(t.render(CHAT, null, true, Map.of("enable_thinking", false))).isEqualTo("from file </s> False");
        assertThat(t.origin()).endsWith("chat_template.jinja");
    }

    @Test
    void theBuiltInTemplatesJinjaFormRendersWhatTheBuiltInTemplateRenders() throws Exception {
        ModelChatTemplate jinja = ModelChatTemplate.of(ChatTemplate.JINJA, "exported", Map.of());
        List<Map<String, Object>> multi = List.of(Map.of("role", "developer", "content", " Be brief.\n"),
                Map.of("role", "USER", "content", "Hi"), Map.of("role", "assistant", "content", "Hello."),
                Map.of("role", "user", "content", "2 + 2 = ?"));
        for (List<Map<String, Object>> chat : List.of(CHAT, multi)) {
            String expected = ModelChatTemplate.builtIn().render(chat, true);
            assertThat(jinja.render(chat, true)).isEqualTo(expected);
            assertThat(jinja.render(chat, false)).isEqualTo(expected.substring(0, expected.length() - "### Assistant:\n".length()));
        }
        assertThatThrownBy(() -> jinja.render(List.of(Map.of("role", "tool", "content", "x")), true))
                .isInstanceOf(LaminaException.class).hasMessageContaining("unsupported message role 'tool' (use system, user or assistant)");
        // an exported Lamina model read back keeps the built-in template (and its stop sequence)
        Files.writeString(dir.resolve("tokenizer_config.json"),
                dev.lamina.io.Json.MAPPER.createObjectNode().put("chat_template", ChatTemplate.JINJA).toString());
        assertThat(ModelChatTemplate.of(dir).isBuiltIn()).isTrue();
    }

    @Test
    void builtInWhenTheModelHasNoTemplate() throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        ModelChatTemplate t = ModelChatTemplate.of(dir);
        assertThat(t.isBuiltIn()).isTrue();
        assertThat(t.render(CHAT, true)).isEqualTo(ChatTemplate.render(List.of(
                new ChatTemplate.Message("system", "Be brief."), new ChatTemplate.Message("user", "Hi"))));
        assertThat(t.stop()).isEqualTo(ChatTemplate.STOP);
        assertThatThrownBy(() -> t.render(CHAT, TOOLS, true, Map.of())).isInstanceOf(LaminaException.class).hasMessageContaining("tools");
        assertThat(ModelChatTemplate.of(dir.resolve("missing")).isBuiltIn()).isTrue();
    }

    @Test
    void raiseExceptionShowsTheTemplatesMessage() {
        ModelChatTemplate t = ModelChatTemplate.of("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}",
                "gemma.jinja", Map.of());
        assertThatThrownBy(() -> t.render(CHAT, true)).isInstanceOf(LaminaException.class)
                .hasMessage("gemma.jinja refused the input: System role not supported");
    }

    @Test
    void syntaxErrorsNameTheFileAndLine() throws Exception {
        Files.writeString(dir.resolve("chat_template.jinja"), "{% for m in messages %}\n{{ m.content }}\n{% if m.role %}x\n{% endfor %}");
        assertThatThrownBy(() -> ModelChatTemplate.of(dir)).isInstanceOf(LaminaException.class)
                .hasMessageStartingWith(dir.resolve("chat_template.jinja") + " line 4: ")
                .hasMessageContaining("endfor").hasMessageNotContaining("\n");
        assertThatThrownBy(() -> JinjaTemplate.parse("a\n{{ 1 + }}", "t")).hasMessageStartingWith("t line 2: ");
        assertThatThrownBy(() -> JinjaTemplate.parse("{% while x %}{% endwhile %}", "t")).hasMessageContaining("unknown tag 'while'");
        assertThatThrownBy(() -> JinjaTemplate.parse("{{ 'open }}", "t")).isInstanceOf(LaminaException.class);
        assertThatThrownBy(() -> JinjaTemplate.parse("{# never closed", "t")).hasMessageContaining("comment");
    }

    @Test
    void badConfigsAreNamed() throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": 3}");
        assertThatThrownBy(() -> ModelChatTemplate.of(dir)).hasMessageContaining("tokenizer_config.json chat_template must be a string");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"a\"}, {\"name\": \"rag\", \"template\": \"b\"}]}");
        assertThatThrownBy(() -> ModelChatTemplate.of(dir).render(CHAT, true)).hasMessageContaining("none named 'default'");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": ");
        assertThatThrownBy(() -> ModelChatTemplate.of(dir)).isInstanceOf(LaminaException.class).hasMessageContaining("not valid JSON");
    }

    @Test
    void undefinedIsEmptyUntilUsedFurther() {
        Map<String, Object> none = Map.of();
        assertThat(JinjaTemplate.parse("[{{ missing }}][{{ missing | length }}][{{ missing is defined }}][{% for x in missing %}x{% endfor %}]", "t")
                .render(none, java.time.Clock.systemUTC())).isEqualTo("[][0][False][]");
        assertThatThrownBy(() -> JinjaTemplate.parse("{{ missing.attr }}", "t").render(none, java.time.Clock.systemUTC()))
                .isInstanceOf(LaminaException.class).hasMessage("t line 1: 'missing' is undefined (the template cannot render this input)");
        assertThatThrownBy(() -> JinjaTemplate.parse("\n{{ messages[0].content + 1 }}", "t").render(Map.of("messages", CHAT), java.time.Clock.systemUTC()))
                .hasMessageContaining("line 2").hasMessageContaining("can only concatenate str");
    }

    @Test
    void theSandboxRefusesToChangeListsAndDicts() {
        assertThatThrownBy(() -> JinjaTemplate.parse("{% set xs = [] %}{{ xs.append(1) }}", "t").render(Map.of(), java.time.Clock.systemUTC()))
                .hasMessageContaining("access to attribute 'append' of 'list' object is unsafe.");
        assertThatThrownBy(() -> JinjaTemplate.parse("{% set d = {} %}{% set d.x = 1 %}", "t").render(Map.of(), java.time.Clock.systemUTC()))
                .hasMessageContaining("non-namespace");
    }
}
