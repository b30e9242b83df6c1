package dev.lamina.kernels;

import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tuning;

import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The kernel sets: the Vector API kernels or the scalar reference, each bound to the thread pool of
 * a thread count. Sets are kept per (kind, threads), so asking twice gives the same object.
 */
public final class Kernels {
    private static final ConcurrentHashMap<String, KernelSet> SETS = new ConcurrentHashMap<>();

    private Kernels() {}

    /** The implementations. */
    public enum Kind { VECTOR, SCALAR }

    /** The kernels of kind on threads threads (vector kernels with this machine's register tile, {@link GemmTile#system()}). */
    public static KernelSet of(Kind kind, int threads) {
        return kind == Kind.VECTOR ? vector(threads, GemmTile.system()) : SETS.computeIfAbsent("scalar/" + threads,
                k -> new ScalarKernels(Parallel.of(threads)));
    }

    /** The Vector API kernels on threads threads. */
    public static KernelSet vector(int threads) { return of(Kind.VECTOR, threads); }

    /** The Vector API kernels on threads threads with the given GEMM register tile (tests and benchmarks compare tiles). */
    public static KernelSet vector(int threads, GemmTile tile) {
        return SETS.computeIfAbsent("vector/" + threads + "/" + tile, k -> new VectorKernels(Parallel.of(threads), tile));
    }

    /** The scalar reference on threads threads. */
    public static KernelSet scalar(int threads) { return of(Kind.SCALAR, threads); }

    /** The defaults of this JVM: {@code -Dlamina.kernels} (vector) on {@code -Dlamina.threads} (one per core). */
    public static KernelSet defaults() {
        Tuning t = Tuning.system();
        return of(kind(t.kernels()), t.threads());
    }

    /** The kind named s ("vector" or "scalar"). */
    public static Kind kind(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "scalar" -> Kind.SCALAR;
            case "vector" -> Kind.VECTOR;
            default -> throw new LaminaException("-Dlamina.kernels=" + s + ": unknown kernels; use scalar or vector");
        };
    }

    /** Kind of a set. */
    public static Kind kind(KernelSet k) { return k instanceof ScalarKernels ? Kind.SCALAR : Kind.VECTOR; }

    /** The same kind of kernels on another thread count. */
    public static KernelSet withThreads(KernelSet k, int threads) { return of(kind(k), threads); }
}
