package dev.lamina.agent;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The loop and its checks against a scripted chat endpoint, with Java tools: results go back to the
 * model, and nothing undeclared, malformed, unconfirmed or overdue runs; every step is in the audit log.
 */
class AgentTest {
    @TempDir Path tmp;

    private final AtomicInteger adds = new AtomicInteger(), writes = new AtomicInteger();
    private final AgentTool add = AgentTool.of("add", "Adds two numbers.",
            "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},\"b\":{\"type\":\"number\"}},\"required\":[\"a\",\"b\"],\"additionalProperties\":false}",
            false, args -> {
                adds.incrementAndGet();
                return String.valueOf(((Number) args.get("a")).doubleValue() + ((Number) args.get("b")).doubleValue());
            });
    private final AgentTool save = AgentTool.of("save", "Saves a note.", "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}}",
            true, args -> {
                writes.incrementAndGet();
                return "saved";
            });
    private final AgentTool slow = AgentTool.of("slow", "Takes long.", "{\"type\":\"object\"}", false, args -> {
        Thread.sleep(5_000);
        return "late";
    });
    private final AgentTool broken = AgentTool.of("broken", "Fails.", "{\"type\":\"object\"}", false, args -> {
        throw new IllegalStateException("disk full");
    });

    private Agent.Result run(FakeChat chat, boolean yes, Agent.Confirm confirm, int maxSteps) {
        List<String> progress = new ArrayList<>();
        try (AuditLog log = AuditLog.open(tmp.resolve("audit.jsonl"))) {
            Agent a = new Agent(new ChatEndpoint(chat.url(), null, null, Duration.ofSeconds(30)), List.of(add, save, slow, broken),
                    new Agent.Options(maxSteps, yes, Duration.ofMillis(300), 0, 64, "auto"), confirm, log, progress::add);
            return a.run("What is 2 + 3?");
        }
    }

