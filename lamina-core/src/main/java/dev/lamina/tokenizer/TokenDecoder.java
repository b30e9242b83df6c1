package dev.lamina.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A decoder of Hugging Face's tokenizer.json ({@code "decoder"}): rewrites the token strings of
 * ids, in a chain, before they are joined into the text.
 */
sealed interface TokenDecoder {

    List<String> decode(List<String> tokens);

    /** Each decoder in order. */
    record Sequence(List<TokenDecoder> steps) implements TokenDecoder {
        public Sequence { steps = List.copyOf(steps); }

        @Override public List<String> decode(List<String> tokens) {
            for (TokenDecoder d : steps) tokens = d.decode(tokens);
            return tokens;
        }
    }

    /** GPT-2's characters back to bytes, then UTF-8 (invalid bytes become U+FFFD); a token outside the table stays as is. */
    record ByteLevel() implements TokenDecoder {
        @Override public List<String> decode(List<String> tokens) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            for (String t : tokens) {
                byte[] b = new byte[t.length()];
                boolean all = true;
                for (int i = 0; i < t.length() && all; i++) {
                    int x = dev.lamina.tokenizer.ByteLevel.byteOf(t.charAt(i));
                    all = x >= 0;
                    b[i] = (byte) x;
                }
                bytes.writeBytes(all ? b : t.getBytes(StandardCharsets.UTF_8));
            }
            return List.of(bytes.toString(StandardCharsets.UTF_8));
        }
    }

    /** Runs of {@code <0xXX>} tokens become their UTF-8 text, or one U+FFFD per byte when invalid. */
    record ByteFallback() implements TokenDecoder {
        @Override public List<String> decode(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            ByteArrayOutputStream run = new ByteArrayOutputStream();
            for (String t : tokens) {
                int b = byteOf(t);
                if (b >= 0) { run.write(b); continue; }
                flush(run, out);
                out.add(t);
            }
            flush(run, out);
            return out;
        }

        private static int byteOf(String t) {
            if (t.length() != 6 || !t.startsWith("<0x") || t.charAt(5) != '>') return -1;
            int hi = Character.digit(t.charAt(3), 16), lo = Character.digit(t.charAt(4), 16);
            return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
        }

        private static void flush(ByteArrayOutputStream run, List<String> out) {
            if (run.size() == 0) return;
            try {
                out.add(StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(run.toByteArray())).toString());
            } catch (CharacterCodingException e) {
                for (int i = 0; i < run.size(); i++) out.add("\uFFFD");
            }
            run.reset();
        }
    }

    /** All tokens joined into one. */
    record Fuse() implements TokenDecoder {
        @Override public List<String> decode(List<String> tokens) { return List.of(String.join("", tokens)); }
    }

    /** Removes up to start leading and stop trailing copies of content from each token. */
    record Strip(int content, int start, int stop) implements TokenDecoder {
        @Override public List<String> decode(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (String t : tokens) {
                int[] cps = t.codePoints().toArray();
                int a = 0, b = cps.length;
                for (int i = 0; i < start && i < cps.length && cps[i] == content; i++) a = i + 1;
                for (int i = 0; i < stop && cps.length - i - 1 >= 0 && cps[cps.length - i - 1] == content; i++) b = cps.length - i - 1;
                out.add(a >= b ? "" : new String(cps, a, b - a));
            }
            return out;
        }
    }

    /** Replaces every match of a pattern in each token. */
    record Replace(TextPattern pattern, String content) implements TokenDecoder {
        @Override public List<String> decode(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (String t : tokens) out.add(pattern.replaceAll(t, content));
            return out;
        }
    }

    /** "▁" back to spaces; in the first token they are dropped unless the prepend scheme is never. */
    record Metaspace(char replacement, PreTokenizer.PrependScheme prependScheme) implements TokenDecoder {
        @Override public List<String> decode(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (int i = 0; i < tokens.size(); i++) {
                String t = tokens.get(i);
                if (i == 0 && prependScheme != PreTokenizer.PrependScheme.NEVER) out.add(t.replace(String.valueOf(replacement), ""));
                else out.add(t.replace(replacement, ' '));
            }
            return out;
        }
    }

    /**
     * SentencePiece's start of text: a leading "▁" is dropped from the first piece that has one
     * (the dummy prefix); with removeExtraWhitespaces, from every piece until some text appears.
     */
    record SentencePieceStart(char replacement, boolean removeExtraWhitespaces) implements TokenDecoder {
        @Override public List<String> decode(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            boolean atStart = true;
            for (String t : tokens) {
                if (atStart) {
                    boolean consumed = !t.isEmpty() && t.charAt(0) == replacement;
                    if (consumed) t = t.substring(1);
                    if (!t.isEmpty() || (consumed && !removeExtraWhitespaces)) atStart = false;
                }
                out.add(t);
            }
            return out;
        }
    }
}
