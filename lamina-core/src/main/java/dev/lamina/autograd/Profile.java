package dev.lamina.autograd;

import java.util.Map;
import java.util.TreeMap;

/** Time spent per op and direction, summed over the steps a {@link Tape} was profiled. */
public final class Profile {
    /** Nanoseconds and calls of one op in one direction. */
    public record Entry(String op, boolean backward, long nanos, long calls) {}

    private final Map<String, long[]> totals = new TreeMap<>();

    synchronized void add(String op, boolean backward, long nanos) {
        long[] t = totals.computeIfAbsent(op + (backward ? " backward" : " forward"), k -> new long[2]);
        t[0] += nanos;
        t[1]++;
    }

    /** Adds time measured outside the tape (e.g. the optimizer step). */
    public synchronized void addOther(String name, long nanos) {
        long[] t = totals.computeIfAbsent(name, k -> new long[2]);
        t[0] += nanos;
        t[1]++;
    }

    /** Entries sorted by time, largest first. */
    public synchronized java.util.List<Entry> entries() {
        return totals.entrySet().stream()
                .map(e -> new Entry(e.getKey().replaceFirst(" (forward|backward)$", ""), e.getKey().endsWith(" backward"),
                        e.getValue()[0], e.getValue()[1]))
                .sorted((a, b) -> Long.compare(b.nanos(), a.nanos())).toList();
    }
}
