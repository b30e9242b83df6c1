package dev.lamina.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds added tokens in text, leftmost-longest, as Hugging Face's AddedVocabulary does: first the
 * tokens with normalized=false, then the others in the text left between those matches.
 */
final class AddedTokens {
    /** Receives the pieces of a split in order: plain text ranges and matched token ids. */
    interface Visitor {
        void text(int start, int end);
        void token(int id);
    }

    private final List<AddedToken> all;
    private final Group raw, normalized;

    AddedTokens(List<AddedToken> tokens) {
        this.all = List.copyOf(tokens);
        this.raw = new Group(all.stream().filter(t -> !t.normalized()).toList());
        this.normalized = new Group(all.stream().filter(AddedToken::normalized).toList());
    }

    List<AddedToken> all() { return all; }

    boolean isEmpty() { return all.isEmpty(); }

    /** Splits s into text ranges and token ids; special tokens are skipped unless matchSpecial. */
    void split(String s, boolean matchSpecial, Visitor out) {
        if (normalized.isEmpty()) { raw.split(s, 0, s.length(), matchSpecial, out); return; }
        raw.split(s, 0, s.length(), matchSpecial, new Visitor() {
            @Override public void text(int start, int end) { normalized.split(s, start, end, matchSpecial, out); }
            @Override public void token(int id) { out.token(id); }
        });
    }

    /** One matching pass: tokens indexed by first char, longest first. */
    private static final class Group {
        private final Map<Character, List<AddedToken>> byFirst = new HashMap<>();
        private final long[] firstChars = new long[1024];   // bit set over the 65536 chars

        Group(List<AddedToken> tokens) {
            for (AddedToken t : tokens) {
                char c = t.content().charAt(0);
                byFirst.computeIfAbsent(c, k -> new ArrayList<>()).add(t);
                firstChars[c >>> 6] |= 1L << c;
            }
            byFirst.values().forEach(l -> l.sort(Comparator.comparingInt((AddedToken t) -> -t.content().length())));
        }

        boolean isEmpty() { return byFirst.isEmpty(); }

        void split(String s, int from, int to, boolean matchSpecial, Visitor out) {
            int done = from;
            for (int i = from; i < to; i++) {
                char c = s.charAt(i);
                if ((firstChars[c >>> 6] & 1L << c) == 0) continue;
                AddedToken hit = null;
                for (AddedToken t : byFirst.get(c)) {
                    if (t.special() && !matchSpecial) continue;
                    if (s.startsWith(t.content(), i) && i + t.content().length() <= to) { hit = t; break; }
                }
                if (hit == null) continue;
                int start = i, stop = i + hit.content().length();
                if (hit.singleWord() && (isWordChar(s, start - 1, from, true) || isWordChar(s, stop, to, false))) {
                    i = stop - 1;   // tokenizers skips the whole match, not just its first char
                    continue;
                }
                if (hit.lstrip()) while (start > done && isWhitespace(s.charAt(start - 1))) start--;
                if (hit.rstrip()) while (stop < to && isWhitespace(s.charAt(stop))) stop++;
                if (start > done) out.text(done, start);
                out.token(hit.id());
                done = stop;
                i = stop - 1;
            }
            if (done < to) out.text(done, to);
        }

        /** Unicode \\w as in the Rust regex crate tokenizers uses: letters, marks, digits, connectors, joiners. */
        private static boolean isWordChar(String s, int i, int limit, boolean before) {
            if (before ? i < limit : i >= limit) return false;
            int cp = before ? s.codePointBefore(i + 1) : s.codePointAt(i);
            if (Character.isAlphabetic(cp) || cp == 0x200C || cp == 0x200D) return true;
            return switch (Character.getType(cp)) {
                case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.COMBINING_SPACING_MARK,
                     Character.DECIMAL_DIGIT_NUMBER, Character.CONNECTOR_PUNCTUATION -> true;
                default -> false;
            };
        }

        private static boolean isWhitespace(char c) { return PreTokenizer.isWhiteSpace(c); }
    }
}
