package dev.lamina.research;

import dev.lamina.autograd.Tape;
import dev.lamina.data.TokenFile;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Parameters;
import dev.lamina.model.Role;
import dev.lamina.model.TapeExecutor;
import dev.lamina.model.TestModels;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Dropping layers gives a normal smaller model that computes exactly what the full model computes
 * with those layers skipped, on every parity config whose layers do not depend on their index (the
 * others are refused); removing heads and MLP channels gives one that computes what the full model
 * computes with their contributions zeroed; the choice rules and sparsity patterns do what they say.
 */
class PruningTest {

    @Test
    void aPrunedModelIsTheFullModelWithThoseLayersSkipped() {
        int checked = 0, refused = 0;
        for (String name : TestModels.names()) {
            Decoder m = TestModels.load(name);
            ModelConfig c = m.config();
            int B = 2, T = Math.min(7, c.maxPositionEmbeddings());
            int[] ids = new int[B * T];
            for (int i = 0; i < ids.length; i++) ids[i] = (i * 13 + 5) % c.vocabSize();
            int[] drop = {1};
            Decoder p;
            try {
                p = Pruning.dropLayers(m, drop);
            } catch (LaminaException e) {
                boolean indexed = c.postLayers() % c.numHiddenLayers() != 0 || c.layernormScaling() || c.slidingWindowPattern() != null || c.moeEvery() > 1;
                assertThat(indexed).as(name + ": " + e.getMessage()).isTrue();
                refused++;
                continue;
            }
            assertThat(p.config().numHiddenLayers()).isEqualTo(c.numHiddenLayers() - 1);
            assertThat(p.parameterCount()).isLessThan(m.parameterCount());
            float[] skipped = m.forward(new TapeExecutor(m, Tape.inference(m.kernels()), ids, B, T).probes(l -> l == 1, null, null)).value().toArray();
            float[] pruned = p.forward(Tape.inference(p.kernels()), ids, B, T).value().toArray();
            assertThat(pruned).as(name).isEqualTo(skipped);
            checked++;
        }
        assertThat(checked).isGreaterThanOrEqualTo(12);
        assertThat(refused).isGreaterThanOrEqualTo(3);
    }

    @Test
    void theRulesPickTheLeastChangingBlockAndTheCheapestLayers() {
        double N = Double.NaN;
        double[][] angular = {            // d(l, n) for l = 0..4, n = 0..5
                {N, .30, .50, .60, .70, .80},
                {N, .20, .25, .45, .60, N},
                {N, .10, .15, .40, N, N},
                {N, .05, .35, N, N, N},
                {N, .40, N, N, N, N}};
        assertThat(Pruning.blockByAngle(angular, 2)).containsExactly(2, 3);
        assertThat(Pruning.blockByAngle(angular, 1)).containsExactly(3);
        assertThat(Pruning.blockByAngle(angular, 3)).containsExactly(2, 3, 4);
        assertThat(Pruning.byRemovalCost(new double[] {5, 0.5, 3, 0.1, 0.5}, 3)).containsExactly(1, 3, 4);
        assertThatThrownBy(() -> Pruning.blockByAngle(angular, 5)).hasMessageContaining("drop-layers must be between 1 and 4");
        assertThatThrownBy(() -> Pruning.byRemovalCost(new double[] {1, 2}, 0)).hasMessageContaining("drop-layers must be between 1 and 1");
    }
    @Test
    void aWidthPrunedModelIsTheFullModelWithThoseHeadsAndChannelsSilenced() {
        int checked = 0;
        for (String name : TestModels.names()) {
            Decoder m = TestModels.load(name);
            ModelConfig c = m.config();
            int H = c.numAttentionHeads(), KV = c.numKeyValueHeads(), g = H / KV, L = c.numHiddenLayers(), ff = c.intermediateSize();
            if (c.moe() || H < 2) continue;
            double[][] hs = new double[L][H], cs = new double[L][ff];
            for (int l = 0; l < L; l++) {                           // scores that keep different heads and channels in each layer
                for (int h = 0; h < H; h++) hs[l][h] = ((h * 7 + l * 3) % H) + 0.5;
                for (int j = 0; j < ff; j++) cs[l][j] = ((j * 5 + l * 11) % ff) + 0.5;
            }
            int[][] heads = Pruning.keptHeads(hs, H, KV, g > 1 ? 1.0 / g : 1.0 / H);
            int[][] channels = Pruning.keptChannels(cs, ff, 0.25);
            Decoder p = Pruning.width(m, heads, channels);
            assertThat(p.config().numAttentionHeads()).as(name).isEqualTo(g > 1 ? H - KV : H - 1);
            assertThat(p.config().numKeyValueHeads()).as(name).isEqualTo(g > 1 ? KV : H - 1);
            assertThat(p.config().headDim()).isEqualTo(c.headDim());
            assertThat(p.config().intermediateSize()).isEqualTo(ff - (int) Math.rint(ff * 0.25));
            assertThat(p.parameterCount()).isLessThan(m.parameterCount());

            Parameters silenced = Decoder.layout(c).build();           // the full model with the removed parts' outputs zeroed
            silenced.copyFrom(m.params());
            int hd = c.headDim();
            for (int l = 0; l < L; l++) {
                Tensor o = silenced.value(ParamKey.of(Role.O, l)), down = silenced.value(ParamKey.of(Role.DOWN, l));
                for (int h = 0; h < H; h++)
                    if (Arrays.binarySearch(heads[l], h) < 0)
                        for (int r = 0; r < o.dim(0); r++) for (int i = h * hd; i < (h + 1) * hd; i++) o.set(r * o.dim(1) + i, 0f);
                for (int j = 0; j < ff; j++)
                    if (Arrays.binarySearch(channels[l], j) < 0) for (int r = 0; r < down.dim(0); r++) down.set(r * ff + j, 0f);
            }
            Decoder full = new Decoder(c, silenced);
            int B = 2, T = Math.min(7, c.maxPositionEmbeddings());
            int[] ids = new int[B * T];
            for (int i = 0; i < ids.length; i++) ids[i] = (i * 13 + 5) % c.vocabSize();
            float[] want = full.forward(Tape.inference(full.kernels()), ids, B, T).value().toArray();
            float[] got = p.forward(Tape.inference(p.kernels()), ids, B, T).value().toArray();
            float scale = 0;
            for (float v : want) scale = Math.max(scale, Math.abs(v));
            for (int i = 0; i < want.length; i++) assertThat(got[i]).as(name + " logit " + i).isCloseTo(want[i], org.assertj.core.data.Offset.offset(2e-5f * Math.max(1, scale)));
            checked++;
        }
        assertThat(checked).isGreaterThanOrEqualTo(12);
    }

