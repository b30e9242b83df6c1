package dev.lamina.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * The vocabulary and ranked merges of a BPE model, and the merge loop for one pre-tokenized word.
 * Immutable and thread-safe.
 *
 * <p>A word starts as one symbol per character (for byte-level BPE, per UTF-8 byte: the vocabulary
 * entry of that byte's {@link ByteLevel} character); a character missing from the vocabulary
 * becomes its UTF-8 bytes' {@code <0xXX>} tokens (byte_fallback) or the unknown token. Then,
 * while some adjacent pair has a merge, the pair with the lowest rank is merged, the leftmost
 * first among equal pairs. This is Hugging Face's BPE and gives the same result as GPT-2's
 * encoder.py; merges may share a rank, which makes it SentencePiece's BPE (the pair whose merged
 * piece scores highest, leftmost first).
 */
final class BpeModel implements SubwordModel {
    /** Words longer than this (in symbols) merge with a heap instead of rescanning the pairs. */
    private static final int LINEAR_MAX = 48;

    /** Options of tokenizers' BPE model besides vocabulary and merges; unkId -1 for none, prefix/suffix null for none. */
    record Options(int unkId, boolean fuseUnk, boolean ignoreMerges, boolean byteFallback,
                   String continuingSubwordPrefix, String endOfWordSuffix) {
        static final Options NONE = new Options(-1, false, false, false, null, null);
    }

    private final String[] tokens;          // id -> token string; null for ids outside the model vocabulary
    private final Map<String, Integer> ids;  // token string -> id
    private final int[] mergeLeft, mergeRight, mergeResult, priority;  // by merge index
    private final LongIntMap merges = new LongIntMap(1024);   // pair -> merge index
    private final int[] byteIds = new int[256];             // byte -> id of its ByteLevel char, -1 if missing
    private final int[] fallbackIds = new int[256];         // byte -> id of <0xXX>, -1 if missing
    private final int[] charIds;                            // BMP char -> id of the one-char token, -1 if missing
    private final Options options;
    private final int unkId;
    private final boolean fuseUnk, ignoreMerges;

    /**
     * tokens[id] is the token string of id (null for unused ids); merges are given by rank as
     * token ids. unkId is -1 for none. Throws IllegalArgumentException naming the offending entry.
     */
    BpeModel(String[] tokens, int[] mergeLeft, int[] mergeRight, int unkId, boolean fuseUnk, boolean ignoreMerges) {
        this(tokens, mergeLeft, mergeRight, null, new Options(unkId, fuseUnk, ignoreMerges, false, null, null));
    }

    /** As above; priority[m] is the rank of merge m (null: its index), so merges may tie. */
    BpeModel(String[] tokens, int[] mergeLeft, int[] mergeRight, int[] priority, Options options) {
        this.tokens = tokens.clone();
        this.ids = new HashMap<>(tokens.length * 2);
        for (int id = 0; id < tokens.length; id++) {
            if (tokens[id] == null) continue;
            Integer prev = ids.put(tokens[id], id);
            if (prev != null) throw new IllegalArgumentException("token '" + tokens[id] + "' has two ids, " + prev + " and " + id);
        }
        if (mergeLeft.length != mergeRight.length) throw new IllegalArgumentException("merge sides differ in length");
        this.mergeLeft = mergeLeft.clone();
        this.mergeRight = mergeRight.clone();
        this.mergeResult = new int[mergeLeft.length];
        this.priority = priority == null ? null : priority.clone();
        int prefixLen = options.continuingSubwordPrefix() == null ? 0 : options.continuingSubwordPrefix().length();
        for (int r = 0; r < mergeLeft.length; r++) {
            String a = token(mergeLeft[r]), b = token(mergeRight[r]);
            if (a == null || b == null)
                throw new IllegalArgumentException("merge " + r + " refers to unknown token id " + (a == null ? mergeLeft[r] : mergeRight[r]));
            String joined = a + b.substring(Math.min(prefixLen, b.length()));
            Integer result = ids.get(joined);
            if (result == null)
                throw new IllegalArgumentException("merge " + r + " '" + a + " " + b + "' gives '" + joined + "', which is not in the vocabulary");
            mergeResult[r] = result;
            merges.put(LongIntMap.pair(mergeLeft[r], mergeRight[r]), r); // a repeated merge keeps its last rank, as in tokenizers
        }
        Arrays.fill(byteIds, -1);
        Arrays.fill(fallbackIds, -1);
        for (int b = 0; b < 256; b++) {
            Integer id = ids.get(String.valueOf(ByteLevel.charOf(b)));
            if (id != null) byteIds[b] = id;
            id = ids.get(byteToken(b));
            if (id != null) fallbackIds[b] = id;
        }
        charIds = new int[65536];
        Arrays.fill(charIds, -1);
        for (int id = 0; id < tokens.length; id++) if (tokens[id] != null && tokens[id].length() == 1) charIds[tokens[id].charAt(0)] = id;
        this.options = options;
        this.unkId = options.unkId();
        this.fuseUnk = options.fuseUnk();
        this.ignoreMerges = options.ignoreMerges();
    }

