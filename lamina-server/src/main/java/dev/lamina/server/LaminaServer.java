package dev.lamina.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.lamina.Lamina;
import dev.lamina.hf.PeftAdapter;
import dev.lamina.infer.BatchEngine;
import dev.lamina.infer.PreparedAdapter;
import dev.lamina.io.LaminaException;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * An OpenAI-compatible HTTP server for one model, on the JDK's {@link HttpServer} with a virtual
 * thread per exchange, in front of a {@link BatchEngine}.
 *
 * <pre>
 * GET  /                       a chat page (streaming, model picker, sampling settings, tokens per second), from the jar
 * GET  /health                 200 {"status":"ok"} once the model is loaded, 503 while loading
 * GET  /v1/models              the model and each LoRA adapter served beside it
 * POST /v1/completions         prompt (string, strings, token ids), stream, n, stop, seed, logprobs, ...
 * POST /v1/chat/completions    messages (and tools) through the model's own chat template, else {@link dev.lamina.infer.ChatTemplate}; logprobs, top_logprobs
 * GET  /metrics                requests, tokens, and each virtual model's counters (cost per tier), in Prometheus' text format
 * </pre>
 *
 * Beside its own model (or instead of one) it answers {@link VirtualModel}s by name: a cascade, a router.
 *
 * Errors come in OpenAI's JSON shape: 400 invalid request, 401 missing or wrong API key, 404
 * unknown path, 405 wrong method, 413 body too large, 429 queue full, 503 model loading.
 * The server starts listening at once and loads the model in the background.
 */
public final class LaminaServer implements AutoCloseable {
    /** Compact JSON (one line per SSE event). */
    static final JsonMapper JSON = JsonMapper.builder().build();

    private final ServerOptions options;
    private final HttpServer http;
    private final ExecutorService executor;
    private final Thread loader;
    private final long created = System.currentTimeMillis() / 1000;
    private volatile BatchEngine engine;
    private volatile Completions completions;
    private volatile String loadError;
    private final Map<String, VirtualModel> virtuals = new LinkedHashMap<>();
    private final Metrics metrics = new Metrics()
            .describe("lamina_requests_total", "Requests answered, by endpoint, model and HTTP status.")
            .describe("lamina_prompt_tokens_total", "Prompt tokens read, by model.")
            .describe("lamina_completion_tokens_total", "Tokens generated, by model.");