    @Test
    void activationsFindASilentHeadAndASilentChannel(@TempDir Path dir) throws Exception {
        ModelConfig c = ResearchData.tiny();
        Decoder m = Decoder.create(c, 5);
        int hd = c.headDim(), d = c.hiddenSize();
        Tensor v = m.params().value(ParamKey.of(Role.V, 1)), up = m.params().value(ParamKey.of(Role.UP, 2));
        int kvOfHead1 = 1 / (c.numAttentionHeads() / c.numKeyValueHeads());
        for (int i = kvOfHead1 * hd * d; i < (kvOfHead1 + 1) * hd * d; i++) v.set(i, 0f);     // layer 1: head 1's values are zero, so is its output
        for (int i = 5 * d; i < 6 * d; i++) up.set(i, 0f);                                   // layer 2: channel 5's up row is zero, so is its activation
        int[] tokens = new int[4000];
        for (int i = 0; i < tokens.length; i++) tokens[i] = (i * 31 + i / 7) % 200;
        Path f = dir.resolve("val.bin");
        TokenFile.write(f, tokens, c.vocabSize());
        Pruning.Activations a = Pruning.activations(m, TokenFile.open(f), 2, 32, 3);
        assertThat(a.tokens()).isEqualTo(3 * 2 * 32);
        assertThat(a.heads()[1][1]).isZero();
        for (int h = 0; h < c.numAttentionHeads(); h++) if (h / (c.numAttentionHeads() / c.numKeyValueHeads()) != kvOfHead1) assertThat(a.heads()[1][h]).isPositive();
        assertThat(a.channels()[2][5]).isZero();
        assertThat(a.channels()[2][4]).isPositive();
        assertThat(Pruning.keptChannels(a.channels(), c.intermediateSize(), 1.0 / c.intermediateSize())[2]).doesNotContain(5).hasSize(c.intermediateSize() - 1);
        assertThat(a.inputNorms()).containsKey(ParamKey.of(Role.Q, 0)).containsKey(ParamKey.of(Role.DOWN, 3));
        assertThat(a.inputNorms().get(ParamKey.of(Role.DOWN, 2))[5]).isZero();
    }

