package dev.lamina.tensor;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fixed pool of worker threads: {@link #of(int)} gives the pool of a thread count (one per count,
 * created on first use and kept; 1 runs everything on the caller). Models, sessions and trainers
 * each hold the pool of their {@link dev.lamina.kernels.KernelSet}, so one JVM can run two thread
 * counts side by side.
 *
 * <p>{@link #forRange} splits {@code [0, n)} into contiguous chunks, one per thread, always the
 * same way for the same n and thread count, so every kernel built on it is deterministic.
 * The calling thread runs the first chunk itself. Nested calls (from inside any pool's body) run
 * inline; calls from several threads at once into one pool take turns.
 *
 * <p>Hand-off is a volatile slot per worker. Workers and the waiting caller spin for a short while
 * ({@code -Dlamina.spinMicros}, default 100, see {@link Tuning}) before parking: a decode step makes
 * a hundred or so parallel calls of tens of microseconds each, and a park/unpark round trip costs
 * about as much.
 */
public final class Parallel {
    /** A body over a half-open index range. */
    @FunctionalInterface
    public interface Range { void run(int from, int to); }

    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);
    private static final java.util.concurrent.ConcurrentHashMap<Integer, Parallel> POOLS = new java.util.concurrent.ConcurrentHashMap<>();
    private static final AtomicLong CALLS = new AtomicLong();

    private final int threads;
    private final long spinNanos = 1000L * Tuning.system().spinMicros();
    private final Worker[] workers;
    private final ReentrantLock turn = new ReentrantLock();
    // state of the one call in flight (forRange holds turn): reused so that a call allocates nothing
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicReference<Throwable> error = new AtomicReference<>();
    private volatile Thread caller;

    private Parallel(int threads) {
        this.threads = threads;
        this.workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(this, threads, i + 1);
            workers[i].start();
        }
    }

    /** The pool of n threads (the caller and n − 1 workers), created on first use. */
    public static Parallel of(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        return POOLS.computeIfAbsent(n, Parallel::new);
    }

    /** The pool of {@link Tuning#threads()}: -Dlamina.threads, else one thread per core. */
    public static Parallel defaults() { return of(Tuning.system().threads()); }

    /** Number of threads this pool runs a call on. */
    public int threads() { return threads; }

    /** One pool thread: runs the range that lands in its slot. */
    private static final class Worker extends Thread {
        private final Parallel pool;
        private Range body;                 // published by the volatile write of ready
        private int from, to;
        private volatile boolean ready, parked;

        Worker(Parallel pool, int size, int i) {
            super("lamina-worker-" + size + "-" + i);
            this.pool = pool;
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
                long spinUntil = System.nanoTime() + pool.spinNanos;
                while (!ready) {
                    if (System.nanoTime() < spinUntil) { Thread.onSpinWait(); continue; }
                    parked = true;                          // Dekker with submit(): one of us sees the other
                    if (!ready) LockSupport.park(this);
                    parked = false;
                }
                ready = false;
                Range b = body;
                Thread waiting = pool.caller;               // read before the count can let the next call in
                body = null;
                try { b.run(from, to); } catch (Throwable e) { pool.error.compareAndSet(null, e); }
                finally { if (pool.pending.decrementAndGet() == 0) LockSupport.unpark(waiting); }
            }
        }
    }

    /**
     * Calls of {@link #forRange} so far, over all pools. A kernel call hands its body, a closure
     * over the kernel's arguments (tens of bytes), to the workers: the one allocation a training
     * step still makes.
     */
    public static long calls() { return CALLS.get(); }

    /** Runs body over [0, n) split into at most threads() chunks; at least minChunk items per chunk. */
    public void forRange(int n, int minChunk, Range body) {
        CALLS.incrementAndGet();
        if (n <= 0) return;
        int chunks = Math.min(threads, Math.max(1, n / Math.max(1, minChunk)));
        if (chunks <= 1 || INSIDE.get()) { body.run(0, n); return; }
        turn.lock();
        try {
            run(n, chunks, body);
        } finally {
            turn.unlock();
        }
    }

    private void run(int n, int chunks, Range body) {
        error.set(null);
        caller = Thread.currentThread();
        pending.set(chunks - 1);
        for (int c = 1; c < chunks; c++)
            workers[c - 1].submit(body, (int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks));
        INSIDE.set(true);
        try {
            body.run(0, (int) ((long) n / chunks));
        } finally {
            INSIDE.set(false);
            long spinUntil = System.nanoTime() + spinNanos;  // wait even if our chunk threw: the next call reuses the state
            while (pending.get() > 0) {
                if (System.nanoTime() < spinUntil) Thread.onSpinWait();
                else LockSupport.parkNanos(50_000);    // the last worker unparks us; the timeout covers a lost race
            }
        }
        Throwable e = error.getAndSet(null);
        if (e instanceof RuntimeException re) throw re;
        if (e instanceof Error er) throw er;
        if (e != null) throw new IllegalStateException(e);
    }

    /** forRange with a minimum chunk of one item. */
    public void forRange(int n, Range body) { forRange(n, 1, body); }

    @Override public String toString() { return threads + (threads == 1 ? " thread" : " threads"); }
}
