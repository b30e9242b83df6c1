package dev.lamina.chat;

import dev.lamina.chat.Interpreter.Values;
import dev.lamina.chat.Py.Undefined;

import java.time.Clock;
import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * What a template can reach beyond its own syntax: jinja2's attribute and item lookup (through
 * the immutable sandbox), the Python methods of str, dict and list, jinja2's filters and tests,
 * and the globals Hugging Face adds ({@code raise_exception}, {@code strftime_now}, and
 * {@code tojson} as {@code json.dumps}).
 */
final class Builtins {
    private final Clock clock;

    Builtins(Clock clock) { this.clock = clock; }

    Map<String, Object> globals() {
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("raise_exception", (Py.Callable) (args, kw) -> {
            throw new Interpreter.Raised(args.isEmpty() ? "" : Py.str(args.getFirst()));
        });
        g.put("strftime_now", (Py.Callable) (args, kw) ->
                strftime(Py.requireString(new Arguments("strftime_now", args, kw).get(0, "format", null), "format"), ZonedDateTime.now(clock)));
        g.put("namespace", (Py.Callable) (args, kw) -> {
            Py.Namespace ns = new Py.Namespace();
            for (Object a : args) {
                if (a instanceof Map<?, ?> m) m.forEach((k, v) -> ns.attributes.put(Py.str(k), v));
                else throw new Py.Error("namespace() takes mappings and keyword arguments");
            }
            ns.attributes.putAll(kw);
            return ns;
        });
        g.put("dict", (Py.Callable) (args, kw) -> {
            Map<Object, Object> d = new LinkedHashMap<>();
            if (!args.isEmpty() && args.getFirst() instanceof Map<?, ?> m) d.putAll(m);
            d.putAll(kw);
            return d;
        });
        g.put("range", (Py.Callable) (args, kw) -> {
            long start = 0, stop, step = 1;
            if (args.size() == 1) stop = Py.toLong(args.get(0));
            else if (args.size() >= 2) {
                start = Py.toLong(args.get(0));
                stop = Py.toLong(args.get(1));
                if (args.size() > 2) step = Py.toLong(args.get(2));
            } else throw new Py.Error("range expected at least 1 argument, got 0");
            if (step == 0) throw new Py.Error("range() arg 3 must not be zero");
            List<Object> out = new ArrayList<>();
            for (long i = start; step > 0 ? i < stop : i > stop; i += step) {
                out.add(i);
                if (out.size() > 100_000) throw new Py.Error("range too big");
            }
            return out;
        });
        return g;
    }

    // ---------------------------------------------------------------- lookup

    private static final Set<String> DICT_METHODS = Set.of("get", "items", "keys", "values", "copy");
    private static final Set<String> DICT_MUTATORS = Set.of("clear", "pop", "popitem", "setdefault", "update", "fromkeys");
    private static final Set<String> LIST_METHODS = Set.of("index", "count", "copy");
    private static final Set<String> LIST_MUTATORS = Set.of("append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort");
    private static final Set<String> STR_METHODS = Set.of("strip", "lstrip", "rstrip", "split", "rsplit", "splitlines",
            "startswith", "endswith", "replace", "upper", "lower", "title", "capitalize", "find", "rfind", "index", "count",
            "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper", "join", "format", "removeprefix", "removesuffix");

    /** {@code obj.name}: a Python attribute first (a method), then the item; Undefined when neither. */
    Object attribute(Object obj, String name) {
        if (obj instanceof Undefined u) throw u.fail();
        obj = Py.unwrap(obj);
        if (name.startsWith("_")) return unsafe(obj, name);
        return switch (obj) {
            case Map<?, ?> m -> DICT_METHODS.contains(name) ? method(m, name) : DICT_MUTATORS.contains(name) ? unsafe(obj, name)
                    : Py.getOrUndefined(m, name, name);
            case List<?> l -> LIST_METHODS.contains(name) ? method(l, name) : LIST_MUTATORS.contains(name) ? unsafe(obj, name)
                    : noAttribute(obj, name);
            case String s -> STR_METHODS.contains(name) ? method(s, name) : noAttribute(obj, name);
            case Py.Namespace ns -> ns.attributes.containsKey(name) ? ns.attributes.get(name) : noAttribute(obj, name);
            case Interpreter.Loop loop -> loop.attribute(name);
            case null, default -> noAttribute(obj, name);
        };
    }

