package dev.lamina.structured;

import java.util.ArrayList;
import java.util.List;

/**
 * A byte-level recognizer of the JSON texts a {@link Schema} allows, as an immutable pushdown state:
 * {@link #feed} returns the state after one more byte, or null when no allowed text continues that
 * way. Immutable, so a search over the vocabulary can try a token's bytes from a state and drop the
 * result. Equal states are equal records, so masks can be cached by state.
 *
 * <p>The innermost value being written is the top frame; the frames below are its containers. A
 * number or a literal ends when a byte cannot continue it, which then goes to the container.
 * Strings allow any UTF-8 (checked, no overlong forms or surrogates) except control characters,
 * and the escapes \" \\ \/ \b \f \n \r \t.
 */
public final class JsonMachine {
    private JsonMachine() {}

    /** A frame: the state of one value in progress. */
    sealed interface Frame {}

    /** Before the first byte of a value of schema s. */
    record Start(Schema s) implements Frame {}

    /** In a string after its opening quote: chars so far, its bounds, an escape pending, UTF-8 continuation bytes due and the range of the next. */
    record InStr(int chars, int min, int max, boolean escape, int due, int lo, int hi) implements Frame {}

    /** In a number: phase (see {@link #number}), whether it must stay an integer, and the digits of the part being written. */
    record InNum(int phase, boolean integer, int digits) implements Frame {}

    /**
     * Digits a number's parts may have: 18 in the integer part (every such integer fits a signed
     * 64-bit one, what clients parse an integer into), 18 in the fraction, 2 in the exponent (a
     * double holds every such value).
     */
    static final int INT_DIGITS = 18, FRAC_DIGITS = 18, EXP_DIGITS = 2;

    /** In one of literal texts: the candidates still matching and the bytes matched. */
    record InLit(List<byte[]> candidates, int pos) implements Frame {
        @Override public boolean equals(Object o) {
            if (!(o instanceof InLit l) || l.pos != pos || l.candidates.size() != candidates.size()) return false;
            for (int i = 0; i < candidates.size(); i++) if (!java.util.Arrays.equals(candidates.get(i), l.candidates.get(i))) return false;
            return true;
        }
        @Override public int hashCode() {
            int h = pos;
            for (byte[] c : candidates) h = h * 31 + java.util.Arrays.hashCode(c);
            return h;
        }
    }

    /**
     * In an object: next is the index of the first property not yet decided; phase OPEN (after '{'),
     * KEY (after ','), COLON (after a key; prop is its index, −1 in an open object), VALUE (its value
     * in progress above), AFTER (after a member).
     */
    record InObj(Schema.Obj s, int next, int phase, int prop) implements Frame {}

    /** In an array: items so far; phase OPEN (after '['), COMMA (after ','), VALUE (an item in progress above), AFTER (after an item). */
    record InArr(Schema.Arr s, int count, int phase) implements Frame {}

    static final int OPEN = 0, KEY = 1, COLON = 2, VALUE = 3, AFTER = 4, COMMA = 5;

    /** A state: the top frame and the stack below it (null when empty); done when the top-level value is complete. */
    public record State(Frame top, State below, boolean done) {}

    /** The state before any byte of a value of s. */
    public static State start(Schema s) { return new State(new Start(s), null, false); }

    /** Whether the text so far is a complete allowed value (a top-level number or literal may still grow). */
    public static boolean accepting(State st) {
        if (st.done()) return true;
        return st.below() == null && ends(st.top());
    }

    /** Whether a number or literal frame could end here. */
    private static boolean ends(Frame f) {
        return switch (f) {
            case InNum n -> n.phase() == INT || n.phase() == ZERO || n.phase() == FRAC || n.phase() == EXP;
            case InLit l -> l.candidates().stream().anyMatch(c -> c.length == l.pos());
            default -> false;
        };
    }

    /** The state after byte b (0..255), or null when no allowed text continues with it. */
    public static State feed(State st, int b) {
        if (st.done()) return null;                                // nothing after the value, not even whitespace
        Frame f = st.top();
        return switch (f) {
            case Start s -> begin(s.s(), b, st.below());
            case InStr s -> string(s, b, st.below());
            case InNum n -> {
                InNum next = grown(n, b);
                if (next != null) yield new State(next, st.below(), false);
                yield ends(n) && st.below() != null ? feed(finished(st.below()), b) : null;
            }
            case InLit l -> {
                List<byte[]> keep = new ArrayList<>();
                for (byte[] c : l.candidates()) if (c.length > l.pos() && (c[l.pos()] & 0xFF) == b) keep.add(c);
                if (!keep.isEmpty()) {
                    State next = new State(new InLit(List.copyOf(keep), l.pos() + 1), st.below(), false);
                    // a literal that cannot grow any further is finished now (a key, true, "a" ...)
                    boolean longer = keep.stream().anyMatch(c -> c.length > l.pos() + 1);
                    yield longer ? next : (st.below() == null ? new State(next.top(), null, true) : finishedLiteral(st.below(), keep.getFirst()));
                }
                yield ends(l) && st.below() != null ? feed(finishedLiteral(st.below(), matched(l)), b) : null;
            }
            case InObj o -> object(o, b, st.below());
            case InArr a -> array(a, b, st.below());
        };
    }

