package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.agent.Agent;
import dev.lamina.agent.AgentTool;
import dev.lamina.agent.AuditLog;
import dev.lamina.agent.ChatEndpoint;
import dev.lamina.agent.McpTools;
import dev.lamina.agent.SandboxServer;
import dev.lamina.kernels.WeightFormat;
import dev.lamina.io.LaminaException;
import dev.lamina.server.LaminaServer;
import dev.lamina.server.ServerOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "agent", mixinStandardHelpOptions = true, subcommands = AgentCommand.Sandbox.class,
        description = {"Carry out a task with tools: the model proposes tool calls, they are checked (declared, arguments "
                + "match the tool's JSON Schema, side effects confirmed unless --yes) and run with a time limit, and their "
                + "results go back to the model until it answers. Tools come from Model Context Protocol servers (--mcp). "
                + "Every step is appended to a JSONL audit log.",
                "Example: lamina agent --model RUN --mcp \"lamina agent sandbox-server --root ./sandbox\" \"What is 12*(3+4)?\""})
final class AgentCommand implements Callable<Integer> {
    @Option(names = "--model", description = "A model to run here (run directory, Hugging Face directory or FILE.gguf), served on a local port for the agent.")
    Path model;
    @Option(names = "--url", description = "An OpenAI-compatible server instead of --model (e.g. http://localhost:8080 of `lamina serve`).")
    String url;
    @Option(names = "--model-name", description = "The model to ask at --url (default: the first the server lists).")
    String modelName;
    @Option(names = "--api-key", description = "Bearer key for --url (default: $OPENAI_API_KEY, if set).")
    String apiKey;
    @Option(names = "--mcp", paramLabel = "CMD|URL", description = "An MCP server: a command line started as a process (stdio), or an http(s) URL; repeatable.")
    List<String> mcp;
    @Option(names = "--tools", split = ",", paramLabel = "NAME", description = "Offer only these of the servers' tools (comma-separated; default: all).")
    List<String> only;
    @Option(names = "--max-steps", defaultValue = "8", description = "Model replies at most (default ${DEFAULT-VALUE}).")
    int maxSteps;
    @Option(names = "--yes", description = "Run tools with side effects (not marked read-only) without asking.")
    boolean yes;
    @Option(names = "--timeout", defaultValue = "30", description = "Seconds one tool call may take (default ${DEFAULT-VALUE}).")
    double timeout;
    @Option(names = "--audit", defaultValue = "agent-audit.jsonl", description = "JSONL audit log, appended (default ${DEFAULT-VALUE}).")
    Path audit;
    @Option(names = "--temperature", defaultValue = "0", description = "Sampling temperature (default ${DEFAULT-VALUE}: greedy).")
    double temperature;
    @Option(names = "--max-tokens", defaultValue = "512", description = "Tokens per model reply (default ${DEFAULT-VALUE}).")
    int maxTokens;
    @Option(names = "--first-tool-choice", defaultValue = "auto", description = "tool_choice of the first request: auto, or required "
            + "(the first reply is a call; with a Lamina model it is constrained to a valid one) (default ${DEFAULT-VALUE}).")
    String firstToolChoice;
    @Option(names = "--threads", description = "Worker threads of --model (default: every core).")
    Integer threads;
    @Parameters(index = "0", arity = "0..1", paramLabel = "TASK", description = "What to do; - reads it from standard input.")
    String task;

    @Override
    public Integer call() throws Exception {
        if (task == null) throw new LaminaException("give the TASK to carry out (or - to read it from standard input)");
        if ((model == null) == (url == null)) throw new LaminaException("give exactly one of --model (a model to run here) or --url (a server)");
        if (!(timeout > 0)) throw new LaminaException("--timeout must be positive, got " + timeout);
        String text = task.equals("-") ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8).strip() : task;
        if (text.isEmpty()) throw new LaminaException("TASK is empty");
        Agent.Options options = new Agent.Options(maxSteps, yes, Duration.ofMillis((long) (timeout * 1000)), temperature, maxTokens,
                firstToolChoice.toLowerCase(Locale.ROOT));
        LaminaServer local = null;
        try (McpTools tools = McpTools.connect(mcp == null ? List.of() : mcp, Duration.ofMillis((long) (timeout * 1000)));
             AuditLog log = AuditLog.open(audit)) {
            String base = url;
            if (model != null) {
                ServerOptions o = new ServerOptions("127.0.0.1", 0, null, model.toAbsolutePath().normalize().getFileName().toString(), 1, 4,
                        Math.max(maxTokens, 4096), 16 << 20, 0);
                var kernels = Main.kernels(threads);
                local = LaminaServer.start(o, () -> Lamina.load(model, kernels, WeightFormat.STORED));
                if (!local.awaitReady(Duration.ofHours(1))) throw new LaminaException("cannot load " + model + ": " + local.loadError());
                base = local.baseUrl();
            }
            String key = apiKey != null ? apiKey : model == null ? System.getenv("OPENAI_API_KEY") : null;
            ChatEndpoint chat = new ChatEndpoint(base, key, modelName, Duration.ofMinutes(10));
            List<AgentTool> all = tools.tools();
            if (only != null) {
                for (String n : only)
                    if (all.stream().noneMatch(t -> t.name().equals(n)))
                        throw new LaminaException("--tools: no server offers '" + n + "' (they offer " + all.stream().map(AgentTool::name).toList() + ")");
                all = all.stream().filter(t -> only.contains(t.name())).toList();
            }
            System.err.printf("agent: %s at %s, %d tools (%s), audit log %s%n", chat.model(), model != null ? model : url, all.size(),
                    String.join(", ", all.stream().map(t -> t.name() + (t.sideEffects() ? "*" : "")).toList()), audit);
            Agent agent = new Agent(chat, all, options, AgentCommand::confirm, log, line -> System.err.println("agent: " + line));
            Agent.Result r = agent.run(text);
            System.out.println(r.answer());
            if (r.stop() == Agent.Stop.MAX_STEPS)
                System.err.printf("agent: stopped after %d steps without a final answer (raise --max-steps)%n", r.steps());
            return 0;
        } finally {
            if (local != null) local.close();
        }
    }

    /** Asks on the terminal; without one, declines (--yes allows side effects without asking). */
    private static boolean confirm(AgentTool tool, String arguments) {
        if (System.console() == null) {
            System.err.println("agent: " + tool.name() + " has side effects and there is no terminal to ask; declined (use --yes to allow)");
            return false;
        }
        System.err.printf("agent: run %s %s (%s)? [y/N] ", tool.name(), arguments, tool.origin());
        try {
            String answer = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
            return answer != null && answer.strip().toLowerCase(Locale.ROOT).startsWith("y");
        } catch (IOException e) {
            return false;
        }
    }

    @Command(name = "sandbox-server", mixinStandardHelpOptions = true,
            description = "The example MCP server (stdio): list_files, read_file and write_file in one folder, and a calculator.")
    static final class Sandbox implements Callable<Integer> {
        @Option(names = "--root", required = true, description = "The sandbox folder (created if absent); no path leaves it.")
        Path root;

        @Override
        public Integer call() throws Exception {
            ProcessHandle.current().parent().ifPresent(p -> p.onExit().thenRun(() -> System.exit(0)));   // the client is gone
            SandboxServer.serve(root);
            return 0;
        }
    }
}
