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

/** Fused softmax cross-entropy with the gradient over V = 8192 (512 rows), and one AdamW step on 4M parameters. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class LossBench {
    @Param({"vector", "scalar"})
    public String kernels;

    @Param({"2"})
    public int threads;

    private static final int N = 512, V = 8192, P = 1 << 22;
    private KernelSet k;
    private Tensor logits, dlogits, losses, p, g, m, v;
    private int[] targets;

    @Setup
    public void setup() {
        k = BenchData.kernels(kernels, threads);
        logits = BenchData.random(1, 8, N, V);
        dlogits = Tensor.zeros(N, V);
        losses = Tensor.zeros(N);
        targets = BenchData.ids(2, N, V);
        p = BenchData.random(3, 1, P);
        g = BenchData.random(4, 1, P);
        m = Tensor.zeros(P);
        v = Tensor.zeros(P);
    }

    @Benchmark
    public Tensor crossEntropy() { k.crossEntropy(losses, dlogits, logits, targets, 1f / N); return dlogits; }

    @Benchmark
    public Tensor adamw() { k.adamw(p, g, m, v, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 0.5f); return p; }
}
