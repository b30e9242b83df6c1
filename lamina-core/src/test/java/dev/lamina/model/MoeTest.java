package dev.lamina.model;

import dev.lamina.autograd.MoeOps;
import dev.lamina.autograd.Tape;
import dev.lamina.autograd.Var;
import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Sparse layers beyond what the Mixtral parity vectors pin (those check logits, loss with the aux
 * and z losses, and every gradient through both executors): the grouped ops against a plain
 * per-row reference, the capacity's dropping, experts without rows, counts, and bad configs.
 */
class MoeTest {

    private static Var random(Rng rng, int rows, int cols, double std) {
        Tensor t = Tensor.zeros(rows, cols);
        for (int i = 0; i < t.size(); i++) t.set(i, (float) (rng.nextGaussian() * std));
        return new Var(t, Tensor.zeros(rows, cols));
    }

    /** Σ_j w_j · (x W_e_jᵀ) for each row, by plain loops: the reference the grouped ops must equal. */
    private static float[] reference(Tensor x, MoeOps.Route route, float[] weights, int[] experts, int k, Var[] w) {
        int n = x.dim(0), d = x.dim(1), out = w[0].value().dim(0);
        float[] y = new float[n * out];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < k; j++) {
                Tensor we = w[experts[r * k + j]].value();
                for (int o = 0; o < out; o++) {
                    double s = 0;
                    for (int i = 0; i < d; i++) s += (double) x.get(r * d + i) * we.get(o * d + i);
                    y[r * out + o] += (float) (weights[r * k + j] * s);
                }
            }
        return y;
    }

    @Test
    void groupedOpsEqualAPerRowReferenceAndExpertsWithoutRowsGetNoGradient() {
        Rng rng = new Rng(5);
        int n = 13, d = 7, E = 5, k = 2, out = 6;
        Var logits = random(rng, n, E, 1.0), x = random(rng, n, d, 1.0);
        for (int r = 0; r < n; r++) logits.value().set(r * E + 4, -50f);        // expert 4: never chosen
        Var[] w = new Var[E];
        for (int e = 0; e < E; e++) w[e] = random(rng, out, d, 0.5);
        Tape tape = Tape.training();
        MoeOps.Route route = MoeOps.route(tape, logits, k, 0, null, 0);
        Var y = MoeOps.combine(tape, MoeOps.groupedLinear(tape, MoeOps.permute(tape, x, route), w, route), route);

        // the routing: the top two of each row's softmax, renormalised
        int[] experts = new int[n * k];
        float[] weights = new float[n * k];
        for (int r = 0; r < n; r++) {
            float[] p = new float[E];
            double sum = 0;
            for (int e = 0; e < E; e++) sum += Math.exp(logits.value().get(r * E + e));
            for (int e = 0; e < E; e++) p[e] = (float) (Math.exp(logits.value().get(r * E + e)) / sum);
            MoeOps.topK(p, 0, E, k, experts, r * k);
            assertThat(p[experts[r * k]]).isGreaterThanOrEqualTo(p[experts[r * k + 1]]);
            float kept = p[experts[r * k]] + p[experts[r * k + 1]];
            weights[r * k] = p[experts[r * k]] / kept;
            weights[r * k + 1] = p[experts[r * k + 1]] / kept;
        }
        float[] want = reference(x.value(), route, weights, experts, k, w);
        for (int i = 0; i < want.length; i++) assertThat(y.value().get(i)).isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-5f));
        assertThat(route.total()).isEqualTo(n * k);
        assertThat(route.start(4)).isEqualTo(route.start(5));                   // expert 4's group is empty

        for (int i = 0; i < y.size(); i++) y.grad().set(i, (float) rng.nextGaussian());
        tape.backward();
        for (int e = 0; e < 4; e++) assertThat(norm(w[e].grad())).as("expert " + e).isGreaterThan(0);
        assertThat(norm(w[4].grad())).isZero();
        assertThat(norm(x.grad())).isGreaterThan(0);
        for (int r = 0; r < n; r++) assertThat(logits.grad().get(r * E + 4)).isZero();   // not selected: no gradient from the weights
    }

    @Test
    void capacityDropsLaterChoicesFirstAndDroppedRowsAddNothing() {
        int n = 8, d = 3, E = 2, k = 2;
        Var logits = new Var(Tensor.zeros(n, E), Tensor.zeros(n, E)), x = new Var(Tensor.zeros(n, d), Tensor.zeros(n, d));
        for (int r = 0; r < n; r++) {
            logits.value().set(r * E, r < 6 ? 2f : -2f);                         // rows 0-5 prefer expert 0, rows 6-7 expert 1
            for (int i = 0; i < d; i++) x.value().set(r * d + i, r + 1);
        }
        Var[] w = {new Var(eye(d), Tensor.zeros(d, d)), new Var(eye(d), Tensor.zeros(d, d))};
        Tape tape = Tape.training();
        var losses = new MoeOps.RouterLosses(E, 1, 0.01, 0.001);
        // capacity 0.5: ceil(0.5·8·2/2) = 4 rows per expert. First choices: expert 0 gets rows 0-3 (4-5 dropped),
        // expert 1 rows 6-7; second choices: expert 1 takes rows 0 and 1, the rest are dropped.
        MoeOps.Route route = MoeOps.route(tape, logits, k, 0.5, losses, 0);
        Var y = MoeOps.combine(tape, MoeOps.groupedLinear(tape, MoeOps.permute(tape, x, route), w, route), route);
        assertThat(route.total()).isEqualTo(8);
        assertThat(losses.dropped()).isEqualTo(8);
        assertThat(losses.routed()).isEqualTo(16);
        float hi = (float) (1 / (1 + Math.exp(-2)));                             // each row's first choice: logits 2 and 0 (or 0 and -2)
        assertThat(y.value().get(0)).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-5f));            // both experts kept
        assertThat(y.value().get(2 * d)).isCloseTo(3f * hi, org.assertj.core.data.Offset.offset(1e-5f));   // second choice dropped
        for (int r = 4; r < 6; r++) assertThat(y.value().get(r * d)).as("row " + r).isZero();             // both dropped: residual only
        assertThat(y.value().get(6 * d)).isCloseTo(7f * hi, org.assertj.core.data.Offset.offset(1e-5f));

        // inference never drops: the same routing on an inference tape keeps every row
        Tape inference = Tape.inference();
        assertThat(MoeOps.route(inference, logits, k, 0.5, null, 0).total()).isEqualTo(16);
    }

    private static Tensor eye(int d) {
        Tensor t = Tensor.zeros(d, d);
        for (int i = 0; i < d; i++) t.set(i * d + i, 1f);
        return t;
    }

    private static double norm(Tensor t) {
        double s = 0;
        for (int i = 0; i < t.size(); i++) s += (double) t.get(i) * t.get(i);
        return Math.sqrt(s);
    }

    @Test
    void aSparseModelTrainsAndServesWithCapacityAndCountsWhatItDrops() {
        ModelConfig c = ModelConfig.builder().vocabSize(50).hiddenSize(16).numHiddenLayers(2).numAttentionHeads(2).intermediateSize(24)
                .maxPositionEmbeddings(16).numExperts(4).expertsPerToken(2).capacityFactor(0.6).routerAuxLossCoef(0.01).build();
        Decoder m = Decoder.create(c, 3);
        int B = 2, T = 8;
        int[] ids = new int[B * T], targets = new int[B * T];
        for (int i = 0; i < ids.length; i++) { ids[i] = (i * 7) % 50; targets[i] = (i * 11) % 50; }
        Tape tape = Tape.training(m.kernels());
        TapeExecutor ex = new TapeExecutor(m, tape, ids, B, T);
        float loss = m.loss(ex, targets);
        tape.backward();
        assertThat(loss).isFinite();
        // capacity ceil(0.6·16·2/4) = 5 of 32 slots per expert and layer: at least 32 − 20 = 12 dropped per layer
        assertThat(ex.routerLosses().dropped()).isGreaterThanOrEqualTo(24);
        assertThat(ex.routerLosses().routed()).isEqualTo(64);
        assertThat(ex.routerLosses().load(0)).hasSize(4);
        double sum = 0;
        for (double v : ex.routerLosses().load(1)) sum += v;
        assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-9));
        // the inference runner computes every routed row (no capacity): same logits as an inference tape
        Tensor runner = ParityCheck.inferenceLogits(m, ids, B, T);
        Var tapeLogits = m.forward(Tape.inference(m.kernels()), ids, B, T);
        assertThat(ParityCheck.relativeError(runner, tapeLogits.value())).isLessThan(1e-5);
    }

    /** The experts' products in one region equal each map's own product bit for bit: odd sizes, an empty group, both formats. */
    @Test
    void projectEachEqualsEachMapAlone() {
        Rng rng = new Rng(9);
        int in = 40;
        int[] outs = {24, 37, 24, 8}, rows = {5, 0, 13, 1};
        for (var k : new dev.lamina.kernels.KernelSet[] {dev.lamina.kernels.Kernels.vector(2), dev.lamina.kernels.Kernels.scalar(2)})
            for (var format : new dev.lamina.kernels.WeightFormat[] {dev.lamina.kernels.WeightFormat.F32, dev.lamina.kernels.WeightFormat.Q8_0}) {
                int m = outs.length;
                dev.lamina.kernels.LinearWeights[] ws = new dev.lamina.kernels.LinearWeights[m];
                Tensor[] xs = new Tensor[m], ys = new Tensor[m], alone = new Tensor[m];
                for (int i = 0; i < m; i++) {
                    Tensor w = random(rng, outs[i], in, 0.3).value(), b = random(rng, 1, outs[i], 0.1).value();
                    ws[i] = k.prepare(w, new Tensor(b.data(), 0, new int[] {outs[i]}), format);
                    xs[i] = random(rng, Math.max(1, rows[i]), in, 1).value().rows(0, rows[i]);
                    ys[i] = Tensor.zeros(Math.max(1, rows[i]), outs[i]).rows(0, rows[i]);
                    alone[i] = Tensor.zeros(Math.max(1, rows[i]), outs[i]).rows(0, rows[i]);
                    if (rows[i] > 0) k.project(rows[i], xs[i], new dev.lamina.kernels.LinearWeights[] {ws[i]}, new Tensor[] {alone[i]});
                }
                k.projectEach(rows, xs, ws, ys);
                for (int i = 0; i < m; i++) assertThat(ys[i].toArray()).as(k.describe() + " " + format + " map " + i).containsExactly(alone[i].toArray());
            }
    }

    @Test
    void decodeStreamsTheActiveExpertsOnly() {
        ModelConfig c = ModelConfig.builder().vocabSize(64).hiddenSize(32).numHiddenLayers(2).numAttentionHeads(4).intermediateSize(64)
                .maxPositionEmbeddings(16).numExperts(8).expertsPerToken(2).build();
        Decoder m = Decoder.create(c, 1);
        long active = c.activeParameterCount() - 64L * 32;              // the untied token table is looked up, not streamed
        assertThat(c.parameterCount() - c.activeParameterCount()).isEqualTo(2L * 6 * 3 * 32 * 64);   // 6 idle experts in 2 layers
        assertThat(dev.lamina.infer.InferenceBenchmark.weightBytesPerToken(m)).isEqualTo(4 * active);
        assertThat(dev.lamina.infer.PreparedModel.of(m.withKernels(dev.lamina.kernels.Kernels.scalar(1))).weightBytesPerToken())
                .isEqualTo(4 * active);
    }

    @Test
    void parameterCountsOfTheBigConfigurationsOnPaper() {
        // Mixtral-8x7B: 46.7B parameters, 12.9B active (Mistral AI's figures)
        ModelConfig mixtral = ModelConfig.builder().vocabSize(32000).hiddenSize(4096).numHiddenLayers(32).numAttentionHeads(32)
                .numKeyValueHeads(8).intermediateSize(14336).maxPositionEmbeddings(32768).numExperts(8).expertsPerToken(2).build();
        assertThat(mixtral.parameterCount() / 1e9).isCloseTo(46.7, org.assertj.core.data.Offset.offset(0.05));
        assertThat(mixtral.activeParameterCount() / 1e9).isCloseTo(12.9, org.assertj.core.data.Offset.offset(0.05));
        // the shipped configs: Grok-1 is 314B (xAI) with about a quarter active; our count includes its 0.8B token table
        ModelConfig grok = ModelConfig.read(java.nio.file.Path.of("..", "configs", "grok-1.json"));
        assertThat(grok.parameterCount() / 314e9).isCloseTo(1.0, org.assertj.core.data.Offset.offset(0.01));
        assertThat((double) grok.activeParameterCount() / grok.parameterCount()).isBetween(0.25, 0.27);
        assertThat(grok.normTopkProb()).as("Grok-1 does not renormalise its two experts' weights").isFalse();
        assertThat(ModelConfig.read(java.nio.file.Path.of("..", "configs", "mixtral-8x7b.json"))).isEqualTo(mixtral.toBuilder()
                .ropeTheta(1e6).routerAuxLossCoef(0.02).build());
        // a dense config: the computed count is the layout's
        for (java.nio.file.Path p : TestModels.cases()) {
            ModelConfig tc = ModelConfig.read(p);
            assertThat(tc.parameterCount()).as(p.getFileName().toString()).isEqualTo(Decoder.layout(tc).build().count());
            if (!tc.moe()) assertThat(tc.activeParameterCount()).isEqualTo(tc.parameterCount());
        }
    }

    @Test
    void badConfigsNameTheField() {
        ModelConfig.Builder b = ModelConfig.builder().vocabSize(50).hiddenSize(16).numHiddenLayers(2).numAttentionHeads(2)
                .intermediateSize(24).maxPositionEmbeddings(16);
        assertThatThrownBy(() -> b.numExperts(4).expertsPerToken(5).build()).isInstanceOf(LaminaException.class)
                .hasMessage("model config: experts_per_token must be between 1 and num_experts 4, got 5");
        assertThatThrownBy(() -> b.numExperts(4).expertsPerToken(0).build()).hasMessageContaining("experts_per_token must be between 1");
        assertThatThrownBy(() -> b.numExperts(-1).expertsPerToken(0).build()).hasMessageContaining("num_experts must be 0 (dense) or a positive");
        assertThatThrownBy(() -> b.numExperts(0).expertsPerToken(2).build()).hasMessageContaining("experts_per_token 2 needs num_experts > 0");
        assertThatThrownBy(() -> b.numExperts(4).expertsPerToken(2).routerAuxLossCoef(-0.1).build())
                .hasMessageContaining("router_aux_loss_coef must be a finite number >= 0, got -0.1");
        assertThatThrownBy(() -> b.routerAuxLossCoef(Double.NaN).build()).hasMessageContaining("router_aux_loss_coef must be a finite number >= 0, got NaN");
        assertThatThrownBy(() -> b.routerAuxLossCoef(0).routerZLossCoef(Double.NaN).build()).hasMessageContaining("router_z_loss_coef");
        assertThatThrownBy(() -> b.routerZLossCoef(0).moeEvery(0).build()).hasMessageContaining("moe_every must be a positive integer");
        assertThatThrownBy(() -> b.moeEvery(1).capacityFactor(0.0).build()).hasMessageContaining("capacity_factor must be null or a positive");
        // from JSON, the file is named
        var json = b.capacityFactor(null).build().toJson().put("experts_per_token", 9);
        assertThatThrownBy(() -> ModelConfig.fromJson(json, "moe.json")).hasMessage("moe.json: experts_per_token must be between 1 and num_experts 4, got 9");
    }
}