    /** {@code obj[key]}: the item first, then (for a string key) the attribute. */
    Object item(Object target, Object index) {
        if (target instanceof Undefined u) throw u.fail();
        Object obj = Py.unwrap(target), key = Py.unwrap(index);
        switch (obj) {
            case Map<?, ?> m -> {
                Object k = Py.normalizeKey(key);
                if (m.containsKey(k)) return m.get(k);
            }
            case List<?> l when Py.isInteger(key) -> {
                int i = Py.index(Py.toLong(key), l.size());
                if (i >= 0) return l.get(i);
                return new Undefined("'" + Py.typeName(obj) + " object' has no element " + Py.repr(key));
            }
            case String s when Py.isInteger(key) -> {
                int n = s.codePointCount(0, s.length());
                int i = Py.index(Py.toLong(key), n);
                if (i >= 0) return Character.toString(s.codePointAt(s.offsetByCodePoints(0, i)));
                return new Undefined("'str object' has no element " + Py.repr(key));
            }
            case Interpreter.Loop loop when key instanceof String name -> { return loop.attribute(name); }
            case null, default -> {}
        }
        if (key instanceof String name && !(obj instanceof Map<?, ?> && !DICT_METHODS.contains(name) && !DICT_MUTATORS.contains(name))) {
            return attribute(obj, name);
        }
        return new Undefined("'" + Py.typeName(obj) + " object' has no attribute " + Py.repr(key));
    }

    private static Undefined noAttribute(Object obj, String name) {
        String type = obj == null ? "None" : "'" + Py.typeName(obj) + " object'";
        return new Undefined(type + " has no attribute '" + name + "'");
    }

    private static Undefined unsafe(Object obj, String name) {
        return new Undefined("access to attribute '" + name + "' of '" + Py.typeName(obj) + "' object is unsafe.");
    }

    private static Py.Callable method(Object self, String name) {
        return (args, kw) -> callMethod(self, name, new Arguments(name, args, kw));
    }

