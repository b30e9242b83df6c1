package dev.lamina.agent;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The example MCP server in its own JVM, spoken to over stdio through the SDK, and the agent using its tools. */
class McpToolsTest {
    @TempDir Path tmp;
    private McpTools mcp;
    private Map<String, AgentTool> tools;

    static String serverCommand(Path root) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return "'" + java + "' -cp '" + System.getProperty("java.class.path") + "' dev.lamina.agent.SandboxServer --root '" + root + "'";
    }

    @BeforeEach
    void start() throws Exception {
        Files.createDirectories(tmp.resolve("box"));
        Files.writeString(tmp.resolve("box/note.txt"), "hello from the sandbox");
        Files.writeString(tmp.resolve("secret.txt"), "outside");
        mcp = McpTools.connect(List.of(serverCommand(tmp.resolve("box"))), Duration.ofSeconds(20));
        tools = mcp.tools().stream().collect(Collectors.toMap(AgentTool::name, t -> t));
    }

    @AfterEach
    void stop() { mcp.close(); }

    @Test
    void theServersToolsRunAndStayInTheSandbox() throws Exception {
        assertThat(tools.keySet()).containsExactlyInAnyOrder("list_files", "read_file", "write_file", "calculate");
        assertThat(tools.get("write_file").sideEffects()).isTrue();
        assertThat(tools.get("read_file").sideEffects()).isFalse();
        assertThat(tools.get("calculate").origin()).isEqualTo("mcp:lamina-sandbox");
        assertThat(tools.get("calculate").call().call(Map.of("expression", "12*(3+4) - 2^3"))).isEqualTo("76");
        assertThat(tools.get("calculate").call().call(Map.of("expression", "1/0"))).startsWith("error:");
        assertThat(tools.get("read_file").call().call(Map.of("path", "note.txt"))).isEqualTo("hello from the sandbox");
        assertThat(tools.get("read_file").call().call(Map.of("path", "../secret.txt"))).startsWith("error:").contains("outside the sandbox");
        assertThat(tools.get("read_file").call().call(Map.of("path", "/etc/passwd"))).startsWith("error:");
        assertThat(tools.get("write_file").call().call(Map.of("path", "out/answer.txt", "content", "84"))).contains("wrote 2 bytes");
        assertThat(tmp.resolve("box/out/answer.txt")).hasContent("84");
        assertThat(tools.get("write_file").call().call(Map.of("path", "../escape.txt", "content", "x"))).startsWith("error:");
        assertThat(tmp.resolve("escape.txt")).doesNotExist();
        assertThat(tools.get("list_files").call().call(Map.of())).isEqualTo("note.txt\nout/");
    }

    @Test
    void theAgentUsesTheServersTools() throws Exception {
        try (FakeChat chat = new FakeChat().calls("calculate", "{\"expression\": \"12*(3+4)\"}")
                .calls("write_file", "{\"path\": \"answer.txt\", \"content\": \"84\"}").answer("12*(3+4) = 84, saved in answer.txt");
             AuditLog log = AuditLog.open(tmp.resolve("audit.jsonl"))) {
            Agent a = new Agent(new ChatEndpoint(chat.url(), null, null, Duration.ofSeconds(30)), mcp.tools(),
                    new Agent.Options(4, false, Duration.ofSeconds(20), 0, 64, "auto"), (t, args) -> t.name().equals("write_file"), log, s -> {});
            Agent.Result r = a.run("What is 12*(3+4)? Save it.");
            assertThat(r.answer()).contains("84");
            assertThat(chat.requests.get(1).get("messages").get(2).get("content").asString()).isEqualTo("84");
            assertThat(tmp.resolve("box/answer.txt")).hasContent("84");
        }
        assertThat(Files.readAllLines(tmp.resolve("audit.jsonl"))).hasSize(7);   // task, 3 replies, 2 tools, answer
    }

    /** A server that dies mid-run: the call fails with a reason the model is told, and the run goes on to an answer. */
    @Test
    void aServerThatDiesMidRunFailsTheCallNotTheRun() throws Exception {
        try (FakeChat chat = new FakeChat().calls("calculate", "{\"expression\": \"1+1\"}").answer("the calculator is gone");
             AuditLog log = AuditLog.open(tmp.resolve("audit.jsonl"))) {
            ProcessHandle.current().descendants().filter(p -> p.info().commandLine().orElse("").contains("SandboxServer"))
                    .forEach(ProcessHandle::destroyForcibly);
            Agent a = new Agent(new ChatEndpoint(chat.url(), null, null, Duration.ofSeconds(30)), mcp.tools(),
                    new Agent.Options(3, false, Duration.ofSeconds(3), 0, 64, "auto"), (t, args) -> false, log, s -> {});
            Agent.Result r = a.run("1+1?");
            assertThat(r.stop()).isEqualTo(Agent.Stop.ANSWERED);
            String told = chat.requests.get(1).get("messages").get(2).get("content").asString();
            assertThat(told).startsWith("error:");
        }
        // the SDK notices the dead process (failed) or the call runs out of time (timeout): either way the model is told
        assertThat(Files.readString(tmp.resolve("audit.jsonl"))).containsPattern("\"outcome\":\"(failed|timeout)\"");
    }

    @Test
    void aServerThatDoesNotStartIsAClearError() {
        assertThatThrownBy(() -> McpTools.connect(List.of("/nonexistent/mcp-server --x"), Duration.ofSeconds(5)))
                .hasMessageContaining("--mcp '/nonexistent/mcp-server --x': no program");
        assertThatThrownBy(() -> McpTools.connect(List.of("false"), Duration.ofSeconds(5)))      // starts, then exits without answering
                .hasMessageContaining("--mcp 'false': the server did not start or answer");
        assertThatThrownBy(() -> McpTools.connect(List.of("'unclosed"), Duration.ofSeconds(5))).hasMessageContaining("quote is not closed");
        assertThat(McpTools.words("a 'b c' \"d e\" ''")).containsExactly("a", "b c", "d e", "");
    }
}
