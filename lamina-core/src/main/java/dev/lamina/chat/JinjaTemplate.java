package dev.lamina.chat;

import dev.lamina.io.LaminaException;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Jinja template as Hugging Face renders chat templates: jinja2 3.1's syntax and semantics with
 * {@code trim_blocks} and {@code lstrip_blocks}, in the immutable sandbox, with {@code tojson} as
 * Python's json.dumps and the globals {@code raise_exception(message)} and
 * {@code strftime_now(format)}. Only the subset chat templates use is implemented (no
 * inheritance, includes, call blocks or autoescape); what is missing fails by name.
 *
 * <p>Variables are plain Java values: null, Boolean, numbers, String, List, Map. A variable the
 * template reads but is not given is undefined, as in jinja2: it prints as nothing and is false,
 * and only using it further (an attribute, arithmetic, a call) is an error.
 */
public final class JinjaTemplate {
    private final String origin, source;
    private final List<Node> body;

    private JinjaTemplate(String origin, String source, List<Node> body) {
        this.origin = origin;
        this.source = source;
        this.body = body;
    }

    /** The template's text, as parsed. */
    public String source() { return source; }

    /**
     * Parses a template.
     *
     * @param origin where the template comes from, named in errors (a file, or a file and field)
     * @throws LaminaException if the source is not valid Jinja
     */
    public static JinjaTemplate parse(String source, String origin) {
        try {
            return new JinjaTemplate(origin, source, JinjaParser.parse(source));
        } catch (JinjaParser.SyntaxError e) {
            throw new LaminaException(origin + " line " + e.line + ": " + e.getMessage() + " (the Jinja template is not valid)");
        }
    }

    /**
     * Renders with variables.
     *
     * @param clock the time {@code strftime_now} reads
     * @throws LaminaException when the template calls raise_exception (its message), or fails on the values
     */
    public String render(Map<String, ?> variables, Clock clock) {
        Builtins builtins = new Builtins(clock);
        Map<String, Object> globals = builtins.globals();
        variables.forEach((k, v) -> globals.put(k, plain(v, k)));
        try {
            return new Interpreter(globals, builtins).render(body);
        } catch (Interpreter.Raised e) {
            throw new LaminaException(origin + " refused the input: " + e.getMessage());
        } catch (Interpreter.Failure e) {
            throw new LaminaException(origin + " line " + e.line + ": " + e.getMessage() + " (the template cannot render this input)");
        }
    }

    /** A Java value as a template value: Integer becomes Long, Float Double, nested maps and lists copied. */
    private static Object plain(Object v, String where) {
        return switch (v) {
            case null -> null;
            case String s -> s;
            case Boolean b -> b;
            case Long l -> l;
            case Integer i -> (long) i;
            case Short s -> (long) s;
            case Byte b -> (long) b;
            case BigInteger b -> b.longValueExact();
            case Double d -> d;
            case Float f -> (double) f;
            case BigDecimal b -> b.doubleValue();
            case Map<?, ?> m -> {
                Map<Object, Object> out = new LinkedHashMap<>();
                m.forEach((k, x) -> out.put(plain(k, where), plain(x, where + "." + k)));
                yield out;
            }
            case List<?> l -> {
                List<Object> out = new ArrayList<>();
                for (int i = 0; i < l.size(); i++) out.add(plain(l.get(i), where + "[" + i + "]"));
                yield out;
            }
            default -> throw new LaminaException("template variable " + where + ": a " + v.getClass().getSimpleName()
                    + " is not a template value (use null, Boolean, a number, String, List or Map)");
        };
    }
}
