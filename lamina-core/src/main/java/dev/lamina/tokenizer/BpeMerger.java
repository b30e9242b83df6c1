package dev.lamina.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * The trainer's merge loop over a word-frequency table. Counts of adjacent pairs are kept
 * incrementally: merging a pair only revisits the words that contain it (from the pair→words
 * index) and only adjusts the pairs that touch a merged position.
 *
 * <p>Ids 0..255 are the bytes; each merge adds the token of the two tokens' joined bytes, or reuses
 * the id when that byte string is already a token (two different merges can spell the same bytes).
 */
final class BpeMerger {
    private int[] sym;          // all words' symbols, word w in sym[start[w], start[w] + len[w])
    private final int[] start, len;
    private final long[] freq;
    private final long corpusBytes;
    private final PairQueue pairs = new PairQueue();

    final List<byte[]> tokens = new ArrayList<>();          // id -> bytes
    private final Map<String, Integer> tokenIds = new HashMap<>();  // bytes as Latin-1 string -> id
    final IntList mergeLeft = new IntList(1024), mergeRight = new IntList(1024);

    private int[] oldScratch = new int[64];
    private boolean[] consumed = new boolean[64], merged = new boolean[64];

    BpeMerger(Map<String, Long> words) {
        int n = words.size();
        start = new int[n];
        len = new int[n];
        freq = new long[n];
        sym = new int[Math.max(16, n * 8)];
        int w = 0, at = 0;
        long bytes = 0;
        for (var e : words.entrySet()) {
            byte[] b = e.getKey().getBytes(StandardCharsets.UTF_8);
            if (at + b.length > sym.length) sym = Arrays.copyOf(sym, Math.max(sym.length * 2, at + b.length));
            start[w] = at;
            len[w] = b.length;
            freq[w] = e.getValue();
            bytes += b.length * e.getValue();
            for (byte x : b) sym[at++] = x & 0xff;
            w++;
        }
        corpusBytes = bytes;
        for (int b = 0; b < 256; b++) addToken(new byte[] {(byte) b});
        for (w = 0; w < n; w++) {
            for (int i = start[w], end = start[w] + len[w] - 1; i < end; i++) {
                int s = pairs.slot(LongIntMap.pair(sym[i], sym[i + 1]));
                pairs.add(s, freq[w]);
                pairs.addWord(s, w);
            }
        }
    }

    private int addToken(byte[] bytes) {
        String key = new String(bytes, StandardCharsets.ISO_8859_1);
        Integer id = tokenIds.get(key);
        if (id != null) return id;
        tokens.add(bytes);
        tokenIds.put(key, tokens.size() - 1);
        return tokens.size() - 1;
    }

    /** Merges until there are maxTokens tokens or the best pair occurs fewer than minFrequency times. */
    void run(int maxTokens, long minFrequency, IntConsumer onToken) {
        pairs.requeueChanged(minFrequency);
        while (tokens.size() < maxTokens) {
            int best = pairs.pollBest();
            if (best < 0 || pairs.count(best) < minFrequency) break;
            long p = pairs.pair(best);
            int a = LongIntMap.left(p), b = LongIntMap.right(p);
            byte[] ab = Arrays.copyOf(tokens.get(a), tokens.get(a).length + tokens.get(b).length);
            System.arraycopy(tokens.get(b), 0, ab, tokens.get(a).length, tokens.get(b).length);
            int c = addToken(ab);
            mergeLeft.add(a);
            mergeRight.add(b);
            for (int w : pairs.takeWords(best)) mergeInWord(w, a, b, c);   // leaves the count of (a, b) at 0
            pairs.requeueChanged(minFrequency);
            onToken.accept(tokens.size());
        }
    }

    /** Merges every non-overlapping (a, b), left to right, in word w, updating the pair counts. */
    private void mergeInWord(int w, int a, int b, int c) {
        int s = start[w], n = len[w];
        if (n > oldScratch.length) {
            oldScratch = new int[n * 2];
            consumed = new boolean[n * 2];
            merged = new boolean[n * 2];
        }
        int[] old = oldScratch;
        System.arraycopy(sym, s, old, 0, n);
        int m = 0;
        for (int k = 0; k < n; ) {
            if (k + 1 < n && old[k] == a && old[k + 1] == b) {
                consumed[k] = consumed[k + 1] = true;
                merged[m] = true;
                sym[s + m++] = c;
                k += 2;
            } else {
                consumed[k] = false;
                merged[m] = false;
                sym[s + m++] = old[k++];
            }
        }
        if (m == n) return;
        long f = freq[w];
        for (int k = 0; k + 1 < n; k++)
            if (consumed[k] || consumed[k + 1]) pairs.add(pairs.slot(LongIntMap.pair(old[k], old[k + 1])), -f);
        for (int k = 0; k + 1 < m; k++) {
            if (!merged[k] && !merged[k + 1]) continue;
            int slot = pairs.slot(LongIntMap.pair(sym[s + k], sym[s + k + 1]));
            pairs.add(slot, f);
            pairs.addWord(slot, w);
        }
        len[w] = m;
    }

    /** Tokens the corpus words take after the merges so far. */
    long corpusTokens() {
        long t = 0;
        for (int w = 0; w < len.length; w++) t += len[w] * freq[w];
        return t;
    }

    /** UTF-8 bytes of the corpus words. */
    long corpusBytes() { return corpusBytes; }
}
