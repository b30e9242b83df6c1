package dev.lamina.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

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

    AddedTokens(List<AddedToken> tokens) { this(tokens, s -> s); }

    /** The normalized tokens are looked for as normalizer makes them, in normalized text (tokenizers does the same). */
    AddedTokens(List<AddedToken> tokens, UnaryOperator<String> normalizer) {
        this.all = List.copyOf(tokens);
        this.raw = new Group(all.stream().filter(t -> !t.normalized()).toList(), s -> s);
        this.normalized = new Group(all.stream().filter(AddedToken::normalized).toList(), normalizer);
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

    /** The first pass alone: tokens with normalized=false, in raw text. */
    void splitRaw(String s, boolean matchSpecial, Visitor out) { raw.split(s, 0, s.length(), matchSpecial, out); }

    /** The second pass alone: tokens with normalized=true, in normalized text. */
    void splitNormalized(String s, boolean matchSpecial, Visitor out) { normalized.split(s, 0, s.length(), matchSpecial, out); }

    boolean hasNormalized() { return !normalized.isEmpty(); }

    /** One matching pass: tokens indexed by first char, longest first. */
    private static final class Group {
        /** A token and the text it is matched as. */
        private record Entry(String text, AddedToken token) {}

        private final Map<Character, List<Entry>> byFirst = new HashMap<>();
        private final long[] firstChars = new long[1024];   // bit set over the 65536 chars

        Group(List<AddedToken> tokens, UnaryOperator<String> form) {
            for (AddedToken t : tokens) {
                String text = form.apply(t.content());
                if (text.isEmpty()) continue;
                char c = text.charAt(0);
                byFirst.computeIfAbsent(c, k -> new ArrayList<>()).add(new Entry(text, t));
                firstChars[c >>> 6] |= 1L << c;
            }
            byFirst.values().forEach(l -> l.sort(Comparator.comparingInt((Entry e) -> -e.text().length())));
        }

        boolean isEmpty() { return byFirst.isEmpty(); }

        void split(String s, int from, int to, boolean matchSpecial, Visitor out) {
            int done = from;
            for (int i = from; i < to; i++) {
                char c = s.charAt(i);
                if ((firstChars[c >>> 6] & 1L << c) == 0) continue;
                AddedToken hit = null;
                int stop = i;
                for (Entry e : byFirst.get(c)) {
                    if (e.token().special() && !matchSpecial) continue;
                    if (s.startsWith(e.text(), i) && i + e.text().length() <= to) { hit = e.token(); stop = i + e.text().length(); break; }
                }
                if (hit == null) continue;
                int start = i;
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

        private static boolean isWhitespace(char c) { return Gpt2Pattern.isWhiteSpace(c); }
    }
}
