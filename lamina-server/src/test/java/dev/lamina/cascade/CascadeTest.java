package dev.lamina.cascade;

import dev.lamina.Lamina;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.Presets;
import dev.lamina.server.ApiException;
import dev.lamina.server.LaminaServer;
import dev.lamina.server.ServerOptions;
import dev.lamina.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class CascadeTest {
    static final Lamina.Model TINY = new Lamina.Model(Decoder.create(Presets.get("tiny").config().apply(257), 3), ByteTokenizer.INSTANCE);
    static Fleet fleet;
    static Path dir;

    @BeforeAll
    static void up(@TempDir Path tmp) throws Exception {
        dir = tmp;
        Files.createDirectories(tmp.resolve("m"));
        fleet = new Fleet(p -> TINY);
    }

    @AfterAll
    static void down() { fleet.close(); }

    static Target local(String name, double in, double out) {
        return new Target(name, dir.resolve("m"), null, null, null, new Target.Cost(in, out), Duration.ofSeconds(60));
    }

    /** A scorer that gives every answer the same P(right): zero weights, bias log(p / (1 - p)). */
    static Scorer constant(double p) {
        Encoder e = new Encoder(TINY);
        int D = e.answer("q", "a").length;
        float[][] w = new float[2][D];
        float[] b = {0, (float) Math.log(p / (1 - p))};
        float[] std = new float[D];
        java.util.Arrays.fill(std, 1);
        return new Scorer(dir.resolve("m"), e, new Classifier(Classifier.Kind.LOGISTIC, List.of("wrong", "right"), new float[D], std, w, b));
    }

    static ObjectNode completion(String prompt, double temperature) {
        return Json.MAPPER.createObjectNode().put("prompt", prompt).put("max_tokens", 4).put("temperature", temperature);
    }

    @Test
    void keepsTheCheapAnswerAboveItsThresholdAndEscalatesBelow() {
        Fleet.Endpoint a = fleet.connect(local("cheap", 1, 2)), b = fleet.connect(local("dear", 10, 20));
        Scorer s = constant(0.6);
        Cascade keep = new Cascade("k", List.of(new Cascade.Tier(a, 0.5), new Cascade.Tier(b, 0)), s, 0);
        ObjectNode r = keep.answer("completions", completion("abc", 0));
        JsonNode u = r.get("usage");
        assertThat(r.get("model").asString()).isEqualTo("k");
        assertThat(u.at("/cascade/tier").asString()).isEqualTo("cheap");
        assertThat(u.at("/cascade/tiers/0/score").asDouble()).isCloseTo(0.6, within(1e-5));
        long p = u.get("prompt_tokens").asLong(), c = u.get("completion_tokens").asLong();
        assertThat(p).isEqualTo(3);                               // "abc", one byte a token
        assertThat(c).isBetween(1L, 4L);
        assertThat(u.get("cost").asDouble()).isCloseTo((p * 1 + c * 2) / 1000.0, within(1e-12));

        Cascade escalate = new Cascade("e", List.of(new Cascade.Tier(a, 0.7), new Cascade.Tier(b, 0)), s, 0);
        JsonNode v = escalate.answer("completions", completion("abc", 0)).get("usage");
        assertThat(v.at("/cascade/tier").asString()).isEqualTo("dear");
        assertThat(v.at("/cascade/tiers/0/accepted").asBoolean()).isFalse();
        assertThat(v.at("/cascade/tiers/1/accepted").asBoolean()).isTrue();
        long p1 = v.at("/cascade/tiers/0/prompt_tokens").asLong(), c1 = v.at("/cascade/tiers/0/completion_tokens").asLong();
        long p2 = v.at("/cascade/tiers/1/prompt_tokens").asLong(), c2 = v.at("/cascade/tiers/1/completion_tokens").asLong();
        assertThat(v.get("prompt_tokens").asLong()).isEqualTo(p1 + p2);
        assertThat(v.get("cost").asDouble()).isCloseTo((p1 + 2 * c1) / 1000.0 + (10 * p2 + 20 * c2) / 1000.0, within(1e-12));
        assertThat(escalate.counters().value("lamina_cascade_calls_total{cascade=\"e\",tier=\"cheap\"}")).isEqualTo(1);
        assertThat(escalate.counters().value("lamina_cascade_answers_total{cascade=\"e\",tier=\"dear\"}")).isEqualTo(1);
        assertThat(escalate.counters().value("lamina_cascade_cost_dollars_total{cascade=\"e\",tier=\"dear\"}"))
                .isCloseTo((10 * p2 + 20 * c2) / 1000.0, within(1e-12));
    }

    @Test
    void cachesDeterministicRequestsOnly() {
        Fleet.Endpoint a = fleet.connect(local("cheap", 1, 2)), b = fleet.connect(local("dear", 10, 20));
        Cascade c = new Cascade("c", List.of(new Cascade.Tier(a, 0.5), new Cascade.Tier(b, 0)), constant(0.9), 8);
        ObjectNode first = c.answer("completions", completion("hello", 0));
        ObjectNode again = c.answer("completions", completion("hello", 0));
        assertThat(again.at("/usage/cascade/cached").asBoolean()).isTrue();
        assertThat(again.at("/usage/cost").asDouble()).isZero();
        assertThat(Query.answerText(again)).isEqualTo(Query.answerText(first));
        c.answer("completions", completion("hello", 1.0));          // sampled: never from the cache
        ObjectNode sampled = c.answer("completions", completion("hello", 1.0));
        assertThat(sampled.at("/usage/cascade/cached").asBoolean()).isFalse();
        assertThat(c.counters().value("lamina_cascade_answers_total{cascade=\"c\",tier=\"cache\"}")).isEqualTo(1);
        assertThat(c.counters().value("lamina_cascade_calls_total{cascade=\"c\",tier=\"cheap\"}")).isEqualTo(3);
    }

    @Test
    void aFailingTierPassesTheQueryOnAndAFailingLastTierIsA502() {
        Target dead = new Target("dead", null, "http://127.0.0.1:9", null, null, Target.Cost.FREE, Duration.ofSeconds(2));
        Fleet.Endpoint d = new Fleet.Endpoint(dead, new dev.lamina.server.OpenAiClient(dead.url(), null, dead.timeout(), "dead"), "x");
        Fleet.Endpoint b = fleet.connect(local("dear", 10, 20));
        Cascade c = new Cascade("f", List.of(new Cascade.Tier(d, 0.5), new Cascade.Tier(b, 0)), constant(0.9), 0);
        JsonNode u = c.answer("completions", completion("x", 0)).get("usage");
        assertThat(u.at("/cascade/tier").asString()).isEqualTo("dear");
        assertThat(u.at("/cascade/tiers/0/error").asString()).contains("127.0.0.1:9");
        Cascade last = new Cascade("g", List.of(new Cascade.Tier(b, 0.5), new Cascade.Tier(d, 0)), constant(0.1), 0);
        assertThatThrownBy(() -> last.answer("completions", completion("x", 0)))
                .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(502));
        // a bad request is the client's fault at any tier: answered as the tier answered it, not escalated
        ObjectNode bad = completion("x", 0).put("max_tokens", -3);
        assertThatThrownBy(() -> c.answer("completions", bad))
                .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(400));
    }

    @Test
    void servedAsOneModelWithStreamingAndMetrics() throws Exception {
        Fleet.Endpoint a = fleet.connect(local("cheap", 1, 2)), b = fleet.connect(local("dear", 10, 20));
        Cascade c = new Cascade("frugal", List.of(new Cascade.Tier(a, 0.95), new Cascade.Tier(b, 0)), constant(0.5), 0);
        try (LaminaServer s = LaminaServer.start(ServerOptions.defaults("none").withPort(0), null, Map.of(), List.of(c))) {
            HttpClient http = HttpClient.newHttpClient();
            String models = http.send(HttpRequest.newBuilder(URI.create(s.baseUrl() + "/v1/models")).build(), HttpResponse.BodyHandlers.ofString()).body();
            assertThat(models).contains("\"id\":\"frugal\"");
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(s.baseUrl() + "/v1/chat/completions")).POST(HttpRequest.BodyPublishers.ofString(
                    "{\"model\":\"frugal\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5,\"temperature\":0,\"stream\":true,"
                            + "\"stream_options\":{\"include_usage\":true}}")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            List<String> events = r.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
            assertThat(events.getLast()).isEqualTo("[DONE]");
            JsonNode usage = Json.MAPPER.readTree(events.get(events.size() - 2)).get("usage");
            assertThat(usage.at("/cascade/tier").asString()).isEqualTo("dear");
            StringBuilder content = new StringBuilder();
            for (String e : events.subList(0, events.size() - 2)) content.append(Json.MAPPER.readTree(e).at("/choices/0/delta/content").asString(""));
            assertThat(content.length()).isPositive();
            String metrics = http.send(HttpRequest.newBuilder(URI.create(s.baseUrl() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
            assertThat(metrics).contains("lamina_cascade_answers_total{cascade=\"frugal\",tier=\"dear\"} 1")
                    .contains("lamina_cascade_calls_total{cascade=\"frugal\",tier=\"cheap\"} 1")
                    .contains("lamina_requests_total{endpoint=\"chat/completions\",model=\"frugal\",status=\"200\"} 1");
            HttpResponse<String> n2 = http.send(HttpRequest.newBuilder(URI.create(s.baseUrl() + "/v1/completions")).POST(HttpRequest.BodyPublishers.ofString(
                    "{\"model\":\"frugal\",\"prompt\":\"x\",\"n\":2}")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(n2.statusCode()).isEqualTo(400);
            assertThat(n2.body()).contains("n must be 1");
        }
    }

    @Test
    void thresholdSearchFindsTheBestPolicy() {
        Random r = new Random(5);
        int n = 300, k = 3;
        boolean[][] correct = new boolean[n][k];
        double[][] cost = new double[n][k], score = new double[n][k - 1];
        for (int q = 0; q < n; q++) {
            for (int i = 0; i < k; i++) {
                correct[q][i] = r.nextDouble() < 0.3 + 0.3 * i;
                cost[q][i] = Math.pow(10, i) * (1 + r.nextDouble());
            }
            for (int i = 0; i < k - 1; i++) score[q][i] = Math.min(1, Math.max(0, (correct[q][i] ? 0.65 : 0.35) + 0.25 * r.nextGaussian()));
        }
        // keeping every first answer is the cheapest policy; never keeping one asks everyone
        assertThat(Thresholds.evaluate(new double[]{0, 0}, correct, cost, score).cost())
                .isCloseTo(java.util.Arrays.stream(cost).mapToDouble(c -> c[0]).average().orElseThrow(), within(1e-9));
        double[] t = Thresholds.minimiseCost(0.75, correct, cost, score);
        Thresholds.Outcome o = Thresholds.evaluate(t, correct, cost, score);
        assertThat(o.accuracy()).isGreaterThanOrEqualTo(0.75);
        // no policy on a fine grid does better than the search's
        for (double a = 0; a <= 1.0001; a += 0.02)
            for (double b = 0; b <= 1.0001; b += 0.02) {
                Thresholds.Outcome g = Thresholds.evaluate(new double[]{a, b}, correct, cost, score);
                if (g.accuracy() >= 0.75) assertThat(g.cost()).isGreaterThanOrEqualTo(o.cost() - 1e-9);
            }
        double budget = o.cost();
        double[] tb = Thresholds.maximiseAccuracy(budget, correct, cost, score);
        assertThat(Thresholds.evaluate(tb, correct, cost, score).accuracy()).isGreaterThanOrEqualTo(o.accuracy());
        assertThat(Thresholds.maximiseAccuracy(0.5, correct, cost, score)).isNull();     // below the cheapest tier's cost
        assertThat(Thresholds.minimiseCost(1.01, correct, cost, score)).isNull();
    }

    @Test
    void classifiersLearnSeparableClassesAndSurviveTheRoundTrip() {
        Random r = new Random(9);
        List<float[]> xs = new ArrayList<>();
        int[] ys = new int[300];
        for (int i = 0; i < 300; i++) {
            ys[i] = i % 3;
            float[] x = new float[7];
            for (int j = 0; j < 7; j++) x[j] = (float) r.nextGaussian();
            x[ys[i]] += 4;
            xs.add(x);
        }
        for (Classifier.Kind kind : Classifier.Kind.values()) {
            Classifier c = Classifier.fit(kind, xs, ys, List.of("a", "b", "c"), 1);
            int hits = 0;
            for (int i = 0; i < 300; i++) if (c.predict(xs.get(i)) == ys[i]) hits++;
            assertThat(hits).as(kind.name()).isGreaterThan(290);
            Classifier back = Classifier.fromJson(Json.MAPPER.readTree(Json.compact(c.toJson())), "test");
            assertThat(back.probabilities(xs.get(0))).containsExactly(c.probabilities(xs.get(0)), within(1e-6));
        }
    }

    @Test
    void configErrorsNameTheFileAndTheField(@TempDir Path tmp) throws Exception {
        Path m = Files.createDirectories(tmp.resolve("model"));
        String[][] cases = {
                {"tiers: []", "tiers must list the tiers"},
                {"tiers:\n  - name: a\n    model: model\n  - name: a\n    model: model\n", "tiers names 'a' twice"},
                {"tiers:\n  - name: a\n    model: nowhere\n", "tiers[0].model '"},
                {"tiers:\n  - name: a\n    model: model\n    url: http://x\n", "tiers[0] needs exactly one of model"},
                {"tiers:\n  - name: a\n    model: model\n    cost: {input: -1, output: 0}\n", "tiers[0].cost.input must be a number"},
                {"tiers:\n  - name: a\n    modle: model\n", "tiers[0].modle is not a known field"},
                {"tiers:\n  - name: a\n    url: ftp://x\n", "must be http://host:port"},
                {"tiers: [unclosed", "not valid YAML"},
        };
        for (String[] c : cases) {
            Path f = tmp.resolve("c.yaml");
            Files.writeString(f, c[0]);
            assertThatThrownBy(() -> {
                CascadeConfig cfg = CascadeConfig.read(f);
                for (Target t : cfg.tiers()) if (t.url() != null) new dev.lamina.server.OpenAiClient(t.url(), null, t.timeout(), "tiers[0].url");
            }).as(c[0]).isInstanceOf(LaminaException.class).hasMessageContaining(c[1]);
        }
        // a cascade of several tiers needs its trained scorer, and thresholds for the tiers it has
        Path f = tmp.resolve("two.yaml");
        Files.writeString(f, "name: two\ntiers:\n  - name: a\n    model: model\n  - name: b\n    model: model\n");
        assertThatThrownBy(() -> Cascade.open(CascadeConfig.read(f), fleet)).hasMessageContaining("no scorer in").hasMessageContaining("lamina cascade train");
        Files.createDirectories(tmp.resolve("two-scorer"));
        Files.writeString(tmp.resolve("two-scorer/scorer.json"), Json.compact(constant(0.5).toJson()).replace(dir.resolve("m").toString(), m.toString()));
        Files.writeString(tmp.resolve("two-scorer/thresholds.json"), "{\"thresholds\": {\"zz\": 0.5}}");
        assertThatThrownBy(() -> Cascade.open(CascadeConfig.read(f), fleet)).hasMessageContaining("tier 'zz'");
        Files.writeString(tmp.resolve("two-scorer/thresholds.json"), "{\"thresholds\": {\"a\": 0.5}}");
        Cascade ok = Cascade.open(CascadeConfig.read(f), fleet);
        assertThat(ok.tiers().get(0).threshold()).isEqualTo(0.5);
    }

    @Test
    void routerLearnsCategoriesAndRoutesToTheirModels(@TempDir Path tmp) throws Exception {
        Files.createDirectories(tmp.resolve("model"));
        Path cfg = tmp.resolve("router.yaml");
        Files.writeString(cfg, "name: xllm\nroutes:\n  - category: digits\n    model: model\n    cost: {input: 1, output: 1}\n"
                + "  - category: letters\n    model: model\n");
        StringBuilder data = new StringBuilder();
        Random r = new Random(2);
        for (int i = 0; i < 80; i++) {
            boolean digits = i % 2 == 0;
            StringBuilder q = new StringBuilder();
            for (int j = 0; j < 12; j++) q.append(digits ? (char) ('0' + r.nextInt(10)) : (char) ('a' + r.nextInt(26)));
            data.append("{\"prompt\": \"").append(q).append("\", \"category\": \"").append(digits ? "digits" : "letters").append("\"}\n");
        }
        Path d = tmp.resolve("data.jsonl");
        Files.writeString(d, data);
        RouterConfig c = RouterConfig.read(cfg);
        RouterTraining.Report rep = RouterTraining.run(c, Query.read(d, 4, false, true), fleet, 0.7, 1, 2, s -> {});
        assertThat(rep.accuracy()).isGreaterThanOrEqualTo(0.95);
        assertThat(rep.quality()).isNull();                        // no references: routing only
        Router router = Router.open(c, fleet);
        ObjectNode a = router.answer("completions", completion("8675309123", 0));
        assertThat(a.at("/usage/router/category").asString()).isEqualTo("digits");
        assertThat(a.at("/usage/cost").asDouble()).isPositive();
        assertThat(router.answer("completions", completion("qwertyuiopas", 0)).at("/usage/router/category").asString()).isEqualTo("letters");
        Files.writeString(d, "{\"prompt\": \"x\", \"category\": \"poetry\"}\n");
        assertThatThrownBy(() -> RouterTraining.run(c, Query.read(d, 4, false, true), fleet, 0.7, 1, 2, s -> {}))
                .hasMessageContaining("category 'poetry' has no route");
    }
}
