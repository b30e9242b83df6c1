package dev.lamina.infer;

import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.structured.JsonConstraint;
import dev.lamina.tensor.Tensor;
import dev.lamina.tokenizer.Tokenizer;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching: requests join and leave a running batch between decode steps, and one
 * {@link ModelRunner} call per step serves every active sequence (one row per decoding sequence
 * plus, when there is room, a chunk of a waiting prompt). KV memory is a {@link BlockPool} of
 * 16-token blocks; each sequence gets blocks on demand and returns them when it ends. A request
 * asking for n choices prefills its prompt once and forks the cache n ways (copy-on-write).
 *
 * <p>One engine thread owns the model, the runner and the pool; {@link #submit} and
 * {@link Handle#cancel()} may be called from any thread, and the listener is called on the engine
 * thread (keep it quick). A cancelled request gives back its slot and blocks before the next step.
 *
 * <p>Admission is by worst case: a request is admitted when a slot is free for each of its
 * choices and the pool can hold every choice at its full length (prompt + max tokens), so a
 * running sequence never waits for memory. Up to maxQueue requests wait; beyond that
 * {@link #submit} throws {@link QueueFullException}.
 */
public final class BatchEngine implements AutoCloseable {

    /**
     * @param maxConcurrent  sequences decoding at once (a request with n choices takes n)
     * @param maxQueue       requests waiting for a slot before submit refuses more
     * @param prefillChunk   prompt tokens per sequence per step (longer prompts take several steps)
     * @param kvBlocks       blocks in the KV pool (0: enough for maxConcurrent full contexts)
     * @param prefixCaching  keep full prompt blocks for reuse by later requests with the same prefix
     */
    public record Options(int maxConcurrent, int maxQueue, int prefillChunk, int kvBlocks, boolean prefixCaching) {
        public Options {
            if (maxConcurrent < 1) throw new IllegalArgumentException("maxConcurrent must be >= 1, got " + maxConcurrent);
            if (maxQueue < 0) throw new IllegalArgumentException("maxQueue must be >= 0, got " + maxQueue);
            if (prefillChunk < 1) throw new IllegalArgumentException("prefillChunk must be >= 1, got " + prefillChunk);
            if (kvBlocks < 0) throw new IllegalArgumentException("kvBlocks must be >= 0, got " + kvBlocks);
        }

        public static Options defaults(int maxConcurrent) { return new Options(maxConcurrent, 4 * maxConcurrent, 256, 0, true); }

        public Options withMaxQueue(int q) { return new Options(maxConcurrent, q, prefillChunk, kvBlocks, prefixCaching); }
        public Options withPrefillChunk(int p) { return new Options(maxConcurrent, maxQueue, p, kvBlocks, prefixCaching); }
        public Options withKvBlocks(int b) { return new Options(maxConcurrent, maxQueue, prefillChunk, b, prefixCaching); }
        public Options withPrefixCaching(boolean on) { return new Options(maxConcurrent, maxQueue, prefillChunk, kvBlocks, on); }
    }

    /**
     * One generation request.
     *
     * @param prompt     token ids (at least one)
     * @param maxTokens  tokens to generate per choice at most
     * @param n          choices (independent samples of the same prompt)
     * @param stop       stop sequences (text), may be empty
     * @param logprobs   -1: none; k >= 0: log-probability of each chosen token and of the k most likely
     * @param ignoreEos  keep going past end-of-text (benchmarks)
     * @param adapter    the LoRA adapter to generate with, prepared beside the engine's model (null: the base alone)
     */
    public record Request(int[] prompt, int maxTokens, SamplingParams sampling, int n, List<String> stop, int logprobs,
                          boolean ignoreEos, PreparedAdapter adapter, JsonConstraint json) {
        public Request {
            if (prompt == null || prompt.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
            if (maxTokens < 1) throw new IllegalArgumentException("max_tokens must be >= 1, got " + maxTokens);
            if (n < 1) throw new IllegalArgumentException("n must be >= 1, got " + n);
            if (logprobs < -1) throw new IllegalArgumentException("logprobs must be >= 0");
            stop = stop == null ? List.of() : List.copyOf(stop);
        }

        public static Request of(int[] prompt, int maxTokens, SamplingParams sampling) {
            return new Request(prompt, maxTokens, sampling, 1, List.of(), -1, false);
        }

        /** A request of the base model alone. */
        public Request(int[] prompt, int maxTokens, SamplingParams sampling, int n, List<String> stop, int logprobs, boolean ignoreEos) {
            this(prompt, maxTokens, sampling, n, stop, logprobs, ignoreEos, null, null);
        }

        /** This request with a LoRA adapter (null: none). */
        public Request withAdapter(PreparedAdapter a) { return new Request(prompt, maxTokens, sampling, n, stop, logprobs, ignoreEos, a, json); }

        /**
         * This request with its output constrained to json's schema (null: free text): every sequence
         * ends as a complete valid value, within max_tokens; stop sequences are not applied (they could
         * cut the value).
         */
        public Request withJson(JsonConstraint json) { return new Request(prompt, maxTokens, sampling, n, stop, logprobs, ignoreEos, adapter, json); }
    }

    public enum FinishReason {
        /** End of text or a stop sequence. */ STOP,
        /** max_tokens or the context limit. */ LENGTH,
        /** Cancelled (the client went away) or the engine closed. */ CANCELLED;

        /** OpenAI's spelling. */
        public String openAi() { return name().toLowerCase(java.util.Locale.ROOT); }
    }

    /** Receives a request's output on the engine thread. */
    public interface Listener {
        /** New final text of a choice (may be empty) and, when asked for, the chosen token's log-probabilities. */
        default void onToken(int choice, int token, String text, Logprobs.Choice logprobs) {}

        /** Text held back at the end (an incomplete stop-sequence prefix that never completed). */
        default void onText(int choice, String text) {}

        default void onChoiceFinished(int choice, FinishReason reason) {}

        /** Every choice finished. */
        default void onComplete(Result result) {}

        default void onError(Throwable error) {}
    }

    public record ChoiceResult(int index, String text, int[] tokens, List<Logprobs.Choice> logprobs, FinishReason finish) {}

    /** Nanosecond times are System.nanoTime() values; firstToken is 0 if no token came. */
    public record Result(int promptTokens, int completionTokens, List<ChoiceResult> choices,
                         long submittedNanos, long firstTokenNanos, long finishedNanos) {}

    /** Thrown by {@link #submit} when maxQueue requests are already waiting. */
    public static final class QueueFullException extends RuntimeException {
        QueueFullException(String message) { super(message); }
    }

    /** A submitted request. */
    public final class Handle {
        private final Group group;
        private Handle(Group g) { this.group = g; }

        /** Stops the request; its slot and KV blocks are freed before the next step. Idempotent. */
        public void cancel() { BatchEngine.this.cancel(group); }

        public CompletableFuture<Result> result() { return group.future; }
    }

    // ---- state ---------------------------------------------------------------------------

    private final Decoder model;
    private final ModelConfig c;
    private final Tokenizer tokenizer;
    private final Options options;
    private final ModelRunner runner;
    private final BlockPool pool;
    private final int contextLimit, maxBlocksPerSequence;
    private final Thread thread;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private final ArrayDeque<Group> waiting = new ArrayDeque<>();
    private final ConcurrentLinkedQueue<Group> cancels = new ConcurrentLinkedQueue<>();
    private boolean closed;

    // engine thread only
    private final List<Group> prefilling = new ArrayList<>();
    private final List<Seq> decoding = new ArrayList<>();
    private int reservedBlocks;
    private volatile int activeSequences, activeRequests;
    private volatile long steps, generatedTokens;

    private final class Group {
        final Request request;
        final Listener listener;
        final CompletableFuture<Result> future = new CompletableFuture<>();
        final long submitted = System.nanoTime();
        long firstToken;
        Seq[] seqs;
        int prefilled, finished, blocks;
        volatile boolean cancelled;
        boolean done;

        Group(Request r, Listener l) { request = r; listener = l == null ? new Listener() {} : l; }
    }

    private static final class Seq {
        final Group group;
        final int index;
        final Sampler sampler;
        final TextStream text;
        final JsonConstraint json;                     // null: free text
        PagedKvCache cache;
        int[] tokens = new int[16];
        int count, last;
        List<Logprobs.Choice> logprobs;
        FinishReason finish;

        Seq(Group g, int index, Sampler sampler, TextStream text) {
            this.group = g;
            this.index = index;
            this.sampler = sampler;
            this.text = text;
            this.json = g.request.json() == null ? null : g.request.json().sharing();   // its own state, the request's mask cache
            if (g.request.logprobs() >= 0) logprobs = new ArrayList<>();
        }
    }

    /** KV blocks one sequence can hold: its whole context, or a sliding window's and two more. */
    private static int blocksPerSequence(ModelConfig c) {
        int B = BlockPool.DEFAULT_BLOCK_SIZE;
        return c.cacheWindow() > 0 ? PagedKvCache.blocksFor(c.cacheWindow(), B) + 2 : PagedKvCache.blocksFor(c.contextLimit(), B);
    }

    /** Blocks of {@link BlockPool#DEFAULT_BLOCK_SIZE} positions in the engine's KV pool: options' kvBlocks, else every slot's full context. */
    public static int poolBlocks(ModelConfig c, Options options) {
        return options.kvBlocks() > 0 ? options.kvBlocks() : options.maxConcurrent() * blocksPerSequence(c);
    }

    /** Rows one step of the engine computes at most: a token per decoding slot and a chunk of a waiting prompt. */
    public static int runnerRows(ModelConfig c, Options options) {
        return options.maxConcurrent() + Math.min(options.prefillChunk(), Math.min(InferenceSession.contextLimit(c), 1 << 16));
    }

    /** An engine that prepares the model's weights for inference. */
    public BatchEngine(Decoder model, Tokenizer tokenizer, Options options) { this(PreparedModel.of(model), tokenizer, options); }

    /** An engine over weights prepared once (shared with other engines and sessions). */
    public BatchEngine(PreparedModel prepared, Tokenizer tokenizer, Options options) {
        Decoder model = prepared.model();
        this.model = model;
        this.c = model.config();
        this.tokenizer = tokenizer;
        this.options = options;
        this.contextLimit = InferenceSession.contextLimit(c);
        this.maxBlocksPerSequence = blocksPerSequence(c);
        this.pool = new BlockPool(c, poolBlocks(c, options), BlockPool.DEFAULT_BLOCK_SIZE, options.prefixCaching(), prepared.kvCache());
        this.runner = new ModelRunner(prepared, runnerRows(c, options), options.maxConcurrent());
        this.thread = new Thread(this::loop, "lamina-engine");
        thread.setDaemon(true);
        thread.start();
    }

    public Decoder model() { return model; }
    public Tokenizer tokenizer() { return tokenizer; }
    public Options options() { return options; }
    /** The KV pool (read its counters from any thread only for monitoring; the engine thread owns it). */
    public BlockPool pool() { return pool; }
    /** Longest prompt + output a sequence may reach (Integer.MAX_VALUE: unbounded). */
    public int contextLimit() { return contextLimit; }
    /** Sequences holding a slot (decoding or prefilling). */
    public int activeSequences() { return activeSequences; }
    public int activeRequests() { return activeRequests; }
    public long steps() { return steps; }
    public long generatedTokens() { return generatedTokens; }

    public int queued() {
        lock.lock();
        try { return waiting.size(); } finally { lock.unlock(); }
    }

    /** Queues a request; throws QueueFullException when the queue is full, IllegalArgumentException if it can never fit. */
    public Handle submit(Request r, Listener listener) {
        if (r.n() > options.maxConcurrent())
            throw new IllegalArgumentException("n = " + r.n() + " exceeds the server's " + options.maxConcurrent() + " concurrent sequences");
        long total = (long) r.prompt().length + r.maxTokens();
        if (total > contextLimit)
            throw new IllegalArgumentException("prompt (" + r.prompt().length + " tokens) plus max_tokens (" + r.maxTokens()
                    + ") exceeds the model's context of " + contextLimit + " tokens");
        if (blocksNeeded(r) > pool.numBlocks())
            throw new IllegalArgumentException("the request needs more KV cache than the pool holds (" + pool.numBlocks() + " blocks)");
        for (int t : r.prompt())
            if (t < 0 || t >= c.vocabSize()) throw new IllegalArgumentException("token id " + t + " is outside the vocabulary");
        if (r.adapter() != null && r.adapter().base() != runner.prepared())
            throw new IllegalArgumentException("the adapter was prepared for another base model");
        Group g = new Group(r, listener);
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("engine closed");
            if (waiting.size() >= options.maxQueue() && !(activeSequences + r.n() <= options.maxConcurrent() && waiting.isEmpty()))
                throw new QueueFullException("the queue is full (" + options.maxQueue() + " waiting requests)");
            waiting.add(g);
            wake.signal();
        } finally {
            lock.unlock();
        }
        return new Handle(g);
    }

    private int blocksNeeded(Request r) {
        int perSeq = Math.min(maxBlocksPerSequence,
                PagedKvCache.blocksFor((int) Math.min(Integer.MAX_VALUE, (long) r.prompt().length + r.maxTokens()), pool.blockSize()) + 1);
        return perSeq * r.n();
    }

    private void cancel(Group g) {
        if (g.cancelled) return;
        g.cancelled = true;
        lock.lock();
        try {
            if (waiting.remove(g)) {
                g.done = true;
                finishWaiting(g);
                return;
            }
            cancels.add(g);
            wake.signal();
        } finally {
            lock.unlock();
        }
    }

    private void finishWaiting(Group g) {
        long now = System.nanoTime();
        List<ChoiceResult> choices = new ArrayList<>();
        for (int i = 0; i < g.request.n(); i++) {
            int index = i;
            choices.add(new ChoiceResult(i, "", new int[0], g.request.logprobs() >= 0 ? List.of() : null, FinishReason.CANCELLED));
            safe(() -> g.listener.onChoiceFinished(index, FinishReason.CANCELLED));
        }
        Result r = new Result(g.request.prompt().length, 0, choices, g.submitted, 0, now);
        safe(() -> g.listener.onComplete(r));
        g.future.complete(r);
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            wake.signal();
        } finally {
            lock.unlock();
        }
        try { thread.join(10_000); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
    }

    // ---- the engine thread ---------------------------------------------------------------

    private void loop() {
        while (true) {
            lock.lock();
            try {
                while (!closed && cancels.isEmpty() && (waiting.isEmpty() || !canAdmit(waiting.peek()))
                        && prefilling.isEmpty() && decoding.isEmpty())
                    wake.awaitUninterruptibly();
                if (closed) break;
            } finally {
                lock.unlock();
            }
            for (Group g; (g = cancels.poll()) != null; ) abort(g, FinishReason.CANCELLED, null);
            admit();
            if (!prefilling.isEmpty() || !decoding.isEmpty()) step();
        }
        // closing: every request still here ends as cancelled
        lock.lock();
        try {
            for (Group g : waiting) { g.done = true; finishWaiting(g); }
            waiting.clear();
        } finally {
            lock.unlock();
        }
        for (Group g : new ArrayList<>(prefilling)) abort(g, FinishReason.CANCELLED, null);
        for (Seq s : new ArrayList<>(decoding)) abort(s.group, FinishReason.CANCELLED, null);
    }

    private boolean canAdmit(Group g) {
        return activeSequences + g.request.n() <= options.maxConcurrent() && reservedBlocks + blocksNeeded(g.request) <= pool.numBlocks();
    }

    private void admit() {
        while (true) {
            Group g;
            lock.lock();
            try {
                g = waiting.peek();
                if (g == null || !canAdmit(g)) return;
                waiting.poll();
            } finally {
                lock.unlock();
            }
            Request r = g.request;
            g.blocks = blocksNeeded(r);
            reservedBlocks += g.blocks;
            activeSequences += r.n();
            activeRequests++;
            g.seqs = new Seq[r.n()];
            long seed = r.sampling().seed();
            for (int i = 0; i < r.n(); i++) {
                Sampler s = new Sampler(r.sampling().withSeed(seed + i));
                s.prompt(r.prompt());
                g.seqs[i] = new Seq(g, i, s, new TextStream(tokenizer, r.json() != null ? List.of() : r.stop()));
            }
            Seq lead = g.seqs[0];
            lead.cache = new PagedKvCache(pool, c, contextLimit, r.adapter());   // cached prefixes are per adapter
            g.prefilled = lead.cache.reusePrefix(r.prompt());
            prefilling.add(g);
        }
    }

    private void step() {
        List<ModelRunner.Chunk> chunks = new ArrayList<>();
        List<Object> owners = new ArrayList<>();           // Seq (decode) or Group (prefill), per logits row
        int rows = 0;
        for (Seq s : decoding) {
            chunks.add(new ModelRunner.Chunk(s.cache, new int[]{s.last}, 0, 1, true, s.group.request.adapter()));
            owners.add(s);
            rows++;
        }
        List<Group> advancing = new ArrayList<>();
        for (Group g : prefilling) {
            int[] prompt = g.request.prompt();
            int len = Math.min(options.prefillChunk(), prompt.length - g.prefilled);
            if (rows + len > runner.maxRows()) break;
            boolean last = g.prefilled + len == prompt.length;
            chunks.add(new ModelRunner.Chunk(g.seqs[0].cache, prompt, g.prefilled, g.prefilled + len, last, g.request.adapter()));
            advancing.add(g);
            if (last) owners.add(g);
            rows += len;
        }
        Tensor logits;
        try {
            logits = runner.forward(chunks);
        } catch (RuntimeException | Error e) {
            for (Group g : new ArrayList<>(prefilling)) abort(g, null, e);
            for (Seq s : new ArrayList<>(decoding)) abort(s.group, null, e);
            return;
        }
        steps++;
        for (Group g : advancing) g.prefilled += Math.min(options.prefillChunk(), g.request.prompt().length - g.prefilled);
        int V = c.vocabSize();
        float[] L = logits.data();
        for (int j = 0; j < owners.size(); j++) {
            int off = logits.offset() + j * V;
            if (owners.get(j) instanceof Seq s) {
                if (s.finish == null) next(s, L, off);
            } else {
                Group g = (Group) owners.get(j);
                prefilling.remove(g);
                Seq lead = g.seqs[0];
                for (int i = 1; i < g.seqs.length; i++) g.seqs[i].cache = lead.cache.fork();
                for (Seq s : g.seqs) {
                    decoding.add(s);
                    if (s.finish == null) next(s, L, off);
                }
            }
        }
        decoding.removeIf(s -> s.finish != null);
    }

    /** Samples a sequence's next token from its logits and reports it; finishes the sequence when due. */
    private void next(Seq s, float[] L, int off) {
        Group g = s.group;
        Request r = g.request;
        int V = c.vocabSize();
        if (s.json != null) s.json.mask(L, off, V, Math.min(r.maxTokens() - s.count, s.cache.maxLength() - s.cache.length() + 1));
        int token = s.sampler.sample(L, off, V);
        if (s.json != null) s.json.accept(token);
        generatedTokens++;
        if (g.firstToken == 0) g.firstToken = System.nanoTime();
        if (s.count == s.tokens.length) s.tokens = Arrays.copyOf(s.tokens, s.count * 2);
        s.tokens[s.count++] = token;
        if (token == tokenizer.eotId() && !r.ignoreEos()) {
            finishSeq(s, FinishReason.STOP);
            return;
        }
        Logprobs.Choice lp = r.logprobs() >= 0 ? Logprobs.of(L, off, V, token, r.logprobs()) : null;
        if (lp != null) s.logprobs.add(lp);
        String delta = s.text.add(token);
        safe(() -> g.listener.onToken(s.index, token, delta, lp));
        if (s.text.stopped() || s.json != null && s.json.done()) finishSeq(s, FinishReason.STOP);
        else if (s.count >= r.maxTokens() || s.cache.length() >= s.cache.maxLength()) finishSeq(s, FinishReason.LENGTH);
        else s.last = token;
    }

    private void finishSeq(Seq s, FinishReason reason) {
        Group g = s.group;
        s.finish = reason;
        if (reason != FinishReason.CANCELLED) {
            String rest = s.text.finish();
            if (!rest.isEmpty()) safe(() -> g.listener.onText(s.index, rest));
        }
        if (s.cache != null) s.cache.close();
        activeSequences--;
        safe(() -> g.listener.onChoiceFinished(s.index, reason));
        if (++g.finished == g.seqs.length) complete(g);
    }

    private void complete(Group g) {
        g.done = true;
        reservedBlocks -= g.blocks;
        activeRequests--;
        List<ChoiceResult> choices = new ArrayList<>();
        int completion = 0;
        for (Seq s : g.seqs) {
            completion += s.count;
            choices.add(new ChoiceResult(s.index, s.text.text(), Arrays.copyOf(s.tokens, s.count), s.logprobs, s.finish));
        }
        Result r = new Result(g.request.prompt().length, completion, choices, g.submitted, g.firstToken, System.nanoTime());
        safe(() -> g.listener.onComplete(r));
        g.future.complete(r);
    }

    /** Ends every unfinished sequence of a group: cancelled (reason) or failed (error). */
    private void abort(Group g, FinishReason reason, Throwable error) {
        if (g.done || g.seqs == null) return;
        prefilling.remove(g);
        for (Iterator<Seq> it = decoding.iterator(); it.hasNext(); ) if (it.next().group == g) it.remove();
        if (error == null) {
            for (Seq s : g.seqs) {
                if (s.finish != null) continue;
                if (s.cache == null) { s.finish = reason; activeSequences--; if (++g.finished == g.seqs.length) complete(g); continue; }
                finishSeq(s, reason);
            }
            return;
        }
        for (Seq s : g.seqs) {
            if (s.finish != null) continue;
            s.finish = FinishReason.CANCELLED;
            if (s.cache != null) s.cache.close();
            activeSequences--;
        }
        g.done = true;
        reservedBlocks -= g.blocks;
        activeRequests--;
        safe(() -> g.listener.onError(error));
        g.future.completeExceptionally(error);
    }

    private static void safe(Runnable r) {
        try { r.run(); } catch (RuntimeException ignored) { /* a listener's failure must not stop the engine */ }
    }
}
