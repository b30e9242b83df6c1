package dev.lamina.infer;

import dev.lamina.model.Decoder;
import dev.lamina.model.Lora;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Parameters;
import dev.lamina.model.Role;
import dev.lamina.model.TestModels;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import dev.lamina.tokenizer.ByteTokenizer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Several LoRA adapters on one unmerged base in one batch (S-LoRA's pattern): every sequence gets
 * what the model with its own adapter merged in (W + s·B·A) gives it alone.
 */
class MultiAdapterTest {
    private static final double TOL = 1e-5;

    /** An adapter with random A and B (a fresh one has B = 0 and would change nothing). */
    static Lora.Adapter randomAdapter(Decoder base, Lora.Config c, long seed) {
        Lora.Adapter a = Lora.Adapter.create(base, c, seed);
        Rng rng = new Rng(seed + 1);
        for (Parameters.Slot s : a.params().slots().values()) {
            if (s.key().factor() != ParamKey.Factor.LORA_B) continue;
            Tensor t = a.params().value(s.name());
            for (int i = 0; i < t.size(); i++) t.set(i, (float) (rng.nextGaussian() * 0.05));
        }
        return a;
    }

    static List<Lora.Adapter> twoAdapters(Decoder base) {
        return List.of(randomAdapter(base, new Lora.Config(4, 8, 0, EnumSet.of(Role.Q, Role.V, Role.DOWN), false), 11),
                randomAdapter(base, new Lora.Config(8, 16, 0, Lora.Config.parseTargets("all-linear"), true), 12));
    }

    /** Greedy decoding of prompt alone with the adapter merged into the prepared weights: logits of every step. */
    static List<float[]> alone(Decoder base, Lora.Adapter adapter, int[] prompt, int steps) {
        PreparedModel merged = PreparedModel.of(adapter == null ? base : base.withAdapter(adapter));
        ModelRunner runner = new ModelRunner(merged, 128, 1);
        KvCache cache = new ContiguousKvCache(base.config(), prompt.length + steps + 1);
        List<float[]> out = new ArrayList<>();
        float[] logits = runner.forward(new ModelRunner.Chunk(cache, prompt, 0, prompt.length, true)).toArray();
        out.add(logits);
        for (int s = 0; s < steps; s++) {
            logits = runner.forward(new ModelRunner.Chunk(cache, new int[] {argmax(logits)}, 0, 1, true)).toArray();
            out.add(logits);
        }
        return out;
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama_gqa_swa", "gpt2_pre", "mqa_rope_gelu_bias", "llama_post"})
    void oneBatchWithTwoAdaptersAndTheBaseEqualsEachMergedModelAlone(String name) { batchedEqualsMerged(name, TestModels.load(name)); }

    /**
     * The same on Gemma 2 and 3 shaped models, whose o and down outputs pass a norm before the
     * residual add (Executor.linear); and on the tape: the adapter unmerged gives the merged model's logits.
     */
    @Test
    void sandwichNormModelsWithAdaptersEqualTheirMergedModels() {
        for (Decoder base : List.of(KvCacheTest.randomGemma2(5), KvCacheTest.randomGemma3(6))) {
            batchedEqualsMerged(base.config().qkNorm() ? "gemma3-shaped" : "gemma2-shaped", base);
            Lora.Adapter a = twoAdapters(base).get(1);
            int[] ids = {1, 5, 9, 2, 7, 3, 3, 8, 0, 4, 6, 2};
            float[] unmerged = base.withAdapter(a).forward(dev.lamina.autograd.Tape.inference(), ids, 1, ids.length).value().toArray();
            Parameters copy = Decoder.layout(base.config()).build();
            copy.copyFrom(base.params());
            Decoder folded = new Decoder(base.config(), copy);
            PreparedModel.fold(folded, a);
            float[] merged = folded.forward(dev.lamina.autograd.Tape.inference(), ids, 1, ids.length).value().toArray();
            for (int i = 0; i < merged.length; i++)
                assertThat((double) unmerged[i]).as("logit %d", i).isCloseTo(merged[i], org.assertj.core.data.Offset.offset(TOL));
        }
    }

    private void batchedEqualsMerged(String name, Decoder base) {
        int V = base.config().vocabSize();
        List<Lora.Adapter> adapters = twoAdapters(base);
        PreparedModel prepared = PreparedModel.of(base);
        PreparedAdapter[] pa = {PreparedAdapter.of(prepared, adapters.get(0)), PreparedAdapter.of(prepared, adapters.get(1)), null};
        Lora.Adapter[] la = {adapters.get(0), adapters.get(1), null};
        // the base sits between the adapters' rows and sequences 0 and 3 share an adapter, so runs of rows alternate
        int[] order = {0, 2, 1, 0};
        int[][] prompts = {{1, 2, 3, 4, 5}, {7 % V, 1, 9 % V}, {4, 4, 2, 8 % V, 6, 1, 3}, {3, 1}};
        int steps = 5;
        ModelRunner runner = new ModelRunner(prepared, 64, 4);
        KvCache[] caches = new KvCache[4];
        List<List<float[]>> batched = new ArrayList<>();
        for (int s = 0; s < 4; s++) {
            caches[s] = new ContiguousKvCache(base.config(), 32);
            batched.add(new ArrayList<>());
        }
        int[] next = new int[4];
        for (int step = 0; step <= steps; step++) {
            List<ModelRunner.Chunk> chunks = new ArrayList<>();
            for (int s = 0; s < 4; s++) {
                int[] toks = step == 0 ? prompts[s] : new int[] {next[s]};
                chunks.add(new ModelRunner.Chunk(caches[s], toks, 0, toks.length, true, pa[order[s]]));
            }
            Tensor logits = runner.forward(chunks);
            for (int s = 0; s < 4; s++) {
                float[] row = Arrays.copyOfRange(logits.data(), logits.offset() + s * V, logits.offset() + (s + 1) * V);
                batched.get(s).add(row);
                next[s] = argmax(row);
            }
        }
        for (int s = 0; s < 4; s++) {
            List<float[]> expected = alone(base, la[order[s]], prompts[s], steps);
            for (int step = 0; step <= steps; step++) {
                float[] e = expected.get(step), got = batched.get(s).get(step);
                assertThat(argmax(got)).as("%s seq %d step %d token", name, s, step).isEqualTo(argmax(e));
                for (int i = 0; i < V; i++)
                    assertThat((double) got[i]).as("%s seq %d step %d logit %d", name, s, step, i)
                            .isCloseTo(e[i], org.assertj.core.data.Offset.offset(TOL));
            }
        }
        // the adapters do change the output: otherwise the comparison above proves nothing
        float[] plain = alone(base, null, prompts[0], 0).get(0), adapted = batched.get(0).get(0);
        double diff = 0;
        for (int i = 0; i < V; i++) diff = Math.max(diff, Math.abs(plain[i] - adapted[i]));
        assertThat(diff).isGreaterThan(1e-3);
    }

    @Test
    void theEngineServesAdaptersSideBySideAndNeverSharesACachedPrefixAcrossThem() throws Exception {
        Decoder base = BatchEngineTest.MODEL;
        ByteTokenizer tok = ByteTokenizer.INSTANCE;
        List<Lora.Adapter> adapters = twoAdapters(base);
        PreparedModel prepared = PreparedModel.of(base);
        PreparedAdapter a = PreparedAdapter.of(prepared, adapters.get(0)), b = PreparedAdapter.of(prepared, adapters.get(1));
        int[] prompt = tok.encode("A prompt long enough to fill two blocks of sixteen tokens, shared by all.");
        int n = 8;
        BatchEngine.Request plain = new BatchEngine.Request(prompt, n, SamplingParams.GREEDY, 1, List.of(), -1, true);
        try (BatchEngine e = new BatchEngine(prepared, tok, BatchEngine.Options.defaults(4).withPrefillChunk(16))) {
            // the base first, alone, so its prompt blocks sit in the prefix cache when the adapters come
            int[] baseTokens = e.submit(plain, null).result().get(30, TimeUnit.SECONDS).choices().get(0).tokens();
            var ha = e.submit(plain.withAdapter(a), null);
            var hb = e.submit(plain.withAdapter(b), null);
            var hbase = e.submit(plain, null);
            int[][] got = {ha.result().get(30, TimeUnit.SECONDS).choices().get(0).tokens(),
                    hb.result().get(30, TimeUnit.SECONDS).choices().get(0).tokens(),
                    hbase.result().get(30, TimeUnit.SECONDS).choices().get(0).tokens()};
            Lora.Adapter[] which = {adapters.get(0), adapters.get(1), null};
            for (int i = 0; i < 3; i++) {
                List<float[]> expected = alone(base, which[i], prompt, n - 1);
                int[] want = new int[n];
                for (int t = 0; t < n; t++) want[t] = argmax(expected.get(t));
                assertThat(got[i]).as("request %d", i).isEqualTo(want);
            }
            assertThat(got[2]).isEqualTo(baseTokens);
            assertThat(got[0]).isNotEqualTo(baseTokens);
            assertThat(e.pool().prefixHits()).as("only the second base request reuses the base's prefix").isEqualTo((prompt.length - 1) / 16);
        }
    }

    @Test
    void severalAdaptersFoldedTogetherGivePeftsLogitsWithBothActive() throws Exception {
        java.nio.file.Path lora = java.nio.file.Path.of(MultiAdapterTest.class.getClassLoader().getResource("lora").toURI());
        Decoder base = dev.lamina.hf.HfCheckpoint.load(lora.resolve("llama_all/hf"));
        Lora.Adapter all = dev.lamina.hf.PeftAdapter.load(lora.resolve("llama_all/adapter"), base),
                qv = dev.lamina.hf.PeftAdapter.load(lora.resolve("llama_qv_rslora/adapter"), base);
        assertThat(PreparedModel.fold(base, all)).isEqualTo(14);          // 7 maps x 2 layers
        assertThat(PreparedModel.fold(base, qv)).isEqualTo(4);
        try (dev.lamina.io.SafeTensors st = dev.lamina.io.SafeTensors.open(lora.resolve("stacked.safetensors"))) {
            int[] shape = st.shape("ids");
            float[] want = st.floats("logits");
            float[] got = base.forward(dev.lamina.autograd.Tape.inference(base.kernels()), st.ints("ids"), shape[0], shape[1])
                    .value().toArray();
            double d = 0, r = 0;
            for (int i = 0; i < want.length; i++) { d += (got[i] - want[i]) * (double) (got[i] - want[i]); r += want[i] * (double) want[i]; }
            assertThat(Math.sqrt(d / r)).as("relative error of the logits").isLessThan(1e-5);
        }
    }

    @Test
    void anAdapterOfAnotherBaseIsRefused() {
        Decoder base = BatchEngineTest.MODEL;
        PreparedModel one = PreparedModel.of(base), two = PreparedModel.of(base);
        PreparedAdapter a = PreparedAdapter.of(one, twoAdapters(base).get(0));
        ModelRunner runner = new ModelRunner(two, 8, 1);
        assertThatThrownBy(() -> runner.forward(new ModelRunner.Chunk(new ContiguousKvCache(base.config(), 8), new int[] {1}, 0, 1, true, a)))
                .hasMessageContaining("another base");
        assertThatThrownBy(() -> PreparedAdapter.of(PreparedModel.of(base.withAdapter(twoAdapters(base).get(0))), twoAdapters(base).get(1)))
                .hasMessageContaining("already");
    }
}
