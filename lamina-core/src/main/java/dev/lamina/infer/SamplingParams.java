package dev.lamina.infer;

import dev.lamina.io.LaminaException;

/**
 * How the next token is chosen (see {@link Sampler} for the order the steps apply in).
 *
 * @param temperature        0: greedy; else logits are divided by it
 * @param topK               keep the k most likely tokens (0: all)
 * @param topP               keep the smallest set of most likely tokens whose probability reaches p (1: all)
 * @param minP               drop tokens less likely than minP times the most likely one (0: off)
 * @param repetitionPenalty  CTRL/Hugging Face penalty on every token of the prompt and the output
 *                           so far: positive logits divided by it, negative ones multiplied (1: off)
 * @param presencePenalty    OpenAI's: subtracted once from the logit of every token already generated
 * @param frequencyPenalty   OpenAI's: subtracted from a token's logit per time it was generated
 * @param seed               the random stream: same seed, same choices
 */
public record SamplingParams(double temperature, int topK, double topP, double minP, double repetitionPenalty,
                             double presencePenalty, double frequencyPenalty, long seed) {

    public static final SamplingParams GREEDY = new SamplingParams(0, 0, 1, 0, 1, 0, 0, 0);

    public SamplingParams {
        if (!(temperature >= 0) || Double.isInfinite(temperature))
            throw new LaminaException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new LaminaException("top_k must be >= 0 (0: off), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new LaminaException("top_p must be in (0, 1], got " + topP);
        if (!(minP >= 0 && minP <= 1)) throw new LaminaException("min_p must be in [0, 1], got " + minP);
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty))
            throw new LaminaException("repetition_penalty must be > 0 (1: off), got " + repetitionPenalty);
        if (!Double.isFinite(presencePenalty)) throw new LaminaException("presence_penalty must be finite, got " + presencePenalty);
        if (!Double.isFinite(frequencyPenalty)) throw new LaminaException("frequency_penalty must be finite, got " + frequencyPenalty);
    }

    /** Temperature, top-k and top-p sampling with no penalties. */
    public static SamplingParams of(double temperature, int topK, double topP, long seed) {
        return new SamplingParams(temperature, topK, topP, 0, 1, 0, 0, seed);
    }

    public SamplingParams withTemperature(double t) { return new SamplingParams(t, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, seed); }
    public SamplingParams withTopK(int k) { return new SamplingParams(temperature, k, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, seed); }
    public SamplingParams withTopP(double p) { return new SamplingParams(temperature, topK, p, minP, repetitionPenalty, presencePenalty, frequencyPenalty, seed); }
    public SamplingParams withMinP(double p) { return new SamplingParams(temperature, topK, topP, p, repetitionPenalty, presencePenalty, frequencyPenalty, seed); }
    public SamplingParams withRepetitionPenalty(double r) { return new SamplingParams(temperature, topK, topP, minP, r, presencePenalty, frequencyPenalty, seed); }
    public SamplingParams withPresencePenalty(double p) { return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, p, frequencyPenalty, seed); }
    public SamplingParams withFrequencyPenalty(double f) { return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, f, seed); }
    public SamplingParams withSeed(long s) { return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, s); }

    /** Whether the choice is the arg-max (temperature 0 or top-k 1). */
    public boolean greedy() { return temperature == 0 || topK == 1; }

    boolean penalised() { return repetitionPenalty != 1 || presencePenalty != 0 || frequencyPenalty != 0; }
}
