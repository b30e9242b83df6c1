package dev.lamina.cascade;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

/**
 * Every target's answer to every query of a set, generated a few at a time (so a local model batches
 * them) and kept in answers.jsonl beside the trained files: training again with other options, or
 * after an interruption, asks only for what is missing.
 */
final class Answers {
    /** One answer: its text and tokens. */
    record Answer(String text, long promptTokens, long completionTokens) {}

    private Answers() {}

    /**
     * What an answer was kept under: the target's name and model (a local model's path and the time it
     * was last written, so a model trained again is asked again; an endpoint's address and model).
     */
    private static String identity(Fleet.Endpoint e) {
        Target t = e.target();
        if (t.model() == null) return t.name() + "@" + t.url() + "#" + e.model();
        try {
            return t.name() + "@" + t.model().toAbsolutePath().normalize() + "#" + Files.getLastModifiedTime(t.model()).toMillis();
        } catch (IOException x) {
            return t.name() + "@" + t.model().toAbsolutePath().normalize();
        }
    }

    /** answers[q][t] for queries × targets; done(n) after each answer. */
    static Answer[][] collect(List<Query> queries, List<Fleet.Endpoint> targets, Path file, int concurrency, IntConsumer done) {
        Map<String, Answer> kept = new ConcurrentHashMap<>();
        if (Files.isRegularFile(file)) {
            try {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) continue;
                    try {
                        JsonNode o = Json.MAPPER.readTree(line);
                        kept.put(o.get("key").asString(), new Answer(o.get("text").asString(), o.get("prompt_tokens").asLong(), o.get("completion_tokens").asLong()));
                    } catch (RuntimeException e) {
                        // a line cut short by an interruption: asked again
                    }
                }
            } catch (IOException e) {
                throw new LaminaException(file + ": cannot read (" + e.getMessage() + ")");
            }
        }
        Answer[][] out = new Answer[queries.size()][targets.size()];
        List<Future<?>> jobs = new ArrayList<>();
        int[] count = {0};
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                 ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, concurrency), Thread.ofVirtual().factory())) {
                for (int q = 0; q < queries.size(); q++)
                    for (int t = 0; t < targets.size(); t++) {
                        int qi = q, ti = t;
                        Fleet.Endpoint e = targets.get(t);
                        ObjectNode body = queries.get(q).body();
                        String key = identity(e) + " " + queries.get(q).endpoint() + " " + Json.compact(body);
                        jobs.add(pool.submit(() -> {
                            Answer a = kept.get(key);
                            if (a == null) {
                                JsonNode r = e.post(queries.get(qi).endpoint(), body);
                                a = new Answer(Query.answerText(r), r.path("usage").path("prompt_tokens").asLong(0), r.path("usage").path("completion_tokens").asLong(0));
                                ObjectNode line = Json.MAPPER.createObjectNode().put("key", key).put("text", a.text())
                                        .put("prompt_tokens", a.promptTokens()).put("completion_tokens", a.completionTokens());
                                synchronized (w) {
                                    w.write(Json.compact(line));
                                    w.newLine();
                                    w.flush();
                                }
                            }
                            out[qi][ti] = a;
                            synchronized (count) { done.accept(++count[0]); }
                            return null;
                        }));
                    }
                for (Future<?> f : jobs) {
                    try {
                        f.get();
                    } catch (java.util.concurrent.ExecutionException x) {
                        jobs.forEach(j -> j.cancel(true));
                        throw x.getCause() instanceof LaminaException le ? le : new LaminaException("answering failed: " + x.getCause());
                    }
                }
            }
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot write (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LaminaException("interrupted");
        }
        return out;
    }
}
