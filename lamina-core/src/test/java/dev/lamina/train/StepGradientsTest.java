package dev.lamina.train;

import dev.lamina.data.Dataset;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.TestModels;
import dev.lamina.tensor.Precision;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The step's gradient kept by region ({@link StepGradients}): in 16 bits with one micro-batch, summed
 * region by region with several. On every parity config (dense, GQA, sliding windows, Post-LN, Mix-LN,
 * LayerNorm scaling, GPT-2 with tied and untied heads, mixtures of experts), in bf16, fp16 and fp32,
 * with and without activation checkpointing, training gives the in-place path's losses, weights and
 * AdamW moments to the bit, and holds fewer bytes.
 */
class StepGradientsTest {

    @TempDir static Path dataDir;
    private static Dataset data;

    private static synchronized Dataset data() {
        if (data == null) data = TrainerTestData.write(dataDir);
        return data;
    }

    private record Run(List<Float> losses, float[] weights, float[] m, float[] v, Trainer trainer) {}

    private static Run train(ModelConfig c, Precision p, int accum, int every, boolean inPlace, Path dir) {
        Decoder model = Decoder.create(c, 7);
        TrainConfig tc = TrainConfig.builder(4, 2, Math.min(16, c.maxPositionEmbeddings())).lr(3e-3).warmup(1).seed(42).evalEvery(0)
                .evalBatches(1).accum(accum).precision(p).checkpointEvery(every).clip(0.5).build();
        Trainer t = Trainer.start(model, data(), "test", tc, dir);
        if (inPlace) t.inPlaceGradients();
        List<Float> losses = t.train(4, null);
        return new Run(losses, model.params().data().clone(), t.optimizer().m().clone(), t.optimizer().v().clone(), t);
    }

    @Test
    void byRegionTrainsAsInPlaceToTheBit(@TempDir Path dir) {
        List<String> differ = new ArrayList<>();
        int runs = 0;
        for (String name : TestModels.names()) {
            ModelConfig c = TestModels.load(name).config().withVocabSize(257);
            for (Precision p : Precision.values())
                for (int accum : new int[] {1, 2}) {
                    if (p == Precision.FP32 && accum == 1) continue;             // in place: nothing to keep elsewhere
                    for (int every : new int[] {0, 1}) {
                        String what = String.format("%s %s accum %d every %d", name, p.label(), accum, every);
                        Run ref = train(c, p, accum, every, true, dir.resolve(what.replace(' ', '_') + "-ref"));
                        Run got = train(c, p, accum, every, false, dir.resolve(what.replace(' ', '_')));
                        long n = got.trainer().model().params().count(), half = accum == 1 ? 2 * n + 4L * StepGradients.chunkFloats(n) : 0;
                        assertThat(got.trainer().stepGradientBytes()).as(what).isEqualTo(half + 4 * working(got.trainer().model()));
                        runs++;
                        if (!got.losses().equals(ref.losses())) differ.add(what + ": losses " + got.losses() + " vs " + ref.losses());
                        else if (!java.util.Arrays.equals(got.weights(), ref.weights())) differ.add(what + ": weights");
                        else if (!java.util.Arrays.equals(got.m(), ref.m()) || !java.util.Arrays.equals(got.v(), ref.v())) differ.add(what + ": moments");
                    }
                }
        }
        System.out.printf("step gradients by region: %d runs against in place%n", runs);
        assertThat(differ).isEmpty();
        assertThat(runs).isGreaterThan(40);
    }

    /**
     * The working floats when backward reports every layer as it passes it: the largest region, and
     * when the head's table is the embeddings' (whose region then stays lent from the head, in the
     * forward, to the embeddings, at the end) also the largest of the others.
     */
    private static long working(Decoder m) {
        GradientRegions r = GradientRegions.of(m.params(), m.config().numHiddenLayers());
        long[] sizes = new long[r.regions()];
        for (int q = 0; q < sizes.length; q++) sizes[q] = r.size(q);
        return StepGradients.workingFloats(sizes, m.config().tieWordEmbeddings());
    }

    /** The config's own count of each region's parameters (what the memory plan reads) is the layout's. */
    @Test
    void regionSizesFromTheConfigAreTheLayouts() {
        for (String name : TestModels.names()) {
            Decoder m = TestModels.load(name);
            ModelConfig c = m.config();
            GradientRegions r = GradientRegions.of(m.params(), c.numHiddenLayers());
            for (int l = 0; l < c.numHiddenLayers(); l++) assertThat((long) r.size(1 + l)).as("%s layer %d", name, l).isEqualTo(c.layerParameterCount(l));
            assertThat((long) r.size(0)).as(name).isEqualTo(c.parameterCounts().embeddings());
        }
    }

    /** 16 bits: 2 bytes a parameter plus the working buffers, which for an untied head are the largest region only. */
    @Test
    void sixteenBitsHoldHalfTheBytesOfFloat32(@TempDir Path dir) {
        ModelConfig c = dev.lamina.model.Presets.get("tiny").config().apply(257);
        Run r = train(c, Precision.BF16, 1, 0, false, dir);
        Decoder m = r.trainer().model();
        long n = m.params().count();
        assertThat(m.config().tieWordEmbeddings()).isFalse();
        assertThat(r.trainer().stepGradientBytes()).isEqualTo(2 * n + 4 * working(m) + 4L * StepGradients.chunkFloats(n));
        assertThat(working(m)).as("one layer's parameters").isLessThan(n / 4);
        assertThat(m.params().hasGradients()).as("no float32 gradient of the whole model").isFalse();
    }
}
