package dev.lamina.infer;

import dev.lamina.infer.BatchEngine.FinishReason;
import dev.lamina.infer.BatchEngine.Request;
import dev.lamina.infer.BatchEngine.Result;
import dev.lamina.model.Decoder;
import dev.lamina.model.Presets;
import dev.lamina.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Continuous batching gives every request what it gets alone, and gives memory back when requests end. */
class BatchEngineTest {
    static final Decoder MODEL = Decoder.create(Presets.get("tiny").config().apply(257), 5);
    static final ByteTokenizer TOK = ByteTokenizer.INSTANCE;

    static BatchEngine engine(int concurrent) {
        return new BatchEngine(MODEL, TOK, BatchEngine.Options.defaults(concurrent).withPrefillChunk(32).withPrefixCaching(false));
    }

    static Request req(String prompt, int maxTokens, SamplingParams p) {
        return new Request(TOK.encode(prompt), maxTokens, p, 1, List.of(), -1, true);
    }

    static List<Request> mixedRequests() {
        List<Request> list = new ArrayList<>();
        String[] prompts = {"The jury", "A", "In the beginning of the year the city council met to discuss the budget and",
                "Seventeen short words", "x", "Once upon a time, in a land far away, there lived a very old king who",
                "1 2 3 4 5 6 7 8 9 10 11 12", "Hello"};
        for (int i = 0; i < prompts.length; i++)
            list.add(req(prompts[i], 12 + 5 * i, i % 3 == 2 ? SamplingParams.of(0.9, 20, 0.95, 100 + i) : SamplingParams.GREEDY));
        return list;
    }

    @Test
    void outputsUnderConcurrencyEqualOutputsAlone() throws Exception {
        List<Request> requests = mixedRequests();
        List<int[]> alone = new ArrayList<>();
        try (BatchEngine e = engine(1)) {
            for (Request r : requests) alone.add(e.submit(r, null).result().get(30, TimeUnit.SECONDS).choices().get(0).tokens());
        }
        try (BatchEngine e = engine(4)) {       // 8 requests, 4 at a time: requests join as others leave
            List<BatchEngine.Handle> handles = new ArrayList<>();
            for (Request r : requests) handles.add(e.submit(r, null));
            for (int i = 0; i < requests.size(); i++) {
                Result res = handles.get(i).result().get(30, TimeUnit.SECONDS);
                assertThat(res.choices().get(0).tokens()).as("request " + i).isEqualTo(alone.get(i));
                assertThat(res.completionTokens()).isEqualTo(requests.get(i).maxTokens());
                assertThat(res.choices().get(0).finish()).isEqualTo(FinishReason.LENGTH);
            }
            assertThat(e.steps()).isLessThan(requests.stream().mapToLong(Request::maxTokens).sum());  // steps were shared
            waitIdle(e);
            assertThat(e.pool().usedBlocks()).isZero();
        }
    }

    @Test
    void nChoicesShareThePromptAndEqualSeparateRequests() throws Exception {
        SamplingParams p = SamplingParams.of(1.0, 0, 1, 77);
        int[] prompt = TOK.encode("Forty characters of prompt text, roughly.");  // 41 tokens: 2 full blocks + 9
        try (BatchEngine e = engine(4)) {
            Result three = e.submit(new Request(prompt, 20, p, 3, List.of(), -1, true), null).result().get(30, TimeUnit.SECONDS);
            assertThat(three.choices()).hasSize(3);
            assertThat(three.completionTokens()).isEqualTo(60);
            for (int i = 0; i < 3; i++) {
                Result one = e.submit(new Request(prompt, 20, p.withSeed(77 + i), 1, List.of(), -1, true), null)
                        .result().get(30, TimeUnit.SECONDS);
                assertThat(three.choices().get(i).tokens()).as("choice " + i).isEqualTo(one.choices().get(0).tokens());
            }
            assertThat(three.choices().get(0).tokens()).isNotEqualTo(three.choices().get(1).tokens());
            waitIdle(e);
            assertThat(e.pool().usedBlocks()).isZero();
        }
    }