    private static byte[] matched(InLit l) {
        for (byte[] c : l.candidates()) if (c.length == l.pos()) return c;
        throw new IllegalStateException("no literal ends here");
    }

    // ---- values ---------------------------------------------------------------------------------------

    private static State begin(Schema s, int b, State below) {
        return switch (s) {
            case Schema.Str x -> b == '"' ? new State(new InStr(0, x.min(), x.max(), false, 0, 0, 0), below, false) : null;
            case Schema.Num n -> {
                InNum first = grown(new InNum(START, n.integer(), 0), b);
                yield first == null ? null : new State(first, below, false);
            }
            case Schema.Literals l -> feed(new State(new InLit(l.values(), 0), below, false), b);
            case Schema.Obj o -> b == '{' ? new State(new InObj(o, 0, OPEN, -1), below, false) : null;
            case Schema.Arr a -> b == '[' ? new State(new InArr(a, 0, OPEN), below, false) : null;
            case Schema.Alt a -> {
                for (Schema o : a.options()) {
                    State st = begin(o, b, below);
                    if (st != null) yield st;
                }
                yield null;
            }
            case Schema.Any any -> switch (b) {
                case '{' -> begin(Schema.anyObject(), b, below);
                case '[' -> begin(new Schema.Arr(any, 0, -1), b, below);
                case '"' -> begin(new Schema.Str(0, -1), b, below);
                case 't', 'f', 'n' -> begin(TRUE_FALSE_NULL, b, below);
                default -> begin(new Schema.Num(false), b, below);
            };
        };
    }

    private static final Schema.Literals TRUE_FALSE_NULL = new Schema.Literals(List.of("true".getBytes(), "false".getBytes(), "null".getBytes()));

    private static State string(InStr s, int b, State below) {
        if (s.due() > 0) {                                         // a UTF-8 continuation byte
            if (b < s.lo() || b > s.hi()) return null;
            return new State(new InStr(s.chars(), s.min(), s.max(), false, s.due() - 1, 0x80, 0xBF), below, false);
        }
        if (s.escape()) {
            if ("\"\\/bfnrt".indexOf(b) < 0) return null;         // no \\u escapes: every character is written as itself
            return new State(new InStr(counted(s), s.min(), s.max(), false, 0, 0, 0), below, false);
        }
        if (b == '"') {
            if (s.chars() < s.min()) return null;
            return below == null ? new State(s, null, true) : finished(below);
        }
        if (s.max() >= 0 && s.chars() >= s.max()) return null;   // only the closing quote fits
        if (b == '\\') return new State(new InStr(s.chars(), s.min(), s.max(), true, 0, 0, 0), below, false);
        if (b < 0x20) return null;                                 // control characters only escaped
        int due, lo = 0x80, hi = 0xBF;
        if (b < 0x80) due = 0;
        else if (b >= 0xC2 && b <= 0xDF) due = 1;
        else if (b >= 0xE0 && b <= 0xEF) { due = 2; if (b == 0xE0) lo = 0xA0; if (b == 0xED) hi = 0x9F; }
        else if (b >= 0xF0 && b <= 0xF4) { due = 3; if (b == 0xF0) lo = 0x90; if (b == 0xF4) hi = 0x8F; }
        else return null;
        return new State(new InStr(counted(s), s.min(), s.max(), false, due, lo, hi), below, false);
    }

    /**
     * One more character, counted only as far as the bounds care (beyond min of an unbounded string
     * every count is alike), so equal situations are equal states and share a cached mask.
     */
    private static int counted(InStr s) { return s.max() < 0 ? Math.min(s.chars() + 1, s.min()) : s.chars() + 1; }

    static final int START = 0, MINUS = 1, ZERO = 2, INT = 3, DOT = 4, FRAC = 5, E = 6, ESIGN = 7, EXP = 8;

