package dev.lamina.cascade;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * FrugalGPT's scorer: reads a query with an answer and estimates the probability the answer is right.
 * A logistic regression over what the encoder model makes of the pair ({@link Encoder#answer}),
 * trained on labelled answers of the cascade's own tiers. Saved as scorer.json: the encoder's path
 * and the classifier.
 */
public record Scorer(Path encoderPath, Encoder encoder, Classifier classifier) {
    static final String FILE = "scorer.json";

    /** P(correct | query, answer). */
    public double score(String query, String answer) {
        float[] x;
        synchronized (encoder) { x = encoder.answer(query, answer); }
        return classifier.probabilities(x)[1];
    }

    public ObjectNode toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode().put("encoder", encoderPath.toAbsolutePath().normalize().toString())
                .put("features", "pooled final hidden states (mean, last) of query + answer; answer mean and min log-probability; log(1 + answer tokens); empty");
        o.set("classifier", classifier.toJson());
        return o;
    }

    static Scorer load(Path file, Fleet fleet) {
        JsonNode o;
        try {
            o = Json.MAPPER.readTree(file.toFile());
        } catch (RuntimeException e) {
            throw new LaminaException(file + ": not JSON; train the scorer again");
        }
        if (!o.path("encoder").isString()) throw new LaminaException(file + ": names no encoder; train the scorer again");
        Path enc = Path.of(o.get("encoder").asString());
        if (!Files.exists(enc)) throw new LaminaException(file + ": its encoder " + enc + " is gone; train the scorer again");
        return new Scorer(enc, new Encoder(fleet.model(enc)), Classifier.fromJson(o.path("classifier"), file.toString()));
    }
}
