package dev.lamina.autograd;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Time spent per op and phase, summed over the steps a {@link Tape} was profiled. */
public final class Profile {
    /**
     * Where in a training step the time went: the tape's two passes, the forward of checkpointed
     * segments run again during backward, or the update after them.
     */
    public enum Phase { FORWARD, BACKWARD, RECOMPUTE, UPDATE }

    /** Nanoseconds and calls of one op in one phase. */
    public record Entry(String op, Phase phase, long nanos, long calls) {}

    private record Key(String op, Phase phase) {}

    private final Map<Key, long[]> totals = new HashMap<>();

    /** Adds one timed call. */
    public synchronized void add(String op, Phase phase, long nanos) {
        long[] t = totals.computeIfAbsent(new Key(op, phase), k -> new long[2]);
        t[0] += nanos;
        t[1]++;
    }

    /** Entries sorted by time, largest first. */
    public synchronized List<Entry> entries() {
        return totals.entrySet().stream()
                .map(e -> new Entry(e.getKey().op(), e.getKey().phase(), e.getValue()[0], e.getValue()[1]))
                .sorted((a, b) -> Long.compare(b.nanos(), a.nanos())).toList();
    }
}
