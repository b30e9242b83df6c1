package dev.lamina.compat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
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

    /** A type the client turns into a JSON schema (response_format) and parses the reply into. */
    public static class Person {
        public String name;
        public long age;
        public List<String> tags;
    }

    /** A function the client declares from a type (its fields are the parameters). */
    public static class GetWeather {
        public String city;
        public long days;
    }

    @Test
    void structuredOutputsParseIntoTheRequestedTypeEvenFromAnUntrainedModel() {
        for (long seed = 1; seed <= 3; seed++) {
            var p = ChatCompletionCreateParams.builder().model(CompatModel.NAME).addUserMessage("Who is it?")
                    .maxCompletionTokens(120).temperature(1.0).seed(seed).responseFormat(Person.class).build();
            var c = client.chat().completions().create(p);
            Person person = c.choices().getFirst().message().content().orElseThrow();
            assertThat(person.name).isNotNull();
            assertThat(person.tags).isNotNull();
        }
    }

    @Test
    void aNamedToolAlwaysComesBackAsACallWithTypedArguments() {
        var p = ChatCompletionCreateParams.builder().model(CompatModel.NAME).addUserMessage("Weather in Oslo?").addTool(GetWeather.class)
                .toolChoice(com.openai.models.chat.completions.ChatCompletionNamedToolChoice.builder()
                        .function(com.openai.models.chat.completions.ChatCompletionNamedToolChoice.Function.builder().name("GetWeather").build()).build())
                .maxCompletionTokens(100).temperature(1.0).seed(4L).build();
        ChatCompletion c = client.chat().completions().create(p);
        assertThat(c.choices().getFirst().finishReason().asString()).isEqualTo("tool_calls");
        var call = c.choices().getFirst().message().toolCalls().orElseThrow().getFirst().asFunction();
        assertThat(call.id()).startsWith("call_");
        assertThat(call.function().name()).isEqualTo("GetWeather");
        GetWeather args = call.function().arguments(GetWeather.class);
        assertThat(args.city).isNotNull();

        // the call and its result go back in the conversation
        var next = ChatCompletionCreateParams.builder().model(CompatModel.NAME).addUserMessage("Weather in Oslo?").addTool(GetWeather.class)
                .addMessage(c.choices().getFirst().message())
                .addMessage(com.openai.models.chat.completions.ChatCompletionToolMessageParam.builder().toolCallId(call.id()).content("rain").build())
                .maxCompletionTokens(8).build();
        assertThat(client.chat().completions().create(next).choices()).hasSize(1);

        // streamed: the call arrives as tool_calls deltas
        StringBuilder name = new StringBuilder(), arguments = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(p)) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.delta().toolCalls().ifPresent(tcs -> tcs.forEach(tc -> {
                tc.function().flatMap(f -> f.name()).ifPresent(name::append);
                tc.function().flatMap(f -> f.arguments()).ifPresent(arguments::append);
            }))));
        }
        assertThat(name.toString()).isEqualTo("GetWeather");
        assertThat(arguments.toString()).isEqualTo(call.function().arguments());      // the same seed, the same call
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
                .isInstanceOf(com.openai.errors.NotFoundException.class).hasMessageContaining("does not exist");   // 404 model_not_found, as OpenAI answers
    }
}