    /** The number after byte b, or null when b does not continue it (or would give a part more digits than it may have). */
    private static InNum grown(InNum n, int b) {
        int p = number(n, b);
        if (p < 0) return null;
        boolean digitPart = p == ZERO || p == INT || p == FRAC || p == EXP;
        int digits = !digitPart ? 0 : p == n.phase() ? n.digits() + 1 : 1;
        int most = p == FRAC ? FRAC_DIGITS : p == EXP ? EXP_DIGITS : INT_DIGITS;
        return digits > most ? null : new InNum(p, n.integer(), digits);
    }

    /** The number phase after byte b, or −1 when b does not continue the number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
    private static int number(InNum n, int b) {
        boolean digit = b >= '0' && b <= '9';
        return switch (n.phase()) {
            case START -> b == '-' ? MINUS : b == '0' ? ZERO : digit ? INT : -1;
            case MINUS -> b == '0' ? ZERO : digit ? INT : -1;
            case ZERO -> !n.integer() && b == '.' ? DOT : !n.integer() && (b == 'e' || b == 'E') ? E : -1;
            case INT -> digit ? INT : !n.integer() && b == '.' ? DOT : !n.integer() && (b == 'e' || b == 'E') ? E : -1;
            case DOT -> digit ? FRAC : -1;
            case FRAC -> digit ? FRAC : b == 'e' || b == 'E' ? E : -1;
            case E -> b == '+' || b == '-' ? ESIGN : digit ? EXP : -1;
            case ESIGN, EXP -> digit ? EXP : -1;
            default -> -1;
        };
    }

    // ---- containers ---------------------------------------------------------------------------------

    /** The container below, told its value is complete. */
    private static State finished(State below) {
        Frame f = below.top();
        return switch (f) {
            case InObj o -> new State(new InObj(o.s(), o.next(), o.phase() == VALUE ? AFTER : COLON, -1), below.below(), false);   // a value, or an open object's key
            case InArr a -> new State(new InArr(a.s(), a.s().max() < 0 ? Math.min(a.count() + 1, a.s().min()) : a.count() + 1, AFTER),
                    below.below(), false);                                // counted only as far as the bounds care
            default -> throw new IllegalStateException("a value inside " + f);
        };
    }

    /** As {@link #finished}, for a literal: in an object in its KEY or OPEN phase the literal was a key. */
    private static State finishedLiteral(State below, byte[] lit) {
        if (below.top() instanceof InObj o && o.phase() != VALUE) {
            List<Schema.Prop> ps = o.s().props();
            for (int i = o.next(); i < ps.size(); i++)
                if (java.util.Arrays.equals(ps.get(i).key(), lit)) return new State(new InObj(o.s(), i + 1, COLON, i), below.below(), false);
            throw new IllegalStateException("not a key of the object");
        }
        return finished(below);
    }

    private static State object(InObj o, int b, State below) {
        State self = new State(o, below, false);
        List<Schema.Prop> ps = o.s().props();
        switch (o.phase()) {
            case OPEN, KEY -> {
                if (b == '}' && o.phase() == OPEN && !requiredFrom(o, o.next())) return close(below);
                if (b != '"') return null;
                if (o.s().open())                                    // any key: a string, then ':'
                    return new State(new InStr(0, 0, -1, false, 0, 0, 0), new State(new InObj(o.s(), 0, KEY, -1), below, false), false);
                List<byte[]> keys = new ArrayList<>();
                for (int i = o.next(); i < ps.size(); i++) {         // the next properties, up to the first required one
                    keys.add(ps.get(i).key());
                    if (ps.get(i).required()) break;
                }
                if (keys.isEmpty()) return null;
                return feed(new State(new InLit(List.copyOf(keys), 0), new State(new InObj(o.s(), o.next(), KEY, -1), below, false), false), b);
            }
            case COLON -> {
                if (b != ':') return null;
                Schema v = o.prop() >= 0 ? ps.get(o.prop()).value() : new Schema.Any();
                return new State(new Start(v), new State(new InObj(o.s(), o.next(), VALUE, o.prop()), below, false), false);
            }
            case AFTER -> {
                if (b == '}') return requiredFrom(o, o.next()) ? null : close(below);
                if (b != ',') return null;
                if (!o.s().open() && o.next() >= ps.size()) return null;
                return new State(new InObj(o.s(), o.next(), KEY, -1), below, false);
            }
            default -> throw new IllegalStateException("object phase " + o.phase() + " with no value above it: " + self);
        }
    }

    private static boolean requiredFrom(InObj o, int i) {
        for (int k = i; k < o.s().props().size(); k++) if (o.s().props().get(k).required()) return true;
        return false;
    }

    private static State close(State below) { return below == null ? new State(new Start(new Schema.Any()), null, true) : finished(below); }

