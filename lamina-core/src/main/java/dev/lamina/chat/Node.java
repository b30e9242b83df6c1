package dev.lamina.chat;

import java.util.List;

/** A parsed Jinja template: statements (with the line they start on) and expressions. */
sealed interface Node {
    int line();

    record Text(String text, int line) implements Node {}
    record Output(Expr value, int line) implements Node {}
    record If(List<Expr> conditions, List<List<Node>> branches, List<Node> otherwise, int line) implements Node {}
    /** {@code for targets in iterable [if filter]}, with the {@code else} body run when nothing was iterated. */
    record For(List<String> targets, Expr iterable, Expr filter, List<Node> body, List<Node> otherwise, int line) implements Node {}
    /** {@code set a = v}, {@code set a, b = v}, or {@code set ns.attr = v} (namespace non-null). */
    record Set(String namespace, List<String> targets, Expr value, int line) implements Node {}
    /** {@code set name | filters}...{@code endset}: the rendered body, filtered. */
    record SetBlock(String target, List<Expr.Filter> filters, List<Node> body, int line) implements Node {}
    record Macro(String name, List<String> params, List<Expr> defaults, List<Node> body, int line) implements Node {}
    /** {@code filter a | b}...{@code endfilter}: the rendered body through filters a then b. */
    record FilterBlock(List<Expr.Filter> filters, List<Node> body, int line) implements Node {}
    record Break(int line) implements Node {}
    record Continue(int line) implements Node {}

    sealed interface Expr {
        record Const(Object value) implements Expr {}
        record Name(String name) implements Expr {}
        record Attr(Expr target, String name) implements Expr {}
        record Item(Expr target, Expr key) implements Expr {}
        record Slice(Expr target, Expr start, Expr stop, Expr step) implements Expr {}
        record Call(Expr callee, Args args) implements Expr {}
        record Filter(Expr value, String name, Args args) implements Expr {}
        record Test(Expr value, String name, Args args, boolean negated) implements Expr {}
        record Unary(String op, Expr operand) implements Expr {}
        record Binary(String op, Expr left, Expr right) implements Expr {}
        /** A chain {@code a < b <= c}: ops.get(i) compares operands i and i+1. */
        record Compare(List<Expr> operands, List<String> ops) implements Expr {}
        record Conditional(Expr condition, Expr then, Expr otherwise) implements Expr {}
        record ListLiteral(List<Expr> items, boolean tuple) implements Expr {}
        record DictLiteral(List<Expr> keys, List<Expr> values) implements Expr {}
    }

    /** Call arguments: positional, keyword (in order), and {@code *args} / {@code **kwargs} if given. */
    record Args(List<Expr> positional, List<String> names, List<Expr> named, Expr star, Expr doubleStar) {
        static final Args NONE = new Args(List.of(), List.of(), List.of(), null, null);
    }
}