    private List<JsonNode> audit() throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(tmp.resolve("audit.jsonl"))) out.add(Json.MAPPER.readTree(line));
        return out;
    }

    @Test
    void aCallsResultGoesBackAndTheModelAnswers() throws Exception {
        try (FakeChat chat = new FakeChat().calls("add", "{\"a\": 2, \"b\": 3}").answer("2 + 3 = 5")) {
            Agent.Result r = run(chat, false, (t, a) -> false, 4);
            assertThat(r.answer()).isEqualTo("2 + 3 = 5");
            assertThat(r.stop()).isEqualTo(Agent.Stop.ANSWERED);
            assertThat(r.steps()).isEqualTo(2);
            assertThat(adds).hasValue(1);
            JsonNode second = chat.requests.get(1);
            assertThat(second.get("model").asString()).isEqualTo("fake");
            assertThat(second.get("tools")).hasSize(4);
            JsonNode msgs = second.get("messages");
            assertThat(msgs.get(1).get("tool_calls").get(0).get("function").get("name").asString()).isEqualTo("add");
            assertThat(msgs.get(2).get("role").asString()).isEqualTo("tool");
            assertThat(msgs.get(2).get("tool_call_id").asString()).isEqualTo("call_0");
            assertThat(msgs.get(2).get("content").asString()).isEqualTo("5.0");
        }
        List<JsonNode> log = audit();
        assertThat(log).extracting(n -> n.get("event").asString()).containsExactly("task", "reply", "tool", "reply", "answer");
        assertThat(log.get(2).get("outcome").asString()).isEqualTo("ok");
        assertThat(log.get(2).get("arguments").get("a").asInt()).isEqualTo(2);
        assertThat(log.get(2).get("confirmed").asString()).isEqualTo("not needed");
    }

    @Test
    void undeclaredMalformedAndOffSchemaCallsDoNotRun() throws Exception {
        try (FakeChat chat = new FakeChat()
                .calls("rm_rf", "{}", "add", "{\"a\": 2", "add", "{\"a\": \"two\", \"b\": 3}", "add", "{\"a\": 2, \"b\": 3, \"c\": 1}", "add", "[1, 2]")
                .answer("I could not.")) {
            run(chat, true, (t, a) -> true, 4);
            assertThat(adds).hasValue(0);
            List<String> told = new ArrayList<>();
            for (JsonNode m : chat.requests.get(1).get("messages")) if (m.get("role").asString().equals("tool")) told.add(m.get("content").asString());
            assertThat(told).hasSize(5);
            assertThat(told.get(0)).contains("no tool named 'rm_rf'").contains("add");
            assertThat(told.get(1)).contains("not JSON");
            assertThat(told.get(2)).contains("do not match the tool's schema");
            assertThat(told.get(3)).contains("do not match the tool's schema");
            assertThat(told.get(4)).contains("must be a JSON object");
        }
        assertThat(audit()).filteredOn(n -> n.get("event").asString().equals("refused"))
                .extracting(n -> n.get("check").asString()).containsExactly("undeclared", "arguments", "schema", "schema", "arguments");
    }

    @Test
    void sideEffectsRunOnlyWhenConfirmed() throws Exception {
        List<String> asked = new ArrayList<>();
        try (FakeChat chat = new FakeChat().calls("save", "{\"text\": \"x\"}").answer("no")) {
            run(chat, false, (t, a) -> { asked.add(t.name() + " " + a); return false; }, 4);
            assertThat(writes).hasValue(0);
            assertThat(chat.requests.get(1).get("messages").get(2).get("content").asString()).contains("the user declined");
        }
        assertThat(asked).containsExactly("save {\"text\": \"x\"}");
        try (FakeChat chat = new FakeChat().calls("save", "{\"text\": \"x\"}").answer("yes")) {
            run(chat, false, (t, a) -> true, 4);
            assertThat(writes).hasValue(1);
        }
        try (FakeChat chat = new FakeChat().calls("save", "{\"text\": \"x\"}", "add", "{\"a\": 1, \"b\": 1}").answer("done")) {
            run(chat, true, (t, a) -> { throw new AssertionError("--yes asks nobody"); }, 4);
            assertThat(writes).hasValue(2);
            assertThat(adds).hasValue(1);
        }
        assertThat(audit()).filteredOn(n -> n.get("event").asString().equals("tool") && n.get("name").asString().equals("save"))
                .extracting(n -> n.get("confirmed").asString()).containsExactly("user", "--yes");
    }

    @Test
    void aSlowOrFailingToolIsReportedToTheModel() throws Exception {
        try (FakeChat chat = new FakeChat().calls("slow", "{}", "broken", "{}").answer("ok")) {
            long t0 = System.nanoTime();
            run(chat, false, (t, a) -> true, 4);
            assertThat((System.nanoTime() - t0) / 1e9).isLessThan(4.0);
            JsonNode msgs = chat.requests.get(1).get("messages");
            assertThat(msgs.get(2).get("content").asString()).contains("did not finish within");
            assertThat(msgs.get(3).get("content").asString()).isEqualTo("error: disk full");
        }
        assertThat(audit()).filteredOn(n -> n.get("event").asString().equals("tool"))
                .extracting(n -> n.get("outcome").asString()).containsExactly("timeout", "failed");
    }

    @Test
    void theStepLimitEndsALoopingModel() throws Exception {
        try (FakeChat chat = new FakeChat().calls("add", "{\"a\": 1, \"b\": 1}").calls("add", "{\"a\": 1, \"b\": 1}").calls("add", "{\"a\": 1, \"b\": 1}")) {
            Agent.Result r = run(chat, false, (t, a) -> true, 2);
            assertThat(r.stop()).isEqualTo(Agent.Stop.MAX_STEPS);
            assertThat(chat.requests).hasSize(2);
            assertThat(adds).hasValue(2);
        }
        assertThat(audit().getLast().get("event").asString()).isEqualTo("stopped");
    }

    @Test
    void badToolsAndOptionsAreRefusedWithTheReason() {
        assertThatThrownBy(() -> AgentTool.of("no spaces", "", "{\"type\":\"object\"}", false, a -> ""))
                .isInstanceOf(LaminaException.class).hasMessageContaining("letters, digits");
        assertThatThrownBy(() -> AgentTool.of("x", "", "{\"type\":\"string\"}", false, a -> ""))
                .isInstanceOf(LaminaException.class).hasMessageContaining("type object");
        assertThatThrownBy(() -> new Agent.Options(0, false, Duration.ofSeconds(1), 0, 10, "auto")).hasMessageContaining("--max-steps");
        assertThatThrownBy(() -> new Agent.Options(1, false, Duration.ofSeconds(1), 0, 10, "always")).hasMessageContaining("--first-tool-choice");
        try (AuditLog log = AuditLog.open(tmp.resolve("a.jsonl"))) {
            assertThatThrownBy(() -> new Agent(null, List.of(add, add), new Agent.Options(1, false, Duration.ofSeconds(1), 0, 10, "auto"), (t, a) -> false, log, s -> {}))
                    .hasMessageContaining("two tools are named 'add'");
        }
        assertThatThrownBy(() -> new ChatEndpoint("ftp://x", null, "m", Duration.ofSeconds(1))).hasMessageContaining("http://");
        assertThatThrownBy(() -> new ChatEndpoint("http://127.0.0.1:1", null, null, Duration.ofSeconds(2)))
                .isInstanceOf(LaminaException.class).hasMessageContaining("GET /v1/models");
    }
}
