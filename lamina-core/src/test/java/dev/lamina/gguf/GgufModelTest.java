package dev.lamina.gguf;

import dev.lamina.Lamina;
import dev.lamina.autograd.Tape;
import dev.lamina.io.LaminaException;
import dev.lamina.io.SafeTensors;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.tokenizer.BpeTokenizer;
import dev.lamina.tokenizer.ByteTokenizer;
import dev.lamina.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * GGUF models: files made by llama.cpp's converter from the tiny Hugging Face fixtures give those
 * fixtures' reference logits (src/test/python/make_gguf_model_fixtures.py), and Lamina's own files
 * read back to the same model.
 */
class GgufModelTest {
    static final Path MODELS = Path.of("src/test/resources/gguf/models"), HF = Path.of("src/test/resources/hf/models");

    record Reference(int[] ids, int batch, int seq, float[] logits) {}

    static Reference reference(String hf) {
        try (SafeTensors st = SafeTensors.open(HF.resolve(hf).resolve("reference.safetensors"))) {
            int[] shape = st.shape("input_ids");
            return new Reference(st.ints("input_ids"), shape[0], shape[1], st.floats("logits"));
        }
    }

    static float[] logits(Decoder d, int[] ids, int batch, int seq) {
        return d.forward(Tape.inference(), ids, batch, seq).value().toArray();
    }

