package dev.lamina.tokenizer;

import java.nio.file.Path;

/**
 * Text to token ids and back. Implementations: {@link ByteTokenizer} (256 byte symbols plus
 * end-of-text), the byte-level BPE tokenizer (GPT-2 files or a Hugging Face tokenizer.json) and
 * {@link PipelineTokenizer} (any decoder-LLM tokenizer.json, SentencePiece .model, GGUF vocabulary).
 */
public interface Tokenizer {

    /** Number of token ids (every id in [0, vocabSize()) decodes). */
    int vocabSize();

    /** Ids of text; special tokens such as {@code <|endoftext|>} are matched when the tokenizer has them enabled. */
    int[] encode(String text);

    /**
     * The ids of a prompt to continue: as {@link #encode}, with the beginning-of-sequence token in
     * front where the model's tokenizer puts one (Llama, Mistral, Gemma: their tokenizer.json
     * post-processor, a GGUF file's add_bos_token), unless the text already starts with it (a chat
     * template that writes it). transformers and llama.cpp prompt such models the same way.
     */
    default int[] encodePrompt(String text) { return encode(text); }

    /** Text of ids; invalid UTF-8 byte runs decode to U+FFFD. Throws IllegalArgumentException for an unknown id. */
    String decode(int[] ids);

    /** The id that separates documents ({@code <|endoftext|>}); -1 if the tokenizer has none (a BPE tokenizer may not). */
    int eotId();

    /**
     * Writes this tokenizer into dir so that {@link Tokenizers#load(Path)} reads it back
     * (tokenizer.json for BPE, tokenizer.txt saying "bytes" for the byte tokenizer).
     */
    void save(Path dir);

    /** A short description for logs, e.g. "bpe(8192)" or "bytes". */
    String describe();

    /**
     * The UTF-8 bytes token id adds to decoded text wherever it stands, or null when that is not a
     * fixed byte string (a special or added token, a piece that is not whole characters): what
     * constrained decoding may choose from. By default the text it adds after a one-token reference
     * text ("a"), so a SentencePiece piece keeps its leading space.
     */
    default byte[] tokenBytes(int id) {
        int[] ref = encode("a");
        String s;
        try {
            if (ref.length == 1) {
                String a = decode(ref), both = decode(new int[] {ref[0], id});
                if (!both.startsWith(a)) return null;
                s = both.substring(a.length());
            } else {
                s = decode(new int[] {id});
            }
        } catch (IllegalArgumentException e) {
            return null;                                   // an id the vocabulary leaves unused
        }
        return s.isEmpty() || s.indexOf('\uFFFD') >= 0 ? null : s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
}
