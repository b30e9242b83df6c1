package dev.lamina.server;

import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * A client of an OpenAI-compatible API: Lamina's own server or any other (llama.cpp's, vLLM's,
 * OpenAI's). JSON in, JSON out; every failure is one line naming the address and what went wrong.
 */
public final class OpenAiClient {
    private final URI base;                 // ends in /v1/
    private final String apiKey;
    private final Duration timeout;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    /** The endpoint answered with an HTTP error status (4xx: the request's fault; 5xx: the server's). */
    public static final class HttpError extends LaminaException {
        private final int status;
        private final String body;
        HttpError(String message, int status, String body) {
            super(message);
            this.status = status;
            this.body = body;
        }
        public int status() { return status; }
        /** The response body (OpenAI's error object, when the server speaks OpenAI). */
        public String body() { return body; }
    }

    /** base: http(s)://host:port, with or without a trailing /v1; apiKey may be null; what: how errors name the address (e.g. "--url"). */
    public OpenAiClient(String base, String apiKey, Duration timeout, String what) {
        String b = base.replaceAll("/+$", "");
        if (b.endsWith("/v1")) b = b.substring(0, b.length() - 3);
        try {
            this.base = URI.create(b + "/v1/");
        } catch (IllegalArgumentException e) {
            throw new LaminaException(what + " '" + base + "' is not a URL: " + e.getMessage());
        }
        if (this.base.getScheme() == null || !this.base.getScheme().matches("https?") || this.base.getHost() == null)
            throw new LaminaException(what + " '" + base + "' must be http://host:port or https://host");
        this.apiKey = apiKey;
        this.timeout = timeout;
    }

    /** The API's address, ending in /v1/. */
    public URI base() { return base; }

    /** GET {base}/path. */
    public JsonNode get(String path) { return send(HttpRequest.newBuilder(base.resolve(path)).GET(), "GET /v1/" + path); }

    /** POST {base}/path with a JSON body. */
    public JsonNode post(String path, JsonNode body) {
        return send(HttpRequest.newBuilder(base.resolve(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(LaminaServer.JSON.writeValueAsBytes(body))), "POST /v1/" + path);
    }

    /** The first model /v1/models lists. */
    public String firstModel() {
        JsonNode data = get("models").get("data");
        if (data == null || !data.isArray() || data.isEmpty() || data.get(0).get("id") == null)
            throw new LaminaException(base + "models lists no model; name one");
        return data.get(0).get("id").asString();
    }

    private JsonNode send(HttpRequest.Builder req, String what) {
        req.timeout(timeout);
        if (apiKey != null) req.header("Authorization", "Bearer " + apiKey);
        HttpResponse<String> resp;
        try {
            resp = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            String why = e instanceof java.net.ConnectException ? "cannot connect (is the server running?)"
                    : e instanceof java.net.http.HttpTimeoutException ? "no answer within " + timeout.toSeconds() + " s"
                    : e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
            throw new LaminaException(what + " to " + base + " failed: " + why);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LaminaException(what + " to " + base + " was interrupted");
        }
        if (resp.statusCode() / 100 != 2) {
            String body = resp.body().length() > 300 ? resp.body().substring(0, 300) + "..." : resp.body();
            throw new HttpError(what + " to " + base + " answered HTTP " + resp.statusCode() + ": " + body.strip(), resp.statusCode(), resp.body());
        }
        try {
            return LaminaServer.JSON.readTree(resp.body());
        } catch (RuntimeException e) {
            throw new LaminaException(what + " to " + base + " answered something that is not JSON");
        }
    }
}
