package dev.lamina.chat;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every template against transformers' apply_chat_template (fixtures from
 * src/test/python/make_chat_fixtures.py): the real templates of the llama.cpp package, read from
 * the package directory (skipped when it is absent), and the small ones in resources/chat/templates.
 */
class ChatTemplateParityTest {
    static final Path RESOURCES = Path.of("src/test/resources/chat");
    /** The generator's fixed clock: 2024-07-26 10:00 local time. */
    static final Clock CLOCK = Clock.fixed(LocalDateTime.of(2024, 7, 26, 10, 0).atZone(ZoneId.systemDefault()).toInstant(), ZoneId.systemDefault());
    static final Map<String, String> TOKENS = Map.of("bos_token", "<s>", "eos_token", "</s>", "unk_token", "<unk>");

    static Path templatesDir() {
        String dir = System.getProperty("lamina.llamacpp", Objects.requireNonNullElse(System.getenv("LAMINA_LLAMACPP"), "/tmp/lamina-llamacpp"));
        return Path.of(dir, "llama.cpp", "models", "templates");
    }

    @TestFactory
    List<DynamicTest> ownTemplates() throws IOException {
        return tests(RESOURCES.resolve("templates"));
    }

    @TestFactory
    List<DynamicTest> llamaCppTemplates() throws IOException {
        Path dir = templatesDir();
        assumeTrue(Files.isDirectory(dir), "llama.cpp package not unpacked at " + dir);
        return tests(dir);
    }

    private List<DynamicTest> tests(Path dir) throws IOException {
        JsonNode spec = Json.MAPPER.readTree(Files.readString(RESOURCES.resolve("conversations.json")));
        List<DynamicTest> tests = new ArrayList<>();
        try (var files = Files.list(dir)) {
            for (Path file : files.filter(p -> p.toString().endsWith(".jinja")).sorted().toList()) {
                String name = file.getFileName().toString().replaceFirst("\\.jinja$", "");
                tests.add(DynamicTest.dynamicTest(name, () -> check(file, name, spec)));
            }
        }
        assertThat(tests).isNotEmpty();
        return tests;
    }

    private static void check(Path file, String name, JsonNode spec) throws Exception {
        String source = Files.readString(file);
        JsonNode expected = Json.MAPPER.readTree(Files.readString(RESOURCES.resolve("expected").resolve(name + ".json")));
        assertThat(sha256(source)).as("%s changed since the fixtures were made (run make_chat_fixtures.py)", file)
                .isEqualTo(expected.get("sha256").stringValue());
        for (JsonNode c : spec.get("cases").values()) {
            String caseName = c.get("name").stringValue();
            JsonNode want = expected.get("cases").get(caseName);
            var messages = ModelChatTemplate.messages(c.get("messages"), caseName);
            var tools = c.has("tools") ? ModelChatTemplate.tools(spec.get("tools"), "tools") : null;
            boolean prompt = c.get("add_generation_prompt").booleanValue();
            if (want.has("text")) {
                ModelChatTemplate template = ModelChatTemplate.of(source, file.toString(), TOKENS).withClock(CLOCK);
                assertThat(template.render(messages, tools, prompt, Map.of())).as("%s, case %s", name, caseName)
                        .isEqualTo(want.get("text").stringValue());
            } else if (want.get("raised").booleanValue()) {
                assertThatThrownBy(() -> ModelChatTemplate.of(source, file.toString(), TOKENS).withClock(CLOCK).render(messages, tools, prompt, Map.of()))
                        .as("%s, case %s", name, caseName)
                        .isInstanceOf(LaminaException.class).hasMessageEndingWith(" refused the input: " + want.get("error").stringValue());
            } else {
                // jinja2 failed (a TypeError, an undefined attribute ...): so must we, with a one-line error
                assertThatThrownBy(() -> ModelChatTemplate.of(source, file.toString(), TOKENS).withClock(CLOCK).render(messages, tools, prompt, Map.of()))
                        .as("%s, case %s (transformers: %s)", name, caseName, want.get("error").stringValue())
                        .isInstanceOf(LaminaException.class).hasMessageNotContaining("\n");
            }
        }
    }

    static String sha256(String s) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    }
}
