package dev.lamina.agent;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import io.modelcontextprotocol.json.schema.JsonSchemaValidator;
import io.modelcontextprotocol.json.schema.jackson3.DefaultJsonSchemaValidator;
import tools.jackson.databind.node.ObjectNode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * The agent loop: the model is given the task and the tools; each tool call it proposes is checked
 * and run, and its result goes back into the conversation, until the model answers without calling
 * a tool or the step limit is reached.
 *
 * <p>Nothing runs that was not declared: a call is run only when (1) its tool is one of the declared
 * ones, (2) its arguments parse and conform to the tool's JSON Schema, and (3) for a tool with side
 * effects, the user confirmed it (or {@link Options#yes}). Each call has a time limit. A call that
 * fails a check, throws, or runs out of time is not an error of the run: the model gets the reason as
 * the tool's result and may try again. Every step goes to the {@link AuditLog}.
 */
public final class Agent {
    /**
     * @param maxSteps        model replies at most (each may hold several calls)
     * @param yes             run side-effecting tools without asking
     * @param toolTimeout     time limit of one call
     * @param firstToolChoice tool_choice of the first request ("auto", or "required" to make the model start with a call)
     */
    public record Options(int maxSteps, boolean yes, Duration toolTimeout, double temperature, int maxTokens, String firstToolChoice) {
        public Options {
            if (maxSteps < 1) throw new LaminaException("--max-steps must be at least 1, got " + maxSteps);
            if (toolTimeout.isNegative() || toolTimeout.isZero()) throw new LaminaException("--timeout must be positive");
            if (!List.of("auto", "required").contains(firstToolChoice))
                throw new LaminaException("--first-tool-choice must be auto or required, got '" + firstToolChoice + "'");
        }
    }

    /** Asks the user whether a side-effecting call may run. */
    @FunctionalInterface
    public interface Confirm {
        boolean allow(AgentTool tool, String arguments);
    }

    /** How a run ended: the model answered, or the step limit came first. */
    public enum Stop { ANSWERED, MAX_STEPS }

    /** The final answer (the last reply's text when the steps ran out), the model replies used, and why it stopped. */
    public record Result(String answer, int steps, Stop stop) {}

    private final ChatEndpoint chat;
    private final Map<String, AgentTool> tools = new LinkedHashMap<>();
    private final Options options;
    private final Confirm confirm;
    private final AuditLog audit;
    private final Consumer<String> progress;
    private final JsonSchemaValidator validator = new DefaultJsonSchemaValidator(Json.MAPPER);

    public Agent(ChatEndpoint chat, List<AgentTool> tools, Options options, Confirm confirm, AuditLog audit, Consumer<String> progress) {
        this.chat = chat;
        for (AgentTool t : tools) {
            AgentTool before = this.tools.putIfAbsent(t.name(), t);
            if (before != null)
                throw new LaminaException("two tools are named '" + t.name() + "' (" + before.origin() + " and " + t.origin() + "); rename one");
            var check = validator.validateSchema(t.parameters());
            if (!check.valid()) throw new LaminaException("tool '" + t.name() + "' (" + t.origin() + "): its parameters are not a valid JSON Schema: " + check.errorMessage());
        }
        this.options = options;
        this.confirm = confirm;
        this.audit = audit;
        this.progress = progress;
    }

    /** Runs task to an answer or the step limit. */
    public Result run(String task) {
        List<ObjectNode> messages = new ArrayList<>();
        messages.add(Json.MAPPER.createObjectNode().put("role", "user").put("content", task));
        audit.write("task", "task", task, "model", chat.model(), "tools", tools.values().stream()
                .map(t -> Map.of("name", t.name(), "origin", t.origin(), "side_effects", t.sideEffects())).toList());
        String last = "";
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();   // not awaited at the end: a call cut at its limit may still run
        try {
            for (int step = 1; step <= options.maxSteps(); step++) {
                String choice = step == 1 ? options.firstToolChoice() : "auto";
                ChatEndpoint.Reply reply = chat.chat(messages, List.copyOf(tools.values()), choice, options.temperature(), options.maxTokens());
                audit.write("reply", "step", step, "content", reply.content(), "tool_calls",
                        reply.calls().stream().map(c -> Map.of("id", c.id(), "name", c.name(), "arguments", c.arguments())).toList(),
                        "finish_reason", reply.finishReason());
                messages.add(reply.message());
                last = reply.content();
                if (reply.calls().isEmpty()) {
                    audit.write("answer", "step", step, "answer", last);
                    return new Result(last, step, Stop.ANSWERED);
                }
                for (ChatEndpoint.Call call : reply.calls()) {
                    String result = execute(step, call, pool);
                    messages.add(Json.MAPPER.createObjectNode().put("role", "tool").put("tool_call_id", call.id()).put("content", result));
                }
            }
        } finally {
            pool.shutdownNow();
        }
        audit.write("stopped", "reason", "max_steps", "steps", options.maxSteps());
        return new Result(last, options.maxSteps(), Stop.MAX_STEPS);
    }

    /** Checks and runs one call; returns what the model is told (the result, or why it did not run). */
    @SuppressWarnings("unchecked")
    private String execute(int step, ChatEndpoint.Call call, ExecutorService pool) {
        AgentTool tool = tools.get(call.name());
        if (tool == null)
            return refused(step, call, "undeclared", "error: there is no tool named '" + call.name() + "'; the tools are " + tools.keySet());
        Map<String, Object> args;
        try {
            Object parsed = Json.MAPPER.readValue(call.arguments().isBlank() ? "{}" : call.arguments(), Object.class);
            if (!(parsed instanceof Map)) return refused(step, call, "arguments", "error: the arguments must be a JSON object");
            args = (Map<String, Object>) parsed;
        } catch (RuntimeException e) {
            return refused(step, call, "arguments", "error: the arguments are not JSON");
        }
        var check = validator.validate(tool.parameters(), args);
        if (!check.valid()) return refused(step, call, "schema", "error: the arguments do not match the tool's schema: " + check.errorMessage());
        if (tool.sideEffects() && !options.yes() && !confirm.allow(tool, call.arguments()))
            return refused(step, call, "declined", "error: the user declined this call");
        progress.accept("step " + step + ": " + tool.name() + " " + call.arguments());
        long t0 = System.nanoTime();
        Future<String> f = pool.submit(() -> tool.call().call(args));
        String result, outcome;
        try {
            result = f.get(options.toolTimeout().toMillis(), TimeUnit.MILLISECONDS);
            outcome = "ok";
        } catch (TimeoutException e) {
            f.cancel(true);
            result = "error: the tool did not finish within " + options.toolTimeout().toSeconds() + " s";
            outcome = "timeout";
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            result = "error: " + (c.getMessage() != null ? c.getMessage() : c.getClass().getSimpleName());
            outcome = "failed";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LaminaException("interrupted while " + tool.name() + " ran");
        }
        audit.write("tool", "step", step, "id", call.id(), "name", tool.name(), "origin", tool.origin(), "arguments", args,
                "confirmed", tool.sideEffects() ? (options.yes() ? "--yes" : "user") : "not needed", "outcome", outcome,
                "result", result, "ms", (System.nanoTime() - t0) / 1_000_000);
        return result;
    }

    private String refused(int step, ChatEndpoint.Call call, String check, String told) {
        audit.write("refused", "step", step, "id", call.id(), "name", call.name(), "arguments", call.arguments(), "check", check, "told", told);
        progress.accept("step " + step + ": " + call.name() + " not run (" + check + ")");
        return told;
    }
}
