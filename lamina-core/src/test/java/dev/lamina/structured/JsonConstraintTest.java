package dev.lamina.structured;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.tokenizer.BpeTokenizer;
import dev.lamina.tokenizer.ByteTokenizer;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Constrained decoding always ends in a valid value: random schemas × random "models" (random
 * logits, sampled) × budgets from the least a valid response takes to far more, over the byte
 * tokenizer, GPT-2's BPE and Llama 3's tokenizer.json; every response parses, validates against its
 * schema (an independent validator here) and fits its budget.
 */
class JsonConstraintTest {

    static Path resource(String name) throws Exception { return Path.of(JsonConstraintTest.class.getClassLoader().getResource(name).toURI()); }

    static Tokenizer gpt2() throws Exception { return BpeTokenizer.load(resource("gpt2")); }

    static Tokenizer llama3() throws Exception { return Tokenizers.load(resource("tokenizers/llama3")); }

    /** Samples a response under c from random logits; returns its bytes. */
    static byte[] generate(JsonConstraint c, Tokenizer tok, int budget, Random r, double spread) {
        int V = tok.vocabSize();
        float[] logits = new float[V];
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int left = budget; left > 0 && !c.done(); left--) {
            for (int i = 0; i < V; i++) logits[i] = (float) (r.nextGaussian() * spread);
            c.mask(logits, 0, V, left);
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (float x : logits) max = Math.max(max, x);
            double[] p = new double[V];
            for (int i = 0; i < V; i++) sum += p[i] = Math.exp(logits[i] - max);
            double u = r.nextDouble() * sum;
            int t = 0;
            while (t < V - 1 && (u -= p[t]) > 0) t++;
            while (logits[t] == Float.NEGATIVE_INFINITY) t--;          // rounding at the end of the walk
            c.accept(t);
            if (t == tok.eotId()) break;
            out.writeBytes(tok.tokenBytes(t));
        }
        return out.toByteArray();
    }

    @Test
    void randomSchemasAndRandomModelsAlwaysGiveValidJson() throws Exception {
        Random r = new Random(42);
        int checked = 0;
        for (Tokenizer tok : new Tokenizer[] {ByteTokenizer.INSTANCE, gpt2(), llama3()}) {
            JsonConstraint.Vocabulary v = JsonConstraint.Vocabulary.of(tok);
            assertThat(v.hasEveryAsciiByte()).as(tok.describe()).isTrue();
            int cases = tok == ByteTokenizer.INSTANCE ? 150 : 60;
            boolean unicode = v.canWrite("\"k\u00e9y0\"".getBytes(StandardCharsets.UTF_8));
            if (!unicode)                                                // a key the vocabulary cannot spell is refused up front
                assertThatThrownBy(() -> new JsonConstraint(Schema.compile(Json.MAPPER.readTree("{\"enum\":[\"k\u00e9y0\"]}")), v, new int[0]))
                        .isInstanceOf(LaminaException.class).hasMessageContaining("cannot be written with the model's vocabulary");
            for (int i = 0; i < cases; i++) {
                ObjectNode schema = randomSchema(r, 0, true, unicode);
                Schema s = Schema.compile(schema);
                int min = JsonConstraint.minTokens(s), budget = min + (i % 3 == 0 ? 0 : r.nextInt(80));
                JsonConstraint c = new JsonConstraint(s, v, new int[] {tok.eotId()});
                byte[] out = generate(c, tok, budget, r, i % 2 == 0 ? 1 : 6);
                String text = new String(out, StandardCharsets.UTF_8);
                assertThat(c.complete()).as("%s: %s ended incomplete: %s", tok.describe(), schema, text).isTrue();
                JsonNode value;
                try {
                    value = Json.MAPPER.readTree(text);
                } catch (RuntimeException e) {
                    throw new AssertionError(tok.describe() + ": not JSON for " + schema + ": " + text, e);
                }
                assertThat(StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(out)).toString()).isEqualTo(text);   // valid UTF-8
                String why = validate(schema, value, "$");
                assertThat(why).as("%s: %s for %s", tok.describe(), text, schema).isNull();
                checked++;
            }
        }
        assertThat(checked).isEqualTo(270);
    }

    @Test
    void jsonObjectModeGivesAnObjectEvenWithTheLeastBudget() throws Exception {
        Tokenizer tok = gpt2();
        JsonConstraint.Vocabulary v = JsonConstraint.Vocabulary.of(tok);
        Random r = new Random(7);
        for (int budget : new int[] {2, 3, 5, 40, 200}) {
            JsonConstraint c = new JsonConstraint(Schema.anyObject(), v, new int[] {tok.eotId()});
            String text = new String(generate(c, tok, budget, r, 4), StandardCharsets.UTF_8);
            assertThat(Json.MAPPER.readTree(text).isObject()).as(text).isTrue();
        }
        assertThat(JsonConstraint.minTokens(Schema.anyObject())).isEqualTo(2);
    }

    @Test
    void theMachineFollowsTheSchemaByteByByte() {
        Schema s = Schema.compile(Json.MAPPER.readTree("""
                {"type":"object","properties":{"name":{"type":"string","maxLength":3},"age":{"type":"integer"},
                 "tags":{"type":"array","items":{"enum":["a","b"]},"minItems":1}},"required":["name","tags"]}"""));
        assertThat(accepts(s, "{\"name\":\"Ann\",\"age\":-12,\"tags\":[\"a\",\"b\"]}")).isTrue();
        assertThat(accepts(s, "{\"name\":\"Ann\",\"tags\":[\"b\"]}")).isTrue();             // age is optional
        assertThat(accepts(s, "{\"name\":\"Anne\",\"tags\":[\"b\"]}")).isFalse();           // maxLength
        assertThat(accepts(s, "{\"tags\":[\"b\"],\"name\":\"A\"}")).isFalse();              // the schema's order
        assertThat(accepts(s, "{\"name\":\"A\",\"age\":1.5,\"tags\":[\"a\"]}")).isFalse();  // integer
        assertThat(accepts(s, "{\"name\":\"A\",\"tags\":[]}")).isFalse();                   // minItems
        assertThat(accepts(s, "{\"name\":\"A\"}")).isFalse();                               // tags required
        assertThat(accepts(s, "{\"name\":\"A\",\"tags\":[\"c\"]}")).isFalse();              // enum
        assertThat(accepts(s, "{\"name\":\"A\",\"tags\":[\"a\"]} ")).isFalse();             // nothing after the value
        assertThat(accepts(s, "{\"name\":\"\u00e9\\n\",\"tags\":[\"a\"]}")).isTrue();       // UTF-8 and escapes
        Schema any = Schema.anyObject();
        assertThat(accepts(any, "{\"a\":[1,-0.5e+3,true,null,{\"b\":\"x\"}],\"\":{}}")).isTrue();
        assertThat(accepts(any, "{\"a\":01}")).isFalse();
        assertThat(accepts(any, "[1]")).isFalse();                                          // json_object: an object
        assertThat(accepts(any, "{\"n\":-123456789012345678}")).isTrue();                 // 18 digits: every one fits a long
        assertThat(accepts(any, "{\"n\":1234567890123456789}")).isFalse();
        assertThat(accepts(any, "{\"n\":1.5e-99}")).isTrue();
        assertThat(accepts(any, "{\"n\":1.5e100}")).isFalse();                             // beyond what a double holds
        JsonMachine.State st = JsonMachine.start(s);
        for (byte b : "{\"name\":\"A".getBytes()) st = JsonMachine.feed(st, b);
        assertThat(JsonMachine.remaining(st)).isEqualTo("\",\"tags\":[\"a\"]}".length());
    }

    static boolean accepts(Schema s, String text) {
        JsonMachine.State st = JsonMachine.start(s);
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            st = JsonMachine.feed(st, b & 0xFF);
            if (st == null) return false;
        }
        return JsonMachine.accepting(st);
    }

    @Test
    void schemasItCannotEnforceAreRefusedInOneLine() {
        for (String[] bad : new String[][] {
                {"{\"type\":\"string\",\"pattern\":\"a+\"}", "unsupported schema keyword 'pattern'"},
                {"{\"anyOf\":[{\"type\":\"string\"}]}", "unsupported schema keyword 'anyOf'"},
                {"{\"type\":\"object\",\"properties\":{\"a\":{}},\"required\":[\"b\"]}", "[b] not among the properties"},
                {"{\"type\":\"array\",\"minItems\":3,\"maxItems\":2}", "minItems 3 exceeds maxItems 2"},
                {"{\"enum\":[]}", "must be a non-empty array"},
                {"{\"type\":[\"integer\",\"number\"]}", "can start alike"},
                {"{\"type\":\"date\"}", "unknown type 'date'"}}) {
            assertThatThrownBy(() -> Schema.compile(Json.MAPPER.readTree(bad[0]))).isInstanceOf(LaminaException.class)
                    .hasMessageContaining(bad[1]).hasMessageNotContaining("\n");
        }
    }

    // ---- random schemas and an independent validator -------------------------------------------------

    static ObjectNode randomSchema(Random r, int depth, boolean top, boolean unicode) {
        ObjectNode s = Json.MAPPER.createObjectNode();
        int kind = top ? 0 : r.nextInt(depth >= 2 ? 7 : 9);
        switch (kind) {
            case 0, 7 -> {
                s.put("type", "object");
                ObjectNode props = s.putObject("properties");
                ArrayNode req = s.putArray("required");
                int n = r.nextInt(4) + (top ? 1 : 0);
                for (int i = 0; i < n; i++) {
                    String name = unicode && r.nextInt(5) == 0 ? "k\u00e9y" + i : "k" + i;
                    props.set(name, randomSchema(r, depth + 1, false, unicode));
                    if (r.nextBoolean()) req.add(name);
                }
                s.put("additionalProperties", false);
            }
            case 8 -> {
                s.put("type", "array");
                s.set("items", randomSchema(r, depth + 1, false, unicode));
                int min = r.nextInt(3);
                s.put("minItems", min);
                if (r.nextBoolean()) s.put("maxItems", min + r.nextInt(3));
            }
            case 1 -> {
                s.put("type", "string");
                if (r.nextBoolean()) s.put("minLength", r.nextInt(4));
                if (r.nextBoolean()) s.put("maxLength", s.path("minLength").asInt(0) + r.nextInt(6));
            }
            case 2 -> s.put("type", r.nextBoolean() ? "integer" : "number");
            case 3 -> s.put("type", "boolean");
            case 4 -> {
                ArrayNode e = s.putArray("enum");
                e.add("red").add("green").add(3).add("g");
            }
            case 5 -> s.putArray("type").add("string").add("null");
            default -> s.put("description", "anything");
        }
        return s;
    }

    /** Why value does not satisfy schema (null when it does), for the subset these tests generate. */
    static String validate(JsonNode schema, JsonNode value, String at) {
        if (schema.has("enum")) {
            for (JsonNode e : schema.get("enum")) if (e.equals(value)) return null;
            return at + ": not in enum";
        }
        JsonNode type = schema.get("type");
        if (type == null) return null;
        if (type.isArray()) {
            for (JsonNode t : type) if (validate(Json.MAPPER.createObjectNode().set("type", t), value, at) == null) return null;
            return at + ": none of " + type;
        }
        switch (type.asString()) {
            case "object" -> {
                if (!value.isObject()) return at + ": not an object";
                JsonNode props = schema.get("properties");
                for (JsonNode r : schema.get("required")) if (!value.has(r.asString())) return at + ": missing " + r;
                for (Iterator<String> it = value.propertyNames().iterator(); it.hasNext(); ) {
                    String k = it.next();
                    if (!props.has(k)) return at + ": unexpected key " + k;
                    String w = validate(props.get(k), value.get(k), at + "." + k);
                    if (w != null) return w;
                }
            }
            case "array" -> {
                if (!value.isArray()) return at + ": not an array";
                if (value.size() < schema.path("minItems").asInt(0)) return at + ": too few items";
                if (schema.has("maxItems") && value.size() > schema.get("maxItems").asInt()) return at + ": too many items";
                for (int i = 0; i < value.size(); i++) {
                    String w = validate(schema.get("items"), value.get(i), at + "[" + i + "]");
                    if (w != null) return w;
                }
            }
            case "string" -> {
                if (!value.isString()) return at + ": not a string";
                int n = value.asString().codePointCount(0, value.asString().length());
                if (n < schema.path("minLength").asInt(0)) return at + ": too short";
                if (schema.has("maxLength") && n > schema.get("maxLength").asInt()) return at + ": too long";
            }
            case "integer" -> { if (!value.isIntegralNumber() || !value.canConvertToLong()) return at + ": not an integer a long holds"; }
            case "number" -> { if (!value.isNumber()) return at + ": not a number"; }
            case "boolean" -> { if (!value.isBoolean()) return at + ": not a boolean"; }
            case "null" -> { if (!value.isNull()) return at + ": not null"; }
            default -> throw new IllegalArgumentException(type.toString());
        }
        return null;
    }
}
