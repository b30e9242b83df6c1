package dev.lamina.server;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;

/**
 * Counters for /metrics, in Prometheus' text format: a series is a metric name with its labels,
 * e.g. {@code lamina_requests_total{endpoint="chat/completions",status="200"}}. Counters only; each
 * family gets its HELP and TYPE lines from {@link #describe}.
 */
public final class Metrics {
    private final Map<String, DoubleAdder> series = new ConcurrentHashMap<>();
    private final Map<String, String> help = new ConcurrentHashMap<>();

    /** Declares a counter family's help text. */
    public Metrics describe(String family, String text) {
        help.put(family, text);
        return this;
    }

    /** Adds n to the series family{labels}; labels alternate names and values. */
    public void add(String family, double n, String... labels) {
        StringBuilder key = new StringBuilder(family);
        if (labels.length > 0) {
            key.append('{');
            for (int i = 0; i + 1 < labels.length; i += 2) {
                if (i > 0) key.append(',');
                key.append(labels[i]).append("=\"").append(labels[i + 1].replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")).append('"');
            }
            key.append('}');
        }
        series.computeIfAbsent(key.toString(), k -> new DoubleAdder()).add(n);
    }

    /** The value of one series (0 when never added to); for tests and reports. */
    public double value(String seriesKey) {
        DoubleAdder a = series.get(seriesKey);
        return a == null ? 0 : a.sum();
    }

    /** Every series, grouped by family, families in name order. */
    public void write(StringBuilder out) {
        Map<String, Map<String, Double>> families = new TreeMap<>();
        series.forEach((k, v) -> {
            int brace = k.indexOf('{');
            families.computeIfAbsent(brace < 0 ? k : k.substring(0, brace), f -> new TreeMap<>()).put(k, v.sum());
        });
        families.forEach((family, values) -> {
            String h = help.get(family);
            if (h != null) out.append("# HELP ").append(family).append(' ').append(h).append('\n');
            out.append("# TYPE ").append(family).append(" counter\n");
            values.forEach((k, v) -> out.append(k).append(' ').append(v == Math.rint(v) && Math.abs(v) < 1e15 ? String.valueOf((long) (double) v) : String.valueOf(v)).append('\n'));
        });
    }
}
