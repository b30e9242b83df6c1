package dev.lamina.bench;

import dev.lamina.kernels.GemmTile;
import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.Kernels;
import dev.lamina.tensor.Tensor;

import java.util.SplittableRandom;

/** Shared helpers: seeded random tensors and the kernel choice by name. */
final class BenchData {
    private BenchData() {}

    /** The kernels named "vector" or "scalar" on threads threads. */
    static KernelSet kernels(String name, int threads) { return Kernels.of(Kernels.kind(name), threads); }

    /** As above, the vector kernels with a given register tile unless tile is "auto". */
    static KernelSet kernels(String name, int threads, String tile) {
        if (tile.equals("auto") || Kernels.kind(name) == Kernels.Kind.SCALAR) return kernels(name, threads);
        return Kernels.vector(threads, GemmTile.parse(tile));
    }

    static Tensor random(long seed, float range, int... shape) {
        Tensor t = Tensor.zeros(shape);
        SplittableRandom r = new SplittableRandom(seed);
        float[] d = t.data();
        for (int i = 0; i < d.length; i++) d[i] = (float) ((r.nextDouble() * 2 - 1) * range);
        return t;
    }

    static int[] ids(long seed, int n, int bound) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(bound);
        return ids;
    }
}