    static double relativeError(float[] a, float[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }

    @ParameterizedTest
    @CsvSource({"gpt2-f32, gpt2, 1e-4", "llama-f32, llama, 1e-4", "llama-f16, llama-f16, 1e-4", "gpt2-q8_0, gpt2, 3e-2",
            "llama3-rope-f32, llama-rope-llama3, 1e-4", "qwen2-f32, qwen2, 1e-4", "mixtral-f32, mixtral, 1e-4", "mixtral-q8_0, mixtral, 5e-2"})
    void convertedFilesGiveTheReferenceLogits(String gguf, String hf, double tolerance) {
        Reference ref = reference(hf);
        Decoder d = GgufModel.load(MODELS.resolve(gguf + ".gguf")).decoder();
        double err = relativeError(logits(d, ref.ids(), ref.batch(), ref.seq()), ref.logits());
        assertThat(err).as(gguf).isLessThanOrEqualTo(tolerance);
        if (gguf.endsWith("q8_0")) assertThat(err).as("q8_0 is lossy").isGreaterThan(1e-6);
    }

    /**
     * Qwen3 and the Gemma family as llama.cpp's converter writes them: q/k norms and key_length,
     * norms stored as gains, post norms, soft caps, windows and the windowed layers' RoPE base.
     * Gemma 2/3 files carry no query_pre_attn_scalar (nor Gemma 3's pattern), so Lamina reads them
     * as llama.cpp runs them, against the reference transformers gives with those settings; both
     * executors, the tape and the KV-cache runner (a prefill, then one token at a time).
     */
    @ParameterizedTest
    @CsvSource({"qwen3-f32, qwen3", "gemma-f32, gemma", "gemma2-f32, ", "gemma3-f32, "})
    void qwen3AndGemmaFilesGiveTheReferenceLogits(String gguf, String hf) {
        Reference ref = hf != null ? reference(hf) : reference(MODELS.resolve(gguf + ".reference.safetensors"));
        Decoder d = GgufModel.load(MODELS.resolve(gguf + ".gguf")).decoder();
        assertThat(relativeError(logits(d, ref.ids(), ref.batch(), ref.seq()), ref.logits())).as(gguf).isLessThanOrEqualTo(1e-4);
        int T = ref.seq(), V = d.config().vocabSize(), half = T / 2;
        try (var session = dev.lamina.infer.InferenceSession.forModel(d)) {
            float[] got = new float[(T - half + 1) * V];
            System.arraycopy(session.forward(java.util.Arrays.copyOfRange(ref.ids(), 0, half)), 0, got, 0, V);
            for (int t = half; t < T; t++) System.arraycopy(session.forward(ref.ids()[t]), 0, got, (t - half + 1) * V, V);
            assertThat(relativeError(got, java.util.Arrays.copyOfRange(ref.logits(), (half - 1) * V, T * V))).as(gguf + " inference")
                    .isLessThanOrEqualTo(1e-4);
        }
        var c = d.config();
        switch (gguf) {
            case "qwen3-f32" -> assertThat(c.qkNorm() && c.headDim() == 16 && c.qDim() == 64).isTrue();
            case "gemma2-f32" -> assertThat(new Object[] {c.slidingWindowPattern(), c.attnLogitSoftcapping(), c.finalLogitSoftcapping(), c.window(1)})
                    .containsExactly(2, 10.0, 5.0, 0);
            case "gemma3-f32" -> assertThat(new Object[] {c.qkNorm(), c.cacheWindow(), c.ropeLocalBaseFreq(), c.ropeScaling()})  // 4 layers: all windowed
                    .containsExactly(true, 4, 10000.0, dev.lamina.model.RopeScaling.linear(2));
            default -> assertThat(c.activation()).isEqualTo(dev.lamina.model.ModelConfig.Activation.GEGLU);
        }
    }

    /** Gemma metadata beyond the converter's defaults: a window pattern as a list of booleans (llama.cpp's other form), refusals. */
    @Test
    void gemmaWindowPatternsFromMetadata(@TempDir Path tmp) {
        var windowed = GgufValue.array(GgufValueType.BOOL, List.of(true, false, true));
        ModelConfig c = changed(tmp, "gemma2-f32", "bools", w -> w.put("gemma2.attention.sliding_window_pattern", windowed)).config();
        assertThat(c.slidingWindowPattern()).isEqualTo(2);
        assertThat(changed(tmp, "gemma2-f32", "int", w -> w.putUint32("gemma2.attention.sliding_window_pattern", 3)).config()
                .slidingWindowPattern()).isEqualTo(3);
        assertThat(changed(tmp, "gemma2-f32", "none", w -> w.putUint32("gemma2.attention.sliding_window", 0)).config().slidingWindow()).isNull();
        assertThatThrownBy(() -> changed(tmp, "gemma2-f32", "aperiodic", w -> w.put("gemma2.attention.sliding_window_pattern",
                GgufValue.array(GgufValueType.BOOL, List.of(false, true, true)))))
                .hasMessageContaining("'gemma2.attention.sliding_window_pattern' [false, true, true] has no period");
        assertThatThrownBy(() -> changed(tmp, "gemma2-f32", "vlen", w -> w.putUint32("gemma2.attention.value_length", 8)))
                .hasMessageContaining("'gemma2.attention.value_length' is 8 but 'gemma2.attention.key_length' is 16");
        assertThatThrownBy(() -> changed(tmp, "gemma3-f32", "yarn", w -> w.putString("gemma3.rope.scaling.type", "yarn")))
                .hasMessageContaining("'gemma3.rope.scaling.type' is 'yarn'; Lamina reads none and linear");
    }

    /**
     * Gemma 2 and 3 written by Lamina read back to the same model (window patterns, soft caps, the
     * windowed layers' RoPE base and the global layers' linear scaling in metadata); a model whose
     * score scale llama.cpp would not apply to the file is refused, naming it.
     */
    @Test
    void gemma2And3RoundTripThroughGguf(@TempDir Path tmp) {
        ModelConfig g2 = dev.lamina.hf.HfCheckpoint.config(HF.resolve("gemma2")).config().toBuilder().queryPreAttnScalar(16.0).build();
        ModelConfig g3 = dev.lamina.hf.HfCheckpoint.config(HF.resolve("gemma3")).config().toBuilder().queryPreAttnScalar(null).build();
        for (ModelConfig c : List.of(g2, g3, g3.toBuilder().slidingWindow(null).slidingWindowPattern(null).ropeLocalBaseFreq(null).build())) {
            Decoder m = Decoder.create(c, 5);
            Path f = tmp.resolve("m.gguf");
            assertThat(GgufModel.write(m, null, f, GgufQuantType.F32).vocabularyNote()).contains("llama.cpp cannot run");
            Decoder back = GgufModel.load(f).decoder();
            int[] ids = java.util.Arrays.stream(ids(12, 3)).map(i -> i % c.vocabSize()).toArray();
            assertThat(logits(back, ids, 1, ids.length)).as(c.toJsonString()).containsExactly(logits(m, ids, 1, ids.length));
            assertThat(back.config().slidingWindow()).isEqualTo(c.slidingWindow());
            for (int l = 0; l < c.numHiddenLayers(); l++) assertThat(back.config().window(l)).isEqualTo(c.window(l));
        }
        Decoder fixture = dev.lamina.train.Checkpoint.loadModel(HF.resolve("gemma2"));      // query_pre_attn_scalar 24, head size 16
        assertThatThrownBy(() -> GgufModel.write(fixture, null, tmp.resolve("x.gguf"), GgufQuantType.F32))
                .hasMessageContaining("cannot export to GGUF as gemma2: its scores are scaled by 1/sqrt(24.0)");
        assertThat(tmp.resolve("x.gguf")).doesNotExist();
    }

    /** A fixture file with its metadata changed, loaded. */
    private static Decoder changed(Path tmp, String fixture, String name, java.util.function.Consumer<GgufWriter> change) {
        GgufWriter w = new GgufWriter();
        try (GgufFile src = GgufFile.open(MODELS.resolve(fixture + ".gguf"))) {
            src.values().forEach(w::put);
            change.accept(w);
            for (GgufFile.Tensor t : src.tensors().values()) w.addTensor(t.name(), GgmlType.F32, src.floats(t.name()), t.shape());
        }
        Path g = tmp.resolve(name + ".gguf");
        w.write(g);
        return GgufModel.load(g).decoder();
    }

    static Reference reference(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            int[] shape = st.shape("input_ids");
            return new Reference(st.ints("input_ids"), shape[0], shape[1], st.floats("logits"));
        }
    }

