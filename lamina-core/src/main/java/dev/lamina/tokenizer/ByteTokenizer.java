package dev.lamina.tokenizer;

import dev.lamina.io.LaminaException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The simplest tokenizer: one id per UTF-8 byte (0..255) and 256 for end-of-text. */
public final class ByteTokenizer implements Tokenizer {
    public static final ByteTokenizer INSTANCE = new ByteTokenizer();
    public static final String MARKER_FILE = "tokenizer.txt";
    static final String MARKER = "bytes";

    private ByteTokenizer() {}

    @Override public int vocabSize() { return 257; }
    @Override public int eotId() { return 256; }
    @Override public String describe() { return "bytes"; }
    @Override public byte[] tokenBytes(int id) { return id >= 0 && id < 256 ? new byte[] {(byte) id} : null; }

    @Override
    public int[] encode(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) ids[i] = b[i] & 0xff;
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(ids.length);
        for (int id : ids) {
            if (id < 0 || id > 256) throw new IllegalArgumentException("token id " + id + " is not in [0, 257)");
            if (id < 256) out.write(id);
        }
        return StandardCharsets.UTF_8.decode(java.nio.ByteBuffer.wrap(out.toByteArray())).toString();
    }

    @Override
    public void save(Path dir) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(MARKER_FILE), MARKER + "\n");
        } catch (IOException e) {
            throw new LaminaException(dir + ": cannot write tokenizer (" + e.getMessage() + ")");
        }
    }
}
