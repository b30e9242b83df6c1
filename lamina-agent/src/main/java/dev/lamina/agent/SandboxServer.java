package dev.lamina.agent;

import io.modelcontextprotocol.json.jackson3.JacksonMcpJsonMapper;
import io.modelcontextprotocol.server.McpServer;
import io.modelcontextprotocol.server.McpServerFeatures;
import io.modelcontextprotocol.server.McpSyncServer;
import io.modelcontextprotocol.server.transport.StdioServerTransportProvider;
import io.modelcontextprotocol.spec.McpSchema;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The example MCP server (stdio) of {@code lamina agent}: files in one sandbox folder and a
 * calculator. {@code list_files}, {@code read_file} and {@code calculate} are marked read-only;
 * {@code write_file} is not, so the agent asks before it runs. A path that leaves the folder (.., an
 * absolute path, a link pointing out) is refused. Run it as {@code lamina agent sandbox-server --root DIR}.
 */
public final class SandboxServer {
    private SandboxServer() {}

    /** {@code --root DIR}: serves until the client process ends. */
    public static void main(String[] args) throws InterruptedException {
        if (args.length != 2 || !args[0].equals("--root")) {
            System.err.println("usage: SandboxServer --root DIR");
            System.exit(2);
        }
        ProcessHandle.current().parent().ifPresent(p -> p.onExit().thenRun(() -> System.exit(0)));
        serve(Path.of(args[1]));
    }

    /** Serves over stdin/stdout until the client closes them. */
    public static void serve(Path root) throws InterruptedException {
        Path base;
        try {
            base = Files.createDirectories(root).toRealPath();
        } catch (IOException e) {
            throw new IllegalArgumentException("--root " + root + ": " + e.getMessage());
        }
        var mapper = new JacksonMcpJsonMapper(JsonMapper.builder().build());
        McpSyncServer server = McpServer.sync(new StdioServerTransportProvider(mapper))
                .serverInfo("lamina-sandbox", "0.1.0")
                .capabilities(McpSchema.ServerCapabilities.builder().tools(true).build())
                .tools(tool(mapper, "list_files", "Lists the files in the sandbox folder (or in one of its subfolders).", true,
                                "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\",\"description\":\"a subfolder; empty for the top\"}}}",
                                a -> list(base, (String) a.getOrDefault("path", ""))),
                        tool(mapper, "read_file", "Reads a text file of the sandbox folder.", true,
                                "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}},\"required\":[\"path\"]}",
                                a -> read(base, (String) a.get("path"))),
                        tool(mapper, "write_file", "Writes a text file in the sandbox folder, replacing it if it exists.", false,
                                "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"content\":{\"type\":\"string\"}},\"required\":[\"path\",\"content\"]}",
                                a -> write(base, (String) a.get("path"), (String) a.get("content"))),
                        tool(mapper, "calculate", "Evaluates an arithmetic expression: numbers, + - * / ^ and parentheses.", true,
                                "{\"type\":\"object\",\"properties\":{\"expression\":{\"type\":\"string\"}},\"required\":[\"expression\"]}",
                                a -> Calculator.format(Calculator.evaluate((String) a.get("expression")))))
                .build();
        new CountDownLatch(1).await();     // the transport's threads serve until stdin closes and the process exits
        server.close();
    }

    private static McpServerFeatures.SyncToolSpecification tool(JacksonMcpJsonMapper mapper, String name, String description, boolean readOnly,
                                                                 String schema, Function<Map<String, Object>, String> body) {
        McpSchema.Tool t = McpSchema.Tool.builder().name(name).description(description).inputSchema(mapper, schema)
                .annotations(McpSchema.ToolAnnotations.builder().readOnlyHint(readOnly).destructiveHint(!readOnly).build()).build();
        return new McpServerFeatures.SyncToolSpecification(t, (exchange, request) -> {
            try {
                return McpSchema.CallToolResult.builder().addTextContent(body.apply(request.arguments())).build();
            } catch (RuntimeException e) {
                return McpSchema.CallToolResult.builder().addTextContent(e.getMessage()).isError(true).build();
            }
        });
    }

    /** path inside base, refused when it leaves it (also through links). */
    static Path inside(Path base, String path) {
        Path p = base.resolve(path == null ? "" : path).normalize();
        if (!p.startsWith(base)) throw new IllegalArgumentException("'" + path + "' is outside the sandbox folder");
        try {
            Path real = Files.exists(p) ? p.toRealPath() : p.getParent() != null && Files.exists(p.getParent()) ? p.getParent().toRealPath().resolve(p.getFileName()) : p;
            if (!real.startsWith(base)) throw new IllegalArgumentException("'" + path + "' leads outside the sandbox folder");
        } catch (IOException e) {
            throw new IllegalArgumentException("'" + path + "': " + e.getMessage());
        }
        return p;
    }

    private static String list(Path base, String path) {
        Path dir = inside(base, path);
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("'" + path + "' is not a folder of the sandbox");
        try (Stream<Path> s = Files.list(dir)) {
            List<String> names = s.map(p -> base.relativize(p) + (Files.isDirectory(p) ? "/" : "")).sorted().toList();
            return names.isEmpty() ? "(empty)" : names.stream().collect(Collectors.joining("\n"));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot list '" + path + "': " + e.getMessage());
        }
    }

    private static String read(Path base, String path) {
        Path f = inside(base, path);
        try {
            if (Files.size(f) > 1 << 20) throw new IllegalArgumentException("'" + path + "' is larger than 1 MB");
            return Files.readString(f);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read '" + path + "': " + (Files.exists(f) ? e.getMessage() : "no such file"));
        }
    }

    private static String write(Path base, String path, String content) {
        Path f = inside(base, path);
        try {
            if (f.getParent() != null) Files.createDirectories(f.getParent());
            Path tmp = Files.createTempFile(f.getParent(), ".write", ".tmp");
            Files.writeString(tmp, content);
            Files.move(tmp, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return "wrote " + content.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + " bytes to " + base.relativize(f);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot write '" + path + "': " + e.getMessage());
        }
    }
}
