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
import java.util.function.IntFunction;

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

    @Test
    void allReduceSumsInRankOrderOnEveryRank() throws Exception {
        for (int n : new int[]{2, 3, 4}) {
            int len = 200_003;                                    // several chunks, the last one short
            IntFunction<float[]> data = r -> {
                Random rnd = new Random(r * 31L + 7);
                float[] a = new float[len];
                for (int i = 0; i < len; i++) a[i] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(7) - 3));
                return a;
            };
            float[] expected = new float[len];
            for (int r = 0; r < n; r++) {
                float[] a = data.apply(r);
                for (int i = 0; i < len; i++) expected[i] = r == 0 ? a[i] : expected[i] + a[i];
            }
            List<float[]> got = onRing(n, Duration.ofSeconds(20), (ring, rank) -> {
                float[] a = data.apply(rank);
                ring.allReduceSum(a, 0, len);
                return a;
            });
            for (int r = 0; r < n; r++)
                for (int i = 0; i < len; i += 997)
                    assertThat(Float.floatToRawIntBits(got.get(r)[i])).as("n %d rank %d [%d]", n, r, i).isEqualTo(Float.floatToRawIntBits(expected[i]));
            for (int r = 0; r < n; r++) assertThat(got.get(r)).containsExactly(expected);
        }
    }

    static TrainConfig config(int accum) {
        return TrainConfig.builder(6, 2, 32).lr(3e-3).warmup(2).seed(42).evalEvery(3).evalBatches(2).accum(accum).build();
    }

    /** One worker's losses and final weights. */
    record Run(List<Float> losses, float[] weights) {}

    static Run train(Dataset data, Path dir, int accum, Ring ring) { return train(data, dir, accum, ring, false); }

    static Run train(Dataset data, Path dir, int accum, Ring ring, boolean shard) {
        Decoder model = Decoder.create(Presets.get("tiny").config().apply(257), 9).withKernels(Kernels.withThreads(Kernels.defaults(), 1));
        Trainer t = Trainer.start(model, data, "test", config(accum), dir).distributed(ring, shard);
        if (shard) assertThat(t.optimizer().m()).hasSize(ring.shards(model.params().count())[ring.rank() + 1] - ring.shards(model.params().count())[ring.rank()]);
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

    @Test
    void aShardedOptimizerGivesTheSameStepsWithAnNthOfTheMoments(@TempDir Path one, @TempDir Path many, @TempDir Path back) throws Exception {
        Dataset data = dev.lamina.train.TrainerTestData.write(dataDir);
        for (int n : new int[]{2, 3}) {
            Run single = train(data, one.resolve("n" + n), n, Ring.single());
            List<Run> workers = onRing(n, Duration.ofSeconds(60), (ring, rank) -> train(data, many.resolve("n" + n + "-" + rank), n, ring, true));
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
    }
}
