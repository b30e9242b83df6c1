package dev.lamina.bench;

import dev.lamina.kernels.AttentionScores;
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
 * Causal attention forward and backward at the llama-s/gpt2-s shape (B=8, T=256, 6 heads of 64)
 * and a grouped-query, sliding-window variant (2 KV heads, window 128). "gflop" counts the
 * multiply-adds of the unmasked half: fwd 2·(QKᵀ + PV), bwd twice that; ops/s is calls per second.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class AttentionBench {
    @Param({"mha", "gqa-window"})
    public String variant;

    @Param({"vector", "scalar"})
    public String kernels;

    @Param({"1", "2"})
    public int threads;

    private static final int B = 8, T = 256, H = 6, HD = 64;
    private int kv, window;
    private KernelSet k;
    private Tensor q, kk, v, out, att, dout, dq, dk, dv;
    private double fwdGflop;

    @Setup
    public void setup() {
        k = BenchData.kernels(kernels, threads);
        kv = variant.equals("mha") ? H : 2;
        window = variant.equals("mha") ? 0 : 128;
        q = BenchData.random(1, 1, B, T, H, HD);
        kk = BenchData.random(2, 1, B, T, kv, HD);
        v = BenchData.random(3, 1, B, T, kv, HD);
        dout = BenchData.random(4, 1, B, T, H, HD);
        out = Tensor.zeros(B, T, H, HD);
        att = Tensor.zeros(B, H, T, T);
        dq = Tensor.zeros(B, T, H, HD);
        dk = Tensor.zeros(B, T, kv, HD);
        dv = Tensor.zeros(B, T, kv, HD);
        k.attention(out, att, q, kk, v, B, T, H, kv, HD, AttentionScores.causal(HD, window));
        long pairs = 0;
        for (int i = 0; i < T; i++) pairs += window > 0 ? Math.min(i + 1, window) : i + 1;
        fwdGflop = 2.0 * 2 * B * H * pairs * HD / 1e9;
    }

    @Benchmark
    public Tensor forward(Flops flops) {
        k.attention(out, att, q, kk, v, B, T, H, kv, HD, AttentionScores.causal(HD, window));
        flops.gflop += fwdGflop;
        return out;
    }

    @Benchmark
    public Tensor backward(Flops flops) {
        k.attentionBackward(dq, dk, dv, dout, q, kk, v, att, B, T, H, kv, HD, AttentionScores.causal(HD, window));
        flops.gflop += 2 * fwdGflop;
        return dq;
    }
}
