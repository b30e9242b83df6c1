package dev.lamina.data;

/** Placeholder until the token-file format lands: tokens held in memory. */
public final class TokenFile {
    private final int[] tokens; private final int vocab;
    public TokenFile(int[] tokens, int vocab) { this.tokens = tokens; this.vocab = vocab; }
    public long size() { return tokens.length; }
    public int get(long i) { return tokens[(int) i]; }
    public void read(long start, int[] dst, int dstOff, int len) { System.arraycopy(tokens, (int) start, dst, dstOff, len); }
    public int vocabSize() { return vocab; }
}
