package dev.lamina.kernels;

import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tuning;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float32 multiply-add peak of this machine as the kernels see it, measured: every kernel
 * thread runs sixteen independent FMA chains in registers at the JVM's vector width, at once (so
 * an all-core clock is what counts). MFU is model FLOPs per second over this figure. A constant
 * would be wrong somewhere: an Intel Xeon with two 512-bit FMA units gives about 210 GFLOP/s per
 * core, a Zen 4 core (AVX-512 on 256-bit units) about 117.
 *
 * <p>{@code -Dlamina.peakGflopsPerCore=X} skips the measurement and uses X per thread instead.
 * Nothing measures the peak unless asked: the CLI asks once per run, before training starts.
 */
public final class FmaPeak {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** FMAs per loop trip (two on each of the sixteen chains). */
    private static final int FMAS_PER_TRIP = 32;
    /** Loop trips per measured window: about 20 ms at 120 GFLOP/s. */
    private static final int TRIPS = (1 << 21) * 16 / S.length();
    private static final int WINDOWS = 10;
    private static final int WARMUP_CALLS = 400, WARMUP_TRIPS = 1 << 10;

    /** Measured peaks by thread count (0 = not measured yet). */
    private static double[] measured = new double[0];

    private FmaPeak() {}

    /** Peak FLOP/s over the pool's threads: measured once per thread count, then kept, unless -Dlamina.peakGflopsPerCore sets it. */
    public static double flopsPerSecond(Parallel pool) { return flopsPerSecond(pool, Tuning.system().peakGflopsPerCore()); }

    /** As {@link #flopsPerSecond(Parallel)} with the per-thread override given (null: measure). */
    static synchronized double flopsPerSecond(Parallel pool, String override) {
        int threads = pool.threads();
        if (override != null) return gflopsPerCore(override) * 1e9 * threads;
        if (measured.length <= threads) measured = java.util.Arrays.copyOf(measured, threads + 1);
        if (measured[threads] == 0) measured[threads] = measure(pool);
        return measured[threads];
    }

    /**
     * Measures again and keeps the higher figure. A peak measured while other work shared the cores
     * reads low, and MFU then exceeds 100%; the trainer calls this when it sees that. An override
     * is returned unchanged.
     */
    public static synchronized double remeasure(Parallel pool) {
        String override = Tuning.system().peakGflopsPerCore();
        double before = flopsPerSecond(pool, override);
        if (override != null) return before;
        measured[pool.threads()] = Math.max(before, measure(pool));
        return measured[pool.threads()];
    }

    /** Refuses a bad -Dlamina.peakGflopsPerCore before any work starts (one line naming it). */
    public static void checkOverride() {
        String fixed = Tuning.system().peakGflopsPerCore();
        if (fixed != null) gflopsPerCore(fixed);
    }

    private static double gflopsPerCore(String text) {
        double g;
        try {
            g = Double.parseDouble(text.trim());
        } catch (NumberFormatException e) {
            g = Double.NaN;
        }
        if (!(g > 0) || Double.isInfinite(g))
            throw new LaminaException("-Dlamina.peakGflopsPerCore=" + text
                    + ": not a positive number of GFLOP/s per core (e.g. 117), or leave it out to measure the peak");
        return g;
    }

    /** Where {@link #flopsPerSecond(Parallel)} comes from, for reports. */
    public static String source(Parallel pool) { return source(pool, Tuning.system().peakGflopsPerCore()); }

    static String source(Parallel pool, String override) {
        return override != null
                ? "set by -Dlamina.peakGflopsPerCore"
                : "measured: FMA loop, " + pool + ", " + S.length() + " lanes";
    }

    /** The best of several windows, each timing all threads running {@link #chains} together. */
    static double measure(Parallel pool) {
        int threads = pool.threads();
        double[] sink = new double[threads];
        for (int i = 0; i < WARMUP_CALLS; i++) sink[0] += chains(WARMUP_TRIPS, 1f);   // until C2 has compiled it
        double best = 0;
        for (int w = 0; w < WINDOWS; w++) {
            long t0 = System.nanoTime();
            pool.forRange(threads, 1, (from, to) -> {
                for (int t = from; t < to; t++) sink[t] += chains(TRIPS, 1f + t);
            });
            double seconds = (System.nanoTime() - t0) / 1e9;
            best = Math.max(best, (double) threads * TRIPS * FMAS_PER_TRIP * 2 * S.length() / seconds);
        }
        if (Double.isNaN(sink[0])) throw new AssertionError();      // keeps the chains' results live
        return best;
    }

    /**
     * Sixteen dependent chains a·b + c, independent of each other: enough to cover the FMA latency
     * (4 cycles) on two FMA units. Each trip steps every chain twice: with one step per trip the
     * figure at 8 lanes varied from JVM to JVM (93-117 GFLOP/s on a Zen 4 core, with the code's
     * placement), with two it read 117.1-117.7 in thirteen JVMs at both widths. The multiplier is
     * just below 1, so nothing overflows.
     */
    static float chains(int trips, float seed) {
        FloatVector b = FloatVector.broadcast(S, 0.999999f), c = FloatVector.broadcast(S, 1e-6f);
        FloatVector a0 = FloatVector.broadcast(S, seed), a1 = a0.add(1f), a2 = a0.add(2f), a3 = a0.add(3f);
        FloatVector a4 = a0.add(4f), a5 = a0.add(5f), a6 = a0.add(6f), a7 = a0.add(7f);
        FloatVector a8 = a0.add(8f), a9 = a0.add(9f), a10 = a0.add(10f), a11 = a0.add(11f);
        FloatVector a12 = a0.add(12f), a13 = a0.add(13f), a14 = a0.add(14f), a15 = a0.add(15f);
        for (int i = 0; i < trips; i++) {
            a0 = a0.fma(b, c); a1 = a1.fma(b, c); a2 = a2.fma(b, c); a3 = a3.fma(b, c);
            a4 = a4.fma(b, c); a5 = a5.fma(b, c); a6 = a6.fma(b, c); a7 = a7.fma(b, c);
            a8 = a8.fma(b, c); a9 = a9.fma(b, c); a10 = a10.fma(b, c); a11 = a11.fma(b, c);
            a12 = a12.fma(b, c); a13 = a13.fma(b, c); a14 = a14.fma(b, c); a15 = a15.fma(b, c);
            a0 = a0.fma(b, c); a1 = a1.fma(b, c); a2 = a2.fma(b, c); a3 = a3.fma(b, c);
            a4 = a4.fma(b, c); a5 = a5.fma(b, c); a6 = a6.fma(b, c); a7 = a7.fma(b, c);
            a8 = a8.fma(b, c); a9 = a9.fma(b, c); a10 = a10.fma(b, c); a11 = a11.fma(b, c);
            a12 = a12.fma(b, c); a13 = a13.fma(b, c); a14 = a14.fma(b, c); a15 = a15.fma(b, c);
        }
        FloatVector s = a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7)
                .add(a8).add(a9).add(a10).add(a11).add(a12).add(a13).add(a14).add(a15);
        return s.reduceLanes(VectorOperators.ADD);
    }
}