    private LaminaServer(ServerOptions options, Supplier<Lamina.Model> model, Map<String, Path> loras, List<VirtualModel> virtualModels)
            throws IOException {
        this.options = options;
        for (VirtualModel v : virtualModels) virtuals.put(v.name(), v);
        this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 128);
        this.executor = Executors.newVirtualThreadPerTaskExecutor();
        http.setExecutor(executor);
        http.createContext("/", this::handle);
        http.start();
        if (model == null) {                       // virtual models only
            loader = null;
            return;
        }
        loader = new Thread(() -> {
            try {
                Lamina.Model m = model.get();
                Map<String, PreparedAdapter> adapters = new LinkedHashMap<>();
                for (Map.Entry<String, Path> a : loras.entrySet()) {     // each beside the one unmerged base
                    try {
                        adapters.put(a.getKey(), PreparedAdapter.of(m.prepared(), PeftAdapter.load(a.getValue(), m.decoder())));
                    } catch (LaminaException x) {
                        throw new LaminaException("adapter '" + a.getKey() + "': " + x.getMessage());
                    }
                }
                BatchEngine e = new BatchEngine(m.prepared(), m.tokenizer(),     // as serve's memory plan takes it
                        BatchEngine.Options.defaults(options.maxConcurrent()).withMaxQueue(options.maxQueue()).withKvBlocks(options.kvBlocks()));
                System.gc();   // loading leaves the weights' float copies behind: collect them once, so the heap is what serving holds
                completions = new Completions(options, e, m.chatTemplate(), created, adapters, metrics);
                engine = e;
            } catch (RuntimeException | Error e) {
                loadError = e.getMessage() == null ? e.toString() : e.getMessage();
            }
        }, "lamina-model-loader");
        loader.setDaemon(true);
        loader.start();
    }

    /** Starts listening now and loads the model (from model.get()) in the background. */
    public static LaminaServer start(ServerOptions options, Supplier<Lamina.Model> model) { return start(options, model, Map.of()); }

    /**
     * As {@link #start(ServerOptions, Supplier)}, also serving LoRA adapters (PEFT directories) by
     * name: a request's model field picks one (the base's own name picks none), and every adapter
     * shares the one base model and its batches.
     */
    public static LaminaServer start(ServerOptions options, Supplier<Lamina.Model> model, Map<String, Path> loras) {
        return start(options, model, loras, List.of());
    }

    /**
     * As {@link #start(ServerOptions, Supplier, Map)}, also answering virtual models (a cascade, a
     * router) by their names; model may be null: the virtual models alone.
     */
    public static LaminaServer start(ServerOptions options, Supplier<Lamina.Model> model, Map<String, Path> loras, List<VirtualModel> virtualModels) {
        for (String name : loras.keySet())
            if (name.isBlank() || name.equals(options.modelName()))
                throw new LaminaException("adapter name '" + name + "' must be non-empty and differ from the model's name '"
                        + options.modelName() + "'");
        java.util.Set<String> names = new java.util.HashSet<>(loras.keySet());
        if (model != null) names.add(options.modelName());
        for (VirtualModel v : virtualModels)
            if (!names.add(v.name())) throw new LaminaException("the model name '" + v.name() + "' is served twice");
        if (model == null && virtualModels.isEmpty()) throw new LaminaException("nothing to serve: no model and no cascade or router");
        try {
            return new LaminaServer(options, model, new LinkedHashMap<>(loras), virtualModels);
        } catch (IOException e) {
            throw new LaminaException("cannot listen on " + options.host() + ":" + options.port() + " (" + e.getMessage() + ")");
        }
    }

    public int port() { return http.getAddress().getPort(); }
    public String baseUrl() { return "http://" + options.host() + ":" + port(); }
    public ServerOptions options() { return options; }
    /** The engine, or null while loading. */
    public BatchEngine engine() { return engine; }
    /** The load failure message, or null. */
    public String loadError() { return loadError; }

    /** The names of the virtual models served (cascades, routers). */
    public List<String> virtualModelNames() { return List.copyOf(virtuals.keySet()); }

    /** The server's counters (what /metrics shows). */
    public Metrics metrics() { return metrics; }

    /** Waits until the model is loaded (true) or failed / timed out (false); true at once without a model of its own. */
    public boolean awaitReady(Duration timeout) {
        if (loader == null) return true;
        try {
            loader.join(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return engine != null;
    }

    @Override
    public void close() {
        http.stop(0);
        BatchEngine e = engine;
        if (e != null) e.close();
        executor.shutdownNow();
        try { executor.awaitTermination(5, TimeUnit.SECONDS); } catch (InterruptedException ie) { Thread.currentThread().interrupt(); }
    }

    // ---- routing ----------------------------------------------------------------------------

    private void handle(HttpExchange ex) {
        try (ex) {
            route(ex);
        }
    }

    private void route(HttpExchange ex) {
        try {
            String path = ex.getRequestURI().getPath(), method = ex.getRequestMethod();
            if (path.length() > 1 && path.endsWith("/")) path = path.substring(0, path.length() - 1);
            if (path.equals("/health")) { health(ex, method); return; }
            if (path.equals("/") || path.equals("/index.html")) { page(ex, method); return; }
            if (path.equals("/metrics")) { authorize(ex); metricsPage(ex, method); return; }
            if (!path.startsWith("/v1/")) throw new ApiException(404, "invalid_request_error", "unknown_url", null,
                    "Unknown request URL: " + method + " " + path + ". Endpoints: /v1/models, /v1/completions, /v1/chat/completions, /health, /metrics.");
            authorize(ex);
            if ((path.equals("/v1/completions") || path.equals("/v1/chat/completions")) && method.equals("POST")) {
                JsonNode body = readJson(ex);
                VirtualModel v = virtuals.get(Params.string(body, "model", ""));
                String endpoint = path.substring(4);
                if (v != null) virtual(ex, v, endpoint, body);
                else if (endpoint.equals("completions")) ready().completions(ex, body);
                else ready().chat(ex, body);
                return;
            }
            if (path.equals("/v1/models") || path.startsWith("/v1/models/")) { models(ex, method, path); return; }
            if (loader != null) ready();                    // while loading, every /v1 path answers 503 as before
            if (path.equals("/v1/completions") || path.equals("/v1/chat/completions")) allow(method, "POST");
            throw new ApiException(404, "invalid_request_error", "unknown_url", null, "Unknown request URL: " + method + " " + path + ".");
        } catch (ApiException e) {
            sendError(ex, e);
        } catch (IOException e) {
            // the client went away; nothing to answer
        } catch (RuntimeException e) {
            sendError(ex, new ApiException(500, "server_error", null, null, "Internal error: " + e));
        }
    }

    /** The completions of the model, once loaded; else a 503 saying why not. */
    private Completions ready() {
        Completions api = completions;
        if (api != null) return api;
        if (loader == null) throw new ApiException(404, "invalid_request_error", "model_not_found", "model",
                "This server answers only " + String.join(", ", virtuals.keySet()) + "; name one as the model.");
        if (loadError != null) throw new ApiException(503, "server_error", "model_load_failed", null, "The model failed to load: " + loadError);
        throw new ApiException(503, "server_error", "model_loading", null, "The model is still loading; retry shortly.");
    }

    /** GET /v1/models and /v1/models/ID: the model, its adapters, the virtual models. */
    private void models(HttpExchange ex, String method, String path) throws IOException {
        allow(method, "GET");
        List<ObjectNode> all = new ArrayList<>();
        if (loader != null) all.addAll(ready().modelObjects());
        for (VirtualModel v : virtuals.values())
            all.add(JSON.createObjectNode().put("id", v.name()).put("object", "model").put("created", created).put("owned_by", "lamina"));
        if (path.equals("/v1/models")) {
            ObjectNode list = JSON.createObjectNode().put("object", "list");
            list.putArray("data").addAll(all);
            sendJson(ex, 200, list);
            return;
        }
        String id = path.substring("/v1/models/".length());
        for (ObjectNode m : all)
            if (m.get("id").asString().equals(id)) { sendJson(ex, 200, m); return; }
        List<String> names = all.stream().map(m -> "'" + m.get("id").asString() + "'").toList();
        throw new ApiException(404, "invalid_request_error", "model_not_found", "model",
                "The model '" + id + "' does not exist; this server serves " + String.join(", ", names) + ".");
    }

    /**
     * A request to a virtual model: answered whole, then sent as one response or (stream) as OpenAI's
     * chunks of it: the role, the content or tool calls, the finish, the usage when asked for.
     */
    private void virtual(HttpExchange ex, VirtualModel v, String endpoint, JsonNode body) throws IOException {
        boolean stream = Params.bool(body, "stream", false);
        boolean includeUsage = stream && body.path("stream_options").path("include_usage").asBoolean(false);
        if (Params.integer(body, "n", 1) != 1) throw ApiException.invalid("n", "'" + v.name() + "' answers one choice at a time; n must be 1");
        ObjectNode b = ((ObjectNode) body).deepCopy();
        b.remove("stream");
        b.remove("stream_options");
        ObjectNode resp;
        try {
            resp = v.answer(endpoint, b);
        } catch (ApiException e) {
            metrics.add("lamina_requests_total", 1, "endpoint", endpoint, "model", v.name(), "status", String.valueOf(e.status()));
            throw e;
        }
        metrics.add("lamina_requests_total", 1, "endpoint", endpoint, "model", v.name(), "status", "200");
        JsonNode usage = resp.path("usage");
        metrics.add("lamina_prompt_tokens_total", usage.path("prompt_tokens").asLong(0), "model", v.name());
        metrics.add("lamina_completion_tokens_total", usage.path("completion_tokens").asLong(0), "model", v.name());
        if (!stream) { sendJson(ex, 200, resp); return; }
        boolean chat = endpoint.equals("chat/completions");
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.sendResponseHeaders(200, 0);
        try (OutputStream out = ex.getResponseBody()) {
            JsonNode choice = resp.path("choices").path(0);
            for (int part = 0; part < (chat ? 3 : 2); part++) {
                ObjectNode chunk = JSON.createObjectNode().put("id", resp.path("id").asString("")).put("object", chat ? "chat.completion.chunk" : "text_completion")
                        .put("created", resp.path("created").asLong(0)).put("model", v.name());
                ObjectNode ch = chunk.putArray("choices").addObject().put("index", 0);
                boolean last = part == (chat ? 2 : 1);
                if (chat) {
                    ObjectNode delta = ch.putObject("delta");
                    JsonNode msg = choice.path("message");
                    if (part == 0) delta.put("role", "assistant").put("content", "");
                    else if (part == 1 && msg.path("tool_calls").isArray() && !msg.path("tool_calls").isEmpty()) {
                        ArrayNode calls = delta.putArray("tool_calls");
                        int i = 0;
                        for (JsonNode c : msg.get("tool_calls")) calls.add(((ObjectNode) c.deepCopy()).put("index", i++));
                    } else if (part == 1) delta.put("content", msg.path("content").asString(""));
                } else ch.put("text", part == 0 ? choice.path("text").asString("") : "");
                ch.putNull("logprobs");
                if (last) ch.set("finish_reason", choice.path("finish_reason").deepCopy());
                else ch.putNull("finish_reason");
                Completions.send(out, chunk);
            }
            if (includeUsage) {
                ObjectNode chunk = JSON.createObjectNode().put("id", resp.path("id").asString("")).put("object", chat ? "chat.completion.chunk" : "text_completion")
                        .put("created", resp.path("created").asLong(0)).put("model", v.name());
                chunk.putArray("choices");
                chunk.set("usage", usage.deepCopy());
                Completions.send(out, chunk);
            }
            out.write("data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII));
        }
    }

    /** GET /metrics: the counters of the server and of each virtual model. */
    private void metricsPage(HttpExchange ex, String method) throws IOException {
        allow(method, "GET");
        StringBuilder text = new StringBuilder();
        metrics.write(text);
        for (VirtualModel v : virtuals.values()) v.metrics(text);
        byte[] bytes = text.toString().getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        ex.sendResponseHeaders(200, bytes.length);
        try (OutputStream out = ex.getResponseBody()) { out.write(bytes); }
    }

    /** The chat page, shipped in the jar (no CDN: it works offline); it calls the API itself, with the key its user gives. */
    private static void page(HttpExchange ex, String method) throws IOException {
        allow(method, "GET");
        byte[] html;
        try (InputStream in = LaminaServer.class.getResourceAsStream("chat.html")) {
            if (in == null) throw new ApiException(500, "server_error", null, null, "the chat page is missing from the jar");
            html = in.readAllBytes();
        }
        ex.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.sendResponseHeaders(200, html.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(html);
        }
    }

    private void health(HttpExchange ex, String method) throws IOException {
        allow(method, "GET");
        BatchEngine e = engine;
        ObjectNode o = JSON.createObjectNode();
        if (loader == null) {
            o.put("status", "ok").put("model", String.join(",", virtuals.keySet()));
            sendJson(ex, 200, o);
        } else if (e != null) {
            o.put("status", "ok").put("model", options.modelName()).put("active", e.activeSequences()).put("queued", e.queued());
            sendJson(ex, 200, o);
        } else {
            o.put("status", loadError == null ? "loading" : "error");
            if (loadError != null) o.put("message", loadError);
            sendJson(ex, 503, o);
        }
    }

    private static void allow(String method, String allowed) {
        if (!method.equals(allowed))
            throw new ApiException(405, "invalid_request_error", "method_not_allowed", null, "Method " + method + " is not allowed here; use " + allowed + ".");
    }

    private void authorize(HttpExchange ex) {
        String key = options.apiKey();
        if (key == null) return;
        String h = ex.getRequestHeaders().getFirst("Authorization");
        String given = h != null && h.regionMatches(true, 0, "Bearer ", 0, 7) ? h.substring(7).trim() : null;
        if (given == null) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
            throw new ApiException(401, "invalid_request_error", "missing_api_key", null,
                    "You didn't provide an API key. Send it in an Authorization header: 'Authorization: Bearer YOUR_KEY'.");
        }
        if (!MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), key.getBytes(StandardCharsets.UTF_8))) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
            throw new ApiException(401, "invalid_request_error", "invalid_api_key", null, "Incorrect API key provided.");
        }
    }

    private JsonNode readJson(HttpExchange ex) throws IOException {
        int max = options.maxBodyBytes();
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            long n;
            try { n = Long.parseLong(length.trim()); } catch (NumberFormatException e) { n = -1; }
            if (n > max) throw tooLarge(max);
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        try (InputStream in = ex.getRequestBody()) {
            byte[] buf = new byte[8192];
            for (int r; (r = in.read(buf)) > 0; ) {
                if (body.size() + r > max) throw tooLarge(max);
                body.write(buf, 0, r);
            }
        }
        JsonNode node;
        try {
            node = JSON.readTree(body.toByteArray());
        } catch (JacksonException e) {
            throw ApiException.invalid(null, "We could not parse the JSON body of your request (" + e.getOriginalMessage() + ").");
        }
        if (node == null || !node.isObject()) throw ApiException.invalid(null, "The request body must be a JSON object.");
        return node;
    }

    private static ApiException tooLarge(int max) {
        return new ApiException(413, "invalid_request_error", "request_too_large", null,
                "The request body exceeds the server's limit of " + max + " bytes.");
    }

    static void sendJson(HttpExchange ex, int status, JsonNode body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) { out.write(bytes); }
    }

    static ObjectNode errorBody(ApiException e) {
        ObjectNode o = JSON.createObjectNode();
        ObjectNode err = o.putObject("error");
        err.put("message", e.getMessage());
        err.put("type", e.type());
        if (e.param() == null) err.putNull("param"); else err.put("param", e.param());
        if (e.code() == null) err.putNull("code"); else err.put("code", e.code());
        return o;
    }

    private static void sendError(HttpExchange ex, ApiException e) {
        try {
            if (ex.getResponseCode() != -1) return;             // headers already sent (a stream): nothing more to say
            sendJson(ex, e.status(), errorBody(e));
        } catch (IOException ignored) {
            // client gone
        }
    }
}
