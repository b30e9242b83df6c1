package dev.lamina.server;

import dev.lamina.Lamina;
import dev.lamina.infer.ChatTemplate;
import dev.lamina.infer.Sampler;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Presets;
import dev.lamina.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;

import static org.assertj.core.api.Assertions.assertThat;

/** Every endpoint and error status over real HTTP (java.net.http.HttpClient). */
class LaminaServerTest {
    static final String NAME = "tiny-test";
    static final Lamina.Model TINY = new Lamina.Model(Decoder.create(Presets.get("tiny").config().apply(257), 3), ByteTokenizer.INSTANCE);
    static LaminaServer server;
    /** The same kind of model with a context of 2048 bytes, for prompts that carry tool definitions. */
    static final Lamina.Model WIDE = new Lamina.Model(Decoder.create(Presets.get("tiny").config().apply(257).toBuilder()
            .maxPositionEmbeddings(2048).build(), 3), ByteTokenizer.INSTANCE);
    static LaminaServer wide;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeAll
    static void start() {
        server = LaminaServer.start(ServerOptions.defaults(NAME).withPort(0).withMaxConcurrent(4).withMaxTokens(200), () -> TINY);
        assertThat(server.awaitReady(Duration.ofSeconds(30))).as("load error: %s", server.loadError()).isTrue();
        wide = LaminaServer.start(ServerOptions.defaults(NAME).withPort(0).withMaxConcurrent(4).withMaxTokens(200), () -> WIDE);
        assertThat(wide.awaitReady(Duration.ofSeconds(30))).as("load error: %s", wide.loadError()).isTrue();
    }

    @AfterAll
    static void stop() {
        server.close();
        wide.close();
    }

    record Reply(int status, String body, HttpResponse<String> raw) {
        JsonNode json() { return LaminaServer.JSON.readTree(body); }
    }