    private static State array(InArr a, int b, State below) {
        Schema.Arr s = a.s();
        switch (a.phase()) {
            case OPEN -> {
                if (b == ']') return s.min() == 0 ? close(below) : null;
                if (s.max() == 0) return null;
                return item(a, b, below);
            }
            case COMMA -> { return item(a, b, below); }
            case AFTER -> {
                if (b == ']') return a.count() >= s.min() ? close(below) : null;
                if (b != ',' || s.max() >= 0 && a.count() >= s.max()) return null;
                return new State(new InArr(s, a.count(), COMMA), below, false);
            }
            default -> throw new IllegalStateException("array phase " + a.phase() + " with no item above it");
        }
    }

    private static State item(InArr a, int b, State below) {
        return begin(a.s().items(), b, new State(new InArr(a.s(), a.count(), VALUE), below, false));
    }

    // ---- how far from the end -------------------------------------------------------------------------

    /** The fewest bytes that complete the text from st (0 when accepting). */
    public static int remaining(State st) {
        if (st.done()) return 0;
        int n = 0;
        for (State s = st; s != null; s = s.below()) {
            Frame f = s.top();
            if (s.below() != null && s.below().top() instanceof InObj o && o.phase() == KEY && !(f instanceof Start)) {
                // a key in progress: what it still needs depends on which property it names
                n += f instanceof InLit l ? keyed(l, o) : remaining(f) + 1 + 1 + 1;    // an open object's key: then ':', a value, '}'
                s = s.below();
                continue;
            }
            n += remaining(f);
        }
        return n;
    }

    /** The fewest bytes that finish object o from a key literal l in progress: the key, ':', its value, the required members after it, '}'. */
    private static int keyed(InLit l, InObj o) {
        List<Schema.Prop> ps = o.s().props();
        int best = Integer.MAX_VALUE;
        for (int i = o.next(); i < ps.size(); i++) {
            Schema.Prop p = ps.get(i);
            boolean named = false;
            for (byte[] c : l.candidates()) named |= java.util.Arrays.equals(c, p.key());
            if (!named) continue;
            int n = p.key().length - l.pos() + 1 + Schema.minLength(p.value()) + 1;
            for (int k = i + 1; k < ps.size(); k++)
                if (ps.get(k).required()) n += 1 + ps.get(k).key().length + 1 + Schema.minLength(ps.get(k).value());
            best = Math.min(best, n);
        }
        return best;
    }

    private static int remaining(Frame f) {
        return switch (f) {
            case Start s -> Schema.minLength(s.s());
            case InStr s -> (s.escape() ? 1 : 0) + s.due() + Math.max(0, s.min() - s.chars() - (s.escape() ? 1 : 0)) + 1;
            case InNum n -> n.phase() == MINUS || n.phase() == DOT || n.phase() == E || n.phase() == ESIGN || n.phase() == START ? 1 : 0;
            case InLit l -> {
                int best = Integer.MAX_VALUE;
                for (byte[] c : l.candidates()) best = Math.min(best, c.length - l.pos());
                yield best;
            }
            case InObj o -> {
                int req = 0, members = 0, optional = Integer.MAX_VALUE;   // the required members still due (key, ':', value), the cheapest optional one
                for (int k = o.next(); k < o.s().props().size(); k++) {
                    Schema.Prop p = o.s().props().get(k);
                    int m = p.key().length + 1 + Schema.minLength(p.value());
                    if (p.required()) { req++; members += m; } else optional = Math.min(optional, m);
                }
                yield switch (o.phase()) {
                    case OPEN -> members + Math.max(0, req - 1) + 1;
                    case KEY -> o.s().open() ? 2 + 1 + 1 + 1                           // "":0}
                            : req > 0 ? members + req - 1 + 1 : optional + 1;           // a member is due after the comma
                    case COLON -> 1 + Schema.minLength(o.prop() >= 0 ? o.s().props().get(o.prop()).value() : new Schema.Any()) + members + req + 1;
                    default -> members + req + 1;                                       // AFTER, VALUE (the value above counts itself)
                };
            }
            case InArr a -> {
                int item = Schema.minLength(a.s().items());
                int due = switch (a.phase()) {
                    case OPEN -> a.s().min();
                    case COMMA -> Math.max(1, a.s().min() - a.count());
                    case VALUE -> Math.max(0, a.s().min() - a.count() - 1);
                    default -> Math.max(0, a.s().min() - a.count());
                };
                yield switch (a.phase()) {
                    case OPEN, COMMA -> due * item + Math.max(0, due - 1) + 1;
                    default -> due * (item + 1) + 1;
                };
            }
        };
    }
}
