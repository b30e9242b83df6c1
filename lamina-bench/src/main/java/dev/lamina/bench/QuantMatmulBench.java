package dev.lamina.bench;

import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.LinearWeights;
import dev.lamina.kernels.Q4Weights;
import dev.lamina.kernels.Q8Weights;
import dev.lamina.kernels.WeightFormat;
import dev.lamina.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * An inference product y[n, out] = x[n, in]·w[out, in]ᵀ with the weights as inference keeps them:
 * float32 panels, 8-bit blocks (Q8_0), 4-bit blocks (Q4_0) or 6-bit quants in blocks of 16 (Q6_K's form). Shapes are "n x out x in": a
 * 128-token prompt through llama-m's projections (768 → 2048 and 2048 → 768) and one decode row.
 * The "gflop" counter is GFLOP/s (2·n·out·in per product, whatever the storage).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class QuantMatmulBench {
    @Param({"f32", "q8_0", "q4_0", "q6_k"})
    public String weights;

    @Param({"128x2048x768", "128x768x2048", "1x2048x768"})
    public String shape;

    @Param({"1"})
    public int threads;

    private KernelSet k;
    private LinearWeights[] w;
    private Tensor x;
    private Tensor[] y;
    private int n;
    private double gflop;

    @Setup
    public void setup() {
        String[] p = shape.split("x");
        n = Integer.parseInt(p[0]);
        int out = Integer.parseInt(p[1]), in = Integer.parseInt(p[2]);
        k = BenchData.kernels("vector", threads);
        x = BenchData.random(1, 1, n, in);
        y = new Tensor[] {Tensor.zeros(n, out)};
        gflop = 2.0 * n * out * in / 1e9;
        Tensor dense = BenchData.random(2, 0.05f, out, in);
        w = new LinearWeights[] {switch (weights) {
            case "f32" -> k.prepare(dense, null, WeightFormat.F32);
            case "q8_0" -> k.prepare(dense, null, WeightFormat.Q8_0);
            case "q4_0" -> Q4Weights.pack(k.parallel(), out, in, (o, q, d) -> {
                SplittableRandom r = new SplittableRandom(31L * o);
                for (int i = 0; i < q.length; i++) q[i] = (byte) r.nextInt(16);
                for (int b = 0; b < d.length; b++) d[b] = (float) (0.001 + 0.002 * r.nextDouble());
            }, null);
            case "q6_k" -> Q8Weights.pack(k.parallel(), out, in, 16, false, (o, q, d, m) -> {   // Q6_K's quants and scales per 16
                SplittableRandom r = new SplittableRandom(37L * o);
                for (int i = 0; i < q.length; i++) q[i] = (byte) (r.nextInt(64) - 32);
                for (int b = 0; b < d.length; b++) d[b] = (float) (0.001 + 0.002 * r.nextDouble());
            }, null);
            default -> throw new IllegalArgumentException("weights=" + weights);
        }};
    }

    @Benchmark
    public Tensor project(Flops flops) {
        k.project(n, x, w, y);
        flops.gflop += gflop;
        return y[0];
    }
}
