package dev.lamina.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * GPT-2's byte↔unicode table: every byte gets a printable character so that BPE tokens are
 * ordinary strings (this is how encoder.json, vocab.bpe and Hugging Face's ByteLevel store them).
 *
 * <p>The printable bytes {@code '!'..'~'}, {@code '¡'..'¬'} and {@code '®'..'ÿ'} (188 of them) map
 * to the character with the same code; the other 68 bytes (controls, space, DEL, NBSP, soft
 * hyphen), in increasing byte order, map to U+0100, U+0101, ... U+0143. So the space byte 0x20
 * is {@code 'Ġ'} (U+0120) and newline 0x0A is {@code 'Ċ'} (U+010A).
 */
public final class ByteLevel {
    private ByteLevel() {}

    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[0x144];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int next = 0x100;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) next++;
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    /** The character standing for byte b (0..255). */
    public static char charOf(int b) { return BYTE_TO_CHAR[b & 0xff]; }

    /** The byte a table character stands for, or -1 if c is not in the table. */
    static int byteOf(char c) { return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1; }

    /** The token string of raw bytes. */
    static String toTokenString(byte[] bytes) {
        char[] cs = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) cs[i] = BYTE_TO_CHAR[bytes[i] & 0xff];
        return new String(cs);
    }

    /**
     * The raw bytes of a token string. A character outside the table (a vocabulary entry that is
     * not byte-level, such as a special token with non-Latin letters) contributes its UTF-8 bytes.
     */
    static byte[] toBytes(String token) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(token.length());
        for (int i = 0; i < token.length(); i++) {
            int b = byteOf(token.charAt(i));
            if (b >= 0) { out.write(b); continue; }
            int cp = token.codePointAt(i);
            out.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
            i += Character.charCount(cp) - 1;
        }
        return out.toByteArray();
    }
}
