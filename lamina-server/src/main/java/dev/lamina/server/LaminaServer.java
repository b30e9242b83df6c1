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
import java.util.LinkedHashMap;
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
 * </pre>
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

    private LaminaServer(ServerOptions options, Supplier<Lamina.Model> model, Map<String, Path> loras) throws IOException {
        this.options = options;
        this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 128);
        this.executor = Executors.newVirtualThreadPerTaskExecutor();
        http.setExecutor(executor);
        http.createContext("/", this::handle);
        http.start();
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
                BatchEngine e = new BatchEngine(m.prepared(), m.tokenizer(), new BatchEngine.Options(
                        options.maxConcurrent(), options.maxQueue(), 256, options.kvBlocks(), true));
                System.gc();   // loading leaves the weights' float copies behind: collect them once, so the heap is what serving holds
                completions = new Completions(options, e, m.chatTemplate(), created, adapters);
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
        for (String name : loras.keySet())
            if (name.isBlank() || name.equals(options.modelName()))
                throw new LaminaException("adapter name '" + name + "' must be non-empty and differ from the model's name '"
                        + options.modelName() + "'");
        try {
            return new LaminaServer(options, model, new LinkedHashMap<>(loras));
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

    /** Waits until the model is loaded (true) or failed / timed out (false). */
    public boolean awaitReady(Duration timeout) {
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
            if (!path.startsWith("/v1/")) throw new ApiException(404, "invalid_request_error", "unknown_url", null,
                    "Unknown request URL: " + method + " " + path + ". Endpoints: /v1/models, /v1/completions, /v1/chat/completions, /health.");
            authorize(ex);
            Completions api = completions;
            if (api == null) {
                if (loadError != null) throw new ApiException(503, "server_error", "model_load_failed", null, "The model failed to load: " + loadError);
                throw new ApiException(503, "server_error", "model_loading", null, "The model is still loading; retry shortly.");
            }
            switch (path) {
                case "/v1/models" -> {
                    allow(method, "GET");
                    ObjectNode list = JSON.createObjectNode().put("object", "list");
                    list.putArray("data").addAll(api.modelObjects());
                    sendJson(ex, 200, list);
                }
                case "/v1/completions" -> {
                    allow(method, "POST");
                    api.completions(ex, readJson(ex));
                }
                case "/v1/chat/completions" -> {
                    allow(method, "POST");
                    api.chat(ex, readJson(ex));
                }
                default -> {
                    if (path.startsWith("/v1/models/")) {
                        allow(method, "GET");
                        String id = path.substring("/v1/models/".length());
                        ObjectNode m = api.modelObject(id);
                        if (m == null) throw api.modelNotFound(id);
                        sendJson(ex, 200, m);
                        return;
                    }
                    throw new ApiException(404, "invalid_request_error", "unknown_url", null, "Unknown request URL: " + method + " " + path + ".");
                }
            }
        } catch (ApiException e) {
            sendError(ex, e);
        } catch (IOException e) {
            // the client went away; nothing to answer
        } catch (RuntimeException e) {
            sendError(ex, new ApiException(500, "server_error", null, null, "Internal error: " + e));
        }
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
        if (e != null) {
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
