package dev.lamina.server;

import dev.lamina.Lamina;
import dev.lamina.hf.PeftAdapter;
import dev.lamina.infer.Sampler;
import dev.lamina.model.Decoder;
import dev.lamina.model.Lora;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Parameters;
import dev.lamina.model.Presets;
import dev.lamina.model.Role;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import dev.lamina.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static dev.lamina.server.LaminaServerTest.assertError;
import static dev.lamina.server.LaminaServerTest.get;
import static dev.lamina.server.LaminaServerTest.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** LoRA adapters served by name beside one base: the model field picks one, /v1/models lists them. */
class LoraServerTest {
    static final String NAME = "tiny-base";
    static final Decoder BASE = Decoder.create(Presets.get("tiny").config().apply(257), 3);
    static final Map<String, Lora.Adapter> ADAPTERS = new LinkedHashMap<>();
    static LaminaServer server;

    @TempDir
    static Path dir;

    static Lora.Adapter randomAdapter(Lora.Config c, long seed) {
        Lora.Adapter a = Lora.Adapter.create(BASE, c, seed);
        Rng rng = new Rng(seed + 1);
        for (Parameters.Slot s : a.params().slots().values()) {
            if (s.key().factor() != ParamKey.Factor.LORA_B) continue;
            Tensor t = a.params().value(s.name());
            for (int i = 0; i < t.size(); i++) t.set(i, (float) (rng.nextGaussian() * 0.2));
        }
        return a;
    }

    @BeforeAll
    static void start() {
        ADAPTERS.put("terse", randomAdapter(new Lora.Config(4, 8, 0, EnumSet.of(Role.Q, Role.V, Role.DOWN), false), 21));
        ADAPTERS.put("chatty", randomAdapter(new Lora.Config(8, 16, 0, Lora.Config.parseTargets("all-linear"), false), 22));
        Map<String, Path> dirs = new LinkedHashMap<>();
        ADAPTERS.forEach((name, a) -> {
            PeftAdapter.save(a, dir.resolve(name), NAME);
            dirs.put(name, dir.resolve(name));
        });
        server = LaminaServer.start(ServerOptions.defaults(NAME).withPort(0).withMaxConcurrent(4).withMaxTokens(64),
                () -> new Lamina.Model(BASE, ByteTokenizer.INSTANCE), dirs);
        assertThat(server.awaitReady(Duration.ofSeconds(30))).as("load error: %s", server.loadError()).isTrue();
    }

    @AfterAll
    static void stop() { server.close(); }

    @Test
    void modelsListsTheBaseAndEveryAdapter() throws Exception {
        JsonNode data = get(server, "/v1/models").json().get("data");
        List<String> ids = new ArrayList<>();
        for (JsonNode m : data) ids.add(m.get("id").stringValue());
        assertThat(ids).containsExactly(NAME, "chatty", "terse");
        assertThat(data.get(1).get("parent").stringValue()).isEqualTo(NAME);
        assertThat(data.get(0).get("parent").isNull()).isTrue();
        assertThat(get(server, "/v1/models/terse").json().get("id").stringValue()).isEqualTo("terse");
        assertError(get(server, "/v1/models/verbose"), 404, "invalid_request_error", "model_not_found");
    }

    @Test
    void theModelFieldPicksTheAdapterAndConcurrentRequestsShareOneBase() throws Exception {
        String prompt = "The jury said";
        List<String> models = List.of(NAME, "terse", "chatty", "terse", NAME, "chatty");
        List<CompletableFuture<LaminaServerTest.Reply>> replies = new ArrayList<>();
        for (String m : models)
            replies.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return post(server, "/v1/completions", """
                            {"model":"%s","prompt":"%s","max_tokens":16,"temperature":0,"logprobs":0}""".formatted(m, prompt));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }));
        Map<String, Double> firstLogprob = new LinkedHashMap<>();
        for (int i = 0; i < models.size(); i++) {
            String m = models.get(i);
            LaminaServerTest.Reply r = replies.get(i).get();
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            assertThat(r.json().get("model").stringValue()).isEqualTo(m);
            Lora.Adapter a = ADAPTERS.get(m);
            Lamina.Model merged = new Lamina.Model(a == null ? BASE : BASE.withAdapter(a), ByteTokenizer.INSTANCE);
            JsonNode choice = r.json().get("choices").get(0);
            assertThat(choice.get("text").stringValue()).as(m).isEqualTo(merged.generate(prompt, 16, Sampler.greedy(), null));
            firstLogprob.put(m, choice.get("logprobs").get("token_logprobs").get(0).doubleValue());
        }
        // each adapter changes what the model says: the same first token is not equally likely under all three
        assertThat(firstLogprob.values().stream().distinct().count()).isEqualTo(3);
    }

    @Test
    void echoScoresThePromptWithTheRequestsAdapter() throws Exception {
        String prompt = "The jury said it";
        // the adapter folded into a copy of the base's weights: another path than the server's unmerged one
        Decoder folded = new Decoder(BASE.config(), Decoder.layout(BASE.config()).build());
        folded.params().copyFrom(BASE.params());
        dev.lamina.infer.PreparedModel.fold(folded, ADAPTERS.get("chatty"));
        int[] ids = ByteTokenizer.INSTANCE.encode(prompt);
        var want = new dev.lamina.eval.TokenScorer(folded).score(ids, 1, 0);
        JsonNode adapted = post(server, "/v1/completions", """
                {"model":"chatty","prompt":"%s","max_tokens":0,"echo":true,"logprobs":0}""".formatted(prompt)).json()
                .get("choices").get(0).get("logprobs").get("token_logprobs");
        JsonNode plain = post(server, "/v1/completions", """
                {"model":"%s","prompt":"%s","max_tokens":0,"echo":true,"logprobs":0}""".formatted(NAME, prompt)).json()
                .get("choices").get(0).get("logprobs").get("token_logprobs");
        for (int i = 1; i < ids.length; i++) {
            assertThat(adapted.get(i).doubleValue()).isCloseTo(want[i - 1].chosen().logprob(), org.assertj.core.data.Offset.offset(1e-5));
            assertThat(Math.abs(adapted.get(i).doubleValue() - plain.get(i).doubleValue())).isGreaterThan(0);
        }
    }

    @Test
    void unknownModelsAre404AndBadAdaptersFailTheLoad() throws Exception {
        LaminaServerTest.Reply r = post(server, "/v1/chat/completions", "{\"model\":\"verbose\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertError(r, 404, "invalid_request_error", "model_not_found");
        assertThat(r.json().get("error").get("message").stringValue()).contains("'terse'").contains("'" + NAME + "'");
        assertThatThrownBy(() -> LaminaServer.start(ServerOptions.defaults(NAME).withPort(0), () -> null, Map.of(NAME, dir)))
                .hasMessageContaining("differ from the model's name");
        try (LaminaServer bad = LaminaServer.start(ServerOptions.defaults(NAME).withPort(0),
                () -> new Lamina.Model(BASE, ByteTokenizer.INSTANCE), Map.of("nothing", dir.resolve("missing")))) {
            assertThat(bad.awaitReady(Duration.ofSeconds(30))).isFalse();
            assertThat(bad.loadError()).startsWith("adapter 'nothing': ").contains("adapter_config.json");
        }
    }
}
