package dev.lamina.tokenizer;

import java.util.Random;

/** Seeded random text that exercises pre-tokenisation and byte-level round trips. */
final class TextGen {
    private static final String[] PIECES = {
            "a", "Z", "é", "ß", "Ω", "ж", "中", "文", "日本", "한", "ا", "ש", "ก", "\u0301", "\u0308", "\u200d", "\ufe0f",
            "😀", "🚀", "👍🏽", "👨\u200d👩\u200d👧", "𝔘", "🇫🇷",
            "0", "7", "٣", "²", "½", "Ⅻ", "𝟙",
            " ", " ", " ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2028", "\u0085", "\u000b", "\f", "\u001c",
            "'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'x", "’",
            ".", ",", "!", "?", "-", "_", "\"", "(", ")", "#", "$", "€", "<", "|", ">", "\u0000", "\u007f", "\u00ad", "\ufffd",
            "the", " the", "ing", "Hello", " world", "<|endoftext|>", "<|end", "of", "text|>",
    };

    private final Random random;

    TextGen(long seed) { random = new Random(seed); }

    /** A string of up to maxPieces pieces; with surrogates, also lone high or low surrogates. */
    String next(int maxPieces, boolean loneSurrogates) {
        StringBuilder sb = new StringBuilder();
        int n = random.nextInt(maxPieces + 1);
        for (int i = 0; i < n; i++) {
            int k = random.nextInt(20);
            if (loneSurrogates && k == 0) sb.append((char) (random.nextBoolean() ? 0xD800 + random.nextInt(0x400) : 0xDC00 + random.nextInt(0x400)));
            else if (k == 1) sb.appendCodePoint(randomCodePoint());
            else sb.append(PIECES[random.nextInt(PIECES.length)]);
        }
        return sb.toString();
    }

    /** Any assigned, non-surrogate code point, biased towards the BMP. */
    int randomCodePoint() {
        while (true) {
            int cp = random.nextInt(4) == 0 ? random.nextInt(0x110000) : random.nextInt(0x10000);
            if (Character.isDefined(cp) && Character.getType(cp) != Character.SURROGATE) return cp;
        }
    }
}
