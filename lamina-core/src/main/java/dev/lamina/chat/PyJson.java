package dev.lamina.chat;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/** Python's json.dumps, byte for byte: what Hugging Face's {@code tojson} filter calls. */
final class PyJson {
    private PyJson() {}

    /**
     * @param indent       null for one line, else the indent of each level (json.dumps' int n is n spaces)
     * @param itemSeparator null for the default: ", " on one line, "," when indented
     * @param keySeparator  null for ": "
     */
    static String dumps(Object value, String indent, String itemSeparator, String keySeparator, boolean sortKeys, boolean ensureAscii) {
        StringBuilder out = new StringBuilder();
        String items = itemSeparator != null ? itemSeparator : indent == null ? ", " : ",";
        new PyJson.Writer(out, indent, items, keySeparator != null ? keySeparator : ": ", sortKeys, ensureAscii).write(value, 0);
        return out.toString();
    }

    private record Writer(StringBuilder out, String indent, String items, String keys, boolean sortKeys, boolean ensureAscii) {
        void write(Object v, int depth) {
            switch (v) {
                case null -> out.append("null");
                case Boolean b -> out.append(b ? "true" : "false");
                case Long l -> out.append(l);
                case Integer i -> out.append(i);
                case Double d -> out.append(Double.isNaN(d) ? "NaN" : Double.isInfinite(d) ? (d > 0 ? "Infinity" : "-Infinity") : Py.floatRepr(d));
                case String s -> string(s);
                case Py.Markup m -> string(m.text());
                case List<?> l -> {
                    if (l.isEmpty()) { out.append("[]"); return; }
                    out.append('[');
                    for (int i = 0; i < l.size(); i++) {
                        if (i > 0) out.append(items);
                        newline(depth + 1);
                        write(l.get(i), depth + 1);
                    }
                    newline(depth);
                    out.append(']');
                }
                case Map<?, ?> m -> {
                    if (m.isEmpty()) { out.append("{}"); return; }
                    List<Map.Entry<?, ?>> entries = new ArrayList<>(m.entrySet());
                    if (sortKeys) entries.sort(Comparator.comparing(e -> key(e.getKey()), (a, b) -> Py.compare(a, b, "<")));
                    out.append('{');
                    boolean first = true;
                    for (Map.Entry<?, ?> e : entries) {
                        if (!first) out.append(items);
                        first = false;
                        newline(depth + 1);
                        string(key(e.getKey()));
                        out.append(keys);
                        write(e.getValue(), depth + 1);
                    }
                    newline(depth);
                    out.append('}');
                }
                default -> throw new Py.Error("Object of type " + Py.typeName(v) + " is not JSON serializable");
            }
        }

        private void newline(int depth) {
            if (indent != null) out.append('\n').append(indent.repeat(depth));
        }

        private static String key(Object k) {
            return switch (k) {
                case String s -> s;
                case null -> "null";
                case Boolean b -> b ? "true" : "false";
                case Long l -> l.toString();
                case Integer i -> i.toString();
                case Double d -> Py.floatRepr(d);
                default -> throw new Py.Error("keys must be str, int, float, bool or None, not " + Py.typeName(k));
            };
        }

        private void string(String s) {
            out.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    case '\t' -> out.append("\\t");
                    case '\b' -> out.append("\\b");
                    case '\f' -> out.append("\\f");
                    default -> {
                        if (c < 0x20 || ensureAscii && c > 0x7e) out.append(String.format("\\u%04x", (int) c));
                        else out.append(c);
                    }
                }
            }
            out.append('"');
        }
    }
}
