package dev.lamina.chat;

import dev.lamina.chat.Node.Args;
import dev.lamina.chat.Node.Expr;
import dev.lamina.chat.Py.Undefined;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a parsed template the way jinja2's ImmutableSandboxedEnvironment does: a for body is a new
 * scope on each iteration, if is not a scope, a macro sees its arguments and the template's top
 * level, and no list or dict can be changed (only namespaces can).
 */
final class Interpreter {

    /** raise_exception(message) from the template. */
    static final class Raised extends RuntimeException {
        Raised(String message) { super(message, null, false, false); }
    }

    /** A runtime error at a template line. */
    static final class Failure extends RuntimeException {
        final int line;
        Failure(String message, int line) {
            super(message, null, false, false);
            this.line = line;
        }
    }

    private enum Flow { NEXT, BREAK, CONTINUE }

    private static final class Scope {
        final Scope parent;
        final Map<String, Object> vars = new HashMap<>();
        Scope(Scope parent) { this.parent = parent; }

        Object lookup(String name) {
            for (Scope s = this; s != null; s = s.parent) {
                if (s.vars.containsKey(name)) return s.vars.get(name);
            }
            return Undefined.named(name);
        }
    }

    private final Scope root;
    private final Builtins builtins;
    private int line;

    Interpreter(Map<String, Object> globals, Builtins builtins) {
        this.root = new Scope(null);
        this.root.vars.putAll(globals);
        this.builtins = builtins;
    }

    String render(List<Node> template) {
        StringBuilder out = new StringBuilder();
        try {
            run(template, root, out);
        } catch (Py.Error e) {
            throw new Failure(e.getMessage(), line);
        } catch (StackOverflowError e) {
            throw new Failure("recursion too deep", line);
        }
        return out.toString();
    }

    // ---------------------------------------------------------------- statements

    private Flow run(List<Node> body, Scope scope, StringBuilder out) {
        for (Node node : body) {
            line = node.line();
            Flow flow = switch (node) {
                case Node.Text t -> { out.append(t.text()); yield Flow.NEXT; }
                case Node.Output o -> { out.append(Py.str(eval(o.value(), scope))); yield Flow.NEXT; }
                case Node.If i -> runIf(i, scope, out);
                case Node.For f -> { runFor(f, scope, out); yield Flow.NEXT; }
                case Node.Set s -> { assign(s, scope); yield Flow.NEXT; }
                case Node.SetBlock s -> {
                    StringBuilder captured = new StringBuilder();
                    run(s.body(), scope, captured);
                    scope.vars.put(s.target(), applyFilters(s.filters(), captured.toString(), scope));
                    yield Flow.NEXT;
                }
                case Node.FilterBlock f -> {
                    StringBuilder captured = new StringBuilder();
                    Flow inner = run(f.body(), scope, captured);
                    out.append(Py.str(applyFilters(f.filters(), captured.toString(), scope)));
                    yield inner;
                }
                case Node.Macro m -> { scope.vars.put(m.name(), macro(m)); yield Flow.NEXT; }
                case Node.Break b -> Flow.BREAK;
                case Node.Continue c -> Flow.CONTINUE;
            };
            if (flow != Flow.NEXT) return flow;
        }
        return Flow.NEXT;
    }

    private Flow runIf(Node.If node, Scope scope, StringBuilder out) {
        for (int i = 0; i < node.conditions().size(); i++) {
            if (Py.truthy(eval(node.conditions().get(i), scope))) return run(node.branches().get(i), scope, out);
        }
        return run(node.otherwise(), scope, out);
    }

    private void runFor(Node.For node, Scope scope, StringBuilder out) {
        List<Object> items = new ArrayList<>();
        for (Object item : Py.iterate(eval(node.iterable(), scope))) {
            if (node.filter() != null) {
                Scope probe = new Scope(scope);
                bind(node.targets(), item, probe);
                if (!Py.truthy(eval(node.filter(), probe))) continue;
            }
            items.add(item);
        }
        if (items.isEmpty()) {
            run(node.otherwise(), scope, out);
            return;
        }
        for (int i = 0; i < items.size(); i++) {
            Scope body = new Scope(scope);
            bind(node.targets(), items.get(i), body);
            body.vars.put("loop", new Loop(items, i));
            if (run(node.body(), body, out) == Flow.BREAK) break;
        }
    }