    /** A RoPE-scaled model written by Lamina carries rope_freqs, as llama.cpp's converter writes it, and reads back to the same logits. */
    @ParameterizedTest
    @CsvSource({"llama-rope-llama3", "llama-rope-linear"})
    void ropeScaledModelsRoundTripThroughRopeFreqs(String hf, @TempDir Path dir) {
        Reference ref = reference(hf);
        Path out = dir.resolve(hf + ".gguf");
        GgufModel.write(dev.lamina.train.Checkpoint.loadModel(HF.resolve(hf)), null, out, GgufQuantType.F32);
        Decoder d = GgufModel.load(out).decoder();
        assertThat(d.config().ropeScaling().type()).isEqualTo(dev.lamina.model.RopeScaling.Type.FREQ_FACTORS);
        assertThat(relativeError(logits(d, ref.ids(), ref.batch(), ref.seq()), ref.logits())).as(hf).isLessThanOrEqualTo(1e-4);
        if (hf.equals("llama-rope-llama3"))        // the same divisors as llama.cpp's converter wrote from the Hugging Face config
            try (GgufFile mine = GgufFile.open(out); GgufFile theirs = GgufFile.open(MODELS.resolve("llama3-rope-f32.gguf"))) {
                float[] a = mine.floats("rope_freqs.weight"), b = theirs.floats("rope_freqs.weight");
                for (int i = 0; i < a.length; i++) assertThat(a[i]).isCloseTo(b[i], org.assertj.core.data.Percentage.withPercentage(1e-4));
            }
    }

