package dev.lamina.research;

import dev.lamina.infer.InferenceBenchmark;
import dev.lamina.io.Json;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import tools.jackson.databind.node.ObjectNode;

/**
 * What a model costs to serve: its float32 weights, its KV cache per token (2·L·KV·hd floats), and,
 * when measured, the inference benchmark's prefill and batch-1 decode speed (NaN when not).
 */
public record ModelCost(long parameters, long weightBytes, long kvBytesPerToken, double prefill, double decode) {

    /** The sizes of m, unmeasured. */
    public static ModelCost of(Decoder m) {
        ModelConfig c = m.config();
        return new ModelCost(m.parameterCount(), 4L * m.parameterCount(), 2L * 4 * c.numHiddenLayers() * c.kvDim(), Double.NaN, Double.NaN);
    }

    /** The sizes of m with its median prefill and decode of one stream (a 64-token prompt, 64 tokens decoded, 3 repeats, 2 s warm-up). */
    public static ModelCost timed(Decoder m) {
        int ctx = Math.min(m.config().contextLimit(), m.config().maxPositionEmbeddings());
        int n = Math.max(8, Math.min(64, ctx / 2 - 16));
        var r = InferenceBenchmark.run("", m, new InferenceBenchmark.Settings(n, n, 3, new int[] {1}, 2), s -> { });
        ModelCost c = of(m);
        return new ModelCost(c.parameters, c.weightBytes, c.kvBytesPerToken, r.prefillTokensPerSecond(), r.decodeTokensPerSecond());
    }

    public boolean measured() { return !Double.isNaN(decode); }

    public ObjectNode json() {
        ObjectNode o = Json.MAPPER.createObjectNode().put("parameters", parameters).put("weight_bytes", weightBytes)
                .put("kv_cache_bytes_per_token", kvBytesPerToken);
        if (measured()) o.put("prefill_tokens_per_s", prefill).put("decode_tokens_per_s", decode);
        return o;
    }
}
