package dev.lamina.server;

import dev.lamina.Lamina;
import dev.lamina.io.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.lamina.server.LaminaServerTest.assertError;
import static dev.lamina.server.LaminaServerTest.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * What lm-evaluation-harness's local-completions sends: prompts as token ids (one or a batch), echo
 * with logprobs and max_tokens 1 or 0; prompt log-probabilities against transformers on the gpt2
 * fixture of lamina-core (reference.json from make_eval_fixtures.py).
 */
class EchoLogprobsTest {
    static final Path RESOURCES = Path.of("..", "lamina-core", "src", "test", "resources");
    static final Lamina.Model GPT2 = Lamina.load(RESOURCES.resolve("hf/models/gpt2"));
    static final JsonNode REFERENCE = Json.MAPPER.readTree(RESOURCES.resolve("eval/reference.json").toFile()).get("loglikelihood");
    static LaminaServer server;

    @BeforeAll
    static void start() {
        server = LaminaServer.start(ServerOptions.defaults("gpt2").withPort(0).withMaxConcurrent(2), () -> GPT2);
        assertThat(server.awaitReady(Duration.ofSeconds(30))).as("load error: %s", server.loadError()).isTrue();
    }

    @AfterAll
    static void stop() { server.close(); }

    private static List<Integer> ids(JsonNode r) {
        List<Integer> out = new ArrayList<>();
        r.get("context_ids").forEach(x -> out.add(x.intValue()));
        r.get("continuation_ids").forEach(x -> out.add(x.intValue()));
        return out;
    }

    private static String body(String prompt, int maxTokens) {
        return "{\"model\":\"gpt2\",\"prompt\":" + prompt + ",\"temperature\":0,\"max_tokens\":" + maxTokens + ",\"logprobs\":1,\"seed\":1234,\"echo\":true}";
    }

    @Test
    void batchedTokenIdPromptsEchoTheirLogprobsAsLmEvalReadsThem() throws Exception {
        List<List<Integer>> prompts = new ArrayList<>();
        for (JsonNode r : REFERENCE) prompts.add(ids(r));
        for (int maxTokens : new int[]{1, 0}) {
            LaminaServerTest.Reply reply = post(server, "/v1/completions", body(prompts.toString(), maxTokens));
            assertThat(reply.status()).as(reply.body()).isEqualTo(200);
            JsonNode choices = reply.json().get("choices");
            assertThat(choices).hasSize(prompts.size());
            for (int i = 0; i < prompts.size(); i++) {
                JsonNode ch = choices.get(i), lp = ch.get("logprobs"), ref = REFERENCE.get(i);
                assertThat(ch.get("index").intValue()).isEqualTo(i);
                int n = prompts.get(i).size(), ctxlen = ref.get("context_ids").size();
                JsonNode values = lp.get("token_logprobs"), tops = lp.get("top_logprobs");
                assertThat(values).hasSize(n + maxTokens);
                assertThat(lp.get("tokens")).hasSize(n + maxTokens);
                assertThat(lp.get("text_offset")).hasSize(n + maxTokens);
                assertThat(values.get(0).isNull()).isTrue();
                assertThat(tops.get(0).isNull()).isTrue();
                // lm-eval: sum(token_logprobs[ctxlen:-1]) with max_tokens 1; the whole tail with 0
                double sum = 0;
                boolean greedy = true;
                for (int t = ctxlen; t < n; t++) {
                    sum += values.get(t).doubleValue();
                    double best = Double.NEGATIVE_INFINITY;
                    for (JsonNode v : tops.get(t)) best = Math.max(best, v.doubleValue());
                    greedy &= values.get(t).doubleValue() == best;
                }
                assertThat(sum).as(ref.toString()).isCloseTo(ref.get("logprob").doubleValue(), within(1e-4));
                assertThat(greedy).isEqualTo(ref.get("greedy").booleanValue());
                String prompt = GPT2.tokenizer().decode(prompts.get(i).stream().mapToInt(Integer::intValue).toArray());
                assertThat(ch.get("text").stringValue()).startsWith(prompt);
                if (maxTokens == 1) assertThat(lp.get("text_offset").get(n).intValue()).isEqualTo(prompt.length());
                else assertThat(ch.get("text").stringValue()).isEqualTo(prompt);
            }
            int total = prompts.stream().mapToInt(List::size).sum();
            assertThat(reply.json().get("usage").get("prompt_tokens").intValue()).isEqualTo(total);
        }
    }

    @Test
    void aSingleIdPromptAndAStringPromptEcho() throws Exception {
        JsonNode r = REFERENCE.get(0);
        LaminaServerTest.Reply one = post(server, "/v1/completions", body(ids(r).toString(), 0));
        assertThat(one.status()).as(one.body()).isEqualTo(200);
        LaminaServerTest.Reply text = post(server, "/v1/completions", body("\"The jury said that\"", 0));
        JsonNode ch = text.json().get("choices").get(0);
        assertThat(ch.get("text").stringValue()).isEqualTo("The jury said that");
        assertThat(ch.get("finish_reason").stringValue()).isEqualTo("length");
        assertThat(text.json().get("usage").get("completion_tokens").intValue()).isZero();
        // text offsets add up the tokens' texts
        JsonNode lp = ch.get("logprobs");
        int offset = 0;
        for (int t = 0; t < lp.get("tokens").size(); t++) {
            assertThat(lp.get("text_offset").get(t).intValue()).isEqualTo(offset);
            offset += lp.get("tokens").get(t).stringValue().length();
        }
        // max_tokens 0 without echo: nothing at all
        LaminaServerTest.Reply none = post(server, "/v1/completions", "{\"model\":\"gpt2\",\"prompt\":\"The jury\",\"max_tokens\":0}");
        assertThat(none.json().get("choices").get(0).get("text").stringValue()).isEmpty();
        assertThat(none.json().get("choices").get(0).get("logprobs").isNull()).isTrue();
    }

    @Test
    void aPromptLongerThanTheContextIs400() throws Exception {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < 66; i++) ids.add(40 + i % 50);
        assertError(post(server, "/v1/completions", body(ids.toString(), 0)), 400, "invalid_request_error", "context_length_exceeded");
        // 65 tokens: the model reads 64 and scores the last
        LaminaServerTest.Reply ok = post(server, "/v1/completions", body(ids.subList(0, 65).toString(), 0));
        assertThat(ok.status()).as(ok.body()).isEqualTo(200);
    }
}