    private static void bind(List<String> targets, Object value, Scope scope) {
        if (targets.size() == 1) {
            scope.vars.put(targets.getFirst(), value);
            return;
        }
        List<Object> parts = Py.toList(value);
        if (parts.size() != targets.size()) {
            throw new Py.Error((parts.size() < targets.size() ? "not enough" : "too many") + " values to unpack (expected " + targets.size() + ", got " + parts.size() + ")");
        }
        for (int i = 0; i < targets.size(); i++) scope.vars.put(targets.get(i), parts.get(i));
    }

    private void assign(Node.Set s, Scope scope) {
        Object value = eval(s.value(), scope);
        if (s.namespace() == null) {
            bind(s.targets(), value, scope);
            return;
        }
        Object target = scope.lookup(s.namespace());
        if (!(target instanceof Py.Namespace ns)) throw new Py.Error("cannot assign attribute on non-namespace object");
        ns.attributes.put(s.targets().getFirst(), value);
    }

    private Object applyFilters(List<Expr.Filter> filters, Object value, Scope scope) {
        for (Expr.Filter f : filters) value = builtins.filter(f.name(), value, evalArgs(f.args(), scope), this);
        return value;
    }

    // ---------------------------------------------------------------- macros and loops

    private Py.Callable macro(Node.Macro m) {
        return (args, kwargs) -> {
            Scope scope = new Scope(root);
            Map<String, Object> extra = new LinkedHashMap<>(kwargs);
            int firstDefault = m.params().size() - m.defaults().size();
            for (int i = 0; i < m.params().size(); i++) {
                String p = m.params().get(i);
                Object value;
                if (i < args.size()) {
                    if (extra.containsKey(p)) throw new Py.Error("macro '" + m.name() + "' got multiple values for argument '" + p + "'");
                    value = args.get(i);
                } else if (extra.containsKey(p)) value = extra.remove(p);
                else if (i >= firstDefault) value = eval(m.defaults().get(i - firstDefault), scope);
                else value = new Undefined("parameter '" + p + "' was not provided");
                scope.vars.put(p, value);
            }
            scope.vars.put("varargs", args.size() > m.params().size() ? new ArrayList<>(args.subList(m.params().size(), args.size())) : List.of());
            scope.vars.put("kwargs", extra);
            StringBuilder out = new StringBuilder();
            int callerLine = line;
            run(m.body(), scope, out);
            line = callerLine;
            return out.toString();
        };
    }

    /** The {@code loop} variable of a for body. */
    record Loop(List<Object> items, int index) {
        Object attribute(String name) {
            int n = items.size();
            return switch (name) {
                case "index" -> (long) index + 1;
                case "index0" -> (long) index;
                case "revindex" -> (long) (n - index);
                case "revindex0" -> (long) (n - index - 1);
                case "first" -> index == 0;
                case "last" -> index == n - 1;
                case "length" -> (long) n;
                case "depth" -> 1L;
                case "depth0" -> 0L;
                case "previtem" -> index > 0 ? items.get(index - 1) : new Undefined("there is no previous item");
                case "nextitem" -> index < n - 1 ? items.get(index + 1) : new Undefined("there is no next item");
                case "cycle" -> (Py.Callable) (args, kw) -> {
                    if (args.isEmpty()) throw new Py.Error("no items for cycling given");
                    return args.get(index % args.size());
                };
                default -> new Undefined("'LoopContext object' has no attribute '" + name + "'");
            };
        }
    }

    // ---------------------------------------------------------------- expressions

