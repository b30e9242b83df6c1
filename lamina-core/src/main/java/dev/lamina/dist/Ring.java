package dev.lamina.dist;

import dev.lamina.io.LaminaException;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;

/**
 * The workers of a data-parallel run joined in a ring over TCP: each rank sends to the next and
 * receives from the previous. Its all-reduce sums in rank order, ((x0 + x1) + x2) + ..., the order in
 * which one worker accumulates the same micro-batches, so N workers reproduce one worker's gradients
 * bit for bit. It runs in two passes over chunks, each a chain with no cycle (no deadlock on blocking
 * sockets): the partial sums travel 0 → 1 → … → N−1, then the totals travel N−1 → 0 → … → N−2.
 * Every link carries the data once each way: N/(N−1) times a classic ring all-reduce's traffic.
 *
 * <p>Every read and the connection itself have a time limit; a worker that dies or stalls makes
 * the others fail with a one-line error naming the rank and the peer.
 */
public final class Ring implements AutoCloseable {
    private static final int MAGIC = 0x4C4D4452;          // "LMDR"
    private static final int CHUNK = 1 << 16;             // floats per message

    private final int rank, size;
    private final ServerSocket server;
    private final Socket next, prev;
    private final DataOutputStream out;
    private final DataInputStream in;
    private final byte[] bytes = new byte[CHUNK * 4];
    private final float[] recv = new float[CHUNK];

    private Ring(int rank, int size, ServerSocket server, Socket next, Socket prev) throws IOException {
        this.rank = rank;
        this.size = size;
        this.server = server;
        this.next = next;
        this.prev = prev;
        this.out = next == null ? null : new DataOutputStream(new BufferedOutputStream(next.getOutputStream(), 1 << 16));
        this.in = prev == null ? null : new DataInputStream(new BufferedInputStream(prev.getInputStream(), 1 << 16));
    }