    static Reply get(LaminaServer s, String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.baseUrl() + path)).GET();
        if (headers.length > 0) b.headers(headers);
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body(), r);
    }

    static Reply post(LaminaServer s, String path, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.baseUrl() + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) b.headers(headers);
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body(), r);
    }

    static void assertError(Reply r, int status, String type, String codeOrNull) {
        assertThat(r.status()).as(r.body()).isEqualTo(status);
        JsonNode e = r.json().get("error");
        assertThat(e).as(r.body()).isNotNull();
        assertThat(e.get("message").stringValue()).isNotBlank();
        assertThat(e.get("type").stringValue()).isEqualTo(type);
        assertThat(e.has("param")).isTrue();
        assertThat(e.has("code")).isTrue();
        if (codeOrNull != null) assertThat(e.get("code").stringValue()).isEqualTo(codeOrNull);
    }

    /** The data payloads of an SSE body, checking the framing: every event is one "data: " line and a blank line. */
    static List<String> events(String body) {
        assertThat(body).endsWith("\n\n");
        List<String> out = new ArrayList<>();
        for (String frame : body.substring(0, body.length() - 2).split("\n\n", -1)) {
            assertThat(frame).startsWith("data: ").doesNotContain("\n");
            out.add(frame.substring(6));
        }
        assertThat(out.getLast()).isEqualTo("[DONE]");
        return out;
    }

    // ---- endpoints -----------------------------------------------------------------------

    @Test
    void healthAndModels() throws Exception {
        Reply h = get(server, "/health");
        assertThat(h.status()).isEqualTo(200);
        assertThat(h.json().get("status").stringValue()).isEqualTo("ok");
        Reply m = get(server, "/v1/models");
        assertThat(m.status()).isEqualTo(200);
        assertThat(m.raw().headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(m.json().get("object").stringValue()).isEqualTo("list");
        JsonNode model = m.json().get("data").get(0);
        assertThat(model.get("id").stringValue()).isEqualTo(NAME);
        assertThat(model.get("object").stringValue()).isEqualTo("model");
        assertThat(model.get("owned_by").stringValue()).isEqualTo("lamina");
        assertThat(model.get("max_model_len").intValue()).isEqualTo(256);
        assertThat(get(server, "/v1/models/" + NAME).json().get("id").stringValue()).isEqualTo(NAME);
        assertError(get(server, "/v1/models/other"), 404, "invalid_request_error", "model_not_found");
    }

    @Test
    void completionMatchesLocalGreedyGeneration() throws Exception {
        String prompt = "The jury said";
        String want = TINY.generate(prompt, 12, Sampler.greedy(), null);
        Reply r = post(server, "/v1/completions", """
                {"model":"tiny-test","prompt":"The jury said","max_tokens":12,"temperature":0}""");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonNode j = r.json();
        assertThat(j.get("id").stringValue()).startsWith("cmpl-");
        assertThat(j.get("object").stringValue()).isEqualTo("text_completion");
        assertThat(j.get("model").stringValue()).isEqualTo(NAME);
        assertThat(j.get("created").longValue()).isPositive();
        JsonNode c = j.get("choices").get(0);
        assertThat(c.get("index").intValue()).isZero();
        assertThat(c.get("text").stringValue()).isEqualTo(want);
        assertThat(c.get("logprobs").isNull()).isTrue();
        JsonNode u = j.get("usage");
        assertThat(u.get("prompt_tokens").intValue()).isEqualTo(prompt.length());
        int completion = u.get("completion_tokens").intValue();
        assertThat(completion).isBetween(1, 12);
        assertThat(c.get("finish_reason").stringValue()).isEqualTo(completion == 12 ? "length" : "stop");
        assertThat(u.get("total_tokens").intValue()).isEqualTo(prompt.length() + completion);
    }

    @Test
    void responseFormatGivesValidJsonFromAnUntrainedModel() throws Exception {
        String schema = """
                {"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer"},
                 "tags":{"type":"array","items":{"enum":["a","b"]},"minItems":1,"maxItems":3}},"required":["name","age","tags"]}""";
        for (int seed = 1; seed <= 6; seed++)
            for (String format : new String[] {"{\"type\":\"json_object\"}",
                    "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"person\",\"strict\":true,\"schema\":" + schema + "}}"}) {
                int max = seed % 2 == 0 ? 200 : 40;                // an untrained model does not stop: the budget makes it finish
                Reply r = post(server, "/v1/chat/completions", """
                        {"model":"tiny-test","messages":[{"role":"user","content":"who?"}],"max_tokens":%d,"temperature":1.2,"seed":%d,
                         "n":2,"response_format":%s}""".formatted(max, seed, format));
                assertThat(r.status()).as(r.body()).isEqualTo(200);
                for (JsonNode c : r.json().get("choices")) {
                    String text = c.get("message").get("content").stringValue();
                    JsonNode v = LaminaServer.JSON.readTree(text);
                    assertThat(v.isObject()).as(text).isTrue();
                    if (format.contains("json_schema")) {
                        assertThat(v.get("name").stringValue().codePoints().count()).as(text).isLessThanOrEqualTo(12);
                        assertThat(v.get("age").isIntegralNumber()).as(text).isTrue();
                        assertThat(v.get("tags").size()).as(text).isBetween(1, 3);
                    }
                    assertThat(c.get("finish_reason").stringValue()).isEqualTo("stop");
                }
            }
        // schemas it cannot enforce, a budget too small for any valid answer, unknown types: 400 naming response_format
        for (String[] bad : new String[][] {
                {"{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"type\":\"string\",\"pattern\":\"x\"}}}", "response_format", "pattern"},
                {"{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"type\":\"array\",\"minItems\":2,\"maxItems\":1}}}", "response_format", "exceeds"},
                {"{\"type\":\"xml\"}", "response_format", "json_object or json_schema"},
                {"{\"type\":\"json_schema\"}", "response_format", "json_schema"}}) {
            Reply r = post(server, "/v1/chat/completions", """
                    {"model":"tiny-test","messages":[{"role":"user","content":"x"}],"response_format":%s}""".formatted(bad[0]));
            assertError(r, 400, "invalid_request_error", null);
            assertThat(r.json().get("error").get("param").stringValue()).isEqualTo(bad[1]);
            assertThat(r.json().get("error").get("message").stringValue()).contains(bad[2]);
        }
        Reply tight = post(server, "/v1/chat/completions", """
                {"model":"tiny-test","messages":[{"role":"user","content":"x"}],"max_tokens":5,"response_format":
                 {"type":"json_schema","json_schema":{"schema":%s}}}""".formatted(schema));
        assertError(tight, 400, "invalid_request_error", null);
        assertThat(tight.json().get("error").get("message").stringValue()).contains("cannot hold the shortest response");
    }

    static final String WEATHER = """
            {"type":"function","function":{"name":"get_weather","description":"the forecast","parameters":{"type":"object",
             "properties":{"city":{"type":"string","maxLength":10},"days":{"type":"integer"}},"required":["city","days"]}}}""";
    static final String TIME = """
            {"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"zone":{"type":"string"}}}}}""";

    @Test
    void toolChoiceNamedOrRequiredAlwaysGivesAValidCallEvenFromAnUntrainedModel() throws Exception {
        for (int seed = 1; seed <= 4; seed++) {
            Reply r = post(wide, "/v1/chat/completions", """
                    {"model":"tiny-test","messages":[{"role":"user","content":"weather in Oslo?"}],"tools":[%s,%s],
                     "tool_choice":{"type":"function","function":{"name":"get_weather"}},"max_tokens":80,"temperature":1,"seed":%d}"""
                    .formatted(WEATHER, TIME, seed));
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            JsonNode ch = r.json().get("choices").get(0);
            assertThat(ch.get("finish_reason").stringValue()).isEqualTo("tool_calls");
            assertThat(ch.get("message").get("content").isNull()).isTrue();
            JsonNode call = ch.get("message").get("tool_calls").get(0);
            assertThat(call.get("id").stringValue()).startsWith("call_");
            assertThat(call.get("type").stringValue()).isEqualTo("function");
            assertThat(call.get("function").get("name").stringValue()).isEqualTo("get_weather");
            JsonNode args = LaminaServer.JSON.readTree(call.get("function").get("arguments").stringValue());
            assertThat(args.get("city").stringValue().codePoints().count()).isLessThanOrEqualTo(10);
            assertThat(args.get("days").isIntegralNumber()).as(args.toString()).isTrue();

            Reply req = post(wide, "/v1/chat/completions", """
                    {"model":"tiny-test","messages":[{"role":"user","content":"time?"}],"tools":[%s,%s],"tool_choice":"required",
                     "max_tokens":60,"temperature":1,"seed":%d}""".formatted(WEATHER, TIME, seed));
            JsonNode rc = req.json().get("choices").get(0).get("message").get("tool_calls").get(0).get("function");
            assertThat(rc.get("name").stringValue()).isIn("get_weather", "get_time");
            assertThat(LaminaServer.JSON.readTree(rc.get("arguments").stringValue()).isObject()).isTrue();
        }
        // streamed as OpenAI streams a call: the role; the id, type and name with empty arguments once the name is
        // complete; then the arguments piece by piece as they are generated; the finish; the usage. The pieces add up to
        // the arguments of the same request unstreamed.
        String request = """
                {"model":"tiny-test","messages":[{"role":"user","content":"weather?"}],"tools":[%s],"tool_choice":"required",
                 "max_tokens":60,"seed":5%s}""";
        Reply s = post(wide, "/v1/chat/completions", request.formatted(WEATHER, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
        assertThat(s.status()).isEqualTo(200);
        List<String> ev = events(s.body());
        assertThat(LaminaServer.JSON.readTree(ev.get(0)).get("choices").get(0).get("delta").get("role").stringValue()).isEqualTo("assistant");
        JsonNode head = LaminaServer.JSON.readTree(ev.get(1)).get("choices").get(0).get("delta").get("tool_calls").get(0);
        assertThat(head.get("index").intValue()).isZero();
        assertThat(head.get("id").stringValue()).startsWith("call_");
        assertThat(head.get("type").stringValue()).isEqualTo("function");
        assertThat(head.get("function").get("name").stringValue()).isEqualTo("get_weather");
        StringBuilder args = new StringBuilder(head.get("function").get("arguments").stringValue());
        int pieces = 0;
        String finish = null;
        int completionTokens = 0;
        for (String e : ev.subList(2, ev.size())) {
            if (e.equals("[DONE]")) continue;
            JsonNode chunk = LaminaServer.JSON.readTree(e), ch = chunk.get("choices").get(0);
            if (ch == null) {                                   // the usage chunk
                completionTokens = chunk.get("usage").get("completion_tokens").intValue();
                continue;
            }
            JsonNode calls = ch.get("delta").get("tool_calls");
            if (calls != null) {
                assertThat(calls.get(0).has("id")).isFalse();
                args.append(calls.get(0).get("function").get("arguments").stringValue());
                pieces++;
            }
            if (!ch.get("finish_reason").isNull()) finish = ch.get("finish_reason").stringValue();
        }
        assertThat(pieces).as(s.body()).isGreaterThan(1);
        assertThat(finish).isEqualTo("tool_calls");
        assertThat(completionTokens).isPositive();
        Reply whole = post(wide, "/v1/chat/completions", request.formatted(WEATHER, ""));
        assertThat(whole.status()).as(whole.body()).isEqualTo(200);
        assertThat(args.toString()).isEqualTo(whole.json().get("choices").get(0).get("message").get("tool_calls").get(0).get("function").get("arguments").stringValue());
        assertThat(LaminaServer.JSON.readTree(args.toString()).get("days").isIntegralNumber()).isTrue();
        // a conversation carrying a call and its result is accepted
        Reply back = post(wide, "/v1/chat/completions", """
                {"model":"tiny-test","max_tokens":5,"tools":[%s],"messages":[{"role":"user","content":"weather?"},
                 {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Oslo\\",\\"days\\":1}"}}]},
                 {"role":"tool","tool_call_id":"call_1","content":"rain"}]}""".formatted(WEATHER));
        assertThat(back.status()).as(back.body()).isEqualTo(200);
    }

    @Test
    void malformedToolsAreRefusedNamingTheField() throws Exception {
        for (String[] bad : new String[][] {
                {"\"tools\":[{\"type\":\"function\",\"function\":{\"description\":\"no name\"}}]", "tools", "name"},
                {"\"tools\":[{\"type\":\"retrieval\"}]", "tools", "function"},
                {"\"tools\":[" + WEATHER + "],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}", "tool_choice", "not among the tools"},
                {"\"tool_choice\":\"required\"", "tool_choice", "needs tools"},
                {"\"tools\":[" + WEATHER + "],\"tool_choice\":\"sometimes\"", "tool_choice", "must be none, auto, required"},
                {"\"tools\":[" + WEATHER + "],\"response_format\":{\"type\":\"json_object\"}", "response_format", "cannot be combined"},
                {"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"x\"}}}}}],"
                        + "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}}", "tools", "pattern"}}) {
            Reply r = post(server, "/v1/chat/completions", "{\"model\":\"tiny-test\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]," + bad[0] + "}");
            assertError(r, 400, "invalid_request_error", null);
            assertThat(r.json().get("error").get("param").stringValue()).as(bad[0]).isEqualTo(bad[1]);
            assertThat(r.json().get("error").get("message").stringValue()).contains(bad[2]);
        }
    }

    @Test
    void theChatPageIsServedAtTheRoot() throws Exception {
        for (String path : new String[] {"/", "/index.html"}) {
            Reply r = get(server, path);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.raw().headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
            assertThat(r.body()).contains("/v1/chat/completions").contains("stream: true").contains("id=\"model\"")
                    .doesNotContain("https://").doesNotContain("http://");             // nothing fetched from elsewhere: works offline
        }
        assertError(post(server, "/", "{}"), 405, "invalid_request_error", "method_not_allowed");
    }

    /**
     * The page in a real browser: headless Chromium, driven over the DevTools protocol, opens the
     * page with ?q= (which types the message and presses Send), and the streamed reply must land on
     * the page with its token count and speed.
     */
    @Test
    void theChatPageStreamsAReplyInHeadlessChromium() throws Exception {
        String chromium = java.util.stream.Stream.of("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
                .filter(p -> java.nio.file.Files.isExecutable(java.nio.file.Path.of(p))).findFirst().orElse(null);
        org.junit.jupiter.api.Assumptions.assumeTrue(chromium != null, "no Chromium on this machine (bin/test installs it where it can)");
        java.nio.file.Path profile = java.nio.file.Files.createTempDirectory("chromium");
        Process p = new ProcessBuilder(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--remote-debugging-port=0", "--user-data-dir=" + profile, "about:blank").redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            java.io.BufferedReader err = new java.io.BufferedReader(new java.io.InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8));
            String ws = null;
            for (String line; ws == null && (line = err.readLine()) != null; )
                if (line.startsWith("DevTools listening on ")) ws = line.substring("DevTools listening on ".length()).trim();
            assertThat(ws).as("Chromium's DevTools address").isNotNull();
            Thread.ofVirtual().start(() -> { try { err.transferTo(java.io.Writer.nullWriter()); } catch (java.io.IOException ignored) { } });
            try (Cdp cdp = new Cdp(ws)) {
                String target = cdp.call(null, "Target.createTarget", "{\"url\":\"" + server.baseUrl() + "/?q=Hello%20there&seed=3\"}").get("targetId").stringValue();
                String session = cdp.call(null, "Target.attachToTarget", "{\"targetId\":\"" + target + "\",\"flatten\":true}").get("sessionId").stringValue();
                String page = "";
                for (long end = System.nanoTime() + 60_000_000_000L; System.nanoTime() < end && !page.startsWith("done|"); Thread.sleep(200))
                    page = cdp.call(session, "Runtime.evaluate", "{\"expression\":\"(document.getElementById('status') || {}).textContent + '|' + "
                            + "(document.getElementById('log') || {}).innerHTML\",\"returnByValue\":true}").path("result").path("value").asString("");   // "" while loading
                assertThat(page).startsWith("done|").contains("<div class=\"msg user\">Hello there</div>");
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("<div class=\"msg assistant\">(.*?)<div class=\"meta\">(\\d+) tokens, ([0-9.]+) tok/s",
                        java.util.regex.Pattern.DOTALL).matcher(page);
                assertThat(m.find()).as(page).isTrue();
                assertThat(Integer.parseInt(m.group(2))).isGreaterThan(1);
                assertThat(Double.parseDouble(m.group(3))).isPositive();
            }
        } finally {
            p.destroyForcibly().waitFor();
        }
    }

    /** A minimal Chrome DevTools protocol client: a call sends one command and waits for its answer. */
    static final class Cdp implements AutoCloseable, java.net.http.WebSocket.Listener {
        private final java.net.http.WebSocket socket;
        private final java.util.Map<Integer, CompletableFuture<JsonNode>> waiting = new java.util.concurrent.ConcurrentHashMap<>();
        private final StringBuilder partial = new StringBuilder();
        private int next;

        Cdp(String url) throws Exception { socket = HTTP.newWebSocketBuilder().buildAsync(URI.create(url), this).get(); }

        JsonNode call(String session, String method, String params) throws Exception {
            int id = ++next;
            CompletableFuture<JsonNode> f = new CompletableFuture<>();
            waiting.put(id, f);
            socket.sendText("{\"id\":" + id + (session == null ? "" : ",\"sessionId\":\"" + session + "\"") + ",\"method\":\"" + method
                    + "\",\"params\":" + params + "}", true).get();
            JsonNode r = f.get(30, java.util.concurrent.TimeUnit.SECONDS);
            if (r.has("error")) throw new AssertionError(method + ": " + r.get("error"));
            return r.get("result");
        }

        @Override public java.util.concurrent.CompletionStage<?> onText(java.net.http.WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                JsonNode m = LaminaServer.JSON.readTree(partial.toString());
                partial.setLength(0);
                if (m.has("id")) { CompletableFuture<JsonNode> f = waiting.remove(m.get("id").intValue()); if (f != null) f.complete(m); }
            }
            ws.request(1);
            return null;
        }

        @Override public void close() { socket.abort(); }
    }

    @Test
    void ignoreEosGeneratesPastEndOfText() throws Exception {
        String ask = """
                {"model":"tiny-test","prompt":"a","max_tokens":200,"temperature":1.5,"seed":%d,"ignore_eos":%b}""";
        int seed = 0;
        JsonNode stopped = null;
        while (stopped == null && seed < 50) {           // a seed whose sample ends at end-of-text (the model is untrained)
            JsonNode j = post(server, "/v1/completions", ask.formatted(++seed, false)).json();
            if (j.get("choices").get(0).get("finish_reason").stringValue().equals("stop")) stopped = j;
        }
        assertThat(stopped).as("no seed in 1..50 reached end-of-text").isNotNull();
        assertThat(stopped.get("usage").get("completion_tokens").intValue()).isLessThan(200);

        JsonNode j = post(server, "/v1/completions", ask.formatted(seed, true)).json();
        assertThat(j.get("choices").get(0).get("finish_reason").stringValue()).isEqualTo("length");
        assertThat(j.get("usage").get("completion_tokens").intValue()).isEqualTo(200);
        assertError(post(server, "/v1/completions", """
                {"model":"tiny-test","prompt":"a","ignore_eos":"yes"}"""), 400, "invalid_request_error", null);
    }

    @Test
    void severalPromptsTimesNChoicesWithSeedsAndLogprobs() throws Exception {
        String body = """
                {"model":"tiny-test","prompt":["One","Two"],"n":2,"max_tokens":6,"seed":11,"temperature":1.0,
                 "logprobs":2,"stop":["\\n\\n\\n"],"user":"someone"}""";
        Reply a = post(server, "/v1/completions", body), b = post(server, "/v1/completions", body);
        assertThat(a.status()).as(a.body()).isEqualTo(200);
        JsonNode choices = a.json().get("choices");
        assertThat(choices).hasSize(4);
        for (int i = 0; i < 4; i++) {
            JsonNode c = choices.get(i);
            assertThat(c.get("index").intValue()).isEqualTo(i);
            assertThat(c.get("text").stringValue()).isEqualTo(b.json().get("choices").get(i).get("text").stringValue()); // same seed
            JsonNode lp = c.get("logprobs");
            int n = lp.get("tokens").size();
            assertThat(n).isEqualTo(lp.get("token_logprobs").size()).isEqualTo(lp.get("top_logprobs").size())
                    .isEqualTo(lp.get("text_offset").size());
            for (JsonNode v : lp.get("token_logprobs")) assertThat(v.doubleValue()).isLessThanOrEqualTo(0);
            for (JsonNode top : lp.get("top_logprobs")) assertThat(top.size()).isBetween(1, 2);
        }
        assertThat(a.json().get("usage").get("prompt_tokens").intValue()).isEqualTo(6);   // "One" + "Two"
    }

    @Test
    void chatCompletionUsesTheTemplate() throws Exception {
        Reply r = post(server, "/v1/chat/completions", """
                {"model":"tiny-test","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],
                 "max_tokens":8,"temperature":0,"logprobs":true,"top_logprobs":3}""");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonNode j = r.json();
        assertThat(j.get("id").stringValue()).startsWith("chatcmpl-");
        assertThat(j.get("object").stringValue()).isEqualTo("chat.completion");
        JsonNode c = j.get("choices").get(0);
        assertThat(c.get("message").get("role").stringValue()).isEqualTo("assistant");
        String content = c.get("message").get("content").stringValue();
        String prompt = ChatTemplate.render(List.of(new ChatTemplate.Message("system", "Be brief."), new ChatTemplate.Message("user", "Hi")));
        assertThat(j.get("usage").get("prompt_tokens").intValue()).isEqualTo(prompt.length());
        JsonNode lp = c.get("logprobs").get("content");
        assertThat(lp.size()).isEqualTo(j.get("usage").get("completion_tokens").intValue());
        for (JsonNode t : lp) {
            assertThat(t.get("logprob").doubleValue()).isLessThanOrEqualTo(0);
            assertThat(t.get("top_logprobs")).hasSize(3);
            assertThat(t.get("top_logprobs").get(0).get("token").stringValue()).isEqualTo(t.get("token").stringValue()); // greedy
            assertThat(t.get("bytes").isArray()).isTrue();
        }
        assertThat(content).doesNotContain("\n###");
    }

    @Test
    void autoToolRepliesStreamTheirTextAsItComes() throws Exception {
        // an untrained model writes text, not calls: under tool_choice auto it streams piece by piece, adding up to the
        // unstreamed reply of the same seed
        for (int seed = 1; seed <= 3; seed++) {
            String request = """
                    {"model":"tiny-test","messages":[{"role":"user","content":"hello"}],"tools":[%s],"max_tokens":24,"temperature":1,
                     "seed":%d,"ignore_eos":true%s}""";
            String whole = post(wide, "/v1/chat/completions", request.formatted(WEATHER, seed, "")).json()
                    .get("choices").get(0).get("message").get("content").stringValue();
            List<String> ev = events(post(wide, "/v1/chat/completions", request.formatted(WEATHER, seed, ",\"stream\":true")).body());
            StringBuilder text = new StringBuilder();
            int pieces = 0;
            String finish = null;
            for (String e : ev.subList(1, ev.size() - 1)) {
                JsonNode ch = LaminaServer.JSON.readTree(e).get("choices").get(0);
                JsonNode content = ch.get("delta").get("content");
                if (content != null) { text.append(content.stringValue()); pieces++; }
                if (!ch.get("finish_reason").isNull()) finish = ch.get("finish_reason").stringValue();
            }
            assertThat(text.toString()).isEqualTo(whole);
            assertThat(finish).isEqualTo("length");
            String start = whole.stripLeading();
            if (!start.startsWith("{") && !start.startsWith("<")) assertThat(pieces).as(whole).isGreaterThan(3);
        }
    }

    @Test
    void streamedChatIsServerSentEventsWithTheSameText() throws Exception {
        String req = """
                {"model":"tiny-test","messages":[{"role":"user","content":"Tell me"}],"max_tokens":20,"temperature":0.8,
                 "seed":5,"stream":%s%s}""";
        Reply plain = post(server, "/v1/chat/completions", req.formatted("false", ""));
        Reply stream = post(server, "/v1/chat/completions", req.formatted("true", ",\"stream_options\":{\"include_usage\":true}"));
        assertThat(stream.status()).isEqualTo(200);
        assertThat(stream.raw().headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        List<String> ev = events(stream.body());
        JsonNode first = LaminaServer.JSON.readTree(ev.getFirst());
        assertThat(first.get("object").stringValue()).isEqualTo("chat.completion.chunk");
        assertThat(first.get("choices").get(0).get("delta").get("role").stringValue()).isEqualTo("assistant");
        StringBuilder text = new StringBuilder();
        String finish = null;
        JsonNode usage = null;
        for (String e : ev.subList(0, ev.size() - 1)) {
            JsonNode j = LaminaServer.JSON.readTree(e);
            assertThat(j.get("id").stringValue()).isEqualTo(first.get("id").stringValue());
            if (j.get("choices").isEmpty()) { usage = j.get("usage"); continue; }
            JsonNode c = j.get("choices").get(0);
            JsonNode content = c.get("delta").get("content");
            if (content != null) text.append(content.stringValue());
            if (!c.get("finish_reason").isNull()) finish = c.get("finish_reason").stringValue();
        }
        JsonNode p = plain.json();
        assertThat(text.toString()).isEqualTo(p.get("choices").get(0).get("message").get("content").stringValue());
        assertThat(finish).isEqualTo(p.get("choices").get(0).get("finish_reason").stringValue());
        assertThat(usage).isNotNull();
        assertThat(usage.get("completion_tokens").intValue()).isEqualTo(p.get("usage").get("completion_tokens").intValue());
        assertThat(LaminaServer.JSON.readTree(ev.get(ev.size() - 2)).get("choices")).isEmpty();  // usage comes last
    }

    @Test
    void streamedCompletionWithStop() throws Exception {
        Reply full = post(server, "/v1/completions", """
                {"model":"tiny-test","prompt":"abc","max_tokens":30,"temperature":0}""");
        String text = full.json().get("choices").get(0).get("text").stringValue();
        String stop = text.substring(6, 8);
        String want = text.substring(0, text.indexOf(stop));
        Reply s = post(server, "/v1/completions", """
                {"model":"tiny-test","prompt":"abc","max_tokens":30,"temperature":0,"stream":true,"stop":%s}"""
                .formatted(LaminaServer.JSON.writeValueAsString(stop)));
        StringBuilder got = new StringBuilder();
        String finish = null;
        for (String e : events(s.body())) {
            if (e.equals("[DONE]")) continue;
            JsonNode c = LaminaServer.JSON.readTree(e).get("choices").get(0);
            assertThat(LaminaServer.JSON.readTree(e).get("object").stringValue()).isEqualTo("text_completion");
            got.append(c.get("text").stringValue());
            if (!c.get("finish_reason").isNull()) finish = c.get("finish_reason").stringValue();
        }
        assertThat(got.toString()).isEqualTo(want);
        assertThat(finish).isEqualTo("stop");
    }

    @Test
    void concurrentRequestsGetTheirAloneAnswers() throws Exception {
        String[] prompts = {"alpha", "a much longer prompt than the others, to prefill in a separate chunk", "c", "delta delta"};
        String[] alone = new String[prompts.length];
        for (int i = 0; i < prompts.length; i++)
            alone[i] = post(server, "/v1/completions", "{\"model\":\"tiny-test\",\"prompt\":\"" + prompts[i]
                    + "\",\"max_tokens\":25,\"temperature\":0}").json().get("choices").get(0).get("text").stringValue();
        List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
        for (String p : prompts)
            futures.add(HTTP.sendAsync(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"tiny-test\",\"prompt\":\"" + p
                            + "\",\"max_tokens\":25,\"temperature\":0}")).build(), HttpResponse.BodyHandlers.ofString()));
        for (int i = 0; i < prompts.length; i++)
            assertThat(LaminaServer.JSON.readTree(futures.get(i).get().body()).get("choices").get(0).get("text").stringValue())
                    .isEqualTo(alone[i]);
    }

    // ---- errors ----------------------------------------------------------------------------

    @Test
    void invalidRequestsAre400() throws Exception {
        assertError(post(server, "/v1/completions", "{not json"), 400, "invalid_request_error", null);
        assertError(post(server, "/v1/completions", "[1,2]"), 400, "invalid_request_error", null);
        assertError(post(server, "/v1/completions", "{\"model\":\"gpt-4\",\"prompt\":\"x\"}"), 404, "invalid_request_error", "model_not_found");
        assertError(post(server, "/v1/completions", "{\"prompt\":\"x\"}"), 400, "invalid_request_error", null);
        for (String bad : List.of("\"temperature\":3", "\"temperature\":\"hot\"", "\"top_p\":0", "\"top_p\":1.5", "\"n\":0", "\"n\":99",
                "\"max_tokens\":-1", "\"max_tokens\":100000", "\"logprobs\":9", "\"presence_penalty\":5", "\"stop\":[1]",
                "\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]", "\"min_p\":2", "\"top_k\":-5", "\"seed\":1.5", "\"echo\":true,\"stream\":true", "\"max_tokens\":0,\"stream\":true",
                "\"stream_options\":{\"include_usage\":true}", "\"logit_bias\":{\"1\":5}")) {
            Reply r = post(server, "/v1/completions", "{\"model\":\"tiny-test\",\"prompt\":\"x\"," + bad + "}");
            assertError(r, 400, "invalid_request_error", null);
            assertThat(r.json().get("error").get("message").stringValue()).as(bad).isNotBlank();
        }
        assertError(post(server, "/v1/chat/completions", "{\"model\":\"tiny-test\",\"messages\":[]}"), 400, "invalid_request_error", null);
        assertError(post(server, "/v1/chat/completions", "{\"model\":\"tiny-test\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}"),
                400, "invalid_request_error", null);
        assertError(post(server, "/v1/chat/completions", "{\"model\":\"tiny-test\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}"),
                400, "invalid_request_error", null);
        assertError(post(server, "/v1/chat/completions", "{\"model\":\"tiny-test\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":2}"),
                400, "invalid_request_error", null);
        assertError(post(server, "/v1/chat/completions", "{\"model\":\"tiny-test\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{}]}"),
                400, "invalid_request_error", null);
    }

    @Test
    void promptsLongerThanTheContextAre400() throws Exception {
        Reply r = post(server, "/v1/completions", "{\"model\":\"tiny-test\",\"prompt\":\"" + "y".repeat(300) + "\"}");
        assertError(r, 400, "invalid_request_error", "context_length_exceeded");
        assertThat(r.json().get("error").get("message").stringValue()).contains("256");
        assertError(post(server, "/v1/completions", "{\"model\":\"tiny-test\",\"prompt\":\"" + "y".repeat(100) + "\",\"max_tokens\":190}"),
                400, "invalid_request_error", "context_length_exceeded");
        // without max_tokens the completion gets what is left of the context
        Reply fits = post(server, "/v1/completions", "{\"model\":\"tiny-test\",\"prompt\":\"" + "y".repeat(250) + "\",\"temperature\":0}");
        assertThat(fits.status()).isEqualTo(200);
        assertThat(fits.json().get("usage").get("completion_tokens").intValue()).isLessThanOrEqualTo(6);
    }

    @Test
    void unknownPathsAndMethods() throws Exception {
        assertError(get(server, "/v1/embeddings"), 404, "invalid_request_error", "unknown_url");
        assertError(get(server, "/nothing"), 404, "invalid_request_error", "unknown_url");
        assertError(get(server, "/v1/completions"), 405, "invalid_request_error", "method_not_allowed");
        assertError(post(server, "/v1/models", "{}"), 405, "invalid_request_error", "method_not_allowed");
    }

    @Test
    void apiKeyIsRequiredWhenSet() throws Exception {
        try (LaminaServer s = LaminaServer.start(ServerOptions.defaults(NAME).withPort(0).withApiKey("sekrit"), () -> TINY)) {
            assertThat(s.awaitReady(Duration.ofSeconds(30))).isTrue();
            Reply missing = get(s, "/v1/models");
            assertError(missing, 401, "invalid_request_error", "missing_api_key");
            assertThat(missing.raw().headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
            assertError(get(s, "/v1/models", "Authorization", "Bearer wrong"), 401, "invalid_request_error", "invalid_api_key");
            assertError(post(s, "/v1/completions", "{}", "Authorization", "Basic c2Vrcml0"), 401, "invalid_request_error", "missing_api_key");
            assertThat(get(s, "/v1/models", "Authorization", "Bearer sekrit").status()).isEqualTo(200);
            assertThat(get(s, "/health").status()).isEqualTo(200);             // health needs no key
        }
    }

    @Test
    void oversizedBodiesAre413() throws Exception {
        try (LaminaServer s = LaminaServer.start(ServerOptions.defaults(NAME).withPort(0).withMaxBodyBytes(4096), () -> TINY)) {
            assertThat(s.awaitReady(Duration.ofSeconds(30))).isTrue();
            String big = "{\"model\":\"tiny-test\",\"prompt\":\"" + "z".repeat(10_000) + "\"}";
            assertError(post(s, "/v1/completions", big), 413, "invalid_request_error", "request_too_large");
            assertThat(post(s, "/v1/completions", "{\"model\":\"tiny-test\",\"prompt\":\"ok\",\"max_tokens\":2}").status()).isEqualTo(200);
        }
    }

    @Test
    void whileLoadingEverythingIs503() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try (LaminaServer s = LaminaServer.start(ServerOptions.defaults(NAME).withPort(0), () -> {
            try { release.await(); } catch (InterruptedException e) { throw new IllegalStateException(e); }
            return TINY;
        })) {
            Reply h = get(s, "/health");
            assertThat(h.status()).isEqualTo(503);
            assertThat(h.json().get("status").stringValue()).isEqualTo("loading");
            assertError(get(s, "/v1/models"), 503, "server_error", "model_loading");
            assertError(post(s, "/v1/completions", "{\"model\":\"tiny-test\",\"prompt\":\"x\"}"), 503, "server_error", "model_loading");
            release.countDown();
            assertThat(s.awaitReady(Duration.ofSeconds(30))).isTrue();
            assertThat(get(s, "/health").status()).isEqualTo(200);
        }
    }

    // ---- a slow model with a long context: queue limits and disconnects --------------------

    /**
     * The small preset four times as deep, with a long context: slow enough per token that the tokens
     * made while the server notices a disconnect stay a small count even on a loaded 2-core machine
     * (with the preset's depth, 1,623 of them in one full-suite run).
     */
    static Lamina.Model slowModel() {
        ModelConfig small = Presets.get("small").config().apply(257);
        ModelConfig longCtx = ModelConfig.builder().vocabSize(257).hiddenSize(small.hiddenSize()).numHiddenLayers(4 * small
                .numHiddenLayers()).numAttentionHeads(small.numAttentionHeads()).numKeyValueHeads(small.numKeyValueHeads())
                .intermediateSize(small.intermediateSize()).maxPositionEmbeddings(4096).norm(small.norm()).normEps(small
                .normEps()).normPlacement(small.normPlacement()).mixAlpha(small.mixAlpha()).position(small.position())
                .ropeTheta(small.ropeTheta()).activation(small.activation()).bias(small.bias()).tieWordEmbeddings(small
                .tieWordEmbeddings()).build();
        return new Lamina.Model(Decoder.create(longCtx, 1), ByteTokenizer.INSTANCE);
    }

    static InputStream openStream(LaminaServer s, int maxTokens) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create(s.baseUrl() + "/v1/completions")).POST(HttpRequest.BodyPublishers.ofString(
                "{\"model\":\"tiny-test\",\"prompt\":\"Once\",\"max_tokens\":" + maxTokens
                        + ",\"stream\":true,\"ignore_eos\":true}")).build();   // an untrained model may sample end-of-text at any step
        HttpResponse<InputStream> r = HTTP.send(req, HttpResponse.BodyHandlers.ofInputStream());
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    static String readEvents(InputStream in, int count) throws Exception {
        StringBuilder s = new StringBuilder();
        int seen = 0;
        while (seen < count) {
            int b = in.read();
            if (b < 0) break;
            s.append((char) b);
            if (s.length() >= 2 && s.charAt(s.length() - 1) == '\n' && s.charAt(s.length() - 2) == '\n') seen++;
        }
        return s.toString();
    }

    @Test
    void aFullQueueIs429AndADisconnectFreesTheSlotAndBlocks() throws Exception {
        ServerOptions o = ServerOptions.defaults(NAME).withPort(0).withMaxConcurrent(1).withMaxQueue(0).withMaxTokens(4000);
        try (LaminaServer s = LaminaServer.start(o, LaminaServerTest::slowModel)) {
            assertThat(s.awaitReady(Duration.ofSeconds(60))).isTrue();
            InputStream stream = openStream(s, 4000);
            String head = readEvents(stream, 3);
            assertThat(head).startsWith("data: {");
            assertThat(s.engine().activeSequences()).isEqualTo(1);

            Reply busy = post(s, "/v1/completions", "{\"model\":\"tiny-test\",\"prompt\":\"x\",\"max_tokens\":3}");
            assertError(busy, 429, "rate_limit_exceeded", "rate_limit_exceeded");

            long before = s.engine().generatedTokens();
            stream.close();                                            // the client goes away mid-stream
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (s.engine().activeSequences() > 0 && System.nanoTime() < deadline) Thread.sleep(5);
            assertThat(s.engine().activeSequences()).isZero();
            var pool = s.engine().pool();
            assertThat(pool.usedBlocks()).isEqualTo(pool.idleCachedBlocks());   // no sequence holds a block
            long after = s.engine().generatedTokens();
            assertThat(after).isLessThan(4000);                        // it stopped long before max_tokens
            assertThat(after - before).isLessThan(1000);
            Thread.sleep(100);
            assertThat(s.engine().generatedTokens()).isEqualTo(after);  // and generates nothing more

            // the slot is free again
            assertThat(post(s, "/v1/completions", "{\"model\":\"tiny-test\",\"prompt\":\"x\",\"max_tokens\":3}").status()).isEqualTo(200);
        }
    }

    static byte[] utf8(String s) { return s.getBytes(StandardCharsets.UTF_8); }
}
