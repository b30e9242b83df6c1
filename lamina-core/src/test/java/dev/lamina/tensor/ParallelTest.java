package dev.lamina.tensor;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ParallelTest {
    @Test
    void everyIndexRunsExactlyOnceInContiguousChunks() {
        for (int threads : new int[] {1, 2, 3, 5}) {
            Parallel pool = Parallel.of(threads);
            for (int n : new int[] {1, 2, 7, 1000}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                List<int[]> ranges = java.util.Collections.synchronizedList(new ArrayList<>());
                pool.forRange(n, (from, to) -> {
                    ranges.add(new int[] {from, to});
                    for (int i = from; i < to; i++) hits.incrementAndGet(i);
                });
                for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "index " + i + " of " + n);
                assertEquals(Math.min(threads, n), ranges.size(), "chunks for n=" + n);
            }
        }
    }

    @Test
    void aWorkerExceptionReachesTheCallerAndThePoolKeepsWorking() {
        Parallel pool = Parallel.of(2);
        IllegalStateException e = assertThrows(IllegalStateException.class, () ->
                pool.forRange(10, (from, to) -> { if (from > 0) throw new IllegalStateException("boom"); }));
        assertEquals("boom", e.getMessage());
        int[] sum = new int[10];
        pool.forRange(10, (from, to) -> { for (int i = from; i < to; i++) sum[i] = i; });
        assertEquals(45, java.util.Arrays.stream(sum).sum());
    }

    @Test
    void whenTheCallersChunkThrowsTheWorkersFinishFirst() {
        Parallel pool = Parallel.of(3);
        AtomicIntegerArray done = new AtomicIntegerArray(3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                pool.forRange(3, (from, to) -> {
                    if (from == 0) throw new IllegalArgumentException("caller");
                    try { Thread.sleep(50); } catch (InterruptedException ie) { Thread.currentThread().interrupt(); }
                    done.set(from, 1);
                }));
        assertEquals("caller", e.getMessage());
        assertEquals(1, done.get(1));                 // forRange returned only after the workers' chunks
        assertEquals(1, done.get(2));
    }

    private static final float[] SINK = new float[1 << 12];

    @Test
    void aCallAllocatesNothing() {
        Parallel pool = Parallel.of(2);
        Parallel.Range body = (from, to) -> { for (int i = from; i < to; i++) SINK[i] += 1; };
        for (int i = 0; i < 20_000; i++) pool.forRange(SINK.length, body);    // warm up: threads started, code compiled
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long[] ids = java.util.Arrays.stream(mx.getThreadInfo(mx.getAllThreadIds()))      // this thread and the pool's
                .filter(t -> t != null && (t.getThreadId() == Thread.currentThread().threadId() || t.getThreadName().startsWith("lamina-worker-2-")))
                .mapToLong(java.lang.management.ThreadInfo::getThreadId).toArray();
        long before = allocated(mx, ids);
        int calls = 10_000;
        for (int i = 0; i < calls; i++) pool.forRange(SINK.length, body);
        long after = allocated(mx, ids);
        // a per-call lambda or counter would be tens of bytes a call
        assertTrue(after - before < calls, "allocated " + (after - before) + " bytes over " + calls + " calls");
    }

    /** One call site for both readings: a second site would count its own linking. */
    private static long allocated(com.sun.management.ThreadMXBean mx, long[] ids) {
        long sum = 0;
        for (long a : mx.getThreadAllocatedBytes(ids)) sum += Math.max(0, a);
        return sum;
    }

    @Test
    void callsFromManyThreadsAtOnceAllComplete() throws Exception {
        Parallel pool = Parallel.of(2);
        ExecutorService callers = Executors.newFixedThreadPool(4);
        try {
            List<Future<Long>> results = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int seed = t;
                results.add(callers.submit(() -> {
                    long total = 0;
                    for (int rep = 0; rep < 2000; rep++) {
                        long[] part = new long[2];
                        int n = 64 + seed;
                        pool.forRange(n, (from, to) -> {
                            long s = 0;
                            for (int i = from; i < to; i++) s += i;
                            part[from == 0 ? 0 : 1] = s;
                        });
                        total += part[0] + part[1];
                    }
                    return total;
                }));
            }
            for (int t = 0; t < 4; t++) {
                long n = 64 + t;
                assertEquals(2000 * n * (n - 1) / 2, results.get(t).get());
            }
        } finally {
            callers.shutdownNow();
        }
    }

    @Test
    void nestedCallsRunInline() {
        Parallel pool = Parallel.of(2);
        int[] inner = new int[4];
        pool.forRange(2, (from, to) -> {
            for (int i = from; i < to; i++) {
                int base = i * 2;
                pool.forRange(2, (a, b) -> { for (int j = a; j < b; j++) inner[base + j]++; });
            }
        });
        assertEquals(List.of(1, 1, 1, 1), java.util.Arrays.stream(inner).boxed().toList());
    }

    @Test
    void poolsOfDifferentSizesRunSideBySide() throws Exception {
        Parallel one = Parallel.of(1), three = Parallel.of(3);
        assertEquals(1, one.threads());
        assertEquals(3, three.threads());
        assertTrue(Parallel.of(3) == three, "one pool per thread count");
        List<int[]> a = java.util.Collections.synchronizedList(new ArrayList<>()), b = java.util.Collections.synchronizedList(new ArrayList<>());
        Thread t = new Thread(() -> three.forRange(9, (from, to) -> a.add(new int[] {from, to})));
        t.start();
        one.forRange(9, (from, to) -> b.add(new int[] {from, to}));
        t.join();
        assertEquals(3, a.size());
        assertEquals(1, b.size());
        assertThrows(IllegalArgumentException.class, () -> Parallel.of(0));
    }
}
