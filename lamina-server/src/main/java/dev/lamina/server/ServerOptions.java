package dev.lamina.server;

/**
 * @param host           interface to listen on
 * @param port           TCP port (0: any free port)
 * @param apiKey         when not null, every /v1 request needs {@code Authorization: Bearer KEY}
 * @param modelName      the model id clients name in requests and see in /v1/models
 * @param maxConcurrent  sequences generated at once (continuous batching)
 * @param maxQueue       requests waiting for a slot before 429
 * @param maxTokens      largest max_tokens a request may ask for, and the default when it asks for none
 * @param maxBodyBytes   largest request body before 413
 * @param kvBlocks       KV cache blocks of 16 tokens (0: enough for maxConcurrent full contexts)
 */
public record ServerOptions(String host, int port, String apiKey, String modelName, int maxConcurrent, int maxQueue,
                            int maxTokens, int maxBodyBytes, int kvBlocks) {
    public ServerOptions {
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        if (maxConcurrent < 1) throw new IllegalArgumentException("max concurrent must be >= 1, got " + maxConcurrent);
        if (maxQueue < 0) throw new IllegalArgumentException("max queue must be >= 0, got " + maxQueue);
        if (maxTokens < 1) throw new IllegalArgumentException("max tokens must be >= 1, got " + maxTokens);
        if (maxBodyBytes < 1) throw new IllegalArgumentException("max body bytes must be >= 1, got " + maxBodyBytes);
        if (kvBlocks < 0) throw new IllegalArgumentException("kv blocks must be >= 0, got " + kvBlocks);
        if (apiKey != null && apiKey.isEmpty()) apiKey = null;
    }

    public static ServerOptions defaults(String modelName) {
        return new ServerOptions("127.0.0.1", 8080, null, modelName, 8, 32, 512, 1 << 20, 0);
    }

    public ServerOptions withPort(int p) { return new ServerOptions(host, p, apiKey, modelName, maxConcurrent, maxQueue, maxTokens, maxBodyBytes, kvBlocks); }
    public ServerOptions withHost(String h) { return new ServerOptions(h, port, apiKey, modelName, maxConcurrent, maxQueue, maxTokens, maxBodyBytes, kvBlocks); }
    public ServerOptions withApiKey(String k) { return new ServerOptions(host, port, k, modelName, maxConcurrent, maxQueue, maxTokens, maxBodyBytes, kvBlocks); }
    public ServerOptions withMaxConcurrent(int n) { return new ServerOptions(host, port, apiKey, modelName, n, maxQueue, maxTokens, maxBodyBytes, kvBlocks); }
    public ServerOptions withMaxQueue(int n) { return new ServerOptions(host, port, apiKey, modelName, maxConcurrent, n, maxTokens, maxBodyBytes, kvBlocks); }
    public ServerOptions withMaxTokens(int n) { return new ServerOptions(host, port, apiKey, modelName, maxConcurrent, maxQueue, n, maxBodyBytes, kvBlocks); }
    public ServerOptions withMaxBodyBytes(int n) { return new ServerOptions(host, port, apiKey, modelName, maxConcurrent, maxQueue, maxTokens, n, kvBlocks); }
    public ServerOptions withKvBlocks(int n) { return new ServerOptions(host, port, apiKey, modelName, maxConcurrent, maxQueue, maxTokens, maxBodyBytes, n); }
}
