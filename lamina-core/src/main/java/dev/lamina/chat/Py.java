package dev.lamina.chat;

import java.math.BigDecimal;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Python's value semantics, as Jinja templates see them. Values are plain Java objects: null is
 * None, Boolean, Long (int), Double (float), String, List (list; {@link Tuple} for tuples), Map
 * (dict, insertion-ordered), plus the template types {@link Undefined}, {@link Generator},
 * {@link Namespace} and {@link Callable}.
 */
final class Py {
    private Py() {}

    /** An error Python would raise (TypeError, ValueError ...): the template cannot be rendered. */
    static final class Error extends RuntimeException {
        Error(String message) { super(message, null, false, false); }
    }

    /** An immutable tuple (prints as {@code (a, b)}). */
    static final class Tuple extends AbstractList<Object> {
        private final Object[] items;
        Tuple(Object... items) { this.items = items; }
        @Override public Object get(int i) { return items[i]; }
        @Override public int size() { return items.length; }
    }

    /**
     * Text marked safe ({@code |safe}, {@code |escape}): a str whose {@code +} with a plain str
     * HTML-escapes the plain one, as markupsafe's Markup does.
     */
    record Markup(String text) {
        static String escape(String s) {
            return s.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;").replace("'", "&#39;").replace("\"", "&#34;");
        }
    }

    /** A Markup as its str; any other value as it is. */
    static Object unwrap(Object v) {
        return v instanceof Markup m ? m.text() : v;
    }

    /** jinja2's Undefined: prints as nothing, is false and empty, fails when used any further. */
    record Undefined(String hint) {
        static Undefined named(String name) { return new Undefined("'" + name + "' is undefined"); }
        Error fail() { return new Error(hint); }
    }

    /** A Python generator (map, select ...): iterable once, has no length, is not JSON. */
    static final class Generator implements Iterable<Object> {
        private Iterator<Object> source;
        Generator(Iterable<?> items) {
            @SuppressWarnings("unchecked") Iterator<Object> it = (Iterator<Object>) items.iterator();
            this.source = it;
        }
        @Override public Iterator<Object> iterator() {
            Iterator<Object> it = source;
            source = List.of().iterator();
            return it;
        }
    }

    /** jinja2's namespace(): the one object a template may assign attributes of. */
    static final class Namespace {
        final Map<String, Object> attributes = new LinkedHashMap<>();
    }

    /** Anything a template can call: macros, globals, bound methods. */
    @FunctionalInterface
    interface Callable {
        Object call(List<Object> args, Map<String, Object> kwargs);
    }

    static String typeName(Object v) {
        return switch (v) {
            case null -> "NoneType";
            case Boolean b -> "bool";
            case Long l -> "int";
            case Integer i -> "int";
            case Double d -> "float";
            case String s -> "str";
            case Tuple t -> "tuple";
            case List<?> l -> "list";
            case Map<?, ?> m -> "dict";
            case Undefined u -> "Undefined";
            case Markup m -> "Markup";
            case Generator g -> "generator";
            case Namespace n -> "Namespace";
            case Callable c -> "function";
            default -> v.getClass().getSimpleName();
        };
    }

    static boolean truthy(Object v) {
        return switch (v) {
            case null -> false;
            case Boolean b -> b;
            case Long l -> l != 0;
            case Integer i -> i != 0;
            case Double d -> d != 0;
            case String s -> !s.isEmpty();
            case List<?> l -> !l.isEmpty();
            case Map<?, ?> m -> !m.isEmpty();
            case Undefined u -> false;
            case Markup m -> !m.text().isEmpty();
            default -> true;
        };
    }

    static boolean isNumber(Object v) { return v instanceof Long || v instanceof Integer || v instanceof Double || v instanceof Boolean; }

    static boolean isInteger(Object v) { return v instanceof Long || v instanceof Integer || v instanceof Boolean; }

    static long toLong(Object v) {
        return switch (v) {
            case Long l -> l;
            case Integer i -> i;
            case Boolean b -> b ? 1 : 0;
            case Double d -> (long) (double) d;
            case null, default -> throw new Error("'" + typeName(v) + "' object cannot be interpreted as an integer");
        };
    }

    static double toDouble(Object v) {
        return v instanceof Double d ? d : toLong(v);
    }

