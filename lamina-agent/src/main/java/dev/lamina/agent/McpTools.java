package dev.lamina.agent;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import io.modelcontextprotocol.client.McpClient;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.client.transport.HttpClientStreamableHttpTransport;
import io.modelcontextprotocol.client.transport.ServerParameters;
import io.modelcontextprotocol.client.transport.StdioClientTransport;
import io.modelcontextprotocol.json.jackson3.JacksonMcpJsonMapper;
import io.modelcontextprotocol.spec.McpClientTransport;
import io.modelcontextprotocol.spec.McpSchema;
import tools.jackson.databind.json.JsonMapper;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Tools from Model Context Protocol servers, through the official MCP Java SDK: a server is a
 * command line (started as a process, spoken to over stdio) or an http(s) URL (streamable HTTP).
 * Every tool a server lists becomes an {@link AgentTool}; one is free of side effects only when the
 * server marks it read-only ({@code readOnlyHint}), so anything else is confirmed before it runs.
 */
public final class McpTools implements AutoCloseable {
    private final List<McpSyncClient> clients = new ArrayList<>();
    private final List<AgentTool> tools = new ArrayList<>();

    private McpTools() {}

    /** Connects to every server of specs and lists their tools; closes what it opened if one fails. */
    public static McpTools connect(List<String> specs, Duration timeout) {
        McpTools m = new McpTools();
        try {
            for (String spec : specs) m.add(spec, timeout);
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    public List<AgentTool> tools() { return List.copyOf(tools); }

    private void add(String spec, Duration timeout) {
        var mapper = new JacksonMcpJsonMapper(JsonMapper.builder().build());
        McpClientTransport transport;
        if (spec.startsWith("http://") || spec.startsWith("https://")) {
            transport = HttpClientStreamableHttpTransport.builder(spec).build();
        } else {
            List<String> words = words(spec);
            if (words.isEmpty()) throw new LaminaException("--mcp needs a command line or an http(s) URL, got '" + spec + "'");
            if (!runnable(words.getFirst()))
                throw new LaminaException("--mcp '" + spec + "': no program '" + words.getFirst() + "' (not an executable file, nor found on PATH)");
            var stdio = new StdioClientTransport(ServerParameters.builder(words.getFirst()).args(words.subList(1, words.size())).build(), mapper);
            stdio.setStdErrorHandler(line -> {});          // the server's own log lines
            transport = stdio;
        }
        McpSyncClient client = McpClient.sync(transport).requestTimeout(timeout)
                .clientInfo(new McpSchema.Implementation("lamina-agent", "0.1.0")).build();
        clients.add(client);
        String origin;
        try {
            var info = client.initialize().serverInfo();
            origin = "mcp:" + (info != null && info.name() != null ? info.name() : spec);
        } catch (RuntimeException e) {
            throw new LaminaException("--mcp '" + spec + "': the server did not start or answer: " + message(e));
        }
        String cursor = null;
        do {
            McpSchema.ListToolsResult page = client.listTools(cursor);
            for (McpSchema.Tool t : page.tools()) {
                boolean readOnly = t.annotations() != null && Boolean.TRUE.equals(t.annotations().readOnlyHint());
                String name = t.name();
                tools.add(new AgentTool(name, t.description(), t.inputSchema(), !readOnly, origin, args -> {
                    McpSchema.CallToolResult r = client.callTool(new McpSchema.CallToolRequest(name, args));
                    String text = r.content().stream().map(c -> c instanceof McpSchema.TextContent tc ? tc.text() : Json.MAPPER.writeValueAsString(c))
                            .collect(Collectors.joining("\n"));
                    return Boolean.TRUE.equals(r.isError()) ? "error: " + text : text;
                }));
            }
            cursor = page.nextCursor();
        } while (cursor != null);
    }

    /** Whether program is an executable file, or (a bare name) one found on PATH. */
    private static boolean runnable(String program) {
        if (program.contains(java.io.File.separator)) return java.nio.file.Files.isExecutable(java.nio.file.Path.of(program));
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator))
            if (!dir.isEmpty() && java.nio.file.Files.isExecutable(java.nio.file.Path.of(dir, program))) return true;
        return false;
    }

    private static String message(Throwable e) {
        while (e.getCause() != null && e.getMessage() == null) e = e.getCause();
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /** A command line's words: split at spaces, '...' and "..." keep spaces. */
    static List<String> words(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        char quote = 0;
        boolean any = false;
        for (char c : line.toCharArray()) {
            if (quote != 0) {
                if (c == quote) quote = 0; else w.append(c);
            } else if (c == '\'' || c == '"') {
                quote = c;
                any = true;
            } else if (Character.isWhitespace(c)) {
                if (any || !w.isEmpty()) out.add(w.toString());
                w.setLength(0);
                any = false;
            } else {
                w.append(c);
            }
        }
        if (quote != 0) throw new LaminaException("--mcp '" + line + "': a quote is not closed");
        if (any || !w.isEmpty()) out.add(w.toString());
        return out;
    }

    @Override
    public void close() {
        for (McpSyncClient c : clients) {
            try {
                c.closeGracefully();
            } catch (RuntimeException ignored) {
                c.close();   // the server is gone already
            }
        }
        clients.clear();
    }
}
