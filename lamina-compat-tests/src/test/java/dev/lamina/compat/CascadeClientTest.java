package dev.lamina.compat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.models.Model;
import dev.lamina.cascade.Cascade;
import dev.lamina.cascade.Fleet;
import dev.lamina.cascade.Target;
import dev.lamina.server.LaminaServer;
import dev.lamina.server.ServerOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The official OpenAI Java client against a cascade served as one model beside the base: plain and streamed, usage with cost. */
class CascadeClientTest {
    static Fleet fleet;
    static LaminaServer server;
    static OpenAIClient client;

    @BeforeAll
    static void start() {
        fleet = new Fleet(p -> CompatModel.load());
        Target only = new Target("only", Path.of("."), null, null, null, new Target.Cost(1, 2), Duration.ofSeconds(60));
        Cascade cascade = new Cascade("frugal", List.of(new Cascade.Tier(fleet.connect(only), 0)), null, 16);
        server = LaminaServer.start(ServerOptions.defaults(CompatModel.NAME).withPort(0), CompatModel::load, Map.of(), List.of(cascade));
        assertThat(server.awaitReady(Duration.ofSeconds(60))).isTrue();
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey("none").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
        fleet.close();
    }

    @Test
    void theCascadeIsOneModelAClientTalksTo() {
        assertThat(client.models().list().data()).extracting(Model::id).containsExactly(CompatModel.NAME, "frugal");
        ChatCompletionCreateParams.Builder b = ChatCompletionCreateParams.builder().addUserMessage("Say something.")
                .maxCompletionTokens(12).temperature(0.0);
        ChatCompletion base = client.chat().completions().create(b.model(CompatModel.NAME).build());
        ChatCompletion viaCascade = client.chat().completions().create(b.model("frugal").build());
        assertThat(viaCascade.model()).isEqualTo("frugal");
        assertThat(viaCascade.choices().getFirst().message().content()).isEqualTo(base.choices().getFirst().message().content());
        var usage = viaCascade.usage().orElseThrow();
        assertThat(usage.promptTokens()).isEqualTo(base.usage().orElseThrow().promptTokens());
        double cost = usage._additionalProperties().get("cost").convert(Double.class);
        assertThat(cost).isEqualTo((usage.promptTokens() * 1 + usage.completionTokens() * 2) / 1000.0);

        StringBuilder streamed = new StringBuilder();
        long[] streamedUsage = {-1};
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(b.model("frugal")
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            s.stream().forEach(chunk -> {
                chunk.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append));
                chunk.usage().ifPresent(u -> streamedUsage[0] = u.completionTokens());
            });
        }
        assertThat(streamed.toString()).isEqualTo(base.choices().getFirst().message().content().orElse(""));
        assertThat(streamedUsage[0]).isEqualTo(usage.completionTokens());
    }
}
