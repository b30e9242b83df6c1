package dev.lamina.compat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
import dev.lamina.server.LaminaServer;
import dev.lamina.server.ServerOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The official OpenAI Java client (com.openai:openai-java) against lamina serve: plain and streamed. */
class OpenAiJavaClientTest {
    static LaminaServer server;
    static OpenAIClient client;

    @BeforeAll
    static void start() {
        server = LaminaServer.start(ServerOptions.defaults(CompatModel.NAME).withPort(0).withApiKey("test-key"), CompatModel::load);
        assertThat(server.awaitReady(Duration.ofSeconds(60))).isTrue();
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey("test-key").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    @Test
    void listsTheModel() {
        List<Model> models = client.models().list().data();
        assertThat(models).extracting(Model::id).containsExactly(CompatModel.NAME);
        assertThat(client.models().retrieve(CompatModel.NAME).ownedBy()).isEqualTo("lamina");
    }

    @Test
    void completionPlainAndStreamedAgree() {
        CompletionCreateParams p = CompletionCreateParams.builder().model(CompatModel.NAME).prompt("The jury said")
                .maxTokens(16).temperature(0.0).build();
        Completion c = client.completions().create(p);
        String text = c.choices().getFirst().text();
        assertThat(c.usage()).isPresent();
        assertThat(c.usage().get().promptTokens()).isEqualTo(13);
        assertThat(c.usage().get().completionTokens()).isBetween(1L, 16L);
        assertThat(text).isEqualTo(CompatModel.greedy("The jury said", 16));

        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<Completion> s = client.completions().createStreaming(p)) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> streamed.append(ch.text())));
        }
        assertThat(streamed.toString()).isEqualTo(text);
    }

    @Test
    void completionWithLogprobsAndSeveralChoices() {
        Completion c = client.completions().create(CompletionCreateParams.builder().model(CompatModel.NAME).prompt("Once")
                .maxTokens(5).n(3).seed(9).temperature(1.0).logprobs(2).stop("\n\n").build());
        assertThat(c.choices()).hasSize(3);
        assertThat(c.choices()).extracting(ch -> (int) ch.index()).containsExactly(0, 1, 2);
        assertThat(c.choices().getFirst().logprobs()).isPresent();
        assertThat(c.choices().getFirst().logprobs().get().tokenLogprobs()).isPresent();
    }

    @Test
    void chatPlainAndStreamedAgree() {
        ChatCompletionCreateParams p = ChatCompletionCreateParams.builder().model(CompatModel.NAME)
                .addSystemMessage("You are terse.").addUserMessage("Say something.")
                .maxCompletionTokens(24).temperature(0.7).seed(3L).logprobs(true).topLogprobs(2).build();
        ChatCompletion c = client.chat().completions().create(p);
        String content = c.choices().getFirst().message().content().orElse("");
        assertThat(c.choices().getFirst().finishReason().asString()).isIn("stop", "length");
        assertThat(c.usage()).isPresent();
        assertThat(c.choices().getFirst().logprobs()).isPresent();

        StringBuilder streamed = new StringBuilder();
        int[] chunks = {0};
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(p)) {
            s.stream().forEach(chunk -> {
                chunks[0]++;
                chunk.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append));
            });
        }
        assertThat(streamed.toString()).isEqualTo(content);
        assertThat(chunks[0]).isGreaterThan(1);
    }

    @Test
    void errorsMapToTheClientsExceptions() {
        OpenAIClient wrongKey = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey("nope").maxRetries(0).build();
        try {
            assertThatThrownBy(() -> wrongKey.models().list()).isInstanceOf(UnauthorizedException.class);
        } finally {
            wrongKey.close();
        }
        assertThatThrownBy(() -> client.chat().completions().create(ChatCompletionCreateParams.builder().model("gpt-4o")
                .addUserMessage("hi").build()))
                .isInstanceOf(BadRequestException.class).hasMessageContaining("does not exist");
    }
}
