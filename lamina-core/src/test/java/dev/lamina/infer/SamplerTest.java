package dev.lamina.infer;

import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Rng;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Each sampling knob against an answer worked out by hand. */
class SamplerTest {
    static final SamplingParams PLAIN = new SamplingParams(1, 0, 1, 0, 1, 0, 0, 42);

    /** Logits whose softmax is exactly the given probabilities. */
    static float[] logitsOf(double... probs) {
        float[] l = new float[probs.length];
        for (int i = 0; i < probs.length; i++) l[i] = (float) Math.log(probs[i]);
        return l;
    }

    static int[] histogram(SamplingParams p, float[] logits, int draws) {
        Sampler s = new Sampler(p);
        int[] h = new int[logits.length];
        for (int i = 0; i < draws; i++) h[s.sample(logits.clone())]++;
        return h;
    }

    static float[] randomLogits(Rng rng, int V) {
        float[] l = new float[V];
        for (int i = 0; i < V; i++) l[i] = (float) (rng.nextGaussian() * 3);
        return l;
    }

    @Test
    void greedyTakesTheArgMaxAndTheLowestIdOnTies() {
        assertThat(Sampler.greedy().sample(new float[]{1, 3, 2})).isEqualTo(1);
        assertThat(Sampler.greedy().sample(new float[]{1, 3, 3})).isEqualTo(1);
        assertThat(new Sampler(0, 0, 1, 5).sample(new float[]{-5, -1, -3})).isEqualTo(1);
    }

    @Test
    void topKOneIsGreedy() {
        Rng rng = new Rng(3);
        Sampler k1 = new Sampler(PLAIN.withTopK(1).withTemperature(1.5));
        for (int i = 0; i < 200; i++) {
            float[] l = randomLogits(rng, 100);
            assertThat(k1.sample(l)).isEqualTo(Sampler.argmax(l, 0, l.length));
        }
    }

    @Test
    void topKKeepsOnlyTheKMostLikely() {
        float[] l = logitsOf(0.1, 0.4, 0.3, 0.2);
        int[] h = histogram(PLAIN.withTopK(2), l, 4000);
        assertThat(h[0]).isZero();
        assertThat(h[3]).isZero();
        assertThat(h[1] / 4000.0).isCloseTo(4.0 / 7, within(0.03));    // 0.4 / (0.4 + 0.3)
    }

    @Test
    void topPKeepsTheSmallestNucleus() {
        float[] l = logitsOf(0.5, 0.3, 0.15, 0.05);
        int[] h = histogram(PLAIN.withTopP(0.75), l, 4000);               // 0.5 < 0.75 <= 0.5 + 0.3
        assertThat(h[2] + h[3]).isZero();
        assertThat(h[0] / 4000.0).isCloseTo(0.5 / 0.8, within(0.03));
        int[] all = histogram(PLAIN.withTopP(0.9), l, 4000);              // 0.8 < 0.9 <= 0.95
        assertThat(all[3]).isZero();
        assertThat(all[2]).isPositive();
    }

    @Test
    void minPDropsTokensBelowAFractionOfTheMostLikely() {
        float[] l = logitsOf(0.5, 0.3, 0.15, 0.05);
        int[] h = histogram(PLAIN.withMinP(0.5), l, 4000);                // threshold 0.25: tokens 0 and 1 remain
        assertThat(h[2] + h[3]).isZero();
        assertThat(h[1] / 4000.0).isCloseTo(0.3 / 0.8, within(0.03));
        int[] h2 = histogram(PLAIN.withMinP(0.2), l, 4000);               // threshold 0.1: token 2 (0.15) stays, 3 (0.05) goes
        assertThat(h2[3]).isZero();
        assertThat(h2[2]).isPositive();
    }

    @Test
    void temperatureSharpensAndFlattens() {
        float[] l = logitsOf(0.6, 0.4);
        // p ∝ p_i^(1/T): T = 0.5 gives 0.36 : 0.16, i.e. 0.692 for token 0
        assertThat(histogram(PLAIN.withTemperature(0.5), l, 6000)[0] / 6000.0).isCloseTo(0.36 / 0.52, within(0.025));
        // T = 2 gives sqrt(0.6) : sqrt(0.4), i.e. 0.5505
        double want = Math.sqrt(0.6) / (Math.sqrt(0.6) + Math.sqrt(0.4));
        assertThat(histogram(PLAIN.withTemperature(2), l, 6000)[0] / 6000.0).isCloseTo(want, within(0.025));
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        Sampler s = new Sampler(SamplingParams.GREEDY.withRepetitionPenalty(1.2));
        s.prompt(new int[]{0});
        assertThat(s.sample(new float[]{2.0f, 1.9f, -1f})).isEqualTo(1);   // 2.0 / 1.2 = 1.67 < 1.9
        Sampler neg = new Sampler(SamplingParams.GREEDY.withRepetitionPenalty(1.2));
        neg.prompt(new int[]{0});
        assertThat(neg.sample(new float[]{-1.0f, -1.1f})).isEqualTo(1);     // -1.0 · 1.2 = -1.2 < -1.1
        Sampler off = new Sampler(SamplingParams.GREEDY);
        off.prompt(new int[]{0});
        assertThat(off.sample(new float[]{2.0f, 1.9f, -1f})).isZero();
    }

