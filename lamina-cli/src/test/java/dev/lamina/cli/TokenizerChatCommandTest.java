package dev.lamina.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** `lamina tokenizer chat` through Main.run. */
class TokenizerChatCommandTest extends CliTest {
    @TempDir Path tmp;

    int run(String... args) {
        clearOutput();
        return Main.run(args);
    }

    Path model(String template) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("model"));
        Files.writeString(dir.resolve("chat_template.jinja"), template);
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"<|im_end|>\"}");
        return dir;
    }

    @Test
    void printsTheRenderedPromptExactly() throws Exception {
        Path dir = model("""
                {%- for m in messages %}<|im_start|>{{ m.role }}
                {{ m.content }}{{ eos_token }}
                {% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
                {% endif %}""");
        Path messages = Files.writeString(tmp.resolve("m.json"), "[{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}]");
        assertThat(run("tokenizer", "chat", "--tokenizer", dir.toString(), "--messages", messages.toString(), "--add-generation-prompt")).isZero();
        assertThat(out()).isEqualTo("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
        assertThat(run("tokenizer", "chat", "--tokenizer", dir.toString(), "--messages", messages.toString())).isZero();
        assertThat(out()).isEqualTo("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
    }

    @Test
    void toolsComeWithTheMessagesInOneObject() throws Exception {
        Path dir = model("{{ tools | map(attribute='function.name') | join(',') }}|{{ messages | length }}");
        Path messages = Files.writeString(tmp.resolve("m.json"), """
                {"messages": [{"role": "user", "content": "Weather?"}],
                 "tools": [{"type": "function", "function": {"name": "get_weather"}}]}""");
        assertThat(run("tokenizer", "chat", "--tokenizer", dir.toString(), "--messages", messages.toString())).isZero();
        assertThat(out()).isEqualTo("get_weather|1");
    }

    @Test
    void badInputIsOneLine() throws Exception {
        Path dir = model("{{ raise_exception('Only user and assistant roles are supported!') }}");
        Path messages = Files.writeString(tmp.resolve("m.json"), "[{\"role\": \"user\", \"content\": \"Hi\"}]");
        assertThat(run("tokenizer", "chat", "--tokenizer", dir.toString(), "--messages", messages.toString())).isEqualTo(1);
        assertOneLineError("chat_template.jinja refused the input: Only user and assistant roles are supported!");

        Files.writeString(dir.resolve("chat_template.jinja"), "{% if x %}");
        assertThat(run("tokenizer", "chat", "--tokenizer", dir.toString(), "--messages", messages.toString())).isEqualTo(1);
        assertOneLineError("chat_template.jinja line 1", "endif");

        Path bad = Files.writeString(tmp.resolve("bad.json"), "[{\"content\": \"no role\"}]");
        assertThat(run("tokenizer", "chat", "--tokenizer", dir.toString(), "--messages", bad.toString())).isEqualTo(1);
        assertOneLineError("bad.json[0] must be an object with a string \"role\"");
        assertThat(run("tokenizer", "chat", "--tokenizer", dir.toString())).isEqualTo(2);
    }

    void assertOneLineError(String... parts) {
        var lines = err().lines().filter(l -> l.startsWith("lamina: error: ")).toList();
        assertThat(lines).hasSize(1);
        assertThat(lines.getFirst()).contains(parts);
    }
}
