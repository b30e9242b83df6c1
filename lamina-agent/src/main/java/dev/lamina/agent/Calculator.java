package dev.lamina.agent;

/** Arithmetic for the example server: numbers, + - * / ^ (right-associative), unary minus, parentheses. */
final class Calculator {
    private final String s;
    private int at;

    private Calculator(String s) { this.s = s; }

    static double evaluate(String expression) {
        if (expression == null || expression.isBlank()) throw new IllegalArgumentException("the expression is empty");
        if (expression.length() > 1000) throw new IllegalArgumentException("the expression is longer than 1000 characters");
        Calculator c = new Calculator(expression);
        double v = c.sum();
        c.space();
        if (c.at < c.s.length()) throw new IllegalArgumentException("unexpected '" + c.s.charAt(c.at) + "' at " + (c.at + 1) + " in '" + expression + "'");
        if (Double.isNaN(v) || Double.isInfinite(v)) throw new IllegalArgumentException("'" + expression + "' has no finite value");
        return v;
    }

    /** An integer without ".0"; else up to 12 significant digits. */
    static String format(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
        return new java.math.BigDecimal(v).round(new java.math.MathContext(12)).stripTrailingZeros().toPlainString();
    }

    private double sum() {
        double v = product();
        for (char c; (c = peek()) == '+' || c == '-'; ) {
            at++;
            v = c == '+' ? v + product() : v - product();
        }
        return v;
    }

    private double product() {
        double v = power();
        for (char c; (c = peek()) == '*' || c == '/'; ) {
            at++;
            v = c == '*' ? v * power() : v / power();
        }
        return v;
    }

    private double power() {
        double b = unary();
        if (peek() == '^') {
            at++;
            return Math.pow(b, power());
        }
        return b;
    }

    private double unary() {
        if (peek() == '-') { at++; return -unary(); }
        if (peek() == '+') { at++; return unary(); }
        if (peek() == '(') {
            at++;
            double v = sum();
            if (peek() != ')') throw new IllegalArgumentException("a ')' is missing in '" + s + "'");
            at++;
            return v;
        }
        int start = at;
        while (at < s.length() && (Character.isDigit(s.charAt(at)) || s.charAt(at) == '.')) at++;
        if (start == at) throw new IllegalArgumentException(at < s.length() ? "unexpected '" + s.charAt(at) + "' at " + (at + 1) + " in '" + s + "'" : "'" + s + "' ends too early");
        try {
            return Double.parseDouble(s.substring(start, at));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + s.substring(start, at) + "' is not a number");
        }
    }

    private char peek() {
        space();
        return at < s.length() ? s.charAt(at) : 0;
    }

    private void space() { while (at < s.length() && Character.isWhitespace(s.charAt(at))) at++; }
}