    /** The converter drops Mistral's window, as llama.cpp runs it: positions before the window binds still match. */
    @Test
    void mistralWithoutItsWindowMatchesBeforeTheWindow() {
        Reference ref = reference("mistral");
        Decoder d = GgufModel.load(MODELS.resolve("mistral-f32.gguf")).decoder();
        assertThat(d.config().slidingWindow()).isNull();
        float[] ours = logits(d, ref.ids(), ref.batch(), ref.seq());
        int V = d.config().vocabSize(), T = ref.seq();
        for (int b = 0; b < ref.batch(); b++) {
            int from = b * T * V;
            float[] early = Arrays.copyOfRange(ours, from, from + 4 * V), refEarly = Arrays.copyOfRange(ref.logits(), from, from + 4 * V);
            assertThat(relativeError(early, refEarly)).isLessThanOrEqualTo(1e-4);
            float[] late = Arrays.copyOfRange(ours, from + (T - 1) * V, from + T * V), refLate = Arrays.copyOfRange(ref.logits(), from + (T - 1) * V, from + T * V);
            assertThat(relativeError(late, refLate)).as("past the window the full attention differs").isGreaterThan(1e-3);
        }
    }

    @Test
    void gpt2VocabularyEncodesAsTokenizerJson() throws Exception {
        GgufModel.Loaded g = GgufModel.load(MODELS.resolve("gpt2-f32.gguf"));
        BpeTokenizer hf = BpeTokenizer.readTokenizerJson(HF.resolve("gpt2/tokenizer.json"));
        assertThat(g.tokenizer().vocabSize()).isEqualTo(hf.vocabSize());
        assertThat(g.tokenizer().eotId()).isEqualTo(hf.eotId()).isNotNegative();
        assertThat(g.specials().eos()).isEqualTo(hf.eotId());
        List<String> lines = Files.readAllLines(Path.of("src/test/resources/hf/brown-slice.txt")).subList(0, 200);
        for (String line : lines) {
            String text = line + " <|endoftext|> 12 héllo";
            assertThat(g.tokenizer().encode(text)).as(text).isEqualTo(hf.encode(text));
            assertThat(g.tokenizer().decode(g.tokenizer().encode(text))).isEqualTo(text);
        }
    }

    @Test
    void filesWithoutAVocabularyLoadWithATokenizerThatExplains() {
        Lamina.Model m = Lamina.load(MODELS.resolve("llama-f32.gguf"));
        assertThat(m.decoder().config().numKeyValueHeads()).isEqualTo(2);
        assertThatThrownBy(() -> m.tokenizer().encode("x")).isInstanceOf(LaminaException.class).hasMessageContaining("tokenizer");
    }

