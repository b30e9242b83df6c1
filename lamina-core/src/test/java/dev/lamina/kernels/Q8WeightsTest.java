package dev.lamina.kernels;

import dev.lamina.io.Json;
import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.databind.JsonNode;

import java.io.InputStream;

import static dev.lamina.kernels.InferenceKernelsTest.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Q8_0 weights: ggml's quantization bit for bit, and a product within float rounding of the float32 product with the dequantized weights. */
class Q8WeightsTest {
    private static final KernelSet SCALAR = Kernels.scalar(2), VECTOR = Kernels.vector(2);

    /** The fixture of make_q8_fixture.py: weights quantized by the gguf package's reference code. */
    @Test
    void quantizesAsGgmlDoes() throws Exception {
        JsonNode doc;
        try (InputStream in = getClass().getResourceAsStream("/quant/q8_0.json")) {
            doc = Json.MAPPER.readTree(in);
        }
        int out = doc.get("shape").get(0).asInt(), in = doc.get("shape").get(1).asInt();
        Tensor w = Tensor.zeros(out, in);
        for (int i = 0; i < out * in; i++) w.set(i, Float.intBitsToFloat(Integer.parseUnsignedInt(doc.get("weights").get(i).asString(), 16)));
        Q8Weights q = Q8Weights.quantize(Parallel.of(2), w, null);
        int blocks = in / Q8Weights.BLOCK;
        for (int o = 0; o < out; o++)
            for (int b = 0; b < blocks; b++) {
                float scale = Float.float16ToFloat((short) doc.get("scales_f16").get(o * blocks + b).asInt());
                for (int j = 0; j < Q8Weights.BLOCK; j++) {
                    int k = b * Q8Weights.BLOCK + j;
                    int expectQ = doc.get("q").get(o * in + k).asInt();
                    int p = o / Q8Weights.NR, c = o % Q8Weights.NR;
                    assertThat(q.q[p * in * Q8Weights.NR + k * Q8Weights.NR + c]).as("q[%d,%d]", o, k).isEqualTo((byte) expectQ);
                    assertThat(q.d[p * blocks * Q8Weights.NR + b * Q8Weights.NR + c]).as("d[%d,%d]", o, b).isEqualTo(scale);
                }
            }
        Tensor back = q.dequantize();
        for (int i = 0; i < out * in; i++)
            assertThat(back.get(i)).as("dequantized %d", i)
                    .isEqualTo(Float.intBitsToFloat(Integer.parseUnsignedInt(doc.get("dequantized").get(i).asString(), 16)));
    }

    @Test
    void roundsHalvesAwayFromZeroLikeC() {
        assertThat(Q8Weights.roundHalfAway(2.5f)).isEqualTo(3);
        assertThat(Q8Weights.roundHalfAway(-2.5f)).isEqualTo(-3);
        assertThat(Q8Weights.roundHalfAway(-2.49f)).isEqualTo(-2);
        assertThat(Q8Weights.roundHalfAway(127f)).isEqualTo(127);
        assertThat(Q8Weights.roundHalfAway(-0.5f)).isEqualTo(-1);
    }

    @ParameterizedTest
    @CsvSource({"1,64,8", "2,768,36", "3,33,7", "5,100,13", "16,256,64", "17,47,5", "1,1,1", "9,40,130", "130,70,97", "4,64,300", "7,4100,3", "13,1100,37", "13,1100,100"})
    void theProductIsTheFloatProductOfTheDequantizedWeightsOnBothKernelSets(int n, int in, int out) {
        Rng rng = new Rng(n * 7919L + in);
        Tensor x = random(rng, n, in), w1 = random(rng, out, in), w2 = random(rng, out + 5, in), b2 = random(rng, out + 5);
        LinearWeights[] q = {VECTOR.prepare(w1, null, WeightFormat.Q8_0), VECTOR.prepare(w2, b2, WeightFormat.Q8_0)};
        assertThat(q[0]).isInstanceOf(Q8Weights.class);
        long panels = (out + 5 + Q8Weights.NR - 1) / Q8Weights.NR, blocks = (in + 31) / 32;   // a byte per weight, 4 per scale of 32
        assertThat(q[1].extraBytes()).isEqualTo(panels * Q8Weights.NR * (in + 4 * blocks) + 8);
        Tensor y1 = Tensor.zeros(n, out), y2 = Tensor.zeros(n, out + 5);
        VECTOR.project(n, x, q, new Tensor[] {y1, y2});

        // float32 packed weights holding the dequantized values give the same to float rounding (block by block sums)
        Tensor d1 = ((Q8Weights) q[0]).dequantize(), d2 = ((Q8Weights) q[1]).dequantize();
        Tensor f1 = Tensor.zeros(n, out), f2 = Tensor.zeros(n, out + 5);
        VECTOR.project(n, x, new LinearWeights[] {VECTOR.prepare(d1, null), VECTOR.prepare(d2, b2)}, new Tensor[] {f1, f2});
        Q4WeightsTest.close(y1, f1, x, d1, in);
        Q4WeightsTest.close(y2, f2, x, d2, in);

        // the scalar reference reads the same Q8 weights and computes the same chain
        Tensor s1 = Tensor.zeros(n, out), s2 = Tensor.zeros(n, out + 5);
        SCALAR.project(n, x, q, new Tensor[] {s1, s2});
        assertThat(s1.toArray()).isEqualTo(y1.toArray());
        assertThat(s2.toArray()).isEqualTo(y2.toArray());

        // and it is close to the float32 product of the original weights (8-bit error, relative to the scale of the sum)
        Tensor r2 = Tensor.zeros(n, out + 5);
        SCALAR.project(n, x, new LinearWeights[] {SCALAR.prepare(w2, b2)}, new Tensor[] {r2});
        for (int i = 0; i < r2.size(); i++) assertThat(y2.get(i)).isCloseTo(r2.get(i), within(0.05f * (float) Math.sqrt(in) + 1e-3f));

        // a row alone gives its batch's outputs bit for bit
        for (int i = 0; i < n; i += Math.max(1, n / 4)) {
            Tensor one = Tensor.zeros(1, out + 5);
            VECTOR.project(1, x.rows(i, i + 1), new LinearWeights[] {q[1]}, new Tensor[] {one});
            assertThat(one.toArray()).isEqualTo(y2.rows(i, i + 1).toArray());
        }
    }

    @Test
    void formatsParseByName() {
        assertThat(WeightFormat.parse("Q8_0")).isEqualTo(WeightFormat.Q8_0);
        assertThat(WeightFormat.parse("f32")).isEqualTo(WeightFormat.F32);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> WeightFormat.parse("q3"))
                .isInstanceOf(dev.lamina.io.LaminaException.class).hasMessageContaining("q3").hasMessageContaining("q8_0");
    }
}