    private static Object callMethod(Object self, String name, Arguments a) {
        if (self instanceof Map<?, ?> m) {
            return switch (name) {
                case "get" -> {
                    Object k = Py.normalizeKey(a.get(0, "key", null));
                    yield m.containsKey(k) ? m.get(k) : a.get(1, "default", null);
                }
                case "items" -> {
                    List<Object> out = new ArrayList<>();
                    m.forEach((k, v) -> out.add(new Py.Tuple(k, v)));
                    yield out;
                }
                case "keys" -> new ArrayList<Object>(m.keySet());
                case "values" -> new ArrayList<Object>(m.values());
                default -> new LinkedHashMap<Object, Object>(m);
            };
        }
        if (self instanceof List<?> l) {
            return switch (name) {
                case "index" -> {
                    Object x = a.get(0, "value", null);
                    for (int i = 0; i < l.size(); i++) if (Py.eq(l.get(i), x)) yield (long) i;
                    throw new Py.Error(Py.repr(x) + " is not in list");
                }
                case "count" -> (long) l.stream().filter(o -> Py.eq(o, a.get(0, "value", null))).count();
                default -> new ArrayList<Object>(l);
            };
        }
        String s = (String) self;
        return switch (name) {
            case "strip", "lstrip", "rstrip" -> Py.strip(s, optionalString(a.get(0, "chars", null)), !name.equals("rstrip"), !name.equals("lstrip"));
            case "split", "rsplit" -> {
                String sep = optionalString(a.get(0, "sep", null));
                long max = Py.toLong(a.get(1, "maxsplit", -1L));
                yield name.equals("split") ? Py.split(s, sep, max) : Py.rsplit(s, sep, max);
            }
            case "splitlines" -> splitlines(s, Py.truthy(a.get(0, "keepends", false)));
            case "startswith", "endswith" -> {
                Object affix = a.get(0, "prefix", null);
                List<Object> options = affix instanceof Py.Tuple t ? t : List.of(Py.requireString(affix, name + " first arg"));
                String part = s.substring(offset(s, a.get(1, "start", null), 0), offset(s, a.get(2, "end", null), s.length()));
                for (Object o : options) {
                    String x = Py.requireString(o, name + " first arg");
                    if (name.equals("startswith") ? part.startsWith(x) : part.endsWith(x)) yield true;
                }
                yield false;
            }
            case "replace" -> Py.replace(s, Py.requireString(a.get(0, "old", null), "replace() argument 1"),
                    Py.requireString(a.get(1, "new", null), "replace() argument 2"), Py.toLong(a.get(2, "count", -1L)));
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "title" -> Py.title(s);
            case "capitalize" -> Py.capitalize(s);
            case "find", "index", "rfind" -> {
                String x = Py.requireString(a.get(0, "sub", null), name + " argument");
                int at = name.equals("rfind") ? s.lastIndexOf(x) : s.indexOf(x);
                if (at < 0 && name.equals("index")) throw new Py.Error("substring not found");
                yield at < 0 ? -1L : (long) s.codePointCount(0, at);
            }
            case "count" -> {
                String x = Py.requireString(a.get(0, "sub", null), "count argument");
                yield (long) (x.isEmpty() ? s.codePointCount(0, s.length()) + 1 : Py.split(s, x, -1).size() - 1);
            }
            case "isdigit" -> !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            case "isalnum" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
            case "isspace" -> !s.isEmpty() && s.chars().allMatch(Py::isSpace);
            case "islower" -> s.codePoints().anyMatch(Character::isLowerCase) && s.equals(s.toLowerCase(Locale.ROOT));
            case "isupper" -> s.codePoints().anyMatch(Character::isUpperCase) && s.equals(s.toUpperCase(Locale.ROOT));
            case "join" -> {
                StringBuilder out = new StringBuilder();
                boolean first = true;
                for (Object o : Py.iterate(a.get(0, "iterable", null))) {
                    if (!first) out.append(s);
                    first = false;
                    out.append(Py.requireString(o, "sequence item"));
                }
                yield out.toString();
            }
            case "format" -> format(s, a.positional, a.named);
            case "removeprefix" -> { String p = Py.requireString(a.get(0, "prefix", null), "removeprefix argument"); yield s.startsWith(p) ? s.substring(p.length()) : s; }
            case "removesuffix" -> { String p = Py.requireString(a.get(0, "suffix", null), "removesuffix argument"); yield !p.isEmpty() && s.endsWith(p) ? s.substring(0, s.length() - p.length()) : s; }
            default -> throw new Py.Error("'str' object has no attribute '" + name + "'");
        };
    }

    private static String optionalString(Object v) {
        return v == null ? null : Py.requireString(v, "argument");
    }

    private static int offset(String s, Object index, int fallback) {
        if (index == null) return fallback;
        int n = s.codePointCount(0, s.length());
        long i = Py.toLong(index);
        long k = Math.max(0, Math.min(n, i < 0 ? i + n : i));
        return s.offsetByCodePoints(0, (int) k);
    }

