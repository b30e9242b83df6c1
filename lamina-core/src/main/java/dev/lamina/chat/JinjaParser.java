package dev.lamina.chat;

import dev.lamina.chat.Node.Args;
import dev.lamina.chat.Node.Expr;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Jinja's lexer and parser, with the settings Hugging Face renders chat templates with:
 * {@code trim_blocks} (the first newline after a block or comment tag is dropped) and
 * {@code lstrip_blocks} (spaces and tabs before a block or comment tag at the start of a line are
 * dropped), {@code -} and {@code +} on tags, and the loop controls {@code break}/{@code continue}.
 * The whitespace rules follow jinja2's lexer (3.1) step for step.
 */
final class JinjaParser {

    /** A template that is not valid Jinja, at a line. */
    static final class SyntaxError extends RuntimeException {
        final int line;
        SyntaxError(String message, int line) {
            super(message, null, false, false);
            this.line = line;
        }
    }

    private enum Kind { DATA, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INT, FLOAT, OP, EOF }

    private record Token(Kind kind, String text, Object value, int line) {
        boolean is(Kind k, String t) { return kind == k && text.equals(t); }
        boolean isName(String t) { return is(Kind.NAME, t); }
        boolean isOp(String t) { return is(Kind.OP, t); }
    }

    static List<Node> parse(String source) {
        return new JinjaParser(lex(source)).template();
    }

    // ---------------------------------------------------------------- lexer