    /** SentencePiece's name of a byte token, {@code <0x0A>}. */
    static String byteToken(int b) { return String.format("<0x%02X>", b); }

    /** Number of ids the model vocabulary spans (max id + 1). */
    @Override public int size() { return tokens.length; }

    /** The token string of id, or null. */
    @Override public String token(int id) { return id >= 0 && id < tokens.length ? tokens[id] : null; }

    /** The id of a token string, or -1. */
    @Override public int id(String token) { return ids.getOrDefault(token, -1); }

    int merges() { return mergeLeft.length; }
    int mergeLeft(int rank) { return mergeLeft[rank]; }
    int mergeRight(int rank) { return mergeRight[rank]; }
    int unkId() { return unkId; }
    boolean fuseUnk() { return fuseUnk; }
    boolean ignoreMerges() { return ignoreMerges; }
    Options options() { return options; }

    /** The merge index of the pair (a, b), or -1. */
    private int merge(int a, int b) { return merges.get(LongIntMap.pair(a, b)); }

    /** The rank of merge m: its index, or the rank it shares with others (SentencePiece's scores). */
    int priority(int m) { return priority == null ? m : priority[m]; }
    int mergeResult(int m) { return mergeResult[m]; }

    /** The ids of one pre-tokenized word given as UTF-8 bytes (byte-level BPE). */
    int[] encodeWord(byte[] bytes) {
        if (ignoreMerges) {
            int whole = id(ByteLevel.toTokenString(bytes));
            if (whole >= 0) return new int[] {whole};
        }
        int[] word = new int[bytes.length];
        int n = 0;
        boolean lastUnk = false;
        for (byte b : bytes) {
            int id = byteIds[b & 0xff];
            if (id < 0) {              // a byte the vocabulary lacks: the unknown token, or dropped like tokenizers does
                if (unkId < 0 || (fuseUnk && lastUnk)) continue;
                id = unkId;
                lastUnk = true;
            } else {
                lastUnk = false;
            }
            word[n++] = id;
        }
        n = n <= LINEAR_MAX ? mergeLinear(word, n) : mergeHeap(word, n);
        return n == word.length ? word : Arrays.copyOf(word, n);
    }