    Object eval(Expr e, Scope scope) {
        return switch (e) {
            case Expr.Const c -> c.value();
            case Expr.Name n -> scope.lookup(n.name());
            case Expr.Attr a -> builtins.attribute(eval(a.target(), scope), a.name());
            case Expr.Item i -> builtins.item(eval(i.target(), scope), eval(i.key(), scope));
            case Expr.Slice s -> {
                Object target = eval(s.target(), scope);
                if (target instanceof Undefined u) throw u.fail();
                yield Py.slice(target, evalOrNull(s.start(), scope), evalOrNull(s.stop(), scope), evalOrNull(s.step(), scope));
            }
            case Expr.Call c -> call(eval(c.callee(), scope), evalArgs(c.args(), scope));
            case Expr.Filter f -> builtins.filter(f.name(), eval(f.value(), scope), evalArgs(f.args(), scope), this);
            case Expr.Test t -> {
                boolean result = builtins.test(t.name(), eval(t.value(), scope), evalArgs(t.args(), scope).positional());
                yield t.negated() != result;
            }
            case Expr.Unary u -> unary(u.op(), eval(u.operand(), scope));
            case Expr.Binary b -> switch (b.op()) {
                case "and" -> {
                    Object left = eval(b.left(), scope);
                    yield Py.truthy(left) ? eval(b.right(), scope) : left;
                }
                case "or" -> {
                    Object left = eval(b.left(), scope);
                    yield Py.truthy(left) ? left : eval(b.right(), scope);
                }
                default -> Operators.binary(b.op(), eval(b.left(), scope), eval(b.right(), scope));
            };
            case Expr.Compare c -> {
                Object left = eval(c.operands().getFirst(), scope);
                for (int i = 0; i < c.ops().size(); i++) {
                    Object right = eval(c.operands().get(i + 1), scope);
                    if (!Operators.compare(c.ops().get(i), left, right)) yield false;
                    left = right;
                }
                yield true;
            }
            case Expr.Conditional c -> Py.truthy(eval(c.condition(), scope)) ? eval(c.then(), scope)
                    : c.otherwise() == null ? new Undefined("the inline if-expression evaluated to false and no else section was defined.")
                    : eval(c.otherwise(), scope);
            case Expr.ListLiteral l -> {
                List<Object> items = new ArrayList<>();
                for (Expr item : l.items()) items.add(eval(item, scope));
                yield l.tuple() ? new Py.Tuple(items.toArray()) : items;
            }
            case Expr.DictLiteral d -> {
                Map<Object, Object> map = new LinkedHashMap<>();
                for (int i = 0; i < d.keys().size(); i++) map.put(Py.normalizeKey(eval(d.keys().get(i), scope)), eval(d.values().get(i), scope));
                yield map;
            }
        };
    }

    private Object evalOrNull(Expr e, Scope scope) {
        return e == null ? null : eval(e, scope);
    }

    /** Evaluated call arguments. */
    record Values(List<Object> positional, Map<String, Object> named) {}

    private Values evalArgs(Args args, Scope scope) {
        List<Object> positional = new ArrayList<>();
        for (Expr a : args.positional()) positional.add(eval(a, scope));
        if (args.star() != null) positional.addAll(Py.toList(eval(args.star(), scope)));
        Map<String, Object> named = new LinkedHashMap<>();
        for (int i = 0; i < args.names().size(); i++) named.put(args.names().get(i), eval(args.named().get(i), scope));
        if (args.doubleStar() != null) {
            if (!(eval(args.doubleStar(), scope) instanceof Map<?, ?> m)) throw new Py.Error("argument after ** must be a mapping");
            m.forEach((k, v) -> named.put(Py.str(k), v));
        }
        return new Values(positional, named);
    }

    static Object call(Object callee, Values args) {
        return switch (callee) {
            case Py.Callable c -> c.call(args.positional(), args.named());
            case Undefined u -> throw u.fail();
            case null, default -> throw new Py.Error("'" + Py.typeName(callee) + "' object is not callable");
        };
    }

    private static Object unary(String op, Object v) {
        if (op.equals("not")) return !Py.truthy(v);
        if (v instanceof Undefined u) throw u.fail();
        if (!Py.isNumber(v)) throw new Py.Error("bad operand type for unary " + op + ": '" + Py.typeName(v) + "'");
        if (op.equals("+")) return v instanceof Boolean ? Py.toLong(v) : v;
        return v instanceof Double d ? (Object) (-d) : (Object) (-Py.toLong(v));
    }
}
