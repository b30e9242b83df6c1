package dev.lamina.gguf;

import dev.lamina.autograd.Tape;
import dev.lamina.infer.ContiguousKvCache;
import dev.lamina.infer.InferenceSession;
import dev.lamina.infer.PreparedModel;
import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.Kernels;
import dev.lamina.kernels.WeightFormat;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A quantized GGUF file loaded for inference keeps its blocks, whatever their type: no float32
 * copy of those weights, and the logits of the model dequantized to float32: through the inference
 * executor to float rounding (its products are summed block by block, as llama.cpp does), and bit
 * for bit through the tape.
 */
class GgufStoredTest {
    @TempDir Path dir;

    static ModelConfig config(String arch, boolean tied) {
        ModelConfig c = arch.equals("gpt2") ? GgufModelTest.gpt2(tied) : GgufModelTest.llama(!arch.equals("moe"), tied, null);
        if (arch.equals("moe")) c = c.toBuilder().numExperts(4).expertsPerToken(2).build();     // Mixtral's layout, experts stacked
        return c.toBuilder().hiddenSize(256).intermediateSize(512).build();    // whole K-quant super-blocks
    }

    @ParameterizedTest
    @CsvSource({"llama,false,q8_0", "llama,false,q4_0", "llama,true,q4_k", "llama,false,q6_k", "llama,false,q4_k_m",
                "llama,true,q4_k_m", "gpt2,false,q4_0", "gpt2,true,q4_k_m", "gpt2,false,q8_0", "moe,false,q8_0", "moe,true,q4_k_m",
                "llama,false,q5_k_m", "llama,true,q5_k", "llama,false,q4_1", "gpt2,false,q5_0", "llama,false,q5_1", "moe,false,q5_k_m"})
    void keptBlocksGiveTheLogitsOfTheDequantizedModel(String arch, boolean tied, String type) {
        Path file = dir.resolve(arch + "-" + type + ".gguf");
        GgufModel.write(Decoder.create(config(arch, tied), 7), ByteTokenizer.INSTANCE, file, GgufQuantType.parse(type));
        Decoder stored = GgufModel.load(file, true).decoder(), flat = GgufModel.load(file, false).decoder();
        assertThat(stored.hasStored()).isTrue();
        assertThat(flat.hasStored()).isFalse();
        // what a memory plan takes from the header: the arrays inference holds, to the byte (GPT-2's fused
        // attention tensor is counted as one matrix where it is held as three: 16 bytes of slack apart)
        long held = stored.storedBytes() + 4L * stored.params().count();
        if (arch.equals("gpt2")) assertThat((double) GgufModel.servedBytes(file)).isCloseTo(held, org.assertj.core.data.Percentage.withPercentage(0.1));
        else assertThat(GgufModel.servedBytes(file)).isEqualTo(held);
        assertThat(GgufModel.servedArrays(file)).hasSizeGreaterThan(2 * config(arch, tied).numHiddenLayers());
        GgufModel.Header h = GgufModel.header(file);                          // the same, from one read of the header
        assertThat(h.servedBytes()).isEqualTo(GgufModel.servedBytes(file));
        assertThat(h.stored()).isEqualTo(GgufModel.storedFormat(file));
        assertThat(h.config().toJsonString()).isEqualTo(stored.config().toJsonString());
        long linearFloats = flat.params().count() - stored.params().count();      // the float32 weights not held
        assertThat(linearFloats).isGreaterThan(flat.params().count() / 2);
        // the token table too: lookups read its rows from the blocks (a tied head's, or its own), no float copy
        assertThat(stored.params().has("embed_tokens.weight")).isFalse();
        assertThat(stored.storedTable()).isNotNull();
        assertThat(stored.parameterCount()).isEqualTo(flat.parameterCount());
        double bitsPerWeight = 8.0 * stored.storedBytes() / linearFloats;
        assertThat(bitsPerWeight).as("bits per stored weight").isLessThan(type.equals("q4_0") || type.equals("q4_k") ? 5.5 : 10.5);

        int[] ids = GgufModelTest.ids(12, 3);
        for (KernelSet k : new KernelSet[] {Kernels.vector(2), Kernels.scalar(2)}) {
            Decoder s = stored.withKernels(k), f = flat.withKernels(k);
            float[] ls = decode(PreparedModel.of(s), ids), lf = decode(PreparedModel.of(f), ids);
            PreparedModel lean = PreparedModel.of(s).withoutFloatCopies();     // as serve and generate hold it
            if (lean != null) assertThat(decode(lean, ids)).containsExactly(ls);
            assertThat(PreparedModel.of(s).format()).isEqualTo(WeightFormat.STORED);
            assertThat(relativeError(ls, lf)).isLessThan(1e-5);      // summed block by block, as llama.cpp does
            // the tape decodes each stored weight into a scratch: the float model's products exactly
            float[] ts = s.forward(Tape.inference(k), ids, 1, ids.length).value().toArray();
            float[] tf = f.forward(Tape.inference(k), ids, 1, ids.length).value().toArray();
            assertThat(ts).isEqualTo(tf);
        }
        assertThat(stored.params().hasGradients()).as("inference made no gradient buffer").isFalse();
        assertThat(flat.params().hasGradients()).isFalse();
    }

