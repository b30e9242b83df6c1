package dev.lamina.bench;

import dev.lamina.kernels.KernelSet;
import dev.lamina.tensor.Precision;
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
 * One decoded token's attention for one head over a KV cache, as the runner does it: the query's
 * scores over every cached key ({@code KernelSet.scores}), then the weighted sum of the value rows
 * ({@code weightedRows}), with the rows kvDim = 768 apart (llama-m's width) in float32, bfloat16 or
 * float16. The score is nanoseconds per cached position (average time per operation / keys).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class KvAttentionBench {
    @Param({"f32", "bf16", "f16"})
    public String kv;

    @Param({"128", "1024"})
    public int keys;

    @Param({"64"})
    public int headDim;

    private static final int KV_DIM = 768;
    private KernelSet k;
    private Precision format;
    private float[] q, p, out, K, V;
    private short[] K16, V16;
    private int[] slots;

    @Setup
    public void setup() {
        k = BenchData.kernels("vector", 1);
        format = dev.lamina.infer.KvRows.parse(kv);
        SplittableRandom r = new SplittableRandom(7);
        q = new float[headDim];
        for (int i = 0; i < headDim; i++) q[i] = (float) r.nextGaussian();
        p = new float[keys];
        out = new float[headDim];
        slots = new int[keys];
        for (int j = 0; j < keys; j++) slots[j] = j * KV_DIM;
        K = new float[keys * KV_DIM];
        V = new float[keys * KV_DIM];
        for (int i = 0; i < K.length; i++) { K[i] = format.round((float) r.nextGaussian()); V[i] = format.round((float) r.nextGaussian()); }
        if (format != Precision.FP32) {
            K16 = new short[K.length];
            V16 = new short[V.length];
            for (int i = 0; i < K.length; i++) {
                K16[i] = format == Precision.FP16 ? Float.floatToFloat16(K[i]) : Precision.bf16Bits(K[i]);
                V16[i] = format == Precision.FP16 ? Float.floatToFloat16(V[i]) : Precision.bf16Bits(V[i]);
            }
            K = V = null;
        }
    }

    @Benchmark
    public float[] attend() {
        float scale = 0.125f;
        if (K16 == null) k.scores(q, 0, K, slots, 0, 0, 0, keys, scale, p, 0, headDim);
        else k.scores(q, 0, K16, format, slots, 0, 0, keys, scale, p, 0, headDim);
        k.softmax(p, 0, keys);
        java.util.Arrays.fill(out, 0f);
        if (V16 == null) k.weightedRows(p, 0, keys, V, slots, 0, 0, 0, out, 0, headDim);
        else k.weightedRows(p, 0, keys, V16, format, slots, 0, 0, out, 0, headDim);
        return out;
    }
}