    @Test
    void groupedQueryHeadsArePrunedWithinTheirGroups() {
        double[][] s = {{8, 1, 7, 2, 3, 6, 4, 5}};
        assertThat(Pruning.keptHeads(s, 8, 2, 0.5)[0]).containsExactly(0, 2, 5, 7);   // groups {0..3} and {4..7} keep their top two each
        assertThat(Pruning.keptHeads(s, 8, 2, 0.25)[0]).containsExactly(0, 2, 3, 5, 6, 7);
        assertThat(Pruning.keptHeads(s, 8, 8, 0.25)[0]).containsExactly(0, 2, 4, 5, 6, 7);   // multi-head: the six strongest heads
        assertThatThrownBy(() -> Pruning.keptHeads(s, 8, 2, 0.3)).hasMessageContaining("KV group").hasMessageContaining("0.25");
        assertThatThrownBy(() -> Pruning.keptHeads(s, 8, 4, 0.5 + 1e-3)).hasMessageContaining("KV group");
        assertThatThrownBy(() -> Pruning.keptHeads(s, 8, 8, 1.0)).hasMessageContaining("fraction to remove");
        assertThatThrownBy(() -> Pruning.keptChannels(new double[][] {{1, 2, 3}}, 3, 0.1)).hasMessageContaining("removes 0 of 3");
    }

    @Test
    void sparsityZeroesTheLowestOfEachRowOrTwoOfEveryFour() {
        ModelConfig c = ResearchData.tiny();
        Decoder m = Decoder.create(c, 9);
        Decoder u = Pruning.sparsify(m, 0.5, Pruning.Pattern.UNSTRUCTURED, Pruning.Score.MAGNITUDE, null);
        Decoder t = Pruning.sparsify(m, 0.5, Pruning.Pattern.TWO_FOUR, Pruning.Score.MAGNITUDE, null);
        assertThat(Pruning.sparsity(m)).isZero();
        assertThat(Pruning.sparsity(u)).isEqualTo(0.5);
        assertThat(Pruning.sparsity(t)).isEqualTo(0.5);
        Tensor w0 = m.params().value(ParamKey.of(Role.GATE, 1)), wu = u.params().value(ParamKey.of(Role.GATE, 1)), wt = t.params().value(ParamKey.of(Role.GATE, 1));
        int in = w0.dim(1);
        for (int r = 0; r < w0.dim(0); r++) {
            float keptMin = Float.MAX_VALUE, zeroMax = 0;
            for (int j = 0; j < in; j++) {
                float a = Math.abs(w0.get(r * in + j));
                if (wu.get(r * in + j) == 0f) zeroMax = Math.max(zeroMax, a); else { keptMin = Math.min(keptMin, a); assertThat(wu.get(r * in + j)).isEqualTo(w0.get(r * in + j)); }
            }
            assertThat(zeroMax).isLessThanOrEqualTo(keptMin);
            for (int g = 0; g < in; g += 4) {
                int zeros = 0;
                for (int j = g; j < g + 4; j++) if (wt.get(r * in + j) == 0f) zeros++;
                assertThat(zeros).isEqualTo(2);
            }
        }
        assertThat(m.params().value(ParamKey.of(Role.EMBEDDING))).isNotNull();
        assertThat(u.params().value(ParamKey.of(Role.EMBEDDING)).toArray()).isEqualTo(m.params().value(ParamKey.of(Role.EMBEDDING)).toArray());

        // Wanda: an input column with a large norm keeps its weights, though they are the smallest
        ParamKey q0 = ParamKey.of(Role.Q, 0);
        Tensor q = m.params().value(q0);
        double[] norms = new double[q.dim(1)];
        Arrays.fill(norms, 1);
        norms[3] = 1e6;
        for (int r = 0; r < q.dim(0); r++) q.set(r * q.dim(1) + 3, 1e-6f);
        Map<ParamKey, double[]> in2 = new java.util.HashMap<>();
        for (Parameters.Slot sl : m.params().slots().values()) if (Pruning.sparsifiable(sl.key())) in2.put(sl.key(), norms.length == sl.shape()[1] ? norms : ones(sl.shape()[1]));
        var acts = new Pruning.Activations(null, null, in2, 1);
        Tensor qw = Pruning.sparsify(m, 0.5, Pruning.Pattern.UNSTRUCTURED, Pruning.Score.WANDA, acts).params().value(q0);
        Tensor qm = Pruning.sparsify(m, 0.5, Pruning.Pattern.UNSTRUCTURED, Pruning.Score.MAGNITUDE, null).params().value(q0);
        for (int r = 0; r < q.dim(0); r++) {
            assertThat(qw.get(r * q.dim(1) + 3)).isEqualTo(1e-6f);
            assertThat(qm.get(r * q.dim(1) + 3)).isZero();
        }
        assertThatThrownBy(() -> Pruning.sparsify(m, 0.6, Pruning.Pattern.TWO_FOUR, Pruning.Score.MAGNITUDE, null)).hasMessageContaining("--sparsity 0.5");
        assertThatThrownBy(() -> Pruning.sparsify(m, 0.5, Pruning.Pattern.UNSTRUCTURED, Pruning.Score.WANDA, null)).hasMessageContaining("magnitude");
    }

    private static double[] ones(int n) { double[] a = new double[n]; Arrays.fill(a, 1); return a; }
}
