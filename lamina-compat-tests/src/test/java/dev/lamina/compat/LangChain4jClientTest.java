package dev.lamina.compat;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.StreamingResponseHandler;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiLanguageModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingLanguageModel;
import dev.langchain4j.model.output.Response;
import dev.lamina.server.LaminaServer;
import dev.lamina.server.ServerOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** LangChain4j's OpenAI module (dev.langchain4j:langchain4j-open-ai) against lamina serve: chat and completions, plain and streamed. */
class LangChain4jClientTest {
    static LaminaServer server;
    static String url;

    @BeforeAll
    static void start() {
        server = LaminaServer.start(ServerOptions.defaults(CompatModel.NAME).withPort(0).withMaxTokens(64), CompatModel::load);
        assertThat(server.awaitReady(Duration.ofSeconds(60))).isTrue();
        url = server.baseUrl() + "/v1";
    }

    @AfterAll
    static void stop() { server.close(); }

    /** Tools the LangChain4j way: a ToolSpecification, tool_choice required; the reply is a tool execution request with JSON arguments. */
    @Test
    void requiredToolChoiceComesBackAsAToolExecutionRequest() {
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(url).apiKey("unused").modelName(CompatModel.NAME)
                .temperature(1.0).seed(2).maxTokens(60).build();
        var spec = dev.langchain4j.agent.tool.ToolSpecification.builder().name("get_weather").description("the forecast")
                .parameters(dev.langchain4j.model.chat.request.json.JsonObjectSchema.builder()
                        .addStringProperty("city").addIntegerProperty("days").required("city", "days").build())
                .build();
        ChatResponse r = chat.chat(dev.langchain4j.model.chat.request.ChatRequest.builder().messages(UserMessage.from("Weather in Oslo?"))
                .toolSpecifications(spec).toolChoice(dev.langchain4j.model.chat.request.ToolChoice.REQUIRED).build());
        assertThat(r.aiMessage().hasToolExecutionRequests()).isTrue();
        var call = r.aiMessage().toolExecutionRequests().getFirst();
        assertThat(call.name()).isEqualTo("get_weather");
        var args = tools.jackson.databind.json.JsonMapper.builder().build().readTree(call.arguments());
        assertThat(args.get("city").isString()).isTrue();
        assertThat(args.get("days").isIntegralNumber()).isTrue();
    }

    @Test
    void chatPlainAndStreamedAgree() throws Exception {
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(url).apiKey("unused").modelName(CompatModel.NAME)
                .temperature(0.0).maxTokens(20).build();
        ChatResponse r = chat.chat(SystemMessage.from("Be brief."), UserMessage.from("Hello"));
        String text = r.aiMessage().text() == null ? "" : r.aiMessage().text();
        assertThat(r.tokenUsage().inputTokenCount()).isPositive();

        OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder().baseUrl(url).apiKey("unused")
                .modelName(CompatModel.NAME).temperature(0.0).maxTokens(20).build();
        StringBuilder parts = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(java.util.List.of(SystemMessage.from("Be brief."), UserMessage.from("Hello")), new StreamingChatResponseHandler() {
            @Override public void onPartialResponse(String partial) { parts.append(partial); }
            @Override public void onCompleteResponse(ChatResponse complete) { done.complete(complete); }
            @Override public void onError(Throwable error) { done.completeExceptionally(error); }
        });
        ChatResponse complete = done.get(60, TimeUnit.SECONDS);
        assertThat(parts.toString()).isEqualTo(text);
        AiMessage m = complete.aiMessage();
        assertThat(m.text() == null ? "" : m.text()).isEqualTo(text);
    }

    @Test
    void completionsPlainAndStreamedAgree() throws Exception {
        OpenAiLanguageModel lm = OpenAiLanguageModel.builder().baseUrl(url).apiKey("unused").modelName(CompatModel.NAME)
                .temperature(0.0).build();
        Response<String> r = lm.generate("The jury said");
        assertThat(r.content()).isEqualTo(CompatModel.greedy("The jury said", 64));

        OpenAiStreamingLanguageModel slm = OpenAiStreamingLanguageModel.builder().baseUrl(url).apiKey("unused")
                .modelName(CompatModel.NAME).temperature(0.0).build();
        StringBuilder parts = new StringBuilder();
        CompletableFuture<Response<String>> done = new CompletableFuture<>();
        slm.generate("The jury said", new StreamingResponseHandler<>() {
            @Override public void onNext(String token) { parts.append(token); }
            @Override public void onComplete(Response<String> response) { done.complete(response); }
            @Override public void onError(Throwable error) { done.completeExceptionally(error); }
        });
        done.get(60, TimeUnit.SECONDS);
        assertThat(parts.toString()).isEqualTo(r.content());
    }
}
