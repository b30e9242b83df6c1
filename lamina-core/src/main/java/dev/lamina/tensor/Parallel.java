package dev.lamina.tensor;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fixed pool of worker threads sized to the cores (override with {@code -Dlamina.threads=N}).
 *
 * <p>{@link #forRange} splits {@code [0, n)} into contiguous chunks, one per thread, always the
 * same way for the same n and thread count, so every kernel built on it is deterministic.
 * The calling thread runs the first chunk itself. Nested calls run inline; calls from several
 * threads at once take turns.
 *
 * <p>Hand-off is a volatile slot per worker. Workers and the waiting caller spin for a short while
 * ({@code -Dlamina.spinMicros}, default 100) before parking: a decode step makes a hundred or so
 * parallel calls of tens of microseconds each, and a park/unpark round trip costs about as much.
 */
public final class Parallel {
    /** A body over a half-open index range. */
    @FunctionalInterface
    public interface Range { void run(int from, int to); }

    private static final long SPIN_NS = 1000L * Long.getLong("lamina.spinMicros", 100);
    private static volatile int threads = defaultThreads();
    private static volatile Worker[] workers = new Worker[0];
    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);
    private static final ReentrantLock TURN = new ReentrantLock();

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

    // State of the one call in flight (forRange holds TURN): reused so that a call allocates nothing.
    private static final AtomicInteger PENDING = new AtomicInteger();
    private static final AtomicReference<Throwable> ERROR = new AtomicReference<>();
    private static volatile Thread caller;

    /** One pool thread: runs the range that lands in its slot. */
    private static final class Worker extends Thread {
        private Range body;                 // published by the volatile write of ready
        private int from, to;
        private volatile boolean ready, parked;

        Worker(int i) {
            super("lamina-worker-" + i);
            setDaemon(true);
        }

        void submit(Range body, int from, int to) {
            this.body = body;
            this.from = from;
            this.to = to;
            ready = true;
            if (parked) LockSupport.unpark(this);
        }

        @Override public void run() {
            INSIDE.set(true);
            while (true) {
                long spinUntil = System.nanoTime() + SPIN_NS;
                while (!ready) {
                    if (System.nanoTime() < spinUntil) { Thread.onSpinWait(); continue; }
                    parked = true;                          // Dekker with submit(): one of us sees the other
                    if (!ready) LockSupport.park(this);
                    parked = false;
                }
                ready = false;
                Range b = body;
                Thread waiting = caller;                    // read before the count can let the next call in
                body = null;
                try { b.run(from, to); } catch (Throwable e) { ERROR.compareAndSet(null, e); }
                finally { if (PENDING.decrementAndGet() == 0) LockSupport.unpark(waiting); }
            }
        }
    }

    private static synchronized Worker[] ensureWorkers(int count) {
        Worker[] w = workers;
        if (w.length >= count) return w;
        Worker[] grown = java.util.Arrays.copyOf(w, count);
        for (int i = w.length; i < count; i++) { grown[i] = new Worker(i + 1); grown[i].start(); }
        workers = grown;
        return grown;
    }

    private static final AtomicLong CALLS = new AtomicLong();

    /**
     * Calls of {@link #forRange} so far. A kernel call hands its body, a closure over the kernel's
     * arguments (tens of bytes), to the workers: the one allocation a training step still makes.
     */
    public static long calls() { return CALLS.get(); }

    /** Runs body over [0, n) split into at most threads() chunks; at least minChunk items per chunk. */
    public static void forRange(int n, int minChunk, Range body) {
        CALLS.incrementAndGet();
        if (n <= 0) return;
        int chunks = Math.min(threads, Math.max(1, n / Math.max(1, minChunk)));
        if (chunks <= 1 || INSIDE.get()) { body.run(0, n); return; }
        Worker[] pool = ensureWorkers(chunks - 1);
        TURN.lock();
        try {
            run(n, chunks, body, pool);
        } finally {
            TURN.unlock();
        }
    }

    private static void run(int n, int chunks, Range body, Worker[] pool) {
        ERROR.set(null);
        caller = Thread.currentThread();
        PENDING.set(chunks - 1);
        for (int c = 1; c < chunks; c++)
            pool[c - 1].submit(body, (int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks));
        INSIDE.set(true);
        try {
            body.run(0, (int) ((long) n / chunks));
        } finally {
            INSIDE.set(false);
            long spinUntil = System.nanoTime() + SPIN_NS;  // wait even if our chunk threw: the next call reuses the state
            while (PENDING.get() > 0) {
                if (System.nanoTime() < spinUntil) Thread.onSpinWait();
                else LockSupport.parkNanos(50_000);    // the last worker unparks us; the timeout covers a lost race
            }
        }
        Throwable e = ERROR.getAndSet(null);
        if (e instanceof RuntimeException re) throw re;
        if (e instanceof Error er) throw er;
        if (e != null) throw new IllegalStateException(e);
    }

    /** forRange with a minimum chunk of one item. */
    public static void forRange(int n, Range body) { forRange(n, 1, body); }
}