    /** The ids of one pre-tokenized piece, character by character as tokenizers' BPE.merge_word. */
    @Override
    public void encode(String piece, IntList out) {
        if (piece.isEmpty()) return;
        if (ignoreMerges) {
            int whole = id(piece);
            if (whole >= 0) { out.add(whole); return; }
        }
        String prefix = options.continuingSubwordPrefix(), suffix = options.endOfWordSuffix();
        boolean plain = prefix == null && suffix == null;
        int[] word = new int[piece.length() * 4];
        int n = 0, pendingUnk = 0;   // pendingUnk: unknown tokens waiting to be added (fused into one when fuseUnk)
        for (int i = 0; i < piece.length(); ) {
            int cp = piece.codePointAt(i), next = i + Character.charCount(cp);
            int id;
            String s = null;
            if (plain && cp < 65536) {
                id = charIds[cp];
            } else {
                s = piece.substring(i, next);
                if (i > 0 && prefix != null) s = prefix + s;
                if (next == piece.length() && suffix != null) s = s + suffix;
                id = id(s);
            }
            i = next;
            if (id >= 0) {
                for (; pendingUnk > 0; pendingUnk--) word[n++] = unkId;
                word[n++] = id;
                continue;
            }
            if (options.byteFallback()) {
                byte[] bytes = (s != null ? s : Character.toString(cp)).getBytes(StandardCharsets.UTF_8);
                boolean all = true;
                for (byte b : bytes) all &= fallbackIds[b & 0xff] >= 0;
                if (all) {     // as tokenizers: a pending unknown token is added after these bytes
                    for (byte b : bytes) word[n++] = fallbackIds[b & 0xff];
                    continue;
                }
            }
            if (unkId >= 0) {
                if (pendingUnk > 0 && !fuseUnk) word[n++] = unkId;
                else if (pendingUnk > 0) continue;
                pendingUnk = 1;
            }
        }
        if (pendingUnk > 0) word[n++] = unkId;
        n = n <= LINEAR_MAX ? mergeLinear(word, n) : mergeHeap(word, n);
        for (int k = 0; k < n; k++) out.add(word[k]);
    }

    /** Short words: keep the merge of every adjacent pair and rescan for the lowest rank. */
    private int mergeLinear(int[] w, int n) {
        if (n < 2) return n;
        int[] m = new int[n - 1];
        for (int i = 0; i < n - 1; i++) m[i] = merge(w[i], w[i + 1]);
        while (n > 1) {
            int best = Integer.MAX_VALUE, at = -1;
            for (int i = 0; i < n - 1; i++) if (m[i] >= 0 && priority(m[i]) < best) { best = priority(m[i]); at = i; }
            if (at < 0) break;
            w[at] = mergeResult[m[at]];
            System.arraycopy(w, at + 2, w, at + 1, n - at - 2);
            System.arraycopy(m, at + 1, m, at, n - at - 2);
            n--;
            if (at > 0) m[at - 1] = merge(w[at - 1], w[at]);
            if (at < n - 1) m[at] = merge(w[at], w[at + 1]);
        }
        return n;
    }

    /** Long words: a heap of (rank, position) over a linked list of symbols; stale entries are skipped. */
    private int mergeHeap(int[] w, int n) {
        if (n == 0) return 0;
        int[] next = new int[n], prev = new int[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
        PriorityQueue<Long> heap = new PriorityQueue<>();
        for (int i = 0; i + 1 < n; i++) push(heap, w[i], w[i + 1], i);
        while (!heap.isEmpty()) {
            long e = heap.poll();
            int rank = (int) (e >>> 32), at = (int) e, nx = next[at];
            if (w[at] < 0 || nx < 0) continue;
            int m = merge(w[at], w[nx]);
            if (m < 0 || priority(m) != rank) continue;
            w[at] = mergeResult[m];
            w[nx] = -1;
            next[at] = next[nx];
            if (next[at] >= 0) prev[next[at]] = at;
            if (prev[at] >= 0) push(heap, w[prev[at]], w[at], prev[at]);
            if (next[at] >= 0) push(heap, w[at], w[next[at]], at);
        }
        int k = 0;
        for (int i = 0; i >= 0; i = next[i]) w[k++] = w[i];
        return k;
    }

    private void push(PriorityQueue<Long> heap, int a, int b, int at) {
        int m = merge(a, b);
        if (m >= 0) heap.add((long) priority(m) << 32 | at);
    }
}