    /** Python's str.splitlines(). */
    static List<Object> splitlines(String s, boolean keepEnds) {
        List<Object> out = new ArrayList<>();
        int start = 0, i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            int eol = switch (c) {
                case '\r' -> i + 1 < s.length() && s.charAt(i + 1) == '\n' ? 2 : 1;
                case '\n', '\u000b', '\u000c', '\u001c', '\u001d', '\u001e', '\u0085', '\u2028', '\u2029' -> 1;
                default -> 0;
            };
            if (eol == 0) { i++; continue; }
            out.add(s.substring(start, keepEnds ? i + eol : i));
            i += eol;
            start = i;
        }
        if (start < s.length()) out.add(s.substring(start));
        return out;
    }

    /** str.format with {}, {0} and {name} fields, conversions !s and !r, and no format spec. */
    static String format(String s, List<Object> args, Map<String, Object> kw) {
        StringBuilder out = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '{' && i + 1 < s.length() && s.charAt(i + 1) == '{') { out.append('{'); i++; continue; }
            if (c == '}' && i + 1 < s.length() && s.charAt(i + 1) == '}') { out.append('}'); i++; continue; }
            if (c == '}') throw new Py.Error("Single '}' encountered in format string");
            if (c != '{') { out.append(c); continue; }
            int end = s.indexOf('}', i);
            if (end < 0) throw new Py.Error("Single '{' encountered in format string");
            String field = s.substring(i + 1, end);
            String conversion = "s";
            int bang = field.indexOf('!');
            if (bang >= 0) { conversion = field.substring(bang + 1); field = field.substring(0, bang); }
            if (field.contains(":")) throw new Py.Error("format specs are not supported in str.format");
            Object value;
            if (field.isEmpty()) value = auto < args.size() ? args.get(auto++) : null;
            else if (field.chars().allMatch(Character::isDigit)) value = Integer.parseInt(field) < args.size() ? args.get(Integer.parseInt(field)) : null;
            else if (kw.containsKey(field)) value = kw.get(field);
            else throw new Py.Error("KeyError: '" + field + "'");
            out.append(conversion.equals("r") ? Py.repr(value) : Py.str(value));
            i = end;
        }
        return out.toString();
    }

    /** Python's printf-style {@code format % args} for %s, %r, %d, %i and %%. */
    static String percentFormat(String format, Object args) {
        List<Object> values = args instanceof Py.Tuple t ? t : List.of(args == null ? "None" : args);
        if (args == null) values = new ArrayList<>(java.util.Collections.singletonList(null));
        StringBuilder out = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%') { out.append(c); continue; }
            if (++i >= format.length()) throw new Py.Error("incomplete format");
            char k = format.charAt(i);
            if (k == '%') { out.append('%'); continue; }
            if (next >= values.size()) throw new Py.Error("not enough arguments for format string");
            Object v = values.get(next++);
            switch (k) {
                case 's' -> out.append(Py.str(v));
                case 'r' -> out.append(Py.repr(v));
                case 'd', 'i' -> out.append(Py.toLong(v instanceof Double d ? (Object) (long) Math.floor(d) : v));
                default -> throw new Py.Error("unsupported format character '" + k + "'");
            }
        }
        if (next < values.size()) throw new Py.Error("not all arguments converted during string formatting");
        return out.toString();
    }

    /** Python's datetime.strftime for the directives chat templates use. */
    static String strftime(String format, ZonedDateTime t) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 >= format.length()) { out.append(c); continue; }
            char d = format.charAt(++i);
            boolean noPad = d == '-' && i + 1 < format.length();
            if (noPad) d = format.charAt(++i);
            String two = noPad ? "%d" : "%02d";
            out.append(switch (d) {
                case 'Y' -> String.valueOf(t.getYear());
                case 'y' -> String.format("%02d", t.getYear() % 100);
                case 'm' -> String.format(two, t.getMonthValue());
                case 'd' -> String.format(two, t.getDayOfMonth());
                case 'e' -> String.format("%2d", t.getDayOfMonth());
                case 'H' -> String.format(two, t.getHour());
                case 'I' -> String.format(two, (t.getHour() + 11) % 12 + 1);
                case 'M' -> String.format(two, t.getMinute());
                case 'S' -> String.format(two, t.getSecond());
                case 'p' -> t.getHour() < 12 ? "AM" : "PM";
                case 'j' -> String.format(noPad ? "%d" : "%03d", t.getDayOfYear());
                case 'b', 'h' -> t.getMonth().getDisplayName(TextStyle.SHORT, Locale.US);
                case 'B' -> t.getMonth().getDisplayName(TextStyle.FULL, Locale.US);
                case 'a' -> t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.US);
                case 'A' -> t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.US);
                case 'w' -> String.valueOf(t.getDayOfWeek().getValue() % 7);
                case 'u' -> String.valueOf(t.getDayOfWeek().getValue());
                case 'F' -> String.format("%d-%02d-%02d", t.getYear(), t.getMonthValue(), t.getDayOfMonth());
                case 'T' -> String.format("%02d:%02d:%02d", t.getHour(), t.getMinute(), t.getSecond());
                case '%' -> "%";
                default -> throw new Py.Error("unsupported strftime directive %" + d);
            });
        }
        return out.toString();
    }

    // ---------------------------------------------------------------- filters

    /** Positional and keyword arguments of a filter or method, looked up by position or name. */
    record Arguments(String function, List<Object> positional, Map<String, Object> named) {
        Object get(int index, String name, Object fallback) {
            if (index < positional.size()) return positional.get(index);
            return named.getOrDefault(name, fallback);
        }
    }

    Object filter(String name, Object value, Values values, Interpreter interpreter) {
        Arguments a = new Arguments(name, values.positional(), values.named());
        return switch (name) {
            case "tojson" -> {
                Object indent = a.get(0, "indent", null);
                Object separators = a.get(1, "separators", null);
                String items = null, keys = null;
                if (separators instanceof List<?> l && l.size() == 2) { items = Py.str(l.get(0)); keys = Py.str(l.get(1)); }
                String indentText = indent == null ? null : indent instanceof String s ? s : " ".repeat((int) Math.max(0, Py.toLong(indent)));
                yield PyJson.dumps(value, indentText, items, keys, Py.truthy(a.named().get("sort_keys")),
                        Py.truthy(a.named().getOrDefault("ensure_ascii", false)));
            }
            case "length", "count" -> (long) Py.len(value);
            case "string" -> Py.str(value);
            case "trim" -> Py.strip(Py.str(value), optionalString(a.get(0, "chars", null)), true, true);
            case "default", "d" -> {
                boolean orFalse = Py.truthy(a.get(1, "boolean", false));
                yield value instanceof Undefined || orFalse && !Py.truthy(value) ? a.get(0, "default_value", "") : value;
            }
            case "safe" -> value instanceof Py.Markup ? value : new Py.Markup(Py.str(value));
            case "e", "escape" -> value instanceof Py.Markup ? value : new Py.Markup(Py.Markup.escape(Py.str(value)));
            case "upper" -> Py.str(value).toUpperCase(Locale.ROOT);
            case "lower" -> Py.str(value).toLowerCase(Locale.ROOT);
            case "capitalize" -> Py.capitalize(Py.str(value));
            case "title" -> Py.title(Py.str(value));
            case "replace" -> {
                Object count = a.get(2, "count", null);
                yield Py.replace(Py.str(value), Py.str(a.get(0, "old", null)), Py.str(a.get(1, "new", null)), count == null ? -1 : Py.toLong(count));
            }
            case "join" -> {
                String sep = Py.str(a.get(0, "d", ""));
                Object attribute = a.get(1, "attribute", null);
                StringBuilder out = new StringBuilder();
                boolean first = true;
                for (Object o : Py.iterate(value)) {
                    if (!first) out.append(sep);
                    first = false;
                    out.append(Py.str(attribute == null ? o : path(o, attribute)));
                }
                yield out.toString();
            }
            case "items" -> {
                if (value instanceof Undefined) yield new Py.Generator(List.of());
                if (!(value instanceof Map<?, ?> m)) throw new Py.Error("Can only get item pairs from a mapping.");
                List<Object> out = new ArrayList<>();
                m.forEach((k, v) -> out.add(new Py.Tuple(k, v)));
                yield new Py.Generator(out);
            }
            case "list" -> Py.toList(value);
            case "first" -> {
                var it = Py.iterate(value).iterator();
                yield it.hasNext() ? it.next() : new Undefined("No first item, sequence was empty.");
            }
            case "last" -> {
                List<Object> l = Py.toList(value);
                yield l.isEmpty() ? new Undefined("No last item, sequence was empty.") : l.getLast();
            }
            case "reverse" -> {
                if (value instanceof String s) yield new StringBuilder(s).reverse().toString();
                yield new Py.Generator(Py.toList(value).reversed());
            }
            case "sort" -> {
                List<Object> l = Py.toList(value);
                Function<Object, Object> key = sortKey(Py.truthy(a.get(1, "case_sensitive", false)), a.get(2, "attribute", null));
                l.sort((x, y) -> Py.compare(key.apply(x), key.apply(y), "<"));
                if (Py.truthy(a.get(0, "reverse", false))) yield l.reversed();
                yield l;
            }
            case "dictsort" -> {
                if (!(value instanceof Map<?, ?> m)) throw new Py.Error("You can only sort by either \"key\" or \"value\"");
                boolean caseSensitive = Py.truthy(a.get(0, "case_sensitive", false));
                int by = "value".equals(a.get(1, "by", "key")) ? 1 : 0;
                List<Object> l = new ArrayList<>();
                m.forEach((k, v) -> l.add(new Py.Tuple(k, v)));
                Function<Object, Object> key = sortKey(caseSensitive, null);
                l.sort((x, y) -> Py.compare(key.apply(((List<?>) x).get(by)), key.apply(((List<?>) y).get(by)), "<"));
                yield Py.truthy(a.get(2, "reverse", false)) ? l.reversed() : l;
            }
            case "unique" -> {
                Function<Object, Object> key = sortKey(Py.truthy(a.get(0, "case_sensitive", false)), a.get(1, "attribute", null));
                List<Object> out = new ArrayList<>();
                List<Object> seen = new ArrayList<>();
                for (Object o : Py.iterate(value)) {
                    Object k = key.apply(o);
                    if (seen.stream().noneMatch(s -> Py.eq(s, k))) { seen.add(k); out.add(o); }
                }
                yield new Py.Generator(out);
            }
            case "min", "max" -> {
                List<Object> l = Py.toList(value);
                if (l.isEmpty()) yield new Undefined("No aggregated item, sequence was empty.");
                Function<Object, Object> key = sortKey(Py.truthy(a.get(0, "case_sensitive", false)), a.get(1, "attribute", null));
                Comparator<Object> order = (x, y) -> Py.compare(key.apply(x), key.apply(y), "<");
                yield name.equals("min") ? l.stream().min(order).get() : l.stream().max(order).get();
            }
            case "map" -> {
                if (!Py.truthy(value)) yield new Py.Generator(List.of()); // jinja2 maps and selects nothing for a false value
                Object attribute = a.named().get("attribute");
                List<Object> out = new ArrayList<>();
                if (attribute != null) {
                    for (Object o : Py.iterate(value)) {
                        Object v = path(o, attribute);
                        out.add(v instanceof Undefined && a.named().containsKey("default") ? a.named().get("default") : v);
                    }
                } else {
                    if (a.positional().isEmpty()) throw new Py.Error("map requires a filter argument");
                    String filter = Py.requireString(a.positional().getFirst(), "map filter name");
                    Values rest = new Values(a.positional().subList(1, a.positional().size()), a.named());
                    for (Object o : Py.iterate(value)) out.add(filter(filter, o, rest, interpreter));
                }
                yield new Py.Generator(out);
            }
            case "select", "reject", "selectattr", "rejectattr" -> {
                if (!Py.truthy(value)) yield new Py.Generator(List.of());
                boolean byAttribute = name.endsWith("attr");
                boolean keep = name.startsWith("select");
                List<Object> args = a.positional();
                Object attribute = byAttribute ? args.getFirst() : null;
                int t = byAttribute ? 1 : 0;
                String test = args.size() > t ? Py.requireString(args.get(t), "test name") : null;
                List<Object> testArgs = args.size() > t + 1 ? args.subList(t + 1, args.size()) : List.of();
                List<Object> out = new ArrayList<>();
                for (Object o : Py.iterate(value)) {
                    Object v = byAttribute ? path(o, attribute) : o;
                    boolean passed = test == null ? Py.truthy(v) : test(test, v, testArgs);
                    if (passed == keep) out.add(o);
                }
                yield new Py.Generator(out);
            }
            case "indent" -> {
                Object width = a.get(0, "width", 4L);
                String pad = width instanceof String s ? s : " ".repeat((int) Py.toLong(width));
                List<Object> lines = splitlines(Py.str(value) + "\n", false);
                StringBuilder out = new StringBuilder();
                if (Py.truthy(a.get(2, "blank", false))) {
                    for (int i = 0; i < lines.size(); i++) out.append(i == 0 ? "" : "\n" + pad).append(lines.get(i));
                } else {
                    out.append(lines.getFirst());
                    for (int i = 1; i < lines.size(); i++) {
                        String l = (String) lines.get(i);
                        out.append('\n').append(l.isEmpty() ? "" : pad + l);
                    }
                }
                yield Py.truthy(a.get(1, "first", false)) ? pad + out : out.toString();
            }
            case "int" -> {
                try {
                    if (value instanceof String s) {
                        String t = Py.strip(s, null, true, true).replace("_", "");
                        yield t.contains(".") ? (long) Double.parseDouble(t) : Long.parseLong(t);
                    }
                    yield Py.toLong(value);
                } catch (RuntimeException e) {
                    yield a.get(0, "default", 0L);
                }
            }
            case "float" -> {
                try {
                    yield value instanceof String s ? Double.parseDouble(Py.strip(s, null, true, true)) : Py.toDouble(value);
                } catch (RuntimeException e) {
                    yield a.get(0, "default", 0.0);
                }
            }
            case "abs" -> value instanceof Double d ? (Object) Math.abs(d) : (Object) Math.abs(Py.toLong(value));
            case "round" -> {
                int precision = (int) Py.toLong(a.get(0, "precision", 0L));
                java.math.RoundingMode mode = switch (Py.str(a.get(1, "method", "common"))) {
                    case "ceil" -> java.math.RoundingMode.CEILING;
                    case "floor" -> java.math.RoundingMode.FLOOR;
                    default -> java.math.RoundingMode.HALF_EVEN; // Python's round()
                };
                yield new java.math.BigDecimal(Py.toDouble(value)).setScale(precision, mode).doubleValue();
            }
            case "wordcount" -> (long) Py.split(Py.str(value), null, -1).size();
            case "attr" -> attribute(value, Py.requireString(a.get(0, "name", null), "attribute name"));
            case "sum" -> {
                Object attribute = a.get(0, "attribute", null);
                Object total = a.get(1, "start", 0L);
                for (Object o : Py.iterate(value)) total = Operators.binary("+", total, attribute == null ? o : path(o, attribute));
                yield total;
            }
            case "center" -> {
                String s = Py.str(value);
                int width = (int) Py.toLong(a.get(0, "width", 80L));
                int total = Math.max(0, width - s.length()), left = total / 2 + (total & width & 1);
                yield " ".repeat(left) + s + " ".repeat(total - left);
            }
            default -> throw new Py.Error("No filter named '" + name + "'.");
        };
    }

    private Function<Object, Object> sortKey(boolean caseSensitive, Object attribute) {
        return o -> {
            Object v = attribute == null ? o : path(o, attribute);
            return !caseSensitive && v instanceof String s ? s.toLowerCase(Locale.ROOT) : v;
        };
    }

    /** jinja2's attribute path for filters: "a.b.0" looks up a, then b, then item 0. */
    private Object path(Object o, Object attribute) {
        if (!(attribute instanceof String s)) return item(o, attribute);
        for (String part : s.split("\\.")) {
            Object key = part.chars().allMatch(Character::isDigit) && !part.isEmpty() ? (Object) Long.parseLong(part) : part;
            o = item(o, key);
        }
        return o;
    }

    // ---------------------------------------------------------------- tests

    boolean test(String name, Object v, List<Object> args) {
        Object arg = args.isEmpty() ? null : args.getFirst();
        return switch (name) {
            case "defined" -> !(v instanceof Undefined);
            case "undefined" -> v instanceof Undefined;
            case "none" -> v == null;
            case "boolean" -> v instanceof Boolean;
            case "true" -> Boolean.TRUE.equals(v);
            case "false" -> Boolean.FALSE.equals(v);
            case "integer" -> v instanceof Long || v instanceof Integer;
            case "float" -> v instanceof Double;
            case "number" -> Py.isNumber(v);
            case "string" -> v instanceof String || v instanceof Py.Markup;
            case "mapping" -> v instanceof Map<?, ?>;
            case "iterable" -> v instanceof String || v instanceof Py.Markup || v instanceof List<?> || v instanceof Map<?, ?> || v instanceof Py.Generator || v instanceof Undefined;
            case "sequence" -> v instanceof String || v instanceof Py.Markup || v instanceof List<?> || v instanceof Map<?, ?> || v instanceof Undefined;
            case "callable" -> v instanceof Py.Callable;
            case "sameas" -> v == arg || v != null && (v instanceof Boolean || v instanceof Long) && v.equals(arg);
            case "escaped" -> false;
            case "lower" -> Py.str(v).equals(Py.str(v).toLowerCase(Locale.ROOT));
            case "upper" -> Py.str(v).equals(Py.str(v).toUpperCase(Locale.ROOT));
            case "odd" -> Math.floorMod(Py.toLong(v), 2) == 1;
            case "even" -> Math.floorMod(Py.toLong(v), 2) == 0;
            case "divisibleby" -> Math.floorMod(Py.toLong(v), Py.toLong(arg)) == 0;
            case "eq", "equalto", "==" -> Py.eq(v, arg);
            case "ne", "!=" -> !Py.eq(v, arg);
            case "lt", "lessthan", "<" -> Operators.compare("<", v, arg);
            case "le", "<=" -> Operators.compare("<=", v, arg);
            case "gt", "greaterthan", ">" -> Operators.compare(">", v, arg);
            case "ge", ">=" -> Operators.compare(">=", v, arg);
            case "in" -> Py.contains(arg, v);
            case "filter" -> v instanceof String s && KNOWN_FILTERS.contains(s);
            case "test" -> v instanceof String s && KNOWN_TESTS.contains(s);
            default -> throw new Py.Error("No test named '" + name + "'.");
        };
    }

    private static final Set<String> KNOWN_FILTERS = new LinkedHashSet<>(List.of("tojson", "length", "count", "string", "trim",
            "default", "d", "safe", "e", "escape", "upper", "lower", "capitalize", "title", "replace", "join", "items", "list",
            "first", "last", "reverse", "sort", "dictsort", "unique", "min", "max", "map", "select", "reject", "selectattr",
            "rejectattr", "indent", "int", "float", "abs", "round", "wordcount", "attr", "sum", "center"));
    private static final Set<String> KNOWN_TESTS = Set.of("defined", "undefined", "none", "boolean", "true", "false", "integer",
            "float", "number", "string", "mapping", "iterable", "sequence", "callable", "sameas", "escaped", "lower", "upper",
            "odd", "even", "divisibleby", "eq", "equalto", "ne", "lt", "lessthan", "le", "gt", "greaterthan", "ge", "in",
            "filter", "test");
}