    /**
     * Every block type is held in the kernels' form without a float32 copy, each weight the file's
     * dequantized value bit for bit (the fixture's reference values are gguf.quants.dequantize's), in
     * the arrays a memory plan counts; the products of the vector and scalar kernels agree bit for bit,
     * and with the float32 product of the dequantized weights to float rounding.
     */
    @ParameterizedTest
    @EnumSource(names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
    void everyBlockTypeIsHeldAsTheFilesDequantizedValues(GgmlType type) {
        try (GgufFile f = GgufFile.open(GgmlTypeTest.FIXTURE)) {
            float[] ref = f.floats(type.name() + ".ref");
            int in = 256, out = ref.length / in;
            assertThat(out * in).isEqualTo(ref.length);
            assertThat(GgufWeights.kept(type)).isTrue();
            dev.lamina.kernels.LinearWeights w = GgufWeights.of(dev.lamina.tensor.Parallel.of(2), type, f.raw(type.name()), out, in, o -> o, null);
            float[] held = new float[out * in];
            w.dequantizeInto(held, 0);
            for (int i = 0; i < held.length; i++)
                assertThat(Float.floatToRawIntBits(held[i])).as("value %d", i).isEqualTo(Float.floatToRawIntBits(ref[i]));
            assertThat(java.util.Arrays.stream(GgufWeights.heldArrays(type, out, in)).sum()).isEqualTo(w.extraBytes());
            long big = java.util.Arrays.stream(GgufWeights.heldArrays(type, 4096, 4096)).sum();      // rows whole panels
            assertThat(8.0 * big / (4096 * 4096)).as("bits a weight").isLessThan(type == GgmlType.Q2_K ? 12.01 : 10.01);

            int n = 7;                                                   // six rows on a widened panel, then one
            dev.lamina.tensor.Rng rng = new dev.lamina.tensor.Rng(11);
            dev.lamina.tensor.Tensor x = dev.lamina.tensor.Tensor.zeros(n, in);
            for (int i = 0; i < n * in; i++) x.data()[i] = (float) rng.nextGaussian();
            dev.lamina.tensor.Tensor yv = dev.lamina.tensor.Tensor.zeros(n, out), ys = dev.lamina.tensor.Tensor.zeros(n, out),
                    yf = dev.lamina.tensor.Tensor.zeros(n, out);
            KernelSet vector = Kernels.vector(2), scalar = Kernels.scalar(2);
            vector.project(n, x, new dev.lamina.kernels.LinearWeights[] {w}, new dev.lamina.tensor.Tensor[] {yv});
            scalar.project(n, x, new dev.lamina.kernels.LinearWeights[] {w}, new dev.lamina.tensor.Tensor[] {ys});
            assertThat(yv.toArray()).isEqualTo(ys.toArray());
            vector.project(n, x, new dev.lamina.kernels.LinearWeights[] {vector.prepare(dev.lamina.tensor.Tensor.of(held, out, in), null)},
                    new dev.lamina.tensor.Tensor[] {yf});
            assertThat(relativeError(yv.toArray(), yf.toArray())).isLessThan(1e-5);
        }
    }

    /**
     * A quantized file's F16 matrices (llama.cpp's fallback for a width its blocks do not divide: here
     * the MLP's down map, 200 inputs) stay 16-bit beside the blocks, with the logits of the float32 model
     * holding the same values, bit for bit.
     */
    @ParameterizedTest
    @CsvSource({"q8_0", "q4_0"})
    void aQuantizedFilesHalfMatricesStay16Bit(String type) {
        Path file = dir.resolve("odd-" + type + ".gguf");
        ModelConfig c = config("llama", false).toBuilder().intermediateSize(200).build();
        GgufModel.write(Decoder.create(c, 7), ByteTokenizer.INSTANCE, file, GgufQuantType.parse(type));
        try (GgufFile f = GgufFile.open(file)) {
            assertThat(f.info("blk.0.ffn_down.weight").type()).isEqualTo(GgmlType.F16);
        }
        Decoder stored = GgufModel.load(file, true).decoder(), flat = GgufModel.load(file, false).decoder();
        assertThat(stored.params().slots().keySet()).noneMatch(n -> n.contains("down"));
        assertThat(flat.params().slots().keySet()).anyMatch(n -> n.contains("down"));
        long linearFloats = flat.params().count() - stored.params().count();
        assertThat(8.0 * stored.storedBytes() / linearFloats).isLessThan(type.equals("q4_0") ? 9.0 : 12.0);
        int[] ids = GgufModelTest.ids(12, 3);
        for (KernelSet k : new KernelSet[] {Kernels.vector(2), Kernels.scalar(2)}) {
            float[] ts = stored.withKernels(k).forward(Tape.inference(k), ids, 1, ids.length).value().toArray();
            float[] tf = flat.withKernels(k).forward(Tape.inference(k), ids, 1, ids.length).value().toArray();
            assertThat(ts).isEqualTo(tf);
            assertThat(relativeError(decode(PreparedModel.of(stored.withKernels(k)), ids), decode(PreparedModel.of(flat.withKernels(k)), ids)))
                    .isLessThan(1e-5);
        }
    }

    /**
     * A plain F16 or BF16 file served as stored is read into 16-bit weights directly (no float32 copy
     * of its linear maps, the token table included; GPT-2's F32 position table aside), with the logits of the float32 model holding the
     * same values bit for bit, on the tape and through the prepared model; loaded for the uses that
     * need floats (pruning, merging, training) it stays float32.
     */
    @ParameterizedTest
    @CsvSource({"llama,false,f16", "llama,true,bf16", "gpt2,true,f16", "gpt2,false,bf16"})
    void aPlain16BitFileIsServedFromIts16Bits(String arch, boolean tied, String type) {
        Path file = dir.resolve("plain-" + arch + tied + "-" + type + ".gguf");
        GgufModel.write(Decoder.create(config(arch, tied), 7), ByteTokenizer.INSTANCE, file, GgufQuantType.parse(type));
        WeightFormat as = type.equals("f16") ? WeightFormat.F16 : WeightFormat.BF16;
        // GPT-2's position table stays F32 in the file, so the file is not all-16-bit; its maps are still kept in 16 bits
        assertThat(GgufModel.storedFormat(file)).isEqualTo(arch.equals("gpt2") ? WeightFormat.STORED : as);
        Decoder half = GgufModel.load(file, true, true).decoder(), flat = GgufModel.load(file, true).decoder();
        assertThat(flat.hasStored()).isFalse();
        assertThat(half.params().slots().keySet())                  // norms, biases and GPT-2's position table are left
                .allMatch(n -> n.contains("norm") || n.endsWith(".bias") || n.contains("embed_positions"))
                .noneMatch(n -> n.contains("proj.weight") || n.contains("embed_tokens") || n.contains("lm_head"));
        long linearFloats = flat.params().count() - half.params().count();
        assertThat(8.0 * half.storedBytes() / linearFloats).isBetween(16.0, 17.0);
        long held = half.storedBytes() + 4L * half.params().count();
        if (arch.equals("gpt2")) assertThat((double) GgufModel.servedBytes(file)).isCloseTo(held, org.assertj.core.data.Percentage.withPercentage(0.1));
        else assertThat(GgufModel.servedBytes(file)).isEqualTo(held);
        Path f32 = dir.resolve("plain-" + arch + tied + ".gguf");           // nothing kept: planned as float32
        GgufModel.write(Decoder.create(config(arch, tied), 7), ByteTokenizer.INSTANCE, f32, GgufQuantType.F32);
        assertThat(GgufModel.servedBytes(f32)).isEqualTo(-1);
        int[] ids = GgufModelTest.ids(12, 3);
        for (KernelSet k : new KernelSet[] {Kernels.vector(2), Kernels.scalar(2)}) {
            Decoder h = half.withKernels(k), f = flat.withKernels(k);
            assertThat(h.forward(Tape.inference(k), ids, 1, ids.length).value().toArray())
                    .isEqualTo(f.forward(Tape.inference(k), ids, 1, ids.length).value().toArray());
            PreparedModel ph = PreparedModel.of(h), pf = PreparedModel.of(f, as);
            assertThat(ph.format()).isEqualTo(WeightFormat.STORED);
            assertThat(decode(ph, ids)).isEqualTo(decode(pf, ids));
        }
        assertThat(dev.lamina.Lamina.load(file, Kernels.vector(2), WeightFormat.STORED).decoder().hasStored()).isTrue();
        assertThat(dev.lamina.Lamina.load(file, Kernels.vector(2)).decoder().hasStored()).isFalse();
        assertThat(dev.lamina.Lamina.load(file, Kernels.vector(2), WeightFormat.F32).decoder().hasStored()).isFalse();
    }

    /** The logits of the last token, fed one at a time over a cache. */
    private static float[] decode(PreparedModel m, int[] ids) {
        try (InferenceSession s = new InferenceSession(m, new ContiguousKvCache(m.model().config(), ids.length + 1))) {
            float[] last = null;
            for (int id : ids) last = s.forward(new int[] {id});
            return last;
        }
    }

    private static double relativeError(float[] a, float[] b) {
        double diff = 0, ref = 0;
        for (int i = 0; i < a.length; i++) { diff += (a[i] - b[i]) * (double) (a[i] - b[i]); ref += b[i] * (double) b[i]; }
        return Math.sqrt(diff / ref);
    }
}