    private static final String[] OPERATORS = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "~",
            "[", "]", "(", ")", "{", "}", "<", ">", "=", ".", ":", "|", ",", ";"};

    private static List<Token> lex(String text) {
        // Lines end in \n whatever the source used; one trailing newline is dropped (keep_trailing_newline off)
        String src = text.replace("\r\n", "\n").replace('\r', '\n');
        if (src.endsWith("\n")) src = src.substring(0, src.length() - 1);
        List<Token> out = new ArrayList<>();
        int pos = 0, line = 1;
        boolean lineStarting = true;
        while (pos < src.length()) {
            int tag = nextTag(src, pos);
            if (tag < 0) {
                out.add(new Token(Kind.DATA, src.substring(pos), null, line));
                break;
            }
            char type = src.charAt(tag + 1); // '{', '%' or '#'
            int after = tag + 2;
            char sign = after < src.length() && (src.charAt(after) == '-' || src.charAt(after) == '+') ? src.charAt(after) : 0;
            String data = src.substring(pos, tag);
            int dataLines = count(data);
            if (sign == '-') {
                data = Py.strip(data, null, false, true);
            } else if (sign != '+' && type != '{') {
                int lineStart = data.lastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && lineStart < data.length() && allSpace(data, lineStart)) {
                    data = data.substring(0, lineStart);
                }
            }
            if (!data.isEmpty()) out.add(new Token(Kind.DATA, data, null, line));
            line += dataLines;
            pos = after + (sign != 0 ? 1 : 0);
            if (type == '#') {
                int end = src.indexOf("#}", pos);
                if (end < 0) throw new SyntaxError("Missing end of comment tag", line);
                line += count(src.substring(pos, end));
                char endSign = end > pos ? src.charAt(end - 1) : 0;
                pos = closeTag(src, end + 2, endSign);
                line += count(src.substring(end, pos));
            } else {
                boolean block = type == '%';
                out.add(new Token(block ? Kind.BLOCK_BEGIN : Kind.VAR_BEGIN, block ? "{%" : "{{", null, line));
                int[] state = {pos, line};
                lexTag(src, state, out, block);
                pos = state[0];
                line = state[1];
            }
            lineStarting = pos > 0 && src.charAt(pos - 1) == '\n';
        }
        out.add(new Token(Kind.EOF, "", null, line));
        return out;
    }

    /** The first {@code {{}, {@code {%} or {@code {#} at or after pos, or -1. */
    private static int nextTag(String s, int pos) {
        for (int i = s.indexOf('{', pos); i >= 0 && i + 1 < s.length(); i = s.indexOf('{', i + 1)) {
            char c = s.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') return i;
        }
        return -1;
    }

    /** The position after a closing tag whose delimiter ends at end: {@code -} eats all following whitespace, else one newline. */
    private static int closeTag(String s, int end, char sign) {
        if (sign == '-') {
            while (end < s.length() && Py.isSpace(s.charAt(end))) end++;
        } else if (sign != '+' && end < s.length() && s.charAt(end) == '\n') {
            end++;
        }
        return end;
    }

    /** Tokens inside {{ }} or {% %} up to the closing delimiter; state = {pos, line}. */
    private static void lexTag(String s, int[] state, List<Token> out, boolean block) {
        int pos = state[0], line = state[1];
        String close = block ? "%}" : "}}";
        List<Character> brackets = new ArrayList<>();
        while (true) {
            if (pos >= s.length()) throw new SyntaxError("unexpected end of template, expected '" + close + "'", line);
            char c = s.charAt(pos);
            if (brackets.isEmpty()) {
                // %} drops one newline after it, -%} and -}} all whitespace, +%} nothing
                char sign = (c == '-' || c == '+' && block) && s.startsWith(close, pos + 1) ? c : 0;
                if (sign != 0 || s.startsWith(close, pos)) {
                    out.add(new Token(block ? Kind.BLOCK_END : Kind.VAR_END, close, null, line));
                    int end = pos + (sign != 0 ? 3 : 2);
                    state[0] = block || sign == '-' ? closeTag(s, end, sign) : end;
                    state[1] = line + count(s.substring(end, state[0]));
                    return;
                }
            }
            if (Py.isSpace(c)) {
                if (c == '\n') line++;
                pos++;
            } else if (Character.isDigit(c)) {
                pos = number(s, pos, line, out);
            } else if (Character.isLetter(c) || c == '_') {
                int end = pos;
                while (end < s.length() && (Character.isLetterOrDigit(s.charAt(end)) || s.charAt(end) == '_')) end++;
                out.add(new Token(Kind.NAME, s.substring(pos, end), null, line));
                pos = end;
            } else if (c == '\'' || c == '"') {
                int end = pos + 1;
                while (end < s.length() && s.charAt(end) != c) end += s.charAt(end) == '\\' ? 2 : 1;
                if (end >= s.length()) throw new SyntaxError("unexpected end of string", line);
                String raw = s.substring(pos + 1, end);
                out.add(new Token(Kind.STRING, s.substring(pos, end + 1), unescape(raw), line));
                line += count(raw);
                pos = end + 1;
            } else {
                String op = null;
                for (String o : OPERATORS) if (s.startsWith(o, pos)) { op = o; break; }
                if (op == null) throw new SyntaxError("unexpected char '" + c + "'", line);
                switch (op) {
                    case "(" -> brackets.add(')');
                    case "[" -> brackets.add(']');
                    case "{" -> brackets.add('}');
                    case ")", "]", "}" -> {
                        if (brackets.isEmpty()) throw new SyntaxError("unexpected '" + op + "'", line);
                        char expected = brackets.removeLast();
                        if (expected != op.charAt(0)) throw new SyntaxError("unexpected '" + op + "', expected '" + expected + "'", line);
                    }
                    default -> {}
                }
                out.add(new Token(Kind.OP, op, null, line));
                pos += op.length();
            }
        }
    }

    private static int number(String s, int pos, int line, List<Token> out) {
        int end = digits(s, pos);
        boolean isFloat = false;
        if (end + 1 < s.length() && s.charAt(end) == '.' && Character.isDigit(s.charAt(end + 1))) {
            end = digits(s, end + 1);
            isFloat = true;
        }
        if (end < s.length() && (s.charAt(end) == 'e' || s.charAt(end) == 'E')) {
            int e = end + 1;
            if (e < s.length() && (s.charAt(e) == '+' || s.charAt(e) == '-')) e++;
            if (e < s.length() && Character.isDigit(s.charAt(e))) {
                end = digits(s, e);
                isFloat = true;
            }
        }
        String text = s.substring(pos, end);
        String plain = text.replace("_", "");
        boolean afterDot = pos > 0 && s.charAt(pos - 1) == '.';
        if (isFloat && !afterDot) out.add(new Token(Kind.FLOAT, text, Double.parseDouble(plain), line));
        else {
            end = digits(s, pos); // after a dot (x.0.1) only the integer part is one token
            text = s.substring(pos, end);
            out.add(new Token(Kind.INT, text, Long.parseLong(text.replace("_", "")), line));
        }
        return end;
    }

    private static int digits(String s, int pos) {
        while (pos < s.length() && (Character.isDigit(s.charAt(pos))
                || s.charAt(pos) == '_' && pos + 1 < s.length() && Character.isDigit(s.charAt(pos + 1)))) pos++;
        return pos;
    }

    /** A string literal's escapes, as Python's unicode-escape decodes them (unknown ones stay). */
    private static String unescape(String raw) {
        if (raw.indexOf('\\') < 0) return raw;
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c != '\\' || i + 1 >= raw.length()) { out.append(c); continue; }
            char e = raw.charAt(++i);
            switch (e) {
                case 'n' -> out.append('\n');
                case 't' -> out.append('\t');
                case 'r' -> out.append('\r');
                case 'b' -> out.append('\b');
                case 'f' -> out.append('\f');
                case 'v' -> out.append('\u000b');
                case 'a' -> out.append('\u0007');
                case '\\', '\'', '"' -> out.append(e);
                case '\n' -> {}
                case 'x', 'u', 'U' -> {
                    int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    try {
                        out.appendCodePoint(Integer.parseInt(raw.substring(i + 1, i + 1 + n), 16));
                    } catch (RuntimeException bad) {
                        throw new SyntaxError("truncated \\" + e + " escape in a string", 0);
                    }
                    i += n;
                }
                default -> {
                    if (e >= '0' && e <= '7') {
                        int end = i;
                        while (end < raw.length() && end < i + 3 && raw.charAt(end) >= '0' && raw.charAt(end) <= '7') end++;
                        out.append((char) Integer.parseInt(raw.substring(i, end), 8));
                        i = end - 1;
                    } else {
                        out.append('\\').append(e);
                    }
                }
            }
        }
        return out.toString();
    }

    private static boolean allSpace(String s, int from) {
        for (int i = from; i < s.length(); i++) if (!Py.isSpace(s.charAt(i))) return false;
        return true;
    }

    private static int count(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) == '\n') n++;
        return n;
    }

    // ---------------------------------------------------------------- parser

    private final List<Token> tokens;
    private int at;

    private JinjaParser(List<Token> tokens) { this.tokens = tokens; }

    private Token peek() { return tokens.get(at); }
    private Token peek(int ahead) { return tokens.get(Math.min(at + ahead, tokens.size() - 1)); }
    private Token next() { return tokens.get(at++); }

    private Token expect(Kind kind, String text) {
        Token t = next();
        if (t.kind != kind || text != null && !t.text.equals(text)) {
            String wanted = text != null ? "'" + text + "'" : kind.name().toLowerCase();
            throw new SyntaxError("expected " + wanted + ", got " + describe(t), t.line);
        }
        return t;
    }

    private static String describe(Token t) {
        return switch (t.kind) {
            case EOF -> "end of template";
            case BLOCK_END -> "end of statement block";
            case VAR_END -> "end of print statement";
            default -> "'" + t.text + "'";
        };
    }

    private String name() { return expect(Kind.NAME, null).text; }

    private List<Node> template() {
        return statements(Set.of());
    }

    /** Statements up to (not consuming) a block tag named in ends, or the end of the template. */
    private List<Node> statements(Set<String> ends) {
        List<Node> out = new ArrayList<>();
        while (true) {
            Token t = peek();
            switch (t.kind) {
                case EOF -> {
                    if (!ends.isEmpty()) {
                        throw new SyntaxError("unexpected end of template, expected " + String.join(" or ", ends.stream().sorted().map(e -> "'" + e + "'").toList()) + ".", t.line);
                    }
                    return out;
                }
                case DATA -> { next(); out.add(new Node.Text(t.text, t.line)); }
                case VAR_BEGIN -> {
                    next();
                    out.add(new Node.Output(expression(), t.line));
                    expect(Kind.VAR_END, null);
                }
                case BLOCK_BEGIN -> {
                    Token keyword = peek(1);
                    if (keyword.kind == Kind.NAME && ends.contains(keyword.text)) return out;
                    next();
                    out.add(statement());
                }
                default -> throw new SyntaxError("unexpected " + describe(t), t.line);
            }
        }
    }

    private Node statement() {
        Token keyword = expect(Kind.NAME, null);
        int line = keyword.line;
        return switch (keyword.text) {
            case "if" -> ifStatement(line);
            case "for" -> forStatement(line);
            case "set" -> setStatement(line);
            case "macro" -> macro(line);
            case "filter" -> {
                List<Expr.Filter> filters = filters(false);
                expect(Kind.BLOCK_END, null);
                List<Node> body = statements(Set.of("endfilter"));
                endTag("endfilter");
                yield new Node.FilterBlock(filters, body, line);
            }
            case "generation" -> {
                // transformers' {% generation %} marks the assistant's text; rendering is unchanged
                expect(Kind.BLOCK_END, null);
                List<Node> body = statements(Set.of("endgeneration"));
                endTag("endgeneration");
                yield new Node.If(List.of(new Expr.Const(true)), List.of(body), List.of(), line);
            }
            case "break" -> { expect(Kind.BLOCK_END, null); yield new Node.Break(line); }
            case "continue" -> { expect(Kind.BLOCK_END, null); yield new Node.Continue(line); }
            default -> throw new SyntaxError("Encountered unknown tag '" + keyword.text + "'.", line);
        };
    }

    private void endTag(String name) {
        expect(Kind.BLOCK_BEGIN, null);
        expect(Kind.NAME, name);
        expect(Kind.BLOCK_END, null);
    }

    private Node ifStatement(int line) {
        List<Expr> conditions = new ArrayList<>();
        List<List<Node>> branches = new ArrayList<>();
        List<Node> otherwise = List.of();
        conditions.add(expression());
        expect(Kind.BLOCK_END, null);
        while (true) {
            branches.add(statements(Set.of("elif", "else", "endif")));
            expect(Kind.BLOCK_BEGIN, null);
            String tag = name();
            if (tag.equals("elif")) {
                conditions.add(expression());
                expect(Kind.BLOCK_END, null);
            } else if (tag.equals("else")) {
                expect(Kind.BLOCK_END, null);
                otherwise = statements(Set.of("endif"));
                endTag("endif");
                break;
            } else {
                expect(Kind.BLOCK_END, null);
                break;
            }
        }
        return new Node.If(conditions, branches, otherwise, line);
    }

    private Node forStatement(int line) {
        List<String> targets = new ArrayList<>();
        boolean paren = peek().isOp("(");
        if (paren) next();
        targets.add(name());
        while (peek().isOp(",")) {
            next();
            if (peek().kind != Kind.NAME || peek().isName("in")) break;
            targets.add(name());
        }
        if (paren) expect(Kind.OP, ")");
        expect(Kind.NAME, "in");
        Expr iterable = conditional(false);
        Expr filter = null;
        if (peek().isName("if")) {
            next();
            filter = expression();
        }
        if (peek().isName("recursive")) throw new SyntaxError("recursive loops are not supported", line);
        expect(Kind.BLOCK_END, null);
        List<Node> body = statements(Set.of("else", "endfor"));
        List<Node> otherwise = List.of();
        expect(Kind.BLOCK_BEGIN, null);
        if (name().equals("else")) {
            expect(Kind.BLOCK_END, null);
            otherwise = statements(Set.of("endfor"));
            endTag("endfor");
        } else {
            expect(Kind.BLOCK_END, null);
        }
        return new Node.For(targets, iterable, filter, body, otherwise, line);
    }

    private Node setStatement(int line) {
        String first = name();
        if (peek().isOp(".")) {
            next();
            String attr = name();
            expect(Kind.OP, "=");
            Expr value = expression();
            expect(Kind.BLOCK_END, null);
            return new Node.Set(first, List.of(attr), value, line);
        }
        List<String> targets = new ArrayList<>(List.of(first));
        while (peek().isOp(",")) {
            next();
            targets.add(name());
        }
        if (peek().isOp("=")) {
            next();
            Expr value = expression();
            expect(Kind.BLOCK_END, null);
            return new Node.Set(null, targets, value, line);
        }
        if (targets.size() > 1) throw new SyntaxError("expected '='", line);
        List<Expr.Filter> filters = peek().isOp("|") ? filters(true) : List.of();
        expect(Kind.BLOCK_END, null);
        List<Node> body = statements(Set.of("endset"));
        endTag("endset");
        return new Node.SetBlock(first, filters, body, line);
    }

    private Node macro(int line) {
        String name = name();
        List<String> params = new ArrayList<>();
        List<Expr> defaults = new ArrayList<>();
        expect(Kind.OP, "(");
        while (!peek().isOp(")")) {
            if (!params.isEmpty()) expect(Kind.OP, ",");
            if (peek().isOp(")")) break;
            params.add(name());
            if (peek().isOp("=")) {
                next();
                defaults.add(conditional(true));
            } else {
                if (!defaults.isEmpty()) throw new SyntaxError("non-default argument follows default argument", line);
            }
        }
        next();
        expect(Kind.BLOCK_END, null);
        List<Node> body = statements(Set.of("endmacro"));
        expect(Kind.BLOCK_BEGIN, null);
        expect(Kind.NAME, "endmacro");
        if (peek().kind == Kind.NAME) next(); // {% endmacro name %}
        expect(Kind.BLOCK_END, null);
        return new Node.Macro(name, params, defaults, body, line);
    }

    // ---------------------------------------------------------------- expressions

    /** An expression; a bare {@code a, b} is a tuple. */
    private Expr expression() {
        Expr first = conditional(true);
        if (!peek().isOp(",")) return first;
        List<Expr> items = new ArrayList<>(List.of(first));
        while (peek().isOp(",")) {
            next();
            if (peek().kind == Kind.BLOCK_END || peek().kind == Kind.VAR_END || peek().isOp(")") || peek().isOp("=")) break;
            items.add(conditional(true));
        }
        return new Expr.ListLiteral(items, true);
    }

    private Expr conditional(boolean withCondition) {
        Expr value = or();
        if (!withCondition) return value;
        while (peek().isName("if")) {
            next();
            Expr condition = or();
            Expr otherwise = null;
            if (peek().isName("else")) {
                next();
                otherwise = conditional(true);
            }
            value = new Expr.Conditional(condition, value, otherwise);
        }
        return value;
    }

    private Expr or() {
        Expr left = and();
        while (peek().isName("or")) {
            next();
            left = new Expr.Binary("or", left, and());
        }
        return left;
    }

    private Expr and() {
        Expr left = not();
        while (peek().isName("and")) {
            next();
            left = new Expr.Binary("and", left, not());
        }
        return left;
    }

    private Expr not() {
        if (peek().isName("not")) {
            next();
            return new Expr.Unary("not", not());
        }
        return compare();
    }

    private Expr compare() {
        Expr first = math1();
        List<Expr> operands = new ArrayList<>(List.of(first));
        List<String> ops = new ArrayList<>();
        while (true) {
            Token t = peek();
            String op;
            if (t.kind == Kind.OP && Set.of("==", "!=", "<", "<=", ">", ">=").contains(t.text)) { next(); op = t.text; }
            else if (t.isName("in")) { next(); op = "in"; }
            else if (t.isName("not") && peek(1).isName("in")) { next(); next(); op = "not in"; }
            else break;
            ops.add(op);
            operands.add(math1());
        }
        return ops.isEmpty() ? first : new Expr.Compare(operands, ops);
    }

    private Expr math1() {
        Expr left = concat();
        while (peek().isOp("+") || peek().isOp("-")) {
            String op = next().text;
            left = new Expr.Binary(op, left, concat());
        }
        return left;
    }

    private Expr concat() {
        Expr left = math2();
        while (peek().isOp("~")) {
            next();
            left = new Expr.Binary("~", left, math2());
        }
        return left;
    }

    private Expr math2() {
        Expr left = pow();
        while (peek().isOp("*") || peek().isOp("/") || peek().isOp("//") || peek().isOp("%")) {
            String op = next().text;
            left = new Expr.Binary(op, left, pow());
        }
        return left;
    }

    private Expr pow() {
        Expr left = unary(true);
        while (peek().isOp("**")) {
            next();
            left = new Expr.Binary("**", left, unary(true));
        }
        return left;
    }

    private Expr unary(boolean withFilter) {
        Expr value;
        if (peek().isOp("-") || peek().isOp("+")) {
            String op = next().text;
            value = new Expr.Unary(op, unary(false));
        } else {
            value = postfix(primary());
        }
        return withFilter ? filterChain(value) : value;
    }

    private Expr primary() {
        Token t = next();
        return switch (t.kind) {
            case NAME -> switch (t.text) {
                case "true", "True" -> new Expr.Const(true);
                case "false", "False" -> new Expr.Const(false);
                case "none", "None" -> new Expr.Const(null);
                default -> new Expr.Name(t.text);
            };
            case STRING -> {
                StringBuilder s = new StringBuilder((String) t.value);
                while (peek().kind == Kind.STRING) s.append((String) next().value);
                yield new Expr.Const(s.toString());
            }
            case INT, FLOAT -> new Expr.Const(t.value);
            case OP -> switch (t.text) {
                case "(" -> {
                    if (peek().isOp(")")) { next(); yield new Expr.ListLiteral(List.of(), true); }
                    Expr inner = expression();
                    expect(Kind.OP, ")");
                    yield inner;
                }
                case "[" -> {
                    List<Expr> items = new ArrayList<>();
                    while (!peek().isOp("]")) {
                        if (!items.isEmpty()) expect(Kind.OP, ",");
                        if (peek().isOp("]")) break;
                        items.add(conditional(true));
                    }
                    next();
                    yield new Expr.ListLiteral(items, false);
                }
                case "{" -> {
                    List<Expr> keys = new ArrayList<>(), values = new ArrayList<>();
                    while (!peek().isOp("}")) {
                        if (!keys.isEmpty()) expect(Kind.OP, ",");
                        if (peek().isOp("}")) break;
                        keys.add(conditional(true));
                        expect(Kind.OP, ":");
                        values.add(conditional(true));
                    }
                    next();
                    yield new Expr.DictLiteral(keys, values);
                }
                default -> throw new SyntaxError("unexpected '" + t.text + "'", t.line);
            };
            default -> throw new SyntaxError("unexpected " + describe(t), t.line);
        };
    }

    private Expr postfix(Expr value) {
        while (true) {
            Token t = peek();
            if (t.isOp(".")) {
                next();
                Token attr = next();
                if (attr.kind == Kind.NAME) value = new Expr.Attr(value, attr.text);
                else if (attr.kind == Kind.INT) value = new Expr.Item(value, new Expr.Const(attr.value));
                else throw new SyntaxError("expected name or number after '.'", attr.line);
            } else if (t.isOp("[")) {
                next();
                value = subscript(value);
            } else if (t.isOp("(")) {
                next();
                value = new Expr.Call(value, args());
            } else {
                return value;
            }
        }
    }

    private Expr subscript(Expr target) {
        Expr[] parts = new Expr[3];
        int part = 0;
        boolean slice = false;
        while (!peek().isOp("]")) {
            if (peek().isOp(":")) {
                next();
                slice = true;
                if (++part > 2) throw new SyntaxError("invalid slice", peek().line);
            } else {
                if (parts[part] != null) throw new SyntaxError("expected ']'", peek().line);
                parts[part] = slice ? conditional(true) : expression();
            }
        }
        next();
        if (!slice) {
            if (parts[0] == null) throw new SyntaxError("expected a subscript", peek().line);
            return new Expr.Item(target, parts[0]);
        }
        return new Expr.Slice(target, parts[0], parts[1], parts[2]);
    }

    /** Arguments after an opening parenthesis, through the closing one. */
    private Args args() {
        List<Expr> positional = new ArrayList<>(), named = new ArrayList<>();
        List<String> names = new ArrayList<>();
        Expr star = null, doubleStar = null;
        boolean first = true;
        while (!peek().isOp(")")) {
            if (!first) expect(Kind.OP, ",");
            first = false;
            if (peek().isOp(")")) break;
            if (peek().isOp("**")) {
                next();
                doubleStar = conditional(true);
            } else if (peek().isOp("*")) {
                next();
                star = conditional(true);
            } else if (peek().kind == Kind.NAME && peek(1).isOp("=")) {
                names.add(next().text);
                next();
                named.add(conditional(true));
            } else {
                if (!names.isEmpty()) throw new SyntaxError("positional argument follows keyword argument", peek().line);
                positional.add(conditional(true));
            }
        }
        next();
        return new Args(positional, names, named, star, doubleStar);
    }

    /** The filters of a filter or set block, first applied first; their values are placeholders. */
    private List<Expr.Filter> filters(boolean leadingPipe) {
        if (leadingPipe) expect(Kind.OP, "|");
        List<Expr.Filter> out = new ArrayList<>();
        while (true) {
            String name = dottedName();
            Args args = Args.NONE;
            if (peek().isOp("(")) { next(); args = args(); }
            out.add(new Expr.Filter(new Expr.Const(null), name, args));
            if (!peek().isOp("|")) return out;
            next();
        }
    }

    /** Filters ({@code | name(args)}), tests ({@code is [not] name args}) and calls after a value. */
    private Expr filterChain(Expr value) {
        while (true) {
            if (peek().isOp("|")) {
                next();
                String name = dottedName();
                Args args = Args.NONE;
                if (peek().isOp("(")) { next(); args = args(); }
                value = new Expr.Filter(value, name, args);
            } else if (peek().isName("is")) {
                next();
                boolean negated = peek().isName("not");
                if (negated) next();
                String name = dottedName();
                Args args = Args.NONE;
                Token t = peek();
                if (t.isOp("(")) {
                    next();
                    args = args();
                } else if ((t.kind == Kind.NAME || t.kind == Kind.STRING || t.kind == Kind.INT || t.kind == Kind.FLOAT
                        || t.isOp("[") || t.isOp("{")) && !t.isName("else") && !t.isName("or") && !t.isName("and")) {
                    if (t.isName("is")) throw new SyntaxError("You cannot chain multiple tests with is", t.line);
                    args = new Args(List.of(postfix(primary())), List.of(), List.of(), null, null);
                }
                value = new Expr.Test(value, name, args, negated);
            } else if (peek().isOp("(")) {
                next();
                value = new Expr.Call(value, args());
            } else {
                return value;
            }
        }
    }

    private String dottedName() {
        Token t = next();
        if (t.kind != Kind.NAME && !(t.kind == Kind.OP && Set.of("==", "!=", "<", "<=", ">", ">=").contains(t.text))) {
            throw new SyntaxError("expected a filter or test name, got " + describe(t), t.line);
        }
        StringBuilder name = new StringBuilder(t.text);
        while (peek().isOp(".") && peek(1).kind == Kind.NAME) {
            next();
            name.append('.').append(next().text);
        }
        return name.toString();
    }
}