    /** Python's ==. */
    static boolean eq(Object a, Object b) {
        a = unwrap(a);
        b = unwrap(b);
        if (a == b) return true;
        if (a == null || b == null) return false;
        if (isNumber(a) && isNumber(b)) {
            return isInteger(a) && isInteger(b) ? toLong(a) == toLong(b) : toDouble(a) == toDouble(b);
        }
        if (a instanceof Tuple != b instanceof Tuple) return false;
        if (a instanceof List<?> x && b instanceof List<?> y) {
            if (x.size() != y.size()) return false;
            for (int i = 0; i < x.size(); i++) if (!eq(x.get(i), y.get(i))) return false;
            return true;
        }
        if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y) {
            if (x.size() != y.size()) return false;
            for (Map.Entry<?, ?> e : x.entrySet()) {
                if (!y.containsKey(e.getKey()) || !eq(e.getValue(), y.get(e.getKey()))) return false;
            }
            return true;
        }
        if (a instanceof Undefined && b instanceof Undefined) return true;
        return a.equals(b);
    }

    /** Python's ordering (&lt;, &gt; ...): numbers, strings by code point, lists element-wise. */
    static int compare(Object a, Object b, String op) {
        a = unwrap(a);
        b = unwrap(b);
        if (isNumber(a) && isNumber(b)) {
            return isInteger(a) && isInteger(b) ? Long.compare(toLong(a), toLong(b)) : Double.compare(toDouble(a), toDouble(b));
        }
        if (a instanceof String x && b instanceof String y) return compareCodePoints(x, y);
        if (a instanceof List<?> x && b instanceof List<?> y) {
            for (int i = 0; i < Math.min(x.size(), y.size()); i++) {
                if (!eq(x.get(i), y.get(i))) return compare(x.get(i), y.get(i), op);
            }
            return Integer.compare(x.size(), y.size());
        }
        throw new Error("'" + op + "' not supported between instances of '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    private static int compareCodePoints(String x, String y) {
        int i = 0, j = 0;
        while (i < x.length() && j < y.length()) {
            int a = x.codePointAt(i), b = y.codePointAt(j);
            if (a != b) return Integer.compare(a, b);
            i += Character.charCount(a);
            j += Character.charCount(b);
        }
        return Boolean.compare(i < x.length(), j < y.length());
    }

    /** Python's {@code in}. */
    static boolean contains(Object container, Object element) {
        Object item = unwrap(element);
        return switch (unwrap(container)) {
            case String s when item instanceof String t -> s.contains(t);
            case String s -> throw new Error("'in <string>' requires string as left operand, not " + typeName(item));
            case Map<?, ?> m -> m.containsKey(item instanceof Integer i ? (Object) (long) i : item);
            case Undefined u -> false;
            case null, default -> {
                for (Object o : iterate(container)) if (eq(o, item)) yield true;
                yield false;
            }
        };
    }

    /** Python's iter(): strings by character, dicts by key; Undefined is empty. */
    static Iterable<?> iterate(Object v) {
        return switch (unwrap(v)) {
            case List<?> l -> l;
            case Map<?, ?> m -> m.keySet();
            case String s -> s.codePoints().mapToObj(Character::toString).toList();
            case Generator g -> g;
            case Undefined u -> List.of();
            case null, default -> throw new Error("'" + typeName(v) + "' object is not iterable");
        };
    }

    static List<Object> toList(Object v) {
        List<Object> out = new ArrayList<>();
        for (Object o : iterate(v)) out.add(o);
        return out;
    }

    static int len(Object v) {
        return switch (unwrap(v)) {
            case String s -> s.codePointCount(0, s.length());
            case List<?> l -> l.size();
            case Map<?, ?> m -> m.size();
            case Namespace n -> throw new Error("object of type 'Namespace' has no len()");
            case Undefined u -> 0;
            case null, default -> throw new Error("object of type '" + typeName(v) + "' has no len()");
        };
    }

    // ---- str() and repr() ----

    /** Python's str(), which is what {{ value }} prints (Undefined prints as nothing). */
    static String str(Object v) {
        return switch (v) {
            case null -> "None";
            case String s -> s;
            case Markup m -> m.text();
            case Undefined u -> "";
            default -> repr(v);
        };
    }

    static String repr(Object v) {
        return switch (v) {
            case null -> "None";
            case Boolean b -> b ? "True" : "False";
            case Long l -> l.toString();
            case Integer i -> i.toString();
            case Double d -> floatRepr(d);
            case String s -> stringRepr(s);
            case Markup m -> "Markup(" + stringRepr(m.text()) + ")";
            case Tuple t -> t.size() == 1 ? "(" + repr(t.get(0)) + ",)" : join(t, "(", ")");
            case List<?> l -> join(l, "[", "]");
            case Map<?, ?> m -> {
                StringBuilder s = new StringBuilder("{");
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (s.length() > 1) s.append(", ");
                    s.append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
                }
                yield s.append('}').toString();
            }
            case Undefined u -> "";
            case Generator g -> "<generator object>";
            case Namespace n -> "<Namespace " + n.attributes + ">";
            default -> "<" + typeName(v) + ">";
        };
    }

    private static String join(List<?> items, String open, String close) {
        StringBuilder s = new StringBuilder(open);
        for (int i = 0; i < items.size(); i++) s.append(i == 0 ? "" : ", ").append(repr(items.get(i)));
        return s.append(close).toString();
    }

    private static String stringRepr(String s) {
        char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder out = new StringBuilder().append(quote);
        s.codePoints().forEach(c -> {
            switch (c) {
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c == quote) out.append('\\').append((char) c);
                    else if (printable(c)) out.appendCodePoint(c);
                    else if (c < 0x100) out.append(String.format("\\x%02x", c));
                    else if (c < 0x10000) out.append(String.format("\\u%04x", c));
                    else out.append(String.format("\\U%08x", c));
                }
            }
        });
        return out.append(quote).toString();
    }

    /** Python's str.isprintable() for one character. */
    private static boolean printable(int c) {
        if (c == ' ') return true;
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE, Character.UNASSIGNED,
                 Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR, Character.SPACE_SEPARATOR -> false;
            default -> true;
        };
    }

    /** Python's repr of a float: the shortest digits that round-trip, exponent outside 1e-4 .. 1e16. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        BigDecimal b = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = b.unscaledValue().toString();
        int point = digits.length() - b.scale(); // value = 0.digits × 10^point
        StringBuilder s = new StringBuilder(d < 0 ? "-" : "");
        if (point > -4 && point <= 16) {
            if (point <= 0) s.append("0.").append("0".repeat(-point)).append(digits);
            else if (point >= digits.length()) s.append(digits).append("0".repeat(point - digits.length())).append(".0");
            else s.append(digits, 0, point).append('.').append(digits, point, digits.length());
        } else {
            s.append(digits.charAt(0));
            if (digits.length() > 1) s.append('.').append(digits, 1, digits.length());
            int exp = point - 1;
            s.append(exp < 0 ? "e-" : "e+").append(Math.abs(exp) < 10 ? "0" : "").append(Math.abs(exp));
        }
        return s.toString();
    }

    // ---- strings ----

    /** Python's str.isspace() for one character (also what {@code \s} and strip() use). */
    static boolean isSpace(int c) {
        return Character.isWhitespace(c) || c == 0x85 || c == 0xa0 || c == 0x2007 || c == 0x202f;
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        int start = 0, end = s.length();
        while (left && start < end && stripped(s.charAt(start), chars)) start++;
        while (right && end > start && stripped(s.charAt(end - 1), chars)) end--;
        return s.substring(start, end);
    }

    private static boolean stripped(char c, String chars) {
        return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
    }

    /** Python's str.split(sep, maxsplit); sep None splits on whitespace runs. */
    static List<Object> split(String s, String sep, long maxsplit) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            int i = 0, n = s.length();
            while (true) {
                while (i < n && isSpace(s.charAt(i))) i++;
                if (i == n) break;
                if (maxsplit >= 0 && out.size() == maxsplit) { out.add(strip(s.substring(i), null, false, true)); break; }
                int j = i;
                while (j < n && !isSpace(s.charAt(j))) j++;
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) throw new Error("empty separator");
        int from = 0;
        while (maxsplit < 0 || out.size() < maxsplit) {
            int at = s.indexOf(sep, from);
            if (at < 0) break;
            out.add(s.substring(from, at));
            from = at + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    /** Python's str.rsplit(sep, maxsplit). */
    static List<Object> rsplit(String s, String sep, long maxsplit) {
        if (maxsplit < 0) return split(s, sep, -1);
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            int j = s.length();
            while (true) {
                while (j > 0 && isSpace(s.charAt(j - 1))) j--;
                if (j == 0) break;
                if (out.size() == maxsplit) { out.add(strip(s.substring(0, j), null, true, false)); break; }
                int i = j;
                while (i > 0 && !isSpace(s.charAt(i - 1))) i--;
                out.add(s.substring(i, j));
                j = i;
            }
        } else {
            if (sep.isEmpty()) throw new Error("empty separator");
            int to = s.length();
            while (out.size() < maxsplit) {
                int at = s.lastIndexOf(sep, to - sep.length());
                if (at < 0) break;
                out.add(s.substring(at + sep.length(), to));
                to = at;
            }
            out.add(s.substring(0, to));
        }
        return out.reversed();
    }

    static String replace(String s, String old, String with, long count) {
        if (count < 0) return s.replace(old, with);
        StringBuilder out = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++) {
            if (old.isEmpty()) {
                if (from > s.length()) break;
                out.append(with);
                if (from < s.length()) out.append(s.charAt(from));
                from++;
                continue;
            }
            int at = s.indexOf(old, from);
            if (at < 0) break;
            out.append(s, from, at).append(with);
            from = at + old.length();
        }
        return from > s.length() ? out.toString() : out.append(s.substring(from)).toString();
    }

    /** Python's str.title(): words (runs of letters) start upper case, the rest lower case. */
    static String title(String s) {
        StringBuilder out = new StringBuilder();
        boolean inWord = false;
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            out.append(inWord ? new String(Character.toChars(c)).toLowerCase(java.util.Locale.ROOT)
                    : new String(Character.toChars(c)).toUpperCase(java.util.Locale.ROOT));
            inWord = Character.isLetter(c);
        }
        return out.toString();
    }

    static String capitalize(String s) {
        if (s.isEmpty()) return s;
        int first = Character.charCount(s.codePointAt(0));
        return s.substring(0, first).toUpperCase(java.util.Locale.ROOT) + s.substring(first).toLowerCase(java.util.Locale.ROOT);
    }

    /** An index into a sequence of n items, Python style (negative from the end); -1 if out of range. */
    static int index(long i, int n) {
        long k = i < 0 ? i + n : i;
        return k < 0 || k >= n ? -1 : (int) k;
    }

    /** Python's slice of a list or string. */
    static Object slice(Object v, Object start, Object stop, Object step) {
        v = unwrap(v);
        long st = step == null ? 1 : toLong(step);
        if (st == 0) throw new Error("slice step cannot be zero");
        List<Object> items = v instanceof String s ? new ArrayList<>(s.codePoints().mapToObj(Character::toString).toList())
                : v instanceof List<?> l ? new ArrayList<>(l) : null;
        if (items == null) throw new Error("'" + typeName(v) + "' object is not subscriptable");
        int n = items.size();
        long lo, hi;
        if (st > 0) {
            lo = start == null ? 0 : clamp(toLong(start), n, 0, n);
            hi = stop == null ? n : clamp(toLong(stop), n, 0, n);
        } else {
            lo = start == null ? n - 1 : clamp(toLong(start), n, -1, n - 1);
            hi = stop == null ? -1 : clamp(toLong(stop), n, -1, n - 1);
        }
        List<Object> out = new ArrayList<>();
        for (long i = lo; st > 0 ? i < hi : i > hi; i += st) out.add(items.get((int) i));
        if (v instanceof String) {
            StringBuilder s = new StringBuilder();
            for (Object o : out) s.append((String) o);
            return s.toString();
        }
        return v instanceof Tuple ? new Tuple(out.toArray()) : out;
    }

    private static long clamp(long i, int n, long min, long max) {
        long k = i < 0 ? i + n : i;
        return Math.max(min, Math.min(max, k));
    }

    static String requireString(Object v, String what) {
        if (unwrap(v) instanceof String s) return s;
        throw new Error(what + " must be str, not " + typeName(v));
    }

    static Object normalizeKey(Object key) {
        return key instanceof Integer i ? (Object) (long) i : key;
    }

    static Object getOrUndefined(Map<?, ?> m, Object key, String hintName) {
        Object k = normalizeKey(key);
        if (m.containsKey(k)) return m.get(k);
        return new Undefined("'dict object' has no attribute " + repr(hintName));
    }
}
