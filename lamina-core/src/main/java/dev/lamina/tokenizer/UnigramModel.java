package dev.lamina.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Unigram language model (SentencePiece's unigram, tokenizers' Unigram): a piece is segmented
 * into the vocabulary entries whose scores (log probabilities) sum highest, by Viterbi over the
 * character positions. A character no entry starts with costs the lowest score minus 10 and
 * becomes the unknown token (runs of them fused into one), or its bytes' {@code <0xXX>} tokens
 * with byte_fallback. Ties keep the first path found (shorter entries are tried first), as in
 * tokenizers. Immutable and thread-safe.
 */
final class UnigramModel implements SubwordModel {
    private static final double UNK_PENALTY = 10.0;

    private final String[] pieces;
    private final double[] scores;
    private final Map<String, Integer> ids;
    private final Node root = new Node();
    private final int unkId;
    private final boolean byteFallback;
    private final double unkScore;

    /** A character trie over the pieces; id -1 on nodes that end no piece. */
    private static final class Node {
        final Map<Character, Node> next = new HashMap<>(4);
        int id = -1;
    }

    /**
     * pieces[id] with scores[id]; unkId -1 for none. Pieces in the trie are those with matchable[id]
     * (null: all, as tokenizers does; SentencePiece leaves out control and byte pieces).
     */
    UnigramModel(String[] pieces, double[] scores, boolean[] matchable, int unkId, boolean byteFallback) {
        if (pieces.length != scores.length) throw new IllegalArgumentException("pieces and scores differ in length");
        this.pieces = pieces.clone();
        this.scores = scores.clone();
        this.ids = new HashMap<>(pieces.length * 2);
        double min = Double.POSITIVE_INFINITY;
        for (int id = 0; id < pieces.length; id++) {
            Integer prev = ids.putIfAbsent(pieces[id], id);
            if (prev != null) throw new IllegalArgumentException("piece '" + pieces[id] + "' has two ids, " + prev + " and " + id);
            min = Math.min(min, scores[id]);
            if (matchable != null && !matchable[id] || pieces[id].isEmpty()) continue;
            Node n = root;
            for (int i = 0; i < pieces[id].length(); i++) n = n.next.computeIfAbsent(pieces[id].charAt(i), k -> new Node());
            n.id = id;
        }
        if (unkId >= pieces.length) throw new IllegalArgumentException("unk_id " + unkId + " is outside the " + pieces.length + " pieces");
        this.unkId = unkId;
        this.byteFallback = byteFallback;
        this.unkScore = min - UNK_PENALTY;
    }

    @Override public int size() { return pieces.length; }
    @Override public String token(int id) { return id >= 0 && id < pieces.length ? pieces[id] : null; }
    @Override public int id(String token) { return ids.getOrDefault(token, -1); }
    int unkId() { return unkId; }

    @Override
    public void encode(String s, IntList out) {
        int n = s.length();
        if (n == 0) return;
        double[] best = new double[n + 1];
        int[] from = new int[n + 1], via = new int[n + 1];
        java.util.Arrays.fill(from, -1);
        from[0] = 0;
        for (int at = 0; at < n; ) {
            if (from[at] < 0) { at++; continue; }  // inside a surrogate pair
            int charLen = Character.charCount(s.codePointAt(at));
            boolean single = false;
            Node node = root;
            for (int end = at; end < n; end++) {
                node = node.next.get(s.charAt(end));
                if (node == null) break;
                if (node.id < 0) continue;
                int stop = end + 1;
                double score = best[at] + scores[node.id];
                if (from[stop] < 0 || score > best[stop]) { best[stop] = score; from[stop] = at; via[stop] = node.id; }
                if (stop - at == charLen) single = true;
            }
            if (!single) {
                int stop = at + charLen;
                double score = best[at] + unkScore;
                if (from[stop] < 0 || score > best[stop]) { best[stop] = score; from[stop] = at; via[stop] = unkId; }
            }
            at += charLen;
        }
        if (unkId < 0) for (int end = n; end > 0; end = from[end])
            if (via[end] < 0) throw new dev.lamina.io.LaminaException("the text has a character no piece of the Unigram model covers, and the model has no unk_id to stand for it");
        // walk back; adjacent unknown stretches fuse into one
        List<int[]> spans = new ArrayList<>();   // {start, end, id}
        for (int end = n; end > 0; end = from[end]) {
            int start = from[end], id = via[end];
            if (id == unkId && !spans.isEmpty() && spans.getLast()[2] == unkId) spans.getLast()[0] = start;
            else spans.add(new int[] {start, end, id});
        }
        for (int k = spans.size() - 1; k >= 0; k--) {
            int[] sp = spans.get(k);
            if (sp[2] != unkId) { out.add(sp[2]); continue; }
            String text = s.substring(sp[0], sp[1]);
            int known = id(text);
            if (known >= 0) { out.add(known); continue; }
            if (byteFallback && addBytes(text, out)) continue;
            out.add(unkId);
        }
    }

    private boolean addBytes(String text, IntList out) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] idsOf = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) if ((idsOf[i] = id(BpeModel.byteToken(bytes[i] & 0xff))) < 0) return false;
        for (int id : idsOf) out.add(id);
        return true;
    }
}
