package dev.lamina.tokenizer;

import java.util.List;
import java.util.Locale;

/**
 * A text normalizer of Hugging Face's tokenizer.json ({@code "normalizer"}), applied to each
 * stretch of text between added tokens before pre-tokenisation. Only the text matters here (ids,
 * not offsets), so each one is a plain string function.
 */
sealed interface Normalizer {

    String normalize(String s);

    /** Each normalizer in order. */
    record Sequence(List<Normalizer> steps) implements Normalizer {
        public Sequence { steps = List.copyOf(steps); }

        @Override public String normalize(String s) {
            for (Normalizer n : steps) s = n.normalize(s);
            return s;
        }
    }

    /** Puts prefix in front of a non-empty text (Llama-2's "▁"). */
    record Prepend(String prefix) implements Normalizer {
        @Override public String normalize(String s) { return s.isEmpty() ? s : prefix + s; }
    }

    /** Replaces every match of a literal or regex pattern with content. */
    record Replace(TextPattern pattern, String content) implements Normalizer {
        @Override public String normalize(String s) { return pattern.replaceAll(s, content); }
    }

    /** One of the four Unicode normal forms. */
    enum Unicode implements Normalizer {
        NFC(java.text.Normalizer.Form.NFC), NFD(java.text.Normalizer.Form.NFD),
        NFKC(java.text.Normalizer.Form.NFKC), NFKD(java.text.Normalizer.Form.NFKD);

        private final java.text.Normalizer.Form form;

        Unicode(java.text.Normalizer.Form form) { this.form = form; }

        @Override public String normalize(String s) { return java.text.Normalizer.normalize(s, form); }
    }

    /** Lower case, character by character (no context rule for final sigma, as in Rust's char::to_lowercase). */
    record Lowercase() implements Normalizer {
        @Override public String normalize(String s) {
            StringBuilder sb = new StringBuilder(s.length());
            s.codePoints().forEach(cp -> {
                if (cp < 128) sb.append((char) Character.toLowerCase(cp));
                else sb.append(Character.toString(cp).toLowerCase(Locale.ROOT));
            });
            return sb.toString();
        }
    }

    /** Removes White_Space characters from the left and/or right end. */
    record Strip(boolean left, boolean right) implements Normalizer {
        @Override public String normalize(String s) {
            int a = 0, b = s.length();
            if (left) while (a < b && Gpt2Pattern.isWhiteSpace(s.codePointAt(a))) a += Character.charCount(s.codePointAt(a));
            if (right) while (b > a && Gpt2Pattern.isWhiteSpace(s.codePointBefore(b))) b -= Character.charCount(s.codePointBefore(b));
            return s.substring(a, b);
        }
    }

    /** Removes combining marks (category Mn), as tokenizers' StripAccents does after NFD. */
    record StripAccents() implements Normalizer {
        @Override public String normalize(String s) {
            StringBuilder sb = new StringBuilder(s.length());
            s.codePoints().filter(cp -> Character.getType(cp) != Character.NON_SPACING_MARK).forEach(sb::appendCodePoint);
            return sb.toString();
        }
    }

    /**
     * SentencePiece's normalizer with the identity rule, over the whole text: drops leading,
     * trailing and repeated spaces (removeExtraWhitespaces), puts one space in front
     * (addDummyPrefix) and writes spaces as "▁" (escapeWhitespaces).
     */
    record SentencePiece(boolean addDummyPrefix, boolean removeExtraWhitespaces, boolean escapeWhitespaces) implements Normalizer {
        @Override public String normalize(String s) {
            int i = 0, n = s.length();
            if (removeExtraWhitespaces) while (i < n && s.charAt(i) == ' ') i++;
            if (i == n) return "";
            char space = escapeWhitespaces ? '\u2581' : ' ';
            StringBuilder sb = new StringBuilder(n + 1);
            if (addDummyPrefix) sb.append(space);
            boolean prevSpace = removeExtraWhitespaces;
            for (; i < n; i++) {
                char c = s.charAt(i);
                if (c != ' ') { sb.append(c); prevSpace = false; continue; }
                if (prevSpace) continue;
                sb.append(space);
                prevSpace = removeExtraWhitespaces;
            }
            if (removeExtraWhitespaces) while (!sb.isEmpty() && sb.charAt(sb.length() - 1) == space) sb.setLength(sb.length() - 1);
            return sb.toString();
        }
    }
}
