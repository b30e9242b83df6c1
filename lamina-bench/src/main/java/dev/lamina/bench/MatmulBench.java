package dev.lamina.bench;

import dev.lamina.kernels.KernelSet;
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

import java.util.concurrent.TimeUnit;

/**
 * The three training layouts on C[M,N] = A[M,K]·B[K,N] shapes ("MxNxK", as numpy's a @ b):
 * nt: y[n=M,out=N] = x[n,in=K]·w[out,in]ᵀ (forward); nn: dx[n=M,in=N] += dy[n,out=K]·w[out,in]
 * (input gradient); tn: dw[out=M,in=N] += dy[n=K,out]ᵀ·x[n,in] (weight gradient).
 * The first shapes are numpy_matmul.py's (forward shapes of llama-s/gpt2-s with n = 2048 tokens,
 * llama-m with 256 rows, one decode row); the last ones are the weight-gradient shapes of
 * llama-s/llama-m, whose K is the token count. The "gflop" counter is GFLOP/s.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class MatmulBench {
    @Param({"nt", "nn", "tn"})
    public String layout;

    @Param({"2048x384x384", "2048x1024x384", "2048x384x1024", "2048x8192x384", "256x768x768", "256x3072x768",
            "1x4096x4096", "1024x768x768", "1024x2048x768", "384x384x2048", "1024x384x2048", "8192x384x2048",
            "768x768x1024"})
    public String shape;

    @Param({"vector", "scalar"})
    public String kernels;

    @Param({"1", "2"})
    public int threads;

    /** The GEMM register tile: "auto" (this machine's choice) or one of GemmTile.ALL, e.g. 6x2. */
    @Param({"auto"})
    public String tile;

    private KernelSet k;
    private Tensor c, a, b;
    private double gflop;

    @Setup
    public void setup() {
        String[] p = shape.split("x");
        int M = Integer.parseInt(p[0]), N = Integer.parseInt(p[1]), K = Integer.parseInt(p[2]);
        k = BenchData.kernels(kernels, threads, tile);
        gflop = 2.0 * M * N * K / 1e9;
        switch (layout) {
            case "nt" -> { c = new Tensor(new float[M * N], 0, new int[] {M, N}); a = BenchData.random(1, 1, M, K); b = BenchData.random(2, 1, N, K); }
            case "nn" -> { c = BenchData.random(3, 1, M, N); a = BenchData.random(1, 1, M, K); b = BenchData.random(2, 1, K, N); }
            case "tn" -> { c = BenchData.random(3, 1, M, N); a = BenchData.random(1, 1, K, M); b = BenchData.random(2, 1, K, N); }
            default -> throw new IllegalArgumentException("layout=" + layout);
        }
    }

    @Benchmark
    public Tensor matmul(Flops flops) {
        switch (layout) {
            case "nt" -> k.matmul(c, a, b, null);
            case "nn" -> k.matmulBackwardInput(c, a, b);
            default -> k.matmulBackwardWeight(c, null, a, b);
        }
        flops.gflop += gflop;
        return c;
    }
}