    @Test
    void presenceAndFrequencyPenaltiesCountGeneratedTokens() {
        Sampler p = new Sampler(SamplingParams.GREEDY.withPresencePenalty(0.5));
        assertThat(p.sample(new float[]{1.0f, 0.8f})).isZero();             // nothing generated yet
        assertThat(p.sample(new float[]{1.0f, 0.8f})).isEqualTo(1);         // 1.0 − 0.5 = 0.5 < 0.8
        assertThat(p.sample(new float[]{1.0f, 0.8f})).isZero();             // both seen: 0.5 vs 0.3

        Sampler f = new Sampler(SamplingParams.GREEDY.withFrequencyPenalty(0.15));
        assertThat(f.sample(new float[]{1.0f, 0.75f})).isZero();            // counts 0
        assertThat(f.sample(new float[]{1.0f, 0.75f})).isZero();            // 1.0 − 0.15 = 0.85 > 0.75
        assertThat(f.sample(new float[]{1.0f, 0.75f})).isEqualTo(1);        // 1.0 − 2·0.15 = 0.70 < 0.75
    }

    @Test
    void penaltiesDoNotTouchTheCallersLogits() {
        float[] l = {1.0f, 0.8f};
        Sampler p = new Sampler(SamplingParams.GREEDY.withPresencePenalty(0.5));
        p.accept(0);
        p.sample(l);
        assertThat(l).containsExactly(1.0f, 0.8f);
    }

    @Test
    void sameSeedSameChoicesAndOtherSeedsDiffer() {
        Rng rng = new Rng(9);
        float[][] steps = new float[50][];
        for (int i = 0; i < steps.length; i++) steps[i] = randomLogits(rng, 300);
        SamplingParams p = new SamplingParams(0.9, 40, 0.95, 0.01, 1.1, 0.2, 0.1, 1234);
        int[] a = run(new Sampler(p), steps), b = run(new Sampler(p), steps), other = run(new Sampler(p.withSeed(1235)), steps);
        assertThat(a).isEqualTo(b);
        assertThat(other).isNotEqualTo(a);
        Set<Integer> distinct = new HashSet<>();
        for (int t : a) distinct.add(t);
        assertThat(distinct.size()).isGreaterThan(10);                        // it does sample, not just arg-max
    }

    private static int[] run(Sampler s, float[][] steps) {
        int[] out = new int[steps.length];
        for (int i = 0; i < steps.length; i++) out[i] = s.sample(steps[i]);
        return out;
    }

    @Test
    void logprobsAreTheLogSoftmaxOfTheRawLogits() {
        float[] l = logitsOf(0.25, 0.75);
        Logprobs.Choice c = Logprobs.of(l, 0, 2, 0, 2);
        assertThat(c.chosen().token()).isZero();
        assertThat(c.chosen().logprob()).isCloseTo(Math.log(0.25), within(1e-6));
        assertThat(c.top()).hasSize(2);
        assertThat(c.top()[0].token()).isEqualTo(1);
        assertThat(c.top()[0].logprob()).isCloseTo(Math.log(0.75), within(1e-6));
        Logprobs.Choice big = Logprobs.of(logitsOf(0.1, 0.2, 0.3, 0.05, 0.35), 0, 5, 3, 3);
        assertThat(big.top()).extracting(Logprobs.Entry::token).containsExactly(4, 2, 1);
        assertThat(big.chosen().logprob()).isCloseTo(Math.log(0.05), within(1e-6));
        assertThat(Logprobs.of(l, 0, 2, 1, 0).top()).isEmpty();
    }

    @Test
    void invalidSettingsAreRejected() {
        assertThatThrownBy(() -> new Sampler(-1, 0, 1, 0)).isInstanceOf(LaminaException.class).hasMessageContaining("temperature");
        assertThatThrownBy(() -> new Sampler(1, -1, 1, 0)).isInstanceOf(LaminaException.class).hasMessageContaining("top_k");
        assertThatThrownBy(() -> new Sampler(1, 0, 0, 0)).isInstanceOf(LaminaException.class).hasMessageContaining("top_p");
        assertThatThrownBy(() -> PLAIN.withMinP(1.5)).isInstanceOf(LaminaException.class).hasMessageContaining("min_p");
        assertThatThrownBy(() -> PLAIN.withRepetitionPenalty(0)).isInstanceOf(LaminaException.class).hasMessageContaining("repetition_penalty");
    }
}
