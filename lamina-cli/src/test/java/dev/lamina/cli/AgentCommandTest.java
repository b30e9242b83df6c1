package dev.lamina.cli;

import dev.lamina.io.Json;
import dev.lamina.model.Decoder;
import dev.lamina.model.Presets;
import dev.lamina.tokenizer.ByteTokenizer;
import dev.lamina.train.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.lamina.cli.FinetuneCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * `lamina agent` end to end: a model run here (an untrained one, made to start with a call), the
 * example MCP server in its own JVM over stdio, the calls checked, and the audit log; bad flags are
 * one-line errors.
 */
class AgentCommandTest {
    @Test
    void aLocalModelCallsTheExampleServersToolThroughMcp(@TempDir Path dir) throws Exception {
        Decoder d = Decoder.create(Presets.get("tiny").config().apply(ByteTokenizer.INSTANCE.vocabSize()).toBuilder().maxPositionEmbeddings(2048).build(), 7);
        Path run = dir.resolve("m");
        Checkpoint.saveModel(run, d, 0);
        ByteTokenizer.INSTANCE.save(run.resolve(Checkpoint.TOKENIZER));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String server = "'" + java + "' -cp '" + System.getProperty("java.class.path") + "' dev.lamina.agent.SandboxServer --root '" + dir.resolve("box") + "'";
        Path audit = dir.resolve("audit.jsonl");
        var r = run("agent", "--model", run.toString(), "--mcp", server, "--tools", "calculate", "--first-tool-choice", "required",
                "--max-steps", "2", "--max-tokens", "96", "--audit", audit.toString(), "--threads", "2", "What is 12*(3+4)?");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("1 tools (calculate)");
        List<JsonNode> log = new ArrayList<>();
        for (String line : Files.readAllLines(audit)) log.add(Json.MAPPER.readTree(line));
        assertThat(log.getFirst().get("event").asString()).isEqualTo("task");
        assertThat(log.getFirst().get("tools")).hasSize(1);
        JsonNode first = log.get(1);
        assertThat(first.get("event").asString()).isEqualTo("reply");
        assertThat(first.get("tool_calls")).isNotEmpty();                              // required: the first reply is a call
        assertThat(first.get("tool_calls").get(0).get("name").asString()).isEqualTo("calculate");
        // an untrained model's arguments: run when they match the schema, else refused by the schema check
        assertThat(log.get(2).get("event").asString()).isIn("tool", "refused");
        if (log.get(2).get("event").asString().equals("refused")) assertThat(log.get(2).get("check").asString()).isIn("schema", "arguments");
    }

    @Test
    void badFlagsAreOneLine(@TempDir Path dir) {
        var r = run("agent", "x");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo("lamina: error: give exactly one of --model (a model to run here) or --url (a server)");
        r = run("agent", "--url", "http://127.0.0.1:1");
        assertThat(r.err().strip()).isEqualTo("lamina: error: give the TASK to carry out (or - to read it from standard input)");
        r = run("agent", "--url", "http://127.0.0.1:1", "--max-steps", "0", "x");
        assertThat(r.err().strip()).isEqualTo("lamina: error: --max-steps must be at least 1, got 0");
        r = run("agent", "--url", "http://127.0.0.1:1", "--mcp", "/nonexistent/server", "--audit", dir.resolve("a.jsonl").toString(), "x");
        assertThat(r.err().strip()).isEqualTo("lamina: error: --mcp '/nonexistent/server': no program '/nonexistent/server' (not an executable file, nor found on PATH)");
        r = run("agent", "--url", "http://127.0.0.1:1", "--audit", dir.resolve("a.jsonl").toString(), "x");
        assertThat(r.err().strip()).isEqualTo("lamina: error: GET /v1/models to http://127.0.0.1:1/v1/ failed: cannot connect (is the server running?)").doesNotContain("\n");
    }
}
