package dev.lamina.structured;

import dev.lamina.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.WeakHashMap;

/**
 * Constrained decoding of one response: before each token, every token that would leave the text
 * outside the {@link Schema}'s language, or unable to finish within the tokens left, is masked out;
 * so whatever the model's logits, the response is a complete valid value when it ends.
 *
 * <p>The vocabulary is a byte trie ({@link Vocabulary}, built once per tokenizer); the allowed
 * tokens of a state are found by walking the trie with the {@link JsonMachine}, pruning a branch at
 * its first impossible byte, and cached by state (so a state met again costs a lookup, as Outlines'
 * and XGrammar's precomputed masks do). A token is allowed when the fewest bytes that complete the
 * text after it fit in the tokens left after it, one byte a token at worst: the vocabulary holds
 * every single byte a JSON text needs (byte-level BPE and the byte tokenizer do).
 */
public final class JsonConstraint {

    /** The tokens of a tokenizer as a byte trie (node 0 the root). */
    public static final class Vocabulary {
        final int[] childStart, childCount, childByte, childNode;    // node → its children's range in childByte/childNode
        final int[][] ids;                                            // node → the tokens that end there
        final byte[][] bytes;                                         // token → its bytes (null: never allowed)
        /** Whether every byte is a token of its own (byte-level BPE): then any prefix can be finished. */
        final boolean everyByte;

        private Vocabulary(Tokenizer tok) {
            record Build(TreeMap<Integer, Build> kids, List<Integer> ids) {}
            Build root = new Build(new TreeMap<>(), new ArrayList<>());
            int count = 1;
            byte[][] all = new byte[tok.vocabSize()][];
            boolean[] single = new boolean[256];
            for (int id = 0; id < all.length; id++) {
                all[id] = tok.tokenBytes(id);
                if (all[id] != null && all[id].length == 1) single[all[id][0] & 0xFF] = true;
            }
            boolean every = true;
            for (boolean x : single) every &= x;
            everyByte = every;
            bytes = new byte[all.length][];
            for (int id = 0; id < all.length; id++) {
                byte[] b = all[id];
                // without every byte as a token, a token that stops inside a character might leave it unfinishable: not used
                if (b == null || b.length == 0 || !everyByte && !wholeCharacters(b)) continue;
                bytes[id] = b;
                Build n = root;
                for (byte x : b) {
                    Build k = n.kids().get(x & 0xFF);
                    if (k == null) { n.kids().put(x & 0xFF, k = new Build(new TreeMap<>(), new ArrayList<>())); count++; }
                    n = k;
                }
                n.ids().add(id);
            }
            childStart = new int[count];
            childCount = new int[count];
            ids = new int[count][];
            childByte = new int[count];
            childNode = new int[count];
            List<Build> order = new ArrayList<>(List.of(root));
            int edges = 0;
            for (int i = 0; i < order.size(); i++) {                  // breadth first: children numbered as they are met
                Build n = order.get(i);
                ids[i] = n.ids().stream().mapToInt(Integer::intValue).toArray();
                childStart[i] = edges;
                childCount[i] = n.kids().size();
                for (var e : n.kids().entrySet()) {
                    childByte[edges] = e.getKey();
                    childNode[edges++] = order.size();
                    order.add(e.getValue());
                }
            }
        }

        private static final Map<Tokenizer, Vocabulary> CACHE = new WeakHashMap<>();

        /** The trie of tok's tokens with fixed bytes ({@link Tokenizer#tokenBytes}), made once per tokenizer. */
        public static synchronized Vocabulary of(Tokenizer tok) { return CACHE.computeIfAbsent(tok, Vocabulary::new); }

        private static boolean wholeCharacters(byte[] b) {
            try {
                java.nio.charset.StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(b));
                return true;
            } catch (java.nio.charset.CharacterCodingException e) {
                return false;
            }
        }

