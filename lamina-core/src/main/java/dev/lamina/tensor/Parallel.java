package dev.lamina.tensor;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A fixed pool of worker threads sized to the cores (override with {@code -Dlamina.threads=N}).
 *
 * <p>{@link #forRange} splits {@code [0, n)} into contiguous chunks, one per thread, always the
 * same way for the same n and thread count, so every kernel built on it is deterministic.
 * The calling thread runs the first chunk itself. Nested calls run inline.
 */
public final class Parallel {
    /** A body over a half-open index range. */
    @FunctionalInterface
    public interface Range { void run(int from, int to); }

    private static volatile int threads = defaultThreads();
    private static Thread[] workers = new Thread[0];
    private static LinkedBlockingQueue<Runnable>[] queues;
    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);

    private Parallel() {}

    private static int defaultThreads() {
        String p = System.getProperty("lamina.threads");
        if (p != null && !p.isBlank()) return Math.max(1, Integer.parseInt(p.trim()));
        return Runtime.getRuntime().availableProcessors();
    }

    /** Number of threads kernels use. */
    public static int threads() { return threads; }

    /** Sets the thread count (1 runs everything on the caller). Call between steps, not during one. */
    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        threads = n;
    }

    @SuppressWarnings("unchecked")
    private static synchronized void ensureWorkers(int count) {
        if (workers.length >= count) return;
        Thread[] grown = new Thread[count];
        LinkedBlockingQueue<Runnable>[] q = new LinkedBlockingQueue[count];
        for (int i = 0; i < count; i++) {
            if (i < workers.length) { grown[i] = workers[i]; q[i] = queues[i]; continue; }
            LinkedBlockingQueue<Runnable> queue = new LinkedBlockingQueue<>();
            q[i] = queue;
            Thread t = new Thread(() -> {
                INSIDE.set(true);
                while (true) {
                    try { queue.take().run(); } catch (InterruptedException e) { return; }
                }
            }, "lamina-worker-" + (i + 1));
            t.setDaemon(true);
            t.start();
            grown[i] = t;
        }
        workers = grown;
        queues = q;
    }

    /** Runs body over [0, n) split into at most threads() chunks; at least minChunk items per chunk. */
    public static void forRange(int n, int minChunk, Range body) {
        if (n <= 0) return;
        int t = threads;
        int chunks = Math.min(t, Math.max(1, n / Math.max(1, minChunk)));
        if (chunks <= 1 || INSIDE.get()) { body.run(0, n); return; }
        ensureWorkers(chunks - 1);
        CountDownLatch done = new CountDownLatch(chunks - 1);
        AtomicReference<Throwable> error = new AtomicReference<>();
        for (int c = 1; c < chunks; c++) {
            int from = (int) ((long) n * c / chunks), to = (int) ((long) n * (c + 1) / chunks);
            queues[c - 1].add(() -> {
                try { body.run(from, to); } catch (Throwable e) { error.compareAndSet(null, e); }
                finally { done.countDown(); }
            });
        }
        INSIDE.set(true);
        try { body.run(0, (int) ((long) n / chunks)); }
        finally { INSIDE.set(false); }
        try { done.await(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); throw new IllegalStateException(e); }
        Throwable e = error.get();
        if (e instanceof RuntimeException re) throw re;
        if (e instanceof Error er) throw er;
        if (e != null) throw new IllegalStateException(e);
    }

    /** forRange with a minimum chunk of one item. */
    public static void forRange(int n, Range body) { forRange(n, 1, body); }
}
