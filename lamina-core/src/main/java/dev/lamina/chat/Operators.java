package dev.lamina.chat;

import dev.lamina.chat.Py.Undefined;

import java.util.ArrayList;
import java.util.List;

/** Python's binary operators and comparisons on template values. */
final class Operators {
    private Operators() {}

    static Object binary(String op, Object a, Object b) {
        if (op.equals("~")) return Py.str(a) + Py.str(b);
        if (a instanceof Undefined u) throw u.fail();
        if (b instanceof Undefined u) throw u.fail();
        if (Py.isNumber(a) && Py.isNumber(b)) return arithmetic(op, a, b);
        if (op.equals("+") && (a instanceof Py.Markup || b instanceof Py.Markup)
                && (a instanceof String || a instanceof Py.Markup) && (b instanceof String || b instanceof Py.Markup)) {
            return new Py.Markup(safe(a) + safe(b));
        }
        a = Py.unwrap(a);
        b = Py.unwrap(b);
        return switch (op) {
            case "+" -> {
                if (a instanceof String x && b instanceof String y) yield x + y;
                if (a instanceof List<?> x && b instanceof List<?> y && (a instanceof Py.Tuple) == (b instanceof Py.Tuple)) {
                    List<Object> out = new ArrayList<>(x);
                    out.addAll(y);
                    yield a instanceof Py.Tuple ? new Py.Tuple(out.toArray()) : out;
                }
                if (a instanceof String) throw new Py.Error("can only concatenate str (not \"" + Py.typeName(b) + "\") to str");
                if (a instanceof List<?>) throw new Py.Error("can only concatenate list (not \"" + Py.typeName(b) + "\") to list");
                throw unsupported(op, a, b);
            }
            case "*" -> {
                if (Py.isInteger(b)) yield repeat(a, Py.toLong(b), op, b);
                if (Py.isInteger(a)) yield repeat(b, Py.toLong(a), op, a);
                throw unsupported(op, a, b);
            }
            case "%" -> {
                if (a instanceof String format) yield Builtins.percentFormat(format, b);
                throw unsupported(op, a, b);
            }
            default -> throw unsupported(op, a, b);
        };
    }

    private static String safe(Object v) {
        return v instanceof Py.Markup m ? m.text() : Py.Markup.escape((String) v);
    }

    private static Object repeat(Object seq, long n, String op, Object count) {
        if (seq instanceof String s) return n <= 0 ? "" : s.repeat((int) n);
        if (seq instanceof List<?> l) {
            List<Object> out = new ArrayList<>();
            for (long i = 0; i < n; i++) out.addAll(l);
            return seq instanceof Py.Tuple ? new Py.Tuple(out.toArray()) : out;
        }
        throw unsupported(op, seq, count);
    }

    private static Py.Error unsupported(String op, Object a, Object b) {
        return new Py.Error("unsupported operand type(s) for " + op + ": '" + Py.typeName(a) + "' and '" + Py.typeName(b) + "'");
    }

    private static Object arithmetic(String op, Object a, Object b) {
        boolean ints = Py.isInteger(a) && Py.isInteger(b);
        if (ints) {
            long x = Py.toLong(a), y = Py.toLong(b);
            return switch (op) {
                case "+" -> x + y;
                case "-" -> x - y;
                case "*" -> x * y;
                case "/" -> { nonZero(y, "division by zero"); yield (double) x / y; }
                case "//" -> { nonZero(y, "integer division or modulo by zero"); yield Math.floorDiv(x, y); }
                case "%" -> { nonZero(y, "integer modulo by zero"); yield Math.floorMod(x, y); }
                case "**" -> y >= 0 ? (Object) power(x, y) : (Object) Math.pow(x, y);
                default -> throw new Py.Error("unknown operator " + op);
            };
        }
        double x = Py.toDouble(a), y = Py.toDouble(b);
        return switch (op) {
            case "+" -> x + y;
            case "-" -> x - y;
            case "*" -> x * y;
            case "/" -> { nonZero(y, "float division by zero"); yield x / y; }
            case "//" -> { nonZero(y, "float floor division by zero"); yield Math.floor(x / y); }
            case "%" -> { nonZero(y, "float modulo"); yield x - y * Math.floor(x / y); }
            case "**" -> Math.pow(x, y);
            default -> throw new Py.Error("unknown operator " + op);
        };
    }

    private static long power(long x, long y) {
        long r = 1;
        for (long i = 0; i < y; i++) r = Math.multiplyExact(r, x);
        return r;
    }

    private static void nonZero(double y, String message) {
        if (y == 0) throw new Py.Error(message);
    }

    static boolean compare(String op, Object a, Object b) {
        return switch (op) {
            case "==" -> Py.eq(a, b);
            case "!=" -> !Py.eq(a, b);
            case "in" -> Py.contains(b, a);
            case "not in" -> !Py.contains(b, a);
            default -> {
                if (a instanceof Undefined u) throw u.fail();
                if (b instanceof Undefined u) throw u.fail();
                int c = Py.compare(a, b, op);
                yield switch (op) {
                    case "<" -> c < 0;
                    case "<=" -> c <= 0;
                    case ">" -> c > 0;
                    default -> c >= 0;
                };
            }
        };
    }
}
