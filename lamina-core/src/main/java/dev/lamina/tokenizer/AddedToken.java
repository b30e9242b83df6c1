package dev.lamina.tokenizer;

/**
 * A token matched in the raw text before pre-tokenisation and never split, such as
 * {@code <|endoftext|>} (Hugging Face's {@code added_tokens}). Special tokens can be left
 * unmatched with {@link BpeTokenizer#encode(String, boolean)}.
 *
 * @param singleWord match only when not touching a letter, digit or underscore
 * @param lstrip     also swallow the whitespace before the match
 * @param rstrip     also swallow the whitespace after the match
 * @param normalized matched after the others (there is no normalizer, so only the order differs)
 */
public record AddedToken(int id, String content, boolean special, boolean singleWord,
                         boolean lstrip, boolean rstrip, boolean normalized) {
    public AddedToken {
        if (content == null || content.isEmpty()) throw new IllegalArgumentException("added token " + id + " has empty content");
        if (id < 0) throw new IllegalArgumentException("added token '" + content + "' has negative id " + id);
    }

    /** A special token as the trainer and GPT-2's files define them. */
    public static AddedToken special(int id, String content) {
        return new AddedToken(id, content, true, false, false, false, false);
    }
}