    @Test
    void cancellingFreesTheSlotAndTheBlocksAtOnce() throws Exception {
        try (BatchEngine e = engine(2)) {
            CountDownLatch started = new CountDownLatch(3);
            BatchEngine.Handle h = e.submit(req("Go on forever", 200, SamplingParams.GREEDY), new BatchEngine.Listener() {
                @Override public void onToken(int choice, int token, String text, Logprobs.Choice lp) { started.countDown(); }
            });
            assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(e.activeSequences()).isEqualTo(1);
            assertThat(e.pool().usedBlocks()).isPositive();
            h.cancel();
            Result r = h.result().get(10, TimeUnit.SECONDS);
            assertThat(r.choices().get(0).finish()).isEqualTo(FinishReason.CANCELLED);
            assertThat(r.completionTokens()).isLessThan(200);
            assertThat(e.activeSequences()).isZero();
            assertThat(e.pool().usedBlocks()).isZero();
        }
    }

    @Test
    void aFullQueueRefusesAndAQueuedRequestCanBeCancelled() throws Exception {
        try (BatchEngine e = new BatchEngine(MODEL, TOK, BatchEngine.Options.defaults(1).withMaxQueue(1).withPrefixCaching(false))) {
            BatchEngine.Handle running = e.submit(req("first", 200, SamplingParams.GREEDY), null);
            while (e.activeSequences() == 0) Thread.sleep(1);
            BatchEngine.Handle queued = e.submit(req("second", 5, SamplingParams.GREEDY), null);
            assertThat(e.queued()).isEqualTo(1);
            assertThatThrownBy(() -> e.submit(req("third", 5, SamplingParams.GREEDY), null))
                    .isInstanceOf(BatchEngine.QueueFullException.class);
            queued.cancel();
            assertThat(queued.result().get(5, TimeUnit.SECONDS).choices().get(0).finish()).isEqualTo(FinishReason.CANCELLED);
            assertThat(e.queued()).isZero();
            running.cancel();
            running.result().get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void stopSequencesMaxTokensAndLogprobs() throws Exception {
        try (BatchEngine e = engine(2)) {
            Request plain = new Request(TOK.encode("The"), 40, SamplingParams.GREEDY, 1, List.of(), 3, true);
            Result full = e.submit(plain, null).result().get(30, TimeUnit.SECONDS);
            BatchEngine.ChoiceResult c = full.choices().get(0);
            assertThat(c.logprobs()).hasSize(40);
            for (int i = 0; i < 40; i++) {
                Logprobs.Choice lp = c.logprobs().get(i);
                assertThat(lp.chosen().token()).isEqualTo(c.tokens()[i]);
                assertThat(lp.top()).hasSize(3);
                assertThat(lp.top()[0].token()).isEqualTo(c.tokens()[i]);   // greedy picks the most likely
                assertThat(lp.chosen().logprob()).isLessThanOrEqualTo(0).isEqualTo(lp.top()[0].logprob());
            }
            String text = c.text();
            String stop = text.substring(10, 13);
            int cut = text.indexOf(stop);
            StringBuilder streamed = new StringBuilder();
            Result stopped = e.submit(new Request(TOK.encode("The"), 40, SamplingParams.GREEDY, 1, List.of(stop), -1, true),
                    new BatchEngine.Listener() {
                        @Override public void onToken(int choice, int token, String t, Logprobs.Choice lp) { streamed.append(t); }
                        @Override public void onText(int choice, String t) { streamed.append(t); }
                    }).result().get(30, TimeUnit.SECONDS);
            assertThat(stopped.choices().get(0).text()).isEqualTo(text.substring(0, cut));
            assertThat(streamed.toString()).isEqualTo(text.substring(0, cut));
            assertThat(stopped.choices().get(0).finish()).isEqualTo(FinishReason.STOP);
        }
    }

    /** Alternating sliding and global layers keep every position in the paged cache, and batched greedy equals the session's. */
    @Test
    void gemma2ShapedModelsDecodeInBatchesAsAlone() throws Exception {
        Decoder g = KvCacheTest.randomGemma2(42);
        int[][] prompts = {KvCacheTest.tokens(10, 50, 3), KvCacheTest.tokens(7, 50, 4)};
        int[][] want = new int[2][30];
        for (int p = 0; p < 2; p++)
            try (InferenceSession s = InferenceSession.forModel(g)) {
                assertThat(s.capacity()).isEqualTo(48);                    // a global layer: no rolling buffer, the model's limit
                float[] logits = s.forward(prompts[p]);
                for (int i = 0; i < 30; i++) {
                    want[p][i] = Sampler.argmax(logits, 0, logits.length);
                    if (i + 1 < 30) logits = s.forward(want[p][i]);
                }
            }
        try (BatchEngine e = new BatchEngine(g, idsOnly(50), BatchEngine.Options.defaults(2).withPrefixCaching(false))) {
            var a = e.submit(new Request(prompts[0], 30, SamplingParams.GREEDY, 1, List.of(), -1, true), new BatchEngine.Listener() {});
            var b = e.submit(new Request(prompts[1], 30, SamplingParams.GREEDY, 1, List.of(), -1, true), new BatchEngine.Listener() {});
            assertThat(a.result().get(30, TimeUnit.SECONDS).choices().get(0).tokens()).isEqualTo(want[0]);
            assertThat(b.result().get(30, TimeUnit.SECONDS).choices().get(0).tokens()).isEqualTo(want[1]);
        }
    }

    @Test
    void slidingWindowModelsRunPastMaxPositionsInBoundedMemory() throws Exception {
        Decoder swa = KvCacheTest.randomSwa(16, 41);                 // window 6, 16 positions, RoPE
        int[] prompt = KvCacheTest.tokens(10, 50, 3);
        int[] want = new int[40];
        try (InferenceSession s = InferenceSession.forModel(swa)) {   // rolling buffer
            float[] logits = s.forward(prompt);
            for (int i = 0; i < want.length; i++) {
                want[i] = Sampler.argmax(logits, 0, logits.length);
                logits = s.forward(want[i]);
            }
        }
        int[] peak = {0};
        try (BatchEngine e = new BatchEngine(swa, idsOnly(50), BatchEngine.Options.defaults(2).withPrefixCaching(false))) {
            assertThat(e.contextLimit()).isEqualTo(Integer.MAX_VALUE);
            Result r = e.submit(new Request(prompt, 40, SamplingParams.GREEDY, 1, List.of(), -1, true), new BatchEngine.Listener() {
                @Override public void onToken(int choice, int token, String text, Logprobs.Choice lp) {
                    peak[0] = Math.max(peak[0], e.pool().usedBlocks());   // on the engine thread
                }
            }).result().get(30, TimeUnit.SECONDS);
            assertThat(r.choices().get(0).tokens()).isEqualTo(want);
            assertThat(peak[0]).isLessThanOrEqualTo(6 / 16 + 2);           // one or two 16-token blocks, never the 50 positions
            waitIdle(e);
            assertThat(e.pool().usedBlocks()).isZero();
        }
    }

    static dev.lamina.tokenizer.Tokenizer idsOnly(int V) {
        return new dev.lamina.tokenizer.Tokenizer() {
            @Override public int vocabSize() { return V; }
            @Override public int[] encode(String text) { return new int[0]; }
            @Override public String decode(int[] ids) { return ""; }
            @Override public int eotId() { return -1; }
            @Override public void save(java.nio.file.Path dir) {}
            @Override public String describe() { return "ids"; }
        };
    }

    @Test
    void requestsBeyondTheContextAreRefused() {
        try (BatchEngine e = engine(1)) {
            assertThatThrownBy(() -> e.submit(req("x".repeat(250), 10, SamplingParams.GREEDY), null))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("context of 256");
        }
    }

    static void waitIdle(BatchEngine e) throws InterruptedException {
        for (int i = 0; i < 1000 && e.activeSequences() > 0; i++) Thread.sleep(2);
    }
}
