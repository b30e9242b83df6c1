package dev.lamina.tokenizer;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * The vocabulary and ranked merges of a byte-level BPE model, and the merge loop for one
 * pre-tokenized word. Immutable and thread-safe.
 *
 * <p>A word starts as one symbol per UTF-8 byte (the vocabulary entry of that byte's
 * {@link ByteLevel} character); then, while some adjacent pair has a merge, the pair with the
 * lowest rank is merged, the leftmost first among equal pairs. This is Hugging Face's BPE and gives
 * the same result as GPT-2's encoder.py.
 */
final class BpeModel {
    /** Words longer than this (in bytes) merge with a heap instead of rescanning the pairs. */
    private static final int LINEAR_MAX = 48;

    private final String[] tokens;          // id -> byte-level token string; null for ids outside the model vocabulary
    private final Map<String, Integer> ids;  // token string -> id
    private final int[] mergeLeft, mergeRight, mergeResult;  // by rank
    private final LongIntMap ranks = new LongIntMap(1024);   // pair -> rank
    private final int[] byteIds = new int[256];             // byte -> id, -1 if the vocabulary lacks it
    private final int unkId;
    private final boolean fuseUnk, ignoreMerges;

    /**
     * tokens[id] is the byte-level string of id (null for unused ids); merges are given by rank as
     * token ids. unkId is -1 for none. Throws IllegalArgumentException naming the offending entry.
     */
    BpeModel(String[] tokens, int[] mergeLeft, int[] mergeRight, int unkId, boolean fuseUnk, boolean ignoreMerges) {
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
        for (int r = 0; r < mergeLeft.length; r++) {
            String a = token(mergeLeft[r]), b = token(mergeRight[r]);
            if (a == null || b == null)
                throw new IllegalArgumentException("merge " + r + " refers to unknown token id " + (a == null ? mergeLeft[r] : mergeRight[r]));
            Integer result = ids.get(a + b);
            if (result == null)
                throw new IllegalArgumentException("merge " + r + " '" + a + " " + b + "' gives '" + a + b + "', which is not in the vocabulary");
            mergeResult[r] = result;
            ranks.put(LongIntMap.pair(mergeLeft[r], mergeRight[r]), r); // a repeated merge keeps its last rank, as in tokenizers
        }
        Arrays.fill(byteIds, -1);
        for (int b = 0; b < 256; b++) {
            Integer id = ids.get(String.valueOf(ByteLevel.charOf(b)));
            if (id != null) byteIds[b] = id;
        }
        this.unkId = unkId;
        this.fuseUnk = fuseUnk;
        this.ignoreMerges = ignoreMerges;
    }

    /** Number of ids the model vocabulary spans (max id + 1). */
    int size() { return tokens.length; }

    /** The byte-level string of id, or null. */
    String token(int id) { return id >= 0 && id < tokens.length ? tokens[id] : null; }

    /** The id of a byte-level token string, or -1. */
    int id(String token) { return ids.getOrDefault(token, -1); }

    int merges() { return mergeLeft.length; }
    int mergeLeft(int rank) { return mergeLeft[rank]; }
    int mergeRight(int rank) { return mergeRight[rank]; }
    int unkId() { return unkId; }
    boolean fuseUnk() { return fuseUnk; }
    boolean ignoreMerges() { return ignoreMerges; }

    private int rank(int a, int b) {
        int r = ranks.get(LongIntMap.pair(a, b));
        return r < 0 ? Integer.MAX_VALUE : r;
    }

    /** The ids of one pre-tokenized word given as UTF-8 bytes. */
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

    /** Short words: keep the rank of every adjacent pair and rescan for the minimum. */
    private int mergeLinear(int[] w, int n) {
        if (n < 2) return n;
        int[] r = new int[n - 1];
        for (int i = 0; i < n - 1; i++) r[i] = rank(w[i], w[i + 1]);
        while (n > 1) {
            int best = Integer.MAX_VALUE, at = -1;
            for (int i = 0; i < n - 1; i++) if (r[i] < best) { best = r[i]; at = i; }
            if (at < 0) break;
            w[at] = mergeResult[best];
            System.arraycopy(w, at + 2, w, at + 1, n - at - 2);
            System.arraycopy(r, at + 1, r, at, n - at - 2);
            n--;
            if (at > 0) r[at - 1] = rank(w[at - 1], w[at]);
            if (at < n - 1) r[at] = rank(w[at], w[at + 1]);
        }
        return n;
    }

    /** Long words: a heap of (rank, position) over a linked list of symbols; stale entries are skipped. */
    private int mergeHeap(int[] w, int n) {
        int[] next = new int[n], prev = new int[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
        PriorityQueue<Long> heap = new PriorityQueue<>();
        for (int i = 0; i + 1 < n; i++) push(heap, w[i], w[i + 1], i);
        while (!heap.isEmpty()) {
            long e = heap.poll();
            int rank = (int) (e >>> 32), at = (int) e, nx = next[at];
            if (w[at] < 0 || nx < 0 || rank(w[at], w[nx]) != rank) continue;
            w[at] = mergeResult[rank];
            w[nx] = -1;
            next[at] = next[nx];
            if (next[at] >= 0) prev[next[at]] = at;
            if (prev[at] >= 0) push(heap, w[prev[at]], w[at], prev[at]);
            if (next[at] >= 0) push(heap, w[at], w[next[at]], at);
        }
        int m = 0;
        for (int i = 0; i >= 0; i = next[i]) w[m++] = w[i];
        return m;
    }

    private void push(PriorityQueue<Long> heap, int a, int b, int at) {
        int r = rank(a, b);
        if (r != Integer.MAX_VALUE) heap.add((long) r << 32 | at);
    }
}