    /**
     * A BF16 or F16 GGUF file is served in that format by default, with the logits of float32 weights
     * holding the same values; an F32 one stays float32, and so does a quantized one's float part.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(names = {"BF16", "F16"})
    void aHalfFileIsServedInItsFormat(GgufQuantType type, @TempDir Path tmp) {
        Path bf16 = tmp.resolve("m-half.gguf"), f32 = tmp.resolve("m-f32.gguf"), q8 = tmp.resolve("m-q8.gguf");
        GgufModel.export(HF.resolve("llama"), bf16, type);
        GgufModel.export(HF.resolve("llama"), f32, GgufQuantType.F32);
        GgufModel.export(HF.resolve("llama"), q8, GgufQuantType.Q8_0);
        var want = type == GgufQuantType.BF16 ? dev.lamina.kernels.WeightFormat.BF16 : dev.lamina.kernels.WeightFormat.F16;
        assertThat(GgufModel.storedFormat(bf16)).isEqualTo(want);
        assertThat(GgufModel.storedFormat(f32)).isEqualTo(dev.lamina.kernels.WeightFormat.STORED);
        assertThat(GgufModel.storedFormat(q8)).isEqualTo(dev.lamina.kernels.WeightFormat.STORED);
        Lamina.Model served = Lamina.load(bf16), widened = Lamina.load(bf16, dev.lamina.kernels.Kernels.defaults(), dev.lamina.kernels.WeightFormat.F32);
        assertThat(served.weights()).isEqualTo(want);
        assertThat(Lamina.load(f32).weights()).isEqualTo(dev.lamina.kernels.WeightFormat.STORED);
        assertThat(served.prepared().weightBytesPerToken()).isLessThan(widened.prepared().weightBytesPerToken());
        int[] ids = {3, 1, 4, 1, 5, 9, 2, 6};
        float[] a = lastLogits(served, ids), b = lastLogits(widened, ids);
        for (int i = 0; i < a.length; i++) assertThat(Float.floatToRawIntBits(a[i])).as("logit %d", i).isEqualTo(Float.floatToRawIntBits(b[i]));
    }

    private static float[] lastLogits(Lamina.Model m, int[] ids) {
        try (var s = new dev.lamina.infer.InferenceSession(m.prepared(), new dev.lamina.infer.ContiguousKvCache(m.decoder().config(), ids.length))) {
            float[] last = null;
            for (int id : ids) last = s.forward(new int[] {id});
            return last;
        }
    }

    /**
     * Lamina's export of a Hugging Face fixture is the file llama.cpp's converter makes from it:
     * the same tensors (names, types, shapes, bytes) and the same metadata values, apart from
     * descriptive keys (name, size label) and the vocabulary the Llama fixtures lack.
     */
    @ParameterizedTest
    @CsvSource({"gpt2, gpt2-f32", "llama, llama-f32", "llama-f16, llama-f16", "qwen3, qwen3-f32", "gemma, gemma-f32", "mixtral, mixtral-f32"})
    void exportMatchesLlamaCppsConverter(String hf, String gguf, @TempDir Path tmp) {
        Path ours = tmp.resolve(gguf + ".gguf");
        GgufModel.export(HF.resolve(hf), ours, hf.endsWith("f16") ? GgufQuantType.F16 : GgufQuantType.F32);
        try (GgufFile a = GgufFile.open(ours); GgufFile b = GgufFile.open(MODELS.resolve(gguf + ".gguf"))) {
            assertThat(a.tensors().keySet()).containsExactlyInAnyOrderElementsOf(b.tensors().keySet());
            for (GgufFile.Tensor t : b.tensors().values()) {
                assertThat(a.info(t.name()).type()).as(t.name()).isEqualTo(t.type());
                assertThat(a.info(t.name()).ne()).as(t.name()).isEqualTo(t.ne());
                assertThat(a.raw(t.name()).mismatch(b.raw(t.name()))).as(t.name() + " bytes").isEqualTo(-1L);
            }
            List<String> descriptive = List.of("general.name", "general.size_label", "general.type");
            for (Map.Entry<String, GgufValue> e : b.values().entrySet()) {
                if (descriptive.contains(e.getKey())) continue;
                assertThat(a.values()).as("key " + e.getKey()).containsKey(e.getKey());
                assertThat(a.values().get(e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
            }
        }
    }

    // ---- Lamina's writer ----------------------------------------------------------------------

    static ModelConfig llama(boolean bias, boolean tied, Integer window) {
        return ModelConfig.builder().vocabSize(257).hiddenSize(64).numHiddenLayers(2).numAttentionHeads(4).numKeyValueHeads(2)
                .intermediateSize(96).maxPositionEmbeddings(32).ropeTheta(5e5).normEps(1e-6).bias(bias).tieWordEmbeddings(tied)
                .slidingWindow(window).build();
    }

    static ModelConfig gpt2(boolean tied) {
        return ModelConfig.builder().vocabSize(257).hiddenSize(64).numHiddenLayers(2).numAttentionHeads(4).intermediateSize(256)
                .maxPositionEmbeddings(32).gpt2Style().tieWordEmbeddings(tied).build();
    }

    static int[] ids(int n, long seed) {
        Random r = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(257);
        return ids;
    }

    static final Map<String, ModelConfig> CONFIGS = Map.of(
            "llama-gqa", llama(false, false, null), "llama-bias-tied-window", llama(true, true, 5),
            "gpt2-tied", gpt2(true), "gpt2-untied", gpt2(false));

    @ParameterizedTest
    @CsvSource({"llama-gqa", "llama-bias-tied-window", "gpt2-tied", "gpt2-untied"})
    void f32RoundTripIsExact(String name, @TempDir Path tmp) {
        Decoder model = Decoder.create(CONFIGS.get(name), 7);
        Path file = tmp.resolve(name + ".gguf");
        GgufModel.Exported e = GgufModel.write(model, ByteTokenizer.INSTANCE, file, GgufQuantType.F32);
        assertThat(e.tensorTypes().values()).containsOnly(GgmlType.F32);
        GgufModel.Loaded back = GgufModel.load(file);
        assertThat(back.decoder().config()).isEqualTo(model.config());
        assertThat(back.decoder().params().data()).isEqualTo(model.params().data());
        int[] ids = ids(2 * 12, 3);
        assertThat(logits(back.decoder(), ids, 2, 12)).isEqualTo(logits(model, ids, 2, 12));
        Tokenizer tok = back.tokenizer();
        // (the written vocabulary matches a literal <|endoftext|> in text as its special token; the byte tokenizer does not)
        String text = "Byte tokens and ünïcödé: 12, 345.";
        assertThat(tok.encode(text)).isEqualTo(ByteTokenizer.INSTANCE.encode(text));
        assertThat(tok.decode(tok.encode(text))).isEqualTo(text);
        assertThat(tok.eotId()).isEqualTo(256);
    }

    @ParameterizedTest
    @CsvSource({"q8_0, 2e-2", "f16, 2e-3", "bf16, 2e-2", "q5_1, 0.1", "q4_k_m, 0.25", "q6_k, 0.1"})
    void quantizedRoundTripIsClose(String type, double tolerance, @TempDir Path tmp) {
        Decoder model = Decoder.create(llama(false, false, null), 11);
        Path file = tmp.resolve("m.gguf");
        GgufModel.write(model, null, file, GgufQuantType.parse(type));
        Decoder back = GgufModel.load(file).decoder();
        int[] ids = ids(2 * 12, 5);
        double err = relativeError(logits(back, ids, 2, 12), logits(model, ids, 2, 12));
        assertThat(err).as(type).isLessThanOrEqualTo(tolerance).isGreaterThan(0);
    }

    @Test
    void theQ4KMRecipeGivesMoreBitsWhereLlamaCppDoes() {
        assertThat(GgufQuantType.Q4_K_M.typeFor("output.weight", new int[] {257, 512}, -1, 8, false)).isEqualTo(GgmlType.Q6_K);
        assertThat(GgufQuantType.Q4_K_M.typeFor("token_embd.weight", new int[] {257, 512}, -1, 8, false)).isEqualTo(GgmlType.Q4_K);
        assertThat(GgufQuantType.Q4_K_M.typeFor("token_embd.weight", new int[] {257, 512}, -1, 8, true)).isEqualTo(GgmlType.Q6_K);
        // use_more_bits over 8 layers: 0 (first eighth), 3, 6 (every third), 7 (last eighth)
        for (int l = 0; l < 8; l++) {
            GgmlType want = l == 0 || l == 3 || l == 6 || l == 7 ? GgmlType.Q6_K : GgmlType.Q4_K;
            assertThat(GgufQuantType.Q4_K_M.typeFor("blk." + l + ".attn_v.weight", new int[] {128, 512}, l, 8, false)).as("layer " + l).isEqualTo(want);
            assertThat(GgufQuantType.Q4_K_M.typeFor("blk." + l + ".ffn_down.weight", new int[] {512, 1024}, l, 8, false)).isEqualTo(want);
            assertThat(GgufQuantType.Q4_K_M.typeFor("blk." + l + ".attn_q.weight", new int[] {512, 512}, l, 8, false)).isEqualTo(GgmlType.Q4_K);
        }
        assertThat(GgufQuantType.Q4_K_M.typeFor("blk.0.attn_q.weight", new int[] {64, 64}, 0, 8, false)).as("rows of 64: fallback").isEqualTo(GgmlType.Q5_0);
        assertThat(GgufQuantType.Q5_K_M.typeFor("blk.1.ffn_up.weight", new int[] {96, 48}, 1, 8, false)).as("rows of 48: F16").isEqualTo(GgmlType.F16);
        assertThat(GgufQuantType.Q4_K_M.typeFor("blk.1.attn_norm.weight", new int[] {512}, 1, 8, false)).isEqualTo(GgmlType.F32);
        assertThat(GgufQuantType.Q8_0.typeFor("position_embd.weight", new int[] {64, 512}, -1, 8, false)).isEqualTo(GgmlType.F32);
    }

    // ---- refusals -----------------------------------------------------------------------------

    @Test
    void refusesWhatItCannotRunByName(@TempDir Path tmp) {
        assertThatThrownBy(() -> load(tmp, "moe", w -> w.putUint32("llama.expert_count", 8)))
                .hasMessageContaining("metadata 'llama.expert_count' is 8 but 'llama.expert_used_count' is missing");
        assertThatThrownBy(() -> load(tmp, "moe-dense", w -> { w.putUint32("llama.expert_count", 8); w.putUint32("llama.expert_used_count", 2); }))
                .hasMessageContaining("blk.0.ffn_gate.weight").hasMessageContaining("are not part of a llama model with this metadata");
        assertThatThrownBy(() -> load(tmp, "moe-k", w -> { w.putUint32("llama.expert_count", 2); w.putUint32("llama.expert_used_count", 3); }))
                .hasMessageContaining("experts_per_token must be between 1 and num_experts 2, got 3");
        assertThatThrownBy(() -> load(tmp, "arch", w -> w.putString("general.architecture", "falcon")))
                .hasMessageContaining("general.architecture").hasMessageContaining("falcon");
        assertThatThrownBy(() -> load(tmp, "type", w -> w.putString("llama.block_count", "two")))
                .hasMessageContaining("'llama.block_count' is STRING, expected an integer");
        assertThatThrownBy(() -> load(tmp, "rope", w -> w.putUint32("llama.rope.dimension_count", 8)))
                .hasMessageContaining("llama.rope.dimension_count");
        assertThatThrownBy(() -> load(tmp, "layers", w -> w.putUint32("llama.block_count", 3)))
                .hasMessageContaining("'llama.block_count' is 3 but the file has no tensor 'blk.2.attn_norm.weight'");
        // sizes are checked against the tensors before anything is allocated for them
        assertThatThrownBy(() -> load(tmp, "width", w -> w.putUint32("llama.embedding_length", 1 << 20)))
                .hasMessageContaining("'token_embd.weight' has shape [257, 64] but metadata 'llama.embedding_length' is 1048576");
        assertThatThrownBy(() -> load(tmp, "ff", w -> w.putUint32("llama.feed_forward_length", 1 << 28)))
                .hasMessageContaining("'llama.feed_forward_length' is 268435456");
        assertThatThrownBy(() -> load(tmp, "ctx", w -> w.putUint32("llama.context_length", Integer.MAX_VALUE)))
                .hasMessageContaining("'llama.context_length' is 2147483647");
    }

    /** Writes the tiny llama with one metadata entry changed and loads it. */
    private static void load(Path tmp, String name, java.util.function.Consumer<GgufWriter> change) {
        Path f = tmp.resolve(name + ".gguf");
        Decoder model = Decoder.create(llama(false, false, null), 7);
        GgufModel.write(model, null, f, GgufQuantType.F32);
        GgufWriter w = new GgufWriter();
        try (GgufFile src = GgufFile.open(f)) {
            src.values().forEach(w::put);
            change.accept(w);
            for (GgufFile.Tensor t : src.tensors().values()) w.addTensor(t.name(), GgmlType.F32, src.floats(t.name()), t.shape());
        }
        Path g = tmp.resolve(name + "-changed.gguf");
        w.write(g);
        GgufModel.load(g);
    }
}