    /** A ring of one: every operation is the identity. */
    public static Ring single() {
        try {
            return new Ring(0, 1, null, null, null);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Joins the ring as rank of peers.size() workers: listens on peers[rank], connects to the next rank
     * (retrying until timeout while it starts) and accepts the previous one. Each side checks the
     * other's rank and ring size.
     */
    public static Ring join(int rank, List<InetSocketAddress> peers, Duration timeout) {
        int n = peers.size();
        if (rank < 0 || rank >= n) throw new LaminaException("rank must be in [0, " + n + "), got " + rank);
        if (n == 1) return single();
        long deadline = System.nanoTime() + timeout.toNanos();
        int ms = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
        ServerSocket server = null;
        Socket next = null, prev = null;
        try {
            server = new ServerSocket();
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(peers.get(rank).getPort()));
            server.setSoTimeout(ms);
            InetSocketAddress to = peers.get((rank + 1) % n);
            while (next == null) {
                Socket s = new Socket();
                try {
                    s.connect(to, Math.max(1, (int) Math.min(ms, (deadline - System.nanoTime()) / 1_000_000)));
                    next = s;
                } catch (IOException e) {
                    s.close();
                    if (System.nanoTime() > deadline)
                        throw new LaminaException("rank " + rank + ": rank " + (rank + 1) % n + " at " + to + " did not answer within " + timeout.toSeconds() + " s");
                    Thread.sleep(100);
                }
            }
            next.setTcpNoDelay(true);
            DataOutputStream hello = new DataOutputStream(next.getOutputStream());
            hello.writeInt(MAGIC);
            hello.writeInt(rank);
            hello.writeInt(n);
            hello.flush();
            try {
                prev = server.accept();
            } catch (SocketTimeoutException e) {
                throw new LaminaException("rank " + rank + ": rank " + (rank + n - 1) % n + " did not connect within " + timeout.toSeconds() + " s");
            }
            prev.setSoTimeout(ms);
            DataInputStream h = new DataInputStream(prev.getInputStream());
            int magic = h.readInt(), from = h.readInt(), of = h.readInt();
            if (magic != MAGIC || of != n || from != (rank + n - 1) % n)
                throw new LaminaException("rank " + rank + ": the worker before it is not rank " + (rank + n - 1) % n + " of " + n
                        + " (it says rank " + from + " of " + of + "); every worker needs the same --peers list");
            return new Ring(rank, n, server, next, prev);
        } catch (IOException e) {
            closeQuietly(server, next, prev);
            throw new LaminaException("rank " + rank + ": cannot join the ring on port " + peers.get(rank).getPort() + ": " + e.getMessage());
        } catch (InterruptedException e) {
            closeQuietly(server, next, prev);
            Thread.currentThread().interrupt();
            throw new LaminaException("rank " + rank + ": interrupted while joining the ring");
        } catch (RuntimeException e) {
            closeQuietly(server, next, prev);
            throw e;
        }
    }

    public int rank() { return rank; }
    public int size() { return size; }

    /**
     * Replaces data[off, off+len) on every rank by the sum over ranks, added in rank order; every rank
     * must call it with the same length.
     */
    public void allReduceSum(float[] data, int off, int len) {
        if (size == 1) return;
        try {
            partialSums(data, off, off + len);
            out.flush();
            totals(data, off, off + len, size - 2);
            out.flush();
        } catch (IOException e) {
            throw broken(e);
        }
    }

    /**
     * Sums data across ranks so that rank r ends with the total of its own slice [bounds[r],
     * bounds[r+1]), added in rank order as {@link #allReduceSum} adds it; elsewhere data is left with
     * partial sums. Slice by slice, in owner order: the partial sums travel 0 → 1 → … → N−1, then the
     * totals go on from N−1 to the owner alone (N−1 → 0 → … → owner), each a path without a cycle.
     * A link carries about 1.5 times the gradient instead of the all-reduce's 2 (ZeRO's reduce-scatter).
     */
    public void reduceScatterSum(float[] data, int[] bounds) {
        if (bounds.length != size + 1) throw new IllegalArgumentException("bounds must have " + (size + 1) + " entries, got " + bounds.length);
        if (size == 1) return;
        try {
            for (int owner = 0; owner < size; owner++) {
                partialSums(data, bounds[owner], bounds[owner + 1]);
                if (owner < size - 1) totals(data, bounds[owner], bounds[owner + 1], owner);   // the last rank holds its totals already
            }
        } catch (IOException e) {
            throw broken(e);
        }
    }

    /** data[from, to) summed along 0 → 1 → … → N−1, chunk by chunk: rank r is left with x0 + … + xr, the last rank with the total. */
    private void partialSums(float[] data, int from, int to) throws IOException {
        for (int c = from; c < to; c += CHUNK) {
            int n = Math.min(CHUNK, to - c);
            if (rank == 0) send(data, c, n);
            else {
                receive(n);
                for (int i = 0; i < n; i++) recv[i] += data[c + i];
                System.arraycopy(recv, 0, data, c, n);
                if (rank < size - 1) send(data, c, n);
            }
        }
    }

    /** The last rank's totals of data[from, to) along N−1 → 0 → 1 → … → upTo (upTo < N−1), which each rank on the way keeps. */
    private void totals(float[] data, int from, int to, int upTo) throws IOException {
        for (int c = from; c < to; c += CHUNK) {
            int n = Math.min(CHUNK, to - c);
            if (rank == size - 1) send(data, c, n);
            else if (rank <= upTo) {
                receive(n);
                System.arraycopy(recv, 0, data, c, n);
                if (rank < upTo) send(data, c, n);
            }
        }
    }

    /**
     * Every rank's slice to every rank: slice r is data[bounds[r], bounds[r+1]) on rank r, and
     * afterwards on all. Each slice travels from its owner along the ring, a path of N−1 hops (no
     * cycle, so blocking sockets cannot deadlock); the owners take turns in rank order.
     */
    public void allGather(float[] data, int[] bounds) {
        if (bounds.length != size + 1) throw new IllegalArgumentException("bounds must have " + (size + 1) + " entries, got " + bounds.length);
        if (size == 1) return;
        try {
            for (int owner = 0; owner < size; owner++) {
                boolean last = (rank + 1) % size == owner;                // the next rank is the owner: it has the slice
                for (int c = bounds[owner]; c < bounds[owner + 1]; c += CHUNK) {
                    int n = Math.min(CHUNK, bounds[owner + 1] - c);
                    if (rank == owner) send(data, c, n);
                    else {
                        receive(n);
                        System.arraycopy(recv, 0, data, c, n);
                        if (!last) send(data, c, n);
                    }
                }
            }
        } catch (IOException e) {
            throw broken(e);
        }
    }

    /**
     * Every rank's slice to rank 0 alone: mine is rank r's slice [bounds[r], bounds[r+1]), full (rank 0
     * only; null elsewhere) receives them all. Slice r travels r → r+1 → … → N−1 → 0, a path; the ranks
     * on the way forward it chunk by chunk without keeping it.
     */
    public void gatherToFirst(float[] mine, float[] full, int[] bounds) {
        if (bounds[rank + 1] - bounds[rank] != mine.length)
            throw new IllegalArgumentException("rank " + rank + "'s slice has " + (bounds[rank + 1] - bounds[rank]) + " values, given " + mine.length);
        if (rank == 0) System.arraycopy(mine, 0, full, bounds[0], mine.length);
        if (size == 1) return;
        try {
            for (int owner = 1; owner < size; owner++) {
                if (rank != 0 && rank < owner) continue;                   // not on this slice's path
                for (int c = 0; c < bounds[owner + 1] - bounds[owner]; c += CHUNK) {
                    int n = Math.min(CHUNK, bounds[owner + 1] - bounds[owner] - c);
                    if (rank == owner) send(mine, c, n);
                    else {
                        receive(n);
                        if (rank == 0) System.arraycopy(recv, 0, full, bounds[owner] + c, n);
                        else send(recv, 0, n);
                    }
                }
            }
        } catch (IOException e) {
            throw broken(e);
        }
    }

    /**
     * Every rank's bytes to every rank, in rank order (small messages: configurations, digests). Each
     * rank's message travels from it along the ring, N−1 hops, the owners taking turns in rank order.
     */
    public byte[][] allGatherBytes(byte[] mine) {
        byte[][] all = new byte[size][];
        all[rank] = mine.clone();
        if (size == 1) return all;
        try {
            for (int owner = 0; owner < size; owner++) {
                boolean last = (rank + 1) % size == owner;
                if (rank == owner) {
                    out.writeInt(mine.length);
                    out.write(mine);
                    out.flush();
                } else {
                    int n = in.readInt();
                    if (n < 0 || n > (64 << 20)) throw new IOException("a message of " + n + " bytes from rank " + owner);
                    byte[] b = new byte[n];
                    in.readFully(b);
                    all[owner] = b;
                    if (!last) {
                        out.writeInt(n);
                        out.write(b);
                        out.flush();
                    }
                }
            }
        } catch (IOException e) {
            throw broken(e);
        }
        return all;
    }

    /** A failed read or write, in one line: the previous rank silent, or the ring broken. */
    private LaminaException broken(IOException e) {
        if (e instanceof SocketTimeoutException)
            return new LaminaException("rank " + rank + ": rank " + (rank + size - 1) % size + " sent nothing within the time limit; it may have died");
        String why = e instanceof java.io.EOFException ? "the connection closed" : e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        return new LaminaException("rank " + rank + ": the ring broke (" + why + "); a worker may have died");
    }

    /** [0, n) split into size slices as even as can be: bounds[r] to bounds[r+1] is rank r's. */
    public int[] shards(int n) { return shards(n, 1); }

    /** As {@link #shards(int)} with every inner bound a multiple of align (slices differ by at most align). */
    public int[] shards(int n, int align) {
        int[] b = new int[size + 1];
        long units = ((long) n + align - 1) / align;
        for (int r = 0; r <= size; r++) b[r] = (int) Math.min(n, units * r / size * align);
        b[size] = n;
        return b;
    }

    private void send(float[] a, int off, int n) throws IOException {
        ByteBuffer.wrap(bytes, 0, n * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(a, off, n);
        out.write(bytes, 0, n * 4);
        out.flush();                                         // the next rank is waiting for this chunk
    }

    private void receive(int n) throws IOException {
        in.readFully(bytes, 0, n * 4);
        ByteBuffer.wrap(bytes, 0, n * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(recv, 0, n);
    }

    @Override
    public void close() { closeQuietly(server, next, prev); }

    private static void closeQuietly(AutoCloseable... cs) {
        for (AutoCloseable c : cs) {
            if (c == null) continue;
            try { c.close(); } catch (Exception ignored) { /* closing */ }
        }
    }
}
