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

/** RMSNorm and LayerNorm, forward and backward, over n = 2048 tokens of d = 384 or 768. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class NormBench {
    @Param({"384", "768"})
    public int d;

    @Param({"vector", "scalar"})
    public String kernels;

    @Param({"2"})
    public int threads;

    private static final int N = 2048;
    private static final float EPS = 1e-5f, SCALE = 1f;
    private KernelSet k;
    private Tensor x, y, w, b, mean, rstd, dy, dx, dw, db;

    @Setup
    public void setup() {
        k = BenchData.kernels(kernels, threads);
        x = BenchData.random(1, 2, N, d);
        dy = BenchData.random(2, 1, N, d);
        w = BenchData.random(3, 1, d);
        b = BenchData.random(4, 1, d);
        y = Tensor.zeros(N, d);
        dx = Tensor.zeros(N, d);
        dw = Tensor.zeros(d);
        db = Tensor.zeros(d);
        mean = Tensor.zeros(N);
        rstd = Tensor.zeros(N);
        k.layernorm(y, mean, rstd, x, w, b, EPS, SCALE);
    }

    @Benchmark
    public Tensor rmsnorm() { k.rmsnorm(y, rstd, x, w, EPS, SCALE); return y; }

    @Benchmark
    public Tensor rmsnormBackward() { k.rmsnormBackward(dx, dw, dy, x, w, rstd, SCALE); return dx; }

    @Benchmark
    public Tensor layernorm() { k.layernorm(y, mean, rstd, x, w, b, EPS, SCALE); return y; }

    @Benchmark
    public Tensor layernormBackward() { k.layernormBackward(dx, dw, db, dy, x, w, mean, rstd, SCALE); return dx; }
}