        /** Whether text can be written as a sequence of tokens (each of them one or more of its bytes). */
        public boolean canWrite(byte[] text) {
            boolean[] reach = new boolean[text.length + 1];
            reach[0] = true;
            for (int i = 0; i < text.length; i++) {
                if (!reach[i]) continue;
                int node = 0;
                for (int j = i; j < text.length && node >= 0; j++) {
                    node = child(node, text[j] & 0xFF);
                    if (node >= 0 && ids[node].length > 0) reach[j + 1] = true;
                }
            }
            return reach[text.length];
        }

        int child(int node, int b) {
            for (int e = childStart[node]; e < childStart[node] + childCount[node]; e++) if (childByte[e] == b) return childNode[e];
            return -1;
        }

        /** Whether every printable ASCII byte is a token of its own (what finishing any text within budget needs). */
        public boolean hasEveryAsciiByte() {
            for (int b = 0x20; b < 0x7F; b++) {
                int node = -1;
                for (int e = childStart[0]; e < childStart[0] + childCount[0]; e++) if (childByte[e] == b) node = childNode[e];
                if (node < 0 || ids[node].length == 0) return false;
            }
            return true;
        }
    }

    /** The tokens allowed in a state, and the bytes each leaves to finish (for the budget test). */
    private record Allowed(int[] ids, int[] remaining) {}

    private final Schema schema;
    private final Vocabulary vocab;
    private final int[] endIds;
    private final Map<JsonMachine.State, Allowed> cache;
    private JsonMachine.State state;
    private long maskNanos;

    /**
     * A constraint for one response of schema over vocab; endIds are the tokens that end a
     * response (end of text, end of turn): allowed only once the value is complete. The mask cache
     * may be shared by responses of the same schema and vocabulary ({@link #sharing}).
     */
    public JsonConstraint(Schema schema, Vocabulary vocab, int[] endIds) {
        this(schema, vocab, endIds, boundedCache());
        if (!vocab.hasEveryAsciiByte())
            throw new dev.lamina.io.LaminaException("the model's vocabulary lacks single-character tokens for some of JSON's characters; "
                    + "constrained output needs them to finish any text within max_tokens");
        for (byte[] lit : literals(schema, new ArrayList<>()))
            if (!vocab.canWrite(lit))
                throw new dev.lamina.io.LaminaException("the schema's text " + new String(lit, java.nio.charset.StandardCharsets.UTF_8)
                        + " cannot be written with the model's vocabulary");
    }

    /** A constraint of schema for a model's tokenizer: its vocabulary, and its end-of-text (when it has one) ending a response. */
    public static JsonConstraint of(Schema schema, Tokenizer tok) {
        return new JsonConstraint(schema, Vocabulary.of(tok), tok.eotId() >= 0 ? new int[] {tok.eotId()} : new int[0]);
    }

    private JsonConstraint(Schema schema, Vocabulary vocab, int[] endIds, Map<JsonMachine.State, Allowed> cache) {
        this.schema = schema;
        this.vocab = vocab;
        this.endIds = endIds.clone();
        this.cache = cache;
        this.state = JsonMachine.start(schema);
    }

    /** Every fixed text of s: keys and enum, const, boolean and null values. */
    private static List<byte[]> literals(Schema s, List<byte[]> out) {
        switch (s) {
            case Schema.Obj o -> { for (Schema.Prop p : o.props()) { out.add(p.key()); literals(p.value(), out); } }
            case Schema.Arr a -> literals(a.items(), out);
            case Schema.Literals l -> out.addAll(l.values());
            case Schema.Alt a -> { for (Schema o : a.options()) literals(o, out); }
            case Schema.Any any -> { out.add("true".getBytes()); out.add("false".getBytes()); out.add("null".getBytes()); }
            default -> { }
        }
        return out;
    }

    /** A fresh constraint (start state) of the same schema sharing this one's mask cache: one per sequence of a request. */
    public JsonConstraint sharing() { return new JsonConstraint(schema, vocab, endIds, cache); }

    private static Map<JsonMachine.State, Allowed> boundedCache() {
        return java.util.Collections.synchronizedMap(new LinkedHashMap<>(256, 0.75f, true) {
            @Override protected boolean removeEldestEntry(Map.Entry<JsonMachine.State, Allowed> e) { return size() > 4096; }
        });
    }

    /** The fewest tokens a valid response takes (one byte a token): max_tokens must be at least this. */
    public static int minTokens(Schema s) { return Schema.minLength(s); }

    /** The schema this constraint enforces. */
    public Schema schema() { return schema; }

    /** Whether the value is complete and nothing may follow it: the response should end now. */
    public boolean done() { return state.done(); }

    /** Whether the text so far is a complete value (a top-level number may still grow). */
    public boolean complete() { return JsonMachine.accepting(state); }

    /** Nanoseconds spent computing masks so far (the constraint's cost per response). */
    public long maskNanos() { return maskNanos; }

    /**
     * Sets to −∞ the logits [off, off + V) of every token not allowed next, with budget tokens left
     * (this one included). At least one token stays allowed whenever budget covers what the text
     * still needs, which the start state guarantees when budget ≥ {@link #minTokens}.
     */
    public void mask(float[] logits, int off, int V, int budget) {
        long t0 = System.nanoTime();
        boolean[] keep = new boolean[V];
        if (JsonMachine.accepting(state)) for (int e : endIds) if (e < V) keep[e] = true;
        if (!state.done()) {
            Allowed a = cache.get(state);
            if (a == null) cache.put(state, a = search(state));
            int left = budget - 1;
            for (int i = 0; i < a.ids().length; i++) if (a.remaining()[i] <= left && a.ids()[i] < V) keep[a.ids()[i]] = true;
        }
        boolean any = false;
        for (int i = 0; i < V; i++) {
            if (!keep[i]) logits[off + i] = Float.NEGATIVE_INFINITY;
            else any = true;
        }
        maskNanos += System.nanoTime() - t0;
        if (!any) throw new IllegalStateException("no token can continue " + state + " within " + budget + " tokens");
    }

    /** Advances past token (an end token, or one the mask allowed). */
    public void accept(int token) {
        for (int e : endIds) if (e == token) { state = new JsonMachine.State(state.top(), state.below(), true); return; }
        JsonMachine.State s = state;
        byte[] path = token < vocab.bytes.length ? vocab.bytes[token] : null;
        if (path == null) throw new IllegalStateException("token " + token + " has no fixed bytes");
        for (byte b : path) {
            s = JsonMachine.feed(s, b & 0xFF);
            if (s == null) throw new IllegalStateException("token " + token + " is not allowed here");
        }
        state = s;
    }

    /** Every token the machine accepts from s, with what each leaves to finish. */
    private Allowed search(JsonMachine.State s) {
        int[] ids = new int[64], rem = new int[64];
        int[] n = {0};
        int[][] out = {ids, rem};
        walk(0, s, out, n);
        return new Allowed(Arrays.copyOf(out[0], n[0]), Arrays.copyOf(out[1], n[0]));
    }

    /** Whether a literal in progress (without every byte as a token) can still be written to its end by some candidate. */
    private boolean finishable(JsonMachine.State s) {
        if (!(s.top() instanceof JsonMachine.InLit l)) return true;
        for (byte[] c : l.candidates())
            if (c.length == l.pos() || vocab.canWrite(Arrays.copyOfRange(c, l.pos(), c.length))) return true;
        return false;
    }

    private void walk(int node, JsonMachine.State s, int[][] out, int[] n) {
        for (int e = vocab.childStart[node]; e < vocab.childStart[node] + vocab.childCount[node]; e++) {
            JsonMachine.State next = JsonMachine.feed(s, vocab.childByte[e]);
            if (next == null) continue;
            int child = vocab.childNode[e];
            int[] here = vocab.ids[child];
            if (here.length > 0 && (vocab.everyByte || finishable(next))) {
                int r = JsonMachine.remaining(next);
                for (int id : here) {
                    if (n[0] == out[0].length) { out[0] = Arrays.copyOf(out[0], n[0] * 2); out[1] = Arrays.copyOf(out[1], n[0] * 2); }
                    out[0][n[0]] = id;
                    out[1][n[0]++] = r;
                }
            }
            walk(child, next, out, n);
        }
    }
}
