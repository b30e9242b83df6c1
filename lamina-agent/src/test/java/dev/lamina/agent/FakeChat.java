package dev.lamina.agent;

import com.sun.net.httpserver.HttpServer;
import dev.lamina.io.Json;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/** A scripted OpenAI-compatible chat endpoint: answers each request with the next reply, and keeps the requests. */
final class FakeChat implements AutoCloseable {
    final List<JsonNode> requests = new ArrayList<>();
    private final Deque<String> replies = new ArrayDeque<>();
    private final HttpServer http;

    FakeChat() throws IOException {
        http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        http.createContext("/v1/models", ex -> send(ex, "{\"object\":\"list\",\"data\":[{\"id\":\"fake\",\"object\":\"model\"}]}"));
        http.createContext("/v1/chat/completions", ex -> {
            synchronized (this) {
                requests.add(Json.MAPPER.readTree(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8)));
            }
            String r = replies.poll();
            send(ex, r != null ? r : text("(no more replies)"));
        });
        http.start();
    }

    String url() { return "http://127.0.0.1:" + http.getAddress().getPort(); }

    /** Queues a reply with tool calls, each {name, argumentsJson}. */
    FakeChat calls(String... nameThenArgs) {
        StringBuilder calls = new StringBuilder();
        for (int i = 0; i < nameThenArgs.length; i += 2) {
            if (i > 0) calls.append(',');
            calls.append("{\"id\":\"call_").append(i / 2).append("\",\"type\":\"function\",\"function\":{\"name\":")
                    .append(Json.MAPPER.writeValueAsString(nameThenArgs[i])).append(",\"arguments\":")
                    .append(Json.MAPPER.writeValueAsString(nameThenArgs[i + 1])).append("}}");
        }
        replies.add("{\"choices\":[{\"index\":0,\"finish_reason\":\"tool_calls\",\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[" + calls + "]}}]}");
        return this;
    }

    FakeChat answer(String content) {
        replies.add(text(content));
        return this;
    }

    private static String text(String content) {
        return "{\"choices\":[{\"index\":0,\"finish_reason\":\"stop\",\"message\":{\"role\":\"assistant\",\"content\":" + Json.MAPPER.writeValueAsString(content) + "}}]}";
    }

    private static void send(com.sun.net.httpserver.HttpExchange ex, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(200, b.length);
        ex.getResponseBody().write(b);
        ex.close();
    }

    @Override
    public void close() { http.stop(0); }
}
