package dev.lamina.tokenizer;

import java.util.List;

/**
 * A tokenizer given as the lists llama.cpp's GGUF files hold ({@code tokenizer.ggml.*}), for
 * {@link Tokenizers#fromVocabulary}. A GGUF reader fills it from the file's metadata.
 *
 * @param model          tokenizer.ggml.model: "llama" (SentencePiece BPE by score), "gpt2" (byte-level BPE
 *                       with merges) or "gemma4" (BPE with merges over "▁"-escaped UTF-8)
 * @param pre            tokenizer.ggml.pre: the pre-tokenizer's name (llama-bpe, qwen2, gpt-2, ...); null for the default
 * @param tokens         tokenizer.ggml.tokens, by id
 * @param scores         tokenizer.ggml.scores, by id (null when the file has none; "llama" needs them)
 * @param types          tokenizer.ggml.token_type, by id: 1 normal, 2 unknown, 3 control, 4 user-defined,
 *                       5 unused, 6 byte (null: all normal)
 * @param merges         tokenizer.ggml.merges as "left right" (null for "llama")
 * @param bosId          tokenizer.ggml.bos_token_id, -1 for none; likewise eosId and unkId
 * @param addSpacePrefix tokenizer.ggml.add_space_prefix (llama.cpp's default: true for "llama", false otherwise)
 * @param addBos         tokenizer.ggml.add_bos_token: whether {@code encode(text, true)} puts bos in front
 */
public record Vocabulary(String model, String pre, List<String> tokens, float[] scores, int[] types, List<String> merges,
                         int bosId, int eosId, int unkId, boolean addSpacePrefix, boolean addBos) {

    public static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;

    public Vocabulary {
        tokens = List.copyOf(tokens);
        merges = merges == null ? null : List.copyOf(merges);
        if (scores != null && scores.length != tokens.size())
            throw new IllegalArgumentException("tokenizer.ggml.scores has " + scores.length + " entries for " + tokens.size() + " tokens");
        if (types != null && types.length != tokens.size())
            throw new IllegalArgumentException("tokenizer.ggml.token_type has " + types.length + " entries for " + tokens.size() + " tokens");
    }

    /** The type of id (NORMAL when the file gives none). */
    public int type(int id) { return types == null ? NORMAL : types[id]; }

    /** Gaps (null tokens) become unused entries "[PADid]", as llama.cpp's converter fills them. */
    public static void markUnused(String[] tokens, int[] types) {
        for (int id = 0; id < tokens.length; id++) if (tokens[id] == null) { tokens[id] = "[PAD" + id + "]"; types[id] = UNUSED; }
    }

    /** These lists with unused entries appended up to vocabSize ids (a model may have more embedding rows than tokens). */
    public Vocabulary padded(int vocabSize) {
        int n = tokens.size();
        if (vocabSize < n) throw new dev.lamina.io.LaminaException("the tokenizer has " + n + " tokens but the model only " + vocabSize + " embedding rows");
        if (vocabSize == n) return this;
        String[] t = tokens.toArray(new String[vocabSize]);
        int[] ty = new int[vocabSize];
        for (int id = 0; id < n; id++) ty[id] = type(id);
        markUnused(t, ty);
        return new Vocabulary(model, pre, List.of(t), scores == null ? null : java.util.Arrays.copyOf(scores, vocabSize), ty, merges, bosId, eosId, unkId,
                addSpacePrefix, addBos);
    }
}
