package dev.lamina.dist;

import dev.lamina.data.Dataset;
import dev.lamina.io.LaminaException;
import dev.lamina.kernels.Kernels;
import dev.lamina.model.Decoder;
import dev.lamina.model.Presets;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The ring's all-reduce, and N data-parallel workers against one worker with the same global batch. */
class DataParallelTest {
    @TempDir static Path dataDir;

    static List<InetSocketAddress> freePorts(int n) throws IOException {
        List<InetSocketAddress> out = new ArrayList<>();
        List<ServerSocket> held = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ServerSocket s = new ServerSocket(0);
            held.add(s);
            out.add(new InetSocketAddress("127.0.0.1", s.getLocalPort()));
        }
        for (ServerSocket s : held) s.close();
        return out;
    }

    /** Runs one task per rank, each joining the ring, and returns their results in rank order. */
    static <T> List<T> onRing(int n, Duration timeout, java.util.function.BiFunction<Ring, Integer, T> task) throws Exception {
        List<InetSocketAddress> peers = freePorts(n);
        try (ExecutorService pool = Executors.newFixedThreadPool(n)) {
            List<Future<T>> fs = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                fs.add(pool.submit(() -> {
                    try (Ring ring = Ring.join(rank, peers, timeout)) {
                        return task.apply(ring, rank);
                    }
                }));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : fs) out.add(f.get());
            return out;
        }
    }

    /** Rank r's data: len floats spanning ten orders of magnitude (so the order of the additions shows in the bits). */
    static float[] rankData(int r, int len) {
        Random rnd = new Random(r * 31L + 7);
        float[] a = new float[len];
        for (int i = 0; i < len; i++) a[i] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(7) - 3));
        return a;
    }

    /** ((x0 + x1) + x2) + ... over n ranks' data. */
    static float[] rankOrderSum(int n, int len) {
        float[] expected = new float[len];
        for (int r = 0; r < n; r++) {
            float[] a = rankData(r, len);
            for (int i = 0; i < len; i++) expected[i] = r == 0 ? a[i] : expected[i] + a[i];
        }
        return expected;
    }

    @Test
    void allReduceSumsInRankOrderOnEveryRank() throws Exception {
        for (int n : new int[]{2, 3, 4}) {
            int len = 200_003;                                    // several chunks, the last one short
            float[] expected = rankOrderSum(n, len);
            List<float[]> got = onRing(n, Duration.ofSeconds(20), (ring, rank) -> {
                float[] a = rankData(rank, len);
                ring.allReduceSum(a, 0, len);
                return a;
            });
            for (int r = 0; r < n; r++)
                for (int i = 0; i < len; i += 997)
                    assertThat(Float.floatToRawIntBits(got.get(r)[i])).as("n %d rank %d [%d]", n, r, i).isEqualTo(Float.floatToRawIntBits(expected[i]));
            for (int r = 0; r < n; r++) assertThat(got.get(r)).containsExactly(expected);
        }
    }

    @Test
    void reduceScatterLeavesEachRankItsSliceSummedInRankOrder() throws Exception {
        for (int n : new int[]{2, 3, 4}) {
            int len = 200_003;
            float[] expected = rankOrderSum(n, len);
            for (int align : new int[]{1, 4096}) {
                List<float[]> got = onRing(n, Duration.ofSeconds(20), (ring, rank) -> {
                    float[] a = rankData(rank, len);
                    ring.reduceScatterSum(a, ring.shards(len, align));
                    return a;
                });
                int[] bounds = onRing(n, Duration.ofSeconds(20), (ring, rank) -> ring.shards(len, align)).getFirst();
                assertThat(bounds[0]).isZero();
                assertThat(bounds[n]).isEqualTo(len);
                for (int r = 0; r < n; r++) {
                    if (align > 1) assertThat(bounds[r] % align).isZero();
                    for (int i = bounds[r]; i < bounds[r + 1]; i++)
                        if (Float.floatToRawIntBits(got.get(r)[i]) != Float.floatToRawIntBits(expected[i]))
                            throw new AssertionError("n " + n + ", align " + align + ", rank " + r + " [" + i + "]");
                }
            }
        }
        assertThat(Ring.single().shards(10, 4)).containsExactly(0, 10);
    }

    static TrainConfig config(int accum) {
        // clip 0.5: the steps clip (the tiny model's gradient norms start near 2), so a sharded norm must be the whole one to the bit
        return TrainConfig.builder(6, 2, 32).lr(3e-3).warmup(2).seed(42).evalEvery(3).evalBatches(2).accum(accum).clip(0.5).build();
    }

    /** One worker's losses and final weights. */
    record Run(List<Float> losses, float[] weights) {}

    static Run train(Dataset data, Path dir, int accum, Ring ring) { return train(data, dir, accum, ring, false); }

    static Run train(Dataset data, Path dir, int accum, Ring ring, boolean shard) { return train(data, dir, accum, ring, shard, Trainer.BUCKET_FLOATS); }

    static Run train(Dataset data, Path dir, int accum, Ring ring, boolean shard, int bucketFloats) {
        Decoder model = Decoder.create(Presets.get("tiny").config().apply(257), 9).withKernels(Kernels.withThreads(Kernels.defaults(), 1));
        Trainer t = Trainer.start(model, data, "test", config(accum), dir).distributed(ring, shard, bucketFloats);
        int[] shards = ring.shards(model.params().count(), dev.lamina.kernels.KernelSet.SQUARES_BLOCK);
        if (shard) assertThat(t.optimizer().m()).hasSize(shards[ring.rank() + 1] - shards[ring.rank()]);
        List<Float> losses = t.train(6, null);
        return new Run(losses, model.params().flatData().toArray());
    }

    @Test
    void workersReproduceOneWorkerBitForBit(@TempDir Path one, @TempDir Path many) throws Exception {
        Dataset data = dev.lamina.train.TrainerTestData.write(dataDir);
        for (int n : new int[]{2, 3}) {
            Run single = train(data, one.resolve("n" + n), n, Ring.single());        // one worker, accum n
            List<Run> workers = onRing(n, Duration.ofSeconds(60), (ring, rank) -> train(data, many.resolve("n" + n + "-" + rank), n, ring));
            for (Run w : workers) {
                assertThat(w.losses()).hasSize(6);
                for (int i = 0; i < 6; i++)
                    assertThat(Float.floatToRawIntBits(w.losses().get(i))).as("n %d, loss at step %d", n, i + 1)
                            .isEqualTo(Float.floatToRawIntBits(single.losses().get(i)));
                for (int i = 0; i < w.weights().length; i++)
                    if (w.weights()[i] != single.weights()[i]) throw new AssertionError("n " + n + ": weight " + i + " differs");
            }
            assertThat(many.resolve("n" + n + "-0").resolve("model.safetensors")).exists();       // rank 0 writes
            assertThat(many.resolve("n" + n + "-1").resolve("model.safetensors")).doesNotExist();
        }
    }

    /**
     * The all-reduce overlapped with backward, every layer its own bucket (1 float at least), with and
     * without activation checkpointing (the marks then come from the segment tape): with one micro-batch
     * per worker the same steps as one worker, bit for bit; with two (the last one added to the first
     * bucket by bucket) the same as the whole-gradient all-reduce after backward.
     */
    @Test
    void bucketsSummedDuringBackwardChangeNothing(@TempDir Path one, @TempDir Path many) throws Exception {
        Dataset data = dev.lamina.train.TrainerTestData.write(dataDir);
        for (int every : new int[]{0, 2}) {
            TrainConfig cfg2 = config(2).toBuilder().checkpointEvery(every).build(), cfg4 = config(4).toBuilder().checkpointEvery(every).build();
            Decoder m1 = Decoder.create(Presets.get("tiny").config().apply(257), 9).withKernels(Kernels.withThreads(Kernels.defaults(), 1));
            Run single = new Run(Trainer.start(m1, data, "test", cfg2, one.resolve("c" + every)).train(6, null), m1.params().flatData().toArray());
            assertSame("c" + every + ", accum 2", bucketed(data, cfg2, many.resolve("a2-c" + every), 1), single);
            Run whole = bucketed(data, cfg4, many.resolve("a4-c" + every + "-whole"), 0);
            assertSame("c" + every + ", accum 4", bucketed(data, cfg4, many.resolve("a4-c" + every), 1), whole);
            // tiny: 4 layers, each a bucket, then the embeddings and the final norm with the head: 4 + 2 sums a step
            for (String run : new String[]{"a2-c" + every + "-0", "a4-c" + every + "-0", "a4-c" + every + "-whole-0"}) {
                String last = java.nio.file.Files.readAllLines(many.resolve(run).resolve("metrics.jsonl")).getLast();
                assertThat(dev.lamina.io.Json.MAPPER.readTree(last).path("allreduce_buckets").asInt()).as(run).isEqualTo(run.endsWith("whole-0") ? 1 : 6);
            }
        }
    }

    /** GPT-2-style models (learned positions, LayerNorm with biases), with the head tied to the embeddings and not: buckets change nothing. */
    @Test
    void bucketsOnGpt2StyleModels(@TempDir Path one, @TempDir Path many) throws Exception {
        Dataset data = dev.lamina.train.TrainerTestData.write(dataDir);
        for (boolean tied : new boolean[]{true, false}) {
            dev.lamina.model.ModelConfig c = dev.lamina.model.ModelConfig.builder().gpt2Style().tieWordEmbeddings(tied).vocabSize(257)
                    .hiddenSize(32).numHiddenLayers(3).numAttentionHeads(4).intermediateSize(64).maxPositionEmbeddings(64).build();
            TrainConfig cfg = config(2);
            Decoder m1 = Decoder.create(c, 5).withKernels(Kernels.withThreads(Kernels.defaults(), 1));
            Run single = new Run(Trainer.start(m1, data, "test", cfg, one.resolve("t" + tied)).train(6, null), m1.params().flatData().toArray());
            List<Run> workers = onRing(2, Duration.ofSeconds(60), (ring, rank) -> {
                Decoder m = Decoder.create(c, 5).withKernels(Kernels.withThreads(Kernels.defaults(), 1));
                List<Float> losses = Trainer.start(m, data, "test", cfg, many.resolve("t" + tied + "-" + rank)).distributed(ring, false, 1).train(6, null);
                return new Run(losses, m.params().flatData().toArray());
            });
            for (Run w : workers) assertSame("gpt2-style, tied " + tied, w, single);
            String last = java.nio.file.Files.readAllLines(many.resolve("t" + tied + "-0").resolve("metrics.jsonl")).getLast();
            assertThat(dev.lamina.io.Json.MAPPER.readTree(last).path("allreduce_buckets").asInt()).isEqualTo(3 + 2);
        }
    }

    /**
     * 16-bit training over two workers: each rounds its micro-batch's gradient as one worker rounds each
     * of its micro-batches (the buckets during backward, bucket by bucket), the sum is float32 in rank
     * order, and fp16's loss scale is taken out after the sum. With one micro-batch a worker: one
     * worker's steps bit for bit, with buckets, without, and with a sharded optimizer; with two, the
     * buckets give what the whole-gradient sum gives.
     */
    @Test
    void sixteenBitWorkersReproduceOneWorkerBitForBit(@TempDir Path one, @TempDir Path many) throws Exception {
        Dataset data = dev.lamina.train.TrainerTestData.write(dataDir);
        for (dev.lamina.tensor.Precision p : new dev.lamina.tensor.Precision[]{dev.lamina.tensor.Precision.BF16, dev.lamina.tensor.Precision.FP16}) {
            TrainConfig cfg2 = config(2).toBuilder().precision(p).build(), cfg4 = config(4).toBuilder().precision(p).build();
            Decoder m1 = Decoder.create(Presets.get("tiny").config().apply(257), 9).withKernels(Kernels.withThreads(Kernels.defaults(), 1));
            Run single = new Run(Trainer.start(m1, data, "test", cfg2, one.resolve(p.label())).train(6, null), m1.params().flatData().toArray());
            for (int bucketFloats : new int[]{1, 0})
                for (boolean shard : new boolean[]{false, true}) {
                    String name = p.label() + "-b" + bucketFloats + (shard ? "-sharded" : "");
                    assertSame(name, workers(data, cfg2, many.resolve(name), shard, bucketFloats), single);
                }
            assertSame(p.label() + ", accum 4", bucketed(data, cfg4, many.resolve(p.label() + "-a4"), 1), bucketed(data, cfg4, many.resolve(p.label() + "-a4-whole"), 0));
            Run fp32 = bucketed(data, config(2), many.resolve(p.label() + "-fp32"), 1);
            assertThat(fp32.weights()).as("a 16-bit run's weights are not float32's").isNotEqualTo(single.weights());
        }
    }

    /** Rank 0's run of two workers with buckets of bucketFloats (both ranks' results checked equal). */
    private static Run bucketed(Dataset data, TrainConfig cfg, Path dir, int bucketFloats) throws Exception { return workers(data, cfg, dir, false, bucketFloats); }

    /** Rank 0's run of two workers, the optimizer sharded or not, with buckets of bucketFloats (both ranks' results checked equal). */
    private static Run workers(Dataset data, TrainConfig cfg, Path dir, boolean shard, int bucketFloats) throws Exception {
        List<Run> workers = onRing(2, Duration.ofSeconds(60), (ring, rank) -> {
            Decoder m = Decoder.create(Presets.get("tiny").config().apply(257), 9).withKernels(Kernels.withThreads(Kernels.defaults(), 1));
            List<Float> losses = Trainer.start(m, data, "test", cfg, Path.of(dir + "-" + rank)).distributed(ring, shard, bucketFloats).train(6, null);
            return new Run(losses, m.params().flatData().toArray());
        });
        assertSame(dir.getFileName() + " rank 1", workers.get(1), workers.get(0));
        return workers.get(0);
    }

    private static void assertSame(String what, Run got, Run expected) {
        assertThat(got.losses()).hasSize(expected.losses().size());
        for (int i = 0; i < expected.losses().size(); i++)
            assertThat(Float.floatToRawIntBits(got.losses().get(i))).as("%s, loss at step %d", what, i + 1)
                    .isEqualTo(Float.floatToRawIntBits(expected.losses().get(i)));
        for (int i = 0; i < expected.weights().length; i++)
            if (got.weights()[i] != expected.weights()[i]) throw new AssertionError(what + ": weight " + i + " differs");
    }

    /** Backward reports layers top down, each once its parameters' gradients are what they are at the end, with and without checkpointing. */
    @Test
    void backwardReportsEachLayerOnceItsGradientsAreFinal() {
        for (int every : new int[]{0, 1, 3}) {
            Decoder m = Decoder.create(Presets.get("tiny").config().apply(257), 9).withKernels(Kernels.withThreads(Kernels.defaults(), 1));
            dev.lamina.autograd.Tape tape = dev.lamina.autograd.Tape.training(m.kernels()).checkpointEvery(every);
            int[] ids = new Random(5).ints(2 * 16, 0, 257).toArray();
            var ex = new dev.lamina.model.TapeExecutor(m, tape, ids, 2, 16);
            List<Integer> order = new ArrayList<>();
            java.util.Map<Integer, float[]> atReport = new java.util.HashMap<>();
            float[] g = m.params().gradData();
            tape.onLayerDone(l -> {
                order.add(l);
                if (l < 4) atReport.put(l, layerGrads(m, l, g));
            });
            m.params().zeroGrad();
            m.loss(ex, ids);
            tape.backward();
            assertThat(order).as("every %d", every).containsExactly(4, 3, 2, 1, 0);
            for (int l = 0; l < 4; l++) assertThat(atReport.get(l)).as("every %d, layer %d", every, l).containsExactly(layerGrads(m, l, g));
        }
    }

    private static float[] layerGrads(Decoder m, int layer, float[] g) {
        List<Float> out = new ArrayList<>();
        for (var s : m.params().slots().values())
            if (s.layer() == layer) for (int i = 0; i < s.size(); i++) out.add(g[s.offset() + i]);
        float[] a = new float[out.size()];
        for (int i = 0; i < a.length; i++) a[i] = out.get(i);
        return a;
    }

    @Test
    void aShardedOptimizerGivesTheSameStepsWithAnNthOfTheMoments(@TempDir Path one, @TempDir Path many, @TempDir Path back) throws Exception {
        Dataset data = dev.lamina.train.TrainerTestData.write(dataDir);
        for (int n : new int[]{2, 3}) {
            Run single = train(data, one.resolve("n" + n), n, Ring.single());
            List<Run> workers = new ArrayList<>(onRing(n, Duration.ofSeconds(60), (ring, rank) -> train(data, many.resolve("n" + n + "-" + rank), n, ring, true)));
            // and reduce-scattered bucket by bucket during backward (every layer a bucket), and after backward
            for (int bucket : new int[]{1, 0})
                workers.addAll(onRing(n, Duration.ofSeconds(60), (ring, rank) -> train(data, many.resolve("n" + n + "-b" + bucket + "-" + rank), n, ring, true, bucket)));
            for (Run w : workers) {
                for (int i = 0; i < 6; i++)
                    assertThat(Float.floatToRawIntBits(w.losses().get(i))).as("n %d, loss at step %d", n, i + 1)
                            .isEqualTo(Float.floatToRawIntBits(single.losses().get(i)));
                for (int i = 0; i < w.weights().length; i++)
                    if (w.weights()[i] != single.weights()[i]) throw new AssertionError("n " + n + ": weight " + i + " differs");
            }
            // rank 0 wrote the whole moments (gathered): the checkpoint resumes on one worker as the straight run goes on
            byte[] a = java.nio.file.Files.readAllBytes(one.resolve("n" + n).resolve("optimizer.safetensors"));
            byte[] b = java.nio.file.Files.readAllBytes(many.resolve("n" + n + "-0").resolve("optimizer.safetensors"));
            assertThat(b).isEqualTo(a);
        }
        assertThat(java.nio.file.Files.readAllLines(one.resolve("n2").resolve("metrics.jsonl")))
                .as("steps that clip").anyMatch(l -> dev.lamina.io.Json.MAPPER.readTree(l).path("grad_norm").asDouble() > 0.5);
        // one worker's checkpoint taken on by two sharded workers: their moments are its slices, the steps go on as one worker's
        List<Float> alone = Trainer.resume(one.resolve("n2"), data, "test", 9, Kernels.withThreads(Kernels.defaults(), 1)).train(9, null);
        List<List<Float>> sharded = onRing(2, Duration.ofSeconds(60), (ring, rank) -> {
            Trainer t = Trainer.resume(many.resolve("n2-0"), data, "test", 9, Kernels.withThreads(Kernels.defaults(), 1)).distributed(ring, true);
            return t.train(9, null);
        });
        for (List<Float> l : sharded)
            for (int i = 0; i < 3; i++)
                assertThat(Float.floatToRawIntBits(l.get(i))).as("step %d", i + 7).isEqualTo(Float.floatToRawIntBits(alone.get(i)));
    }

    @Test
    void aRunResumesWithAnyWorkerCount(@TempDir Path one, @TempDir Path two, @TempDir Path back) throws Exception {
        Dataset data = dev.lamina.train.TrainerTestData.write(dataDir);
        Run straight = train(data, one, 2, Ring.single());                                // one worker, 6 steps
        // two workers for 3 steps (rank 0 checkpoints at step 3), then one worker resumes to step 6
        onRing(2, Duration.ofSeconds(60), (ring, rank) -> {
            Decoder m = Decoder.create(Presets.get("tiny").config().apply(257), 9).withKernels(Kernels.withThreads(Kernels.defaults(), 1));
            return Trainer.start(m, data, "test", config(2), rank == 0 ? two : back.resolve("unused")).distributed(ring).train(3, null);
        });
        Trainer resumed = Trainer.resume(two, data, "test", 0, Kernels.withThreads(Kernels.defaults(), 1));
        List<Float> rest = resumed.train(6, null);
        for (int i = 0; i < 3; i++)
            assertThat(Float.floatToRawIntBits(rest.get(i))).as("step %d", i + 4).isEqualTo(Float.floatToRawIntBits(straight.losses().get(i + 3)));
        float[] w = resumed.model().params().flatData().toArray();
        for (int i = 0; i < w.length; i++) if (w[i] != straight.weights()[i]) throw new AssertionError("weight " + i + " differs");
        // and one worker's checkpoint taken on by two
        Path first = back.resolve("first");
        Decoder m = Decoder.create(Presets.get("tiny").config().apply(257), 9).withKernels(Kernels.withThreads(Kernels.defaults(), 1));
        Trainer.start(m, data, "test", config(2), first).train(3, null);
        List<List<Float>> tails = onRing(2, Duration.ofSeconds(60), (ring, rank) ->
                Trainer.resume(first, data, "test", 0, Kernels.withThreads(Kernels.defaults(), 1)).distributed(ring).train(6, null));
        for (List<Float> t : tails)
            for (int i = 0; i < 3; i++)
                assertThat(Float.floatToRawIntBits(t.get(i))).as("step %d", i + 4).isEqualTo(Float.floatToRawIntBits(straight.losses().get(i + 3)));
    }

    @Test
    void aWorkerThatNeverComesOrDiesFailsTheOthersWithOneLine(@TempDir Path runs) throws Exception {
        List<InetSocketAddress> peers = freePorts(2);
        assertThatThrownBy(() -> Ring.join(0, peers, Duration.ofMillis(800)))
                .isInstanceOf(LaminaException.class).hasMessageContaining("rank 0: rank 1 at").hasMessageContaining("did not answer");
        List<String> errors = onRing(2, Duration.ofSeconds(3), (ring, rank) -> {
            if (rank == 1) return "closed";                 // dies before the all-reduce
            try {
                ring.allReduceSum(new float[10], 0, 10);
                return "no error";
            } catch (LaminaException e) {
                return e.getMessage();
            }
        });
        assertThat(errors.get(0)).startsWith("rank 0: ").containsAnyOf("ring broke", "sent nothing");
        Dataset data = dev.lamina.train.TrainerTestData.write(dataDir);
        assertThatThrownBy(() -> onRing(2, Duration.ofSeconds(10), (ring, rank) -> train(data, runs.resolve("r" + rank), 3, ring)))
                .hasRootCauseInstanceOf(LaminaException.class).rootCause().hasMessageContaining("accum 3 must be a multiple of the 2 workers");
        // workers that do not hold the same run all fail before the first step, naming what differs
        List<String> disagree = onRing(2, Duration.ofSeconds(10), (ring, rank) -> {
            Decoder m = Decoder.create(Presets.get(rank == 0 ? "tiny" : "small").config().apply(257), 9).withKernels(Kernels.withThreads(Kernels.defaults(), 1));
            try {
                Trainer.start(m, data, "test", config(2), runs.resolve("d" + rank)).distributed(ring);
                return "no error";
            } catch (LaminaException e) {
                return e.getMessage();
            }
        });
        for (String e : disagree) assertThat(e).startsWith("the workers disagree: rank 0 has model.").contains(", rank 1 has model.");
        List<String> seeds = onRing(2, Duration.ofSeconds(10), (ring, rank) -> {
            Decoder m = Decoder.create(Presets.get("tiny").config().apply(257), 9).withKernels(Kernels.withThreads(Kernels.defaults(), 1));
            try {
                Trainer.start(m, data, "test", config(2).toBuilder().seed(rank == 0 ? 42 : 43).build(), runs.resolve("s" + rank)).distributed(ring);
                return "no error";
            } catch (LaminaException e) {
                return e.getMessage();
            }
        });
        for (String e : seeds) assertThat(e).isEqualTo("the workers disagree: rank 0 has option seed=42, rank 1 has option seed=43; "
                + "every worker needs the same model, data and training options");
    }
}
