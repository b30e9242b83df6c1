package dev.lamina.tokenizer;

import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Parallel;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE exactly as GPT-2 and Hugging Face {@code tokenizers} (model BPE with the
 * ByteLevel pre-tokenizer and decoder). Immutable apart from a word cache, and thread-safe.
 *
 * <p>Encoding: added tokens such as {@code <|endoftext|>} are cut out of the text first and never
 * split; the rest is split by GPT-2's pattern ({@link Gpt2Pattern}); each piece is turned into
 * UTF-8 bytes, each byte into its {@link ByteLevel} character (GPT-2's byte↔unicode table: the
 * 188 printable Latin-1 bytes are themselves, the other 68 bytes are U+0100..U+0143 in byte order,
 * so space is 'Ġ'), and the symbols are merged by rank ({@link BpeModel}).
 *
 * <p>Round trip: {@code decode(encode(s)).equals(s)} for every valid UTF-16 string. A lone
 * surrogate (a high surrogate not followed by a low one, or a low one not preceded by a high one)
 * has no UTF-8 form, so encode replaces it by U+FFFD, and that is what decode gives back.
 * Decoding ids that do not form valid UTF-8 (for instance half of a multi-byte character) gives
 * U+FFFD for the invalid bytes.
 *
 * <p>{@link #eotId()} is the id of {@code <|endoftext|>}, or -1 when the tokenizer has no such token.
 */
public final class BpeTokenizer implements Tokenizer {
    public static final String EOT = "<|endoftext|>";
    /** The file {@link #save} writes and {@link #load} prefers. */
    public static final String FILE = "tokenizer.json";
    private static final int CACHE_LIMIT = 1 << 18;   // distinct words cached; Brown has about 60k
    private static final int CACHE_MAX_WORD = 256;

    private final BpeModel model;
    private final AddedTokens added;
    private final boolean addPrefixSpace, useRegex;
    private final byte[][] bytesOf;   // id -> bytes it decodes to; null for unused ids
    private final int eotId;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    BpeTokenizer(BpeModel model, List<AddedToken> addedTokens, boolean addPrefixSpace, boolean useRegex) {
        this.model = model;
        this.added = new AddedTokens(addedTokens);
        this.addPrefixSpace = addPrefixSpace;
        this.useRegex = useRegex;
        int size = model.size();
        for (AddedToken t : addedTokens) size = Math.max(size, t.id() + 1);
        bytesOf = new byte[size][];
        for (int id = 0; id < model.size(); id++) {
            String t = model.token(id);
            if (t != null) bytesOf[id] = ByteLevel.toBytes(t);
        }
        int eot = model.id(EOT);
        for (AddedToken t : addedTokens) {
            bytesOf[t.id()] = t.content().getBytes(StandardCharsets.UTF_8);
            if (t.content().equals(EOT)) eot = t.id();
        }
        this.eotId = eot;
    }

    /** Reads dir/tokenizer.json, or else GPT-2's dir/encoder.json + dir/vocab.bpe. */
    public static BpeTokenizer load(Path dir) {
        Path json = dir.resolve(FILE);
        if (Files.exists(json)) return HfTokenizerJson.read(json);
        Path encoder = dir.resolve(Gpt2Files.ENCODER), merges = dir.resolve(Gpt2Files.MERGES);
        if (Files.exists(encoder) || Files.exists(merges)) return Gpt2Files.read(encoder, merges);
        throw new LaminaException(dir + ": no " + FILE + " and no " + Gpt2Files.ENCODER + " + "
                + Gpt2Files.MERGES + "; train one with 'lamina tokenizer train' or copy GPT-2's files there");
    }

    /** Reads a Hugging Face tokenizer.json holding a byte-level BPE model. */
    public static BpeTokenizer readTokenizerJson(Path file) { return HfTokenizerJson.read(file); }

    /** Reads GPT-2's encoder.json and vocab.bpe. */
    public static BpeTokenizer readGpt2(Path encoderJson, Path vocabBpe) { return Gpt2Files.read(encoderJson, vocabBpe); }

    /**
     * A tokenizer from a vocabulary given by id (byte-level strings; null for unused ids), merges by
     * rank as "left right", and added tokens; no prefix space, GPT-2's pre-tokenizer pattern. GGUF
     * files store byte-level BPE this way. where names the source in errors.
     */
    public static BpeTokenizer of(String[] tokens, List<String> merges, List<AddedToken> added, String where) {
        java.util.Map<String, Integer> ids = HfTokenizerJson.indexOf(tokens);
        int[] left = new int[merges.size()], right = new int[merges.size()];
        for (int r = 0; r < merges.size(); r++) {
            String[] parts = merges.get(r).split(" ");
            if (parts.length != 2) throw new LaminaException(where + ": merge " + r + " '" + merges.get(r) + "' is not two tokens separated by a space");
            left[r] = HfTokenizerJson.lookup(ids, parts[0], where + ": merge " + r, "the vocabulary");
            right[r] = HfTokenizerJson.lookup(ids, parts[1], where + ": merge " + r, "the vocabulary");
        }
        try {
            return new BpeTokenizer(new BpeModel(tokens, left, right, -1, false, false), added, false, true);
        } catch (IllegalArgumentException e) {
            throw new LaminaException(where + ": " + e.getMessage());
        }
    }

    /** The model vocabulary by id: byte-level strings, null for ids it does not use (added tokens live in {@link #addedTokens}). */
    public String[] vocabulary() {
        String[] v = new String[model.size()];
        for (int id = 0; id < v.length; id++) v[id] = model.token(id);
        return v;
    }

    /** The merges by rank, each "left right". */
    public List<String> merges() {
        List<String> m = new java.util.ArrayList<>(model.merges());
        for (int r = 0; r < model.merges(); r++) m.add(model.token(model.mergeLeft(r)) + " " + model.token(model.mergeRight(r)));
        return m;
    }

    /** Whether a space is put before text that does not start with one (Hugging Face's add_prefix_space). */
    public boolean prefixSpace() { return addPrefixSpace; }

    BpeModel model() { return model; }
    boolean addPrefixSpace() { return addPrefixSpace; }
    boolean useRegex() { return useRegex; }

    /** A model token's bytes (byte-level: exact, partial characters included); null for added tokens. */
    @Override
    public byte[] tokenBytes(int id) {
        if (id < 0 || id >= bytesOf.length || bytesOf[id] == null) return null;
        for (AddedToken t : added.all()) if (t.id() == id) return null;
        return bytesOf[id].clone();
    }

    /** The added tokens (special or not), in file order. */
    public List<AddedToken> addedTokens() { return added.all(); }

    /** The byte-level string of id as stored in tokenizer.json (for added tokens, their content). */
    public String tokenString(int id) {
        for (AddedToken t : added.all()) if (t.id() == id) return t.content();
        String s = model.token(id);
        if (s == null) throw unknownId(id);
        return s;
    }

    @Override public int vocabSize() { return bytesOf.length; }
    @Override public int eotId() { return eotId; }
    @Override public String describe() { return "bpe(" + vocabSize() + ")"; }

    /** Encodes with special tokens matched (see {@link #encode(String, boolean)}). */
    @Override
    public int[] encode(String text) { return encode(text, true); }

    /**
     * Ids of text. With matchSpecial false, special tokens in the text are encoded as ordinary
     * text (non-special added tokens are still matched), like tokenizers' encode_special_tokens.
     */
    public int[] encode(String text, boolean matchSpecial) {
        String s = replaceLoneSurrogates(text);
        IntList out = new IntList(s.length() / 3 + 4);
        if (added.isEmpty()) {
            encodeText(s, 0, s.length(), out);
        } else {
            added.split(s, matchSpecial, new AddedTokens.Visitor() {
                @Override public void text(int start, int end) { encodeText(s, start, end, out); }
                @Override public void token(int id) { out.add(id); }
            });
        }
        return out.toArray();
    }

    /** Encodes texts in parallel on the default threads ({@link Parallel#defaults()}); result i is encode(texts.get(i)). */
    public int[][] encodeAll(List<String> texts) { return encodeAll(Parallel.defaults(), texts); }

    /** Encodes texts in parallel on pool's threads; result i is encode(texts.get(i)). */
    public int[][] encodeAll(Parallel pool, List<String> texts) {
        int[][] result = new int[texts.size()][];
        pool.forRange(texts.size(), 64, (from, to) -> {
            for (int i = from; i < to; i++) result[i] = encode(texts.get(i));
        });
        return result;
    }

    /**
     * Data preparation: the ids of every document, each followed by {@link #eotId()}, in order, as
     * one array (encoded in parallel). Throws IllegalStateException if there is no end-of-text token.
     */
    public int[] encodeDocuments(List<String> documents) {
        if (eotId < 0) throw new IllegalStateException(describe() + " has no " + EOT + " token to separate documents");
        int[][] parts = encodeAll(documents);
        long n = 0;
        for (int[] p : parts) n += p.length + 1;
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("documents give " + n + " tokens, more than one array holds; encode them in batches");
        int[] all = new int[(int) n];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
            all[at++] = eotId;
        }
        return all;
    }

    private void encodeText(String s, int from, int to, IntList out) {
        if (addPrefixSpace && from < to && s.charAt(from) != ' ') {
            // tokenizers prepends a space to every text segment between added tokens
            String prefixed = " " + s.substring(from, to);
            pieces(prefixed, 0, prefixed.length(), out);
        } else {
            pieces(s, from, to, out);
        }
    }

    private void pieces(String s, int from, int to, IntList out) {
        if (!useRegex) { if (from < to) out.addAll(word(s.substring(from, to))); return; }
        Gpt2Pattern.split(s, from, to, (a, b) -> out.addAll(word(s.substring(a, b))));
    }

    private int[] word(String piece) {
        int[] ids = cache.get(piece);
        if (ids != null) return ids;
        ids = model.encodeWord(piece.getBytes(StandardCharsets.UTF_8));
        if (piece.length() <= CACHE_MAX_WORD && cache.size() < CACHE_LIMIT) cache.putIfAbsent(piece, ids);
        return ids;
    }

    /** Text of ids; bytes that are not valid UTF-8 decode to U+FFFD. */
    @Override
    public String decode(int[] ids) {
        int n = 0;
        for (int id : ids) {
            if (id < 0 || id >= bytesOf.length || bytesOf[id] == null) throw unknownId(id);
            n += bytesOf[id].length;
        }
        byte[] buf = new byte[n];
        int at = 0;
        for (int id : ids) {
            System.arraycopy(bytesOf[id], 0, buf, at, bytesOf[id].length);
            at += bytesOf[id].length;
        }
        return new String(buf, StandardCharsets.UTF_8);
    }

    private IllegalArgumentException unknownId(int id) {
        return new IllegalArgumentException("token id " + id + " is not in the vocabulary of " + describe()
                + " (valid ids: 0.." + (vocabSize() - 1) + ")");
    }

    /** Writes dir/tokenizer.json (Hugging Face format) atomically: a temp file in dir, then a rename. */
    @Override
    public void save(Path dir) { HfTokenizerJson.write(this, dir.resolve(FILE)); }

    /** s with every lone surrogate replaced by U+FFFD (s itself when it has none). */
    static String replaceLoneSurrogates(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean lone = false;
            if (Character.isHighSurrogate(c)) {
                if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                    if (sb != null) sb.append(c).append(s.charAt(i + 1));
                    i++;
                    continue;
                }
                lone = true;
            } else if (Character.isLowSurrogate(c)) {
                lone = true;
            }
            if (lone && sb == null) sb = new StringBuilder(s.length()).append(s, 0, i);
            if (sb != null) sb.append(lone ? '\uFFFD' : c);
        }
        return sb == null ? s : sb.toString();
    }
}
