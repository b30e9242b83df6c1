package dev.lamina.train;

import dev.lamina.autograd.Ops;
import dev.lamina.data.TokenFile;
import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.function.LongConsumer;

/**
 * A teacher's top-K logits for every batch a distillation run trains on, computed once and read
 * back from disk (memory-mapped) instead of running the teacher each step.
 *
 * <p>Each position keeps the teacher's K largest logits with their ids, and the log-sum-exp of all
 * its logits at the run's temperature τ, so the cached tokens' probabilities are exact and the
 * rest of the mass, p_tail = 1 − Σ_k p_k, is known. The soft targets spread p_tail over the other
 * tokens as the student spreads its own: p_j = p_tail · q_j / q_tail, which makes the KL over the
 * vocabulary equal to the KL over K + 1 outcomes (the K tokens and "any other"):
 * Σ_k p_k log(p_k/q_k) + p_tail log(p_tail/q_tail). With K = V it is the full KL.
 *
 * <p>File: a 32-byte little-endian header (magic "LTKC", version 1, K, V, rows per batch, the
 * number of batches, τ), then per batch and row K int32 ids, K float32 logits and the float32
 * log-sum-exp.
 */
public final class TeacherCache implements AutoCloseable {
    private static final int MAGIC = 0x434B544C, VERSION = 1, HEADER = 32;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path file;
    private final Arena arena;
    private final MemorySegment data;
    private final int K, V, rows;
    private final long batches;
    private final float tau;

    private TeacherCache(Path file, Arena arena, MemorySegment data, int K, int V, int rows, long batches, float tau) {
        this.file = file;
        this.arena = arena;
        this.data = data;
        this.K = K;
        this.V = V;
        this.rows = rows;
        this.batches = batches;
        this.tau = tau;
    }

    public int k() { return K; }
    public float tau() { return tau; }
    public long batches() { return batches; }

    private long rowBytes() { return 8L * K + 4; }

    /**
     * Runs the teacher over the first `batches` batches the run's Batcher draws (its seed, B and T:
     * the very batches training will see, in order) and writes their top-K to file (through a
     * temporary file, renamed at the end). progress is told each batch done.
     */
    public static void write(Path file, Logits teacher, int V, float tau, TokenFile train, TrainConfig cfg, int K, long batches, LongConsumer progress) {
        int B = cfg.batch(), T = cfg.seq(), rows = B * T;
        if (K < 1 || K > V) throw LaminaException.field("cache-teacher", "cache-teacher must be in [1, " + V + "] (logits kept a position), got " + K);
        Batcher batcher = new Batcher(train, B, T, cfg.seed());
        int[] ids = new int[rows], targets = new int[rows], top = new int[K];
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(Integer.MAX_VALUE, rows * (8L * K + 4))).order(ByteOrder.LITTLE_ENDIAN);
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
            h.putInt(MAGIC).putInt(VERSION).putInt(K).putInt(V).putInt(rows).putLong(batches).putFloat(tau).flip();
            while (h.hasRemaining()) ch.write(h);
            for (long b = 0; b < batches; b++) {
                batcher.next(ids, targets);
                Tensor logits = teacher.of(ids, B, T);
                float[] t = logits.data();
                buf.clear();
                for (int r = 0; r < rows; r++) {
                    int o = logits.offset() + r * V;
                    topK(t, o, V, top);
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < V; j++) max = Math.max(max, t[o + j] / (double) tau);
                    for (int j = 0; j < V; j++) sum += Math.exp(t[o + j] / (double) tau - max);
                    for (int k = 0; k < K; k++) buf.putInt(top[k]);
                    for (int k = 0; k < K; k++) buf.putFloat(t[o + top[k]]);
                    buf.putFloat((float) (max + Math.log(sum)));
                }
                buf.flip();
                while (buf.hasRemaining()) ch.write(buf);
                if (progress != null) progress.accept(b + 1);
            }
            ch.force(true);
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot write the teacher's cache (" + e.getMessage() + ")");
        }
        try {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot write the teacher's cache (" + e.getMessage() + ")");
        }
    }

    /** A teacher's logits [B·T, V] for ids (Distillation::logits). */
    @FunctionalInterface
    public interface Logits { Tensor of(int[] ids, int B, int T); }

    /** The ids of the K largest of t[o, o+V), largest first (ties: the lower id first). */
    static void topK(float[] t, int o, int V, int[] top) {
        int K = top.length, n = 0;
        for (int j = 0; j < V; j++) {
            float v = t[o + j];
            if (n == K && v <= t[o + top[K - 1]]) continue;
            int at = n < K ? n++ : K - 1;
            while (at > 0 && t[o + top[at - 1]] < v) { top[at] = top[at - 1]; at--; }
            top[at] = j;
        }
    }

    /** Maps a cache; checks its header and size. */
    public static TeacherCache open(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Arena arena = Arena.ofShared();
            MemorySegment s = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            if (s.byteSize() < HEADER || s.get(I32, 0) != MAGIC || s.get(I32, 4) != VERSION) {
                arena.close();
                throw new LaminaException(file + ": not a teacher cache (bad header); delete it and run with --cache-teacher again");
            }
            int K = s.get(I32, 8), V = s.get(I32, 12), rows = s.get(I32, 16);
            long batches = s.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 20);
            float tau = s.get(F32, 28);
            if (K < 1 || V < K || rows < 1 || batches < 0 || s.byteSize() != HEADER + batches * rows * (8L * K + 4)) {
                arena.close();
                throw new LaminaException(file + ": the teacher cache is truncated or damaged; delete it and run with --cache-teacher again");
            }
            return new TeacherCache(file, arena, s, K, V, rows, batches, tau);
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot read the teacher cache (" + e.getMessage() + ")");
        }
    }

    /** The soft targets of batch `batch` (the run's micro-batch index: step · accum + micro). */
    public Ops.SoftTargets targets(long batch, int rowsOfBatch, int vocab) {
        if (batch >= batches)
            throw new LaminaException(file + ": the teacher cache holds " + batches + " batches, the run asks for batch " + (batch + 1)
                    + "; cache the teacher for the run's full length (--steps)");
        if (rowsOfBatch != rows || vocab != V)
            throw new LaminaException(file + ": the teacher cache was made for " + rows + " positions a batch over " + V
                    + " tokens; this run has " + rowsOfBatch + " over " + vocab);
        long base = HEADER + batch * rows * rowBytes();
        return (row, t, ls, logP) -> {
            if (t != tau) throw new IllegalArgumentException("the cache was made at temperature " + tau + ", not " + t);
            long at = base + row * rowBytes(), logits = at + 4L * K;
            double lse = data.get(F32, logits + 4L * K), inv = 1.0 / tau, pTop = 0, qTop = 0;
            for (int k = 0; k < K; k++) {
                int id = data.get(I32, at + 4L * k);
                pTop += Math.exp(data.get(F32, logits + 4L * k) * inv - lse);
                qTop += Math.exp(ls[id]);
            }
            double pTail = Math.max(0, 1 - pTop), qTail = Math.max(1e-30, 1 - qTop);
            double shift = pTail > 0 ? Math.log(pTail) - Math.log(qTail) : Double.NEGATIVE_INFINITY;
            for (int j = 0; j < V; j++) logP[j] = ls[j] + shift;           // the tail, spread as the student spreads its own
            for (int k = 0; k < K; k++) logP[data.get(I32, at + 4L * k)] = data.get(F32, logits + 4L * k) * inv - lse;
        };
    }

    @Override
    public void close() { arena.close(); }
}
