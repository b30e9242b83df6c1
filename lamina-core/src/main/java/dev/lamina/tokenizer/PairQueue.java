package dev.lamina.tokenizer;

import java.util.Arrays;

/**
 * The trainer's pair statistics: for each adjacent token pair its total count, the words it
 * occurs in, and a max-heap to find the best pair with lazy invalidation (an entry whose count
 * no longer matches is skipped when popped; changed pairs are pushed again with their new count).
 *
 * <p>Order: highest count first; among equal counts the pair with the smaller left id, then the
 * smaller right id.
 */
final class PairQueue {
    private final LongIntMap slots = new LongIntMap(1 << 16);   // pair -> slot
    private long[] pair = new long[1 << 14], count = new long[1 << 14];
    private int[][] words = new int[1 << 14][];
    private int[] nWords = new int[1 << 14], dirtyMark = new int[1 << 14];
    private int size;

    private long[] heapCount = new long[1 << 14];
    private int[] heapSlot = new int[1 << 14];
    private int heapSize;

    private int[] dirty = new int[256];
    private int nDirty, epoch = 1;

    /** The slot of p, created with count 0 if new. */
    int slot(long p) {
        int s = slots.get(p);
        if (s >= 0) return s;
        if (size == pair.length) {
            int cap = size * 2;
            pair = Arrays.copyOf(pair, cap);
            count = Arrays.copyOf(count, cap);
            words = Arrays.copyOf(words, cap);
            nWords = Arrays.copyOf(nWords, cap);
            dirtyMark = Arrays.copyOf(dirtyMark, cap);
        }
        pair[size] = p;
        slots.put(p, size);
        return size++;
    }

    long pair(int slot) { return pair[slot]; }
    long count(int slot) { return count[slot]; }

    /** Adds delta occurrences of the pair in slot and marks it for re-queueing. */
    void add(int slot, long delta) {
        count[slot] += delta;
        if (dirtyMark[slot] != epoch) {
            dirtyMark[slot] = epoch;
            if (nDirty == dirty.length) dirty = Arrays.copyOf(dirty, nDirty * 2);
            dirty[nDirty++] = slot;
        }
    }

    /** Records that word w contains the pair in slot (consecutive repeats are dropped). */
    void addWord(int slot, int w) {
        int[] ws = words[slot];
        int n = nWords[slot];
        if (ws == null) words[slot] = ws = new int[4];
        else if (n > 0 && ws[n - 1] == w) return;
        else if (n == ws.length) words[slot] = ws = Arrays.copyOf(ws, n * 2);
        ws[n] = w;
        nWords[slot] = n + 1;
    }

    /** The words recorded for slot (some may no longer contain the pair); then forgets them. */
    int[] takeWords(int slot) {
        int[] ws = words[slot] == null ? new int[0] : Arrays.copyOf(words[slot], nWords[slot]);
        words[slot] = null;
        nWords[slot] = 0;
        return ws;
    }

    /** Pushes every pair changed since the last call whose count is at least minCount. */
    void requeueChanged(long minCount) {
        for (int i = 0; i < nDirty; i++) {
            int s = dirty[i];
            if (count[s] >= minCount && count[s] > 0) push(s);
        }
        nDirty = 0;
        epoch++;
    }

    /** Removes and returns the best pair's slot, or -1 when none is left. */
    int pollBest() {
        while (heapSize > 0) {
            int s = heapSlot[0];
            long c = heapCount[0];
            heapSize--;
            if (heapSize > 0) {
                heapSlot[0] = heapSlot[heapSize];
                heapCount[0] = heapCount[heapSize];
                siftDown(0);
            }
            if (c == count[s] && c > 0) return s;   // otherwise stale
        }
        return -1;
    }

    private boolean before(long c1, int s1, long c2, int s2) {
        return c1 != c2 ? c1 > c2 : pair[s1] < pair[s2];
    }

    private void push(int s) {
        if (heapSize == heapSlot.length) {
            heapSlot = Arrays.copyOf(heapSlot, heapSize * 2);
            heapCount = Arrays.copyOf(heapCount, heapSize * 2);
        }
        int i = heapSize++;
        long c = count[s];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (!before(c, s, heapCount[parent], heapSlot[parent])) break;
            heapSlot[i] = heapSlot[parent];
            heapCount[i] = heapCount[parent];
            i = parent;
        }
        heapSlot[i] = s;
        heapCount[i] = c;
    }

    private void siftDown(int i) {
        int s = heapSlot[i];
        long c = heapCount[i];
        while (true) {
            int child = 2 * i + 1;
            if (child >= heapSize) break;
            if (child + 1 < heapSize && before(heapCount[child + 1], heapSlot[child + 1], heapCount[child], heapSlot[child])) child++;
            if (!before(heapCount[child], heapSlot[child], c, s)) break;
            heapSlot[i] = heapSlot[child];
            heapCount[i] = heapCount[child];
            i = child;
        }
        heapSlot[i] = s;
        heapCount[i] = c;
    }
}
