package dev.lamina.gguf;

import dev.lamina.io.LaminaException;
import dev.lamina.tokenizer.AddedToken;
import dev.lamina.tokenizer.BpeTokenizer;
import dev.lamina.tokenizer.ByteLevel;
import dev.lamina.tokenizer.ByteTokenizer;
import dev.lamina.tokenizer.MissingTokenizer;
import dev.lamina.tokenizer.PipelineTokenizer;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.tokenizer.Tokenizers;
import dev.lamina.tokenizer.Vocabulary;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The tokenizer of a GGUF file, from its tokenizer.ggml.* metadata, and the same metadata written
 * for a Lamina tokenizer as llama.cpp's converter writes it.
 *
 * <p>{@code tokenizer.ggml.model} gpt2 is byte-level BPE: {@code tokens} (byte-level strings by id),
 * {@code token_type} (1 normal, 3 control, 4 user-defined, 5 unused, 6 byte) and {@code merges}
 * ("left right" by rank); control and user-defined tokens are matched in raw text like Hugging
 * Face's added tokens. Other pre-tokenizers, llama (SentencePiece) and gemma4 vocabularies are
 * built by {@link Tokenizers#fromVocabulary}, which encodes as llama.cpp does.
 */
public final class GgufVocab {
    private GgufVocab() {}

    static final String MODEL = "tokenizer.ggml.model", PRE = "tokenizer.ggml.pre", TOKENS = "tokenizer.ggml.tokens",
            TYPES = "tokenizer.ggml.token_type", MERGES = "tokenizer.ggml.merges", BOS = "tokenizer.ggml.bos_token_id",
            EOS = "tokenizer.ggml.eos_token_id", PAD = "tokenizer.ggml.padding_token_id", UNK = "tokenizer.ggml.unknown_token_id",
            ADD_BOS = "tokenizer.ggml.add_bos_token", CHAT_TEMPLATE = "tokenizer.chat_template",
            SCORES = "tokenizer.ggml.scores", ADD_SPACE_PREFIX = "tokenizer.ggml.add_space_prefix";

    static final int NORMAL = 1, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5;

    /** Special ids (-1 when absent), whether a BOS token is prepended, and the Jinja chat template (null when absent). */
    public record Specials(int bos, int eos, int pad, boolean addBos, String chatTemplate) {}

    static Specials specials(GgufFile f) {
        return new Specials(optId(f, BOS), optId(f, EOS), optId(f, PAD), f.hasValue(ADD_BOS) && f.bool(ADD_BOS),
                f.hasValue(CHAT_TEMPLATE) ? f.string(CHAT_TEMPLATE) : null);
    }

    private static int optId(GgufFile f, String key) { return f.hasValue(key) ? f.intValue(key, 0) : -1; }

    /**
     * The file's tokenizer. A vocabulary Lamina cannot build gives a tokenizer that fails on first
     * use with the reason, so the model still loads for uses that need no text.
     */
    static Tokenizer read(GgufFile f) {
        Path file = f.file();
        if (!f.hasValue(MODEL)) return new MissingTokenizer(file + ": no tokenizer.ggml.model metadata; the file has no tokenizer");
        String model = f.string(MODEL);
        if (model.equals("gpt2") && f.hasValue(PRE) && f.string(PRE).equals("gpt-2")) return bpe(f);
        try {
            return Tokenizers.fromVocabulary(vocabulary(f, model));
        } catch (LaminaException e) {
            return new MissingTokenizer(file + ": " + e.getMessage());
        }
    }

    /** The tokenizer of a GGUF file; throws LaminaException with the reason when Lamina cannot build it. */
    public static Tokenizer tokenizer(Path file) {
        try (GgufFile f = GgufFile.open(file)) {
            Tokenizer tok = read(f);
            if (tok instanceof MissingTokenizer u) throw new LaminaException(u.reason());
            return tok;
        }
    }

    private static Vocabulary vocabulary(GgufFile f, String model) {
        List<String> tokens = f.strings(TOKENS);
        float[] scores = f.hasValue(SCORES) ? f.floatArray(SCORES) : null;
        int[] types = f.hasValue(TYPES) ? f.intArray(TYPES) : null;
        List<String> merges = f.hasValue(MERGES) ? f.strings(MERGES) : null;
        boolean spacePrefix = f.hasValue(ADD_SPACE_PREFIX) ? f.bool(ADD_SPACE_PREFIX) : model.equals("llama");
        try {
            return new Vocabulary(model, f.hasValue(PRE) ? f.string(PRE) : null, tokens, scores, types, merges,
                    optId(f, BOS), optId(f, EOS), optId(f, UNK), spacePrefix, f.hasValue(ADD_BOS) && f.bool(ADD_BOS));
        } catch (IllegalArgumentException e) {
            throw new LaminaException(e.getMessage());
        }
    }

    private static Tokenizer bpe(GgufFile f) {
        Path file = f.file();
        String pre = f.hasValue(PRE) ? f.string(PRE) : "(none)";
        if (!pre.equals("gpt-2"))
            return new MissingTokenizer(file + ": tokenizer.ggml.pre '" + GgufFile.shown(pre) + "' splits text differently from GPT-2; Lamina's byte-level BPE "
                    + "implements the gpt-2 pre-tokenizer only");
        List<String> tokens = f.strings(TOKENS);
        int[] types = f.hasValue(TYPES) ? f.intArray(TYPES) : null;
        if (types != null && types.length != tokens.size())
            throw new LaminaException(file + ": metadata '" + TYPES + "' has " + types.length + " entries but '" + TOKENS + "' has " + tokens.size());
        String[] vocab = new String[tokens.size()];
        List<AddedToken> added = new ArrayList<>();
        for (int id = 0; id < vocab.length; id++) {
            int type = types == null ? NORMAL : types[id];
            if (type == UNUSED) continue;
            vocab[id] = tokens.get(id);
            if (type == CONTROL || type == USER_DEFINED) {
                if (tokens.get(id).isEmpty()) throw new LaminaException(file + ": token " + id + " is an empty " + (type == CONTROL ? "control" : "user-defined") + " token");
                added.add(new AddedToken(id, tokens.get(id), type == CONTROL, false, false, false, type != CONTROL));
            }
        }
        List<String> merges = f.hasValue(MERGES) ? f.strings(MERGES) : List.of();
        return BpeTokenizer.of(vocab, merges, added, file.toString());
    }

    /**
     * The GGUF vocabulary lists of tok, padded with unused entries to vocabSize ids: Lamina's
     * byte-level BPE and byte tokenizer as gpt2 vocabularies with GPT-2's pre-tokenizer; a
     * tokenizer.json, tokenizer.model or GGUF tokenizer as {@link PipelineTokenizer#llamaCppVocabulary}
     * gives it. Throws LaminaException saying why tok has no such form.
     */
    public static Vocabulary vocabulary(Tokenizer tok, int vocabSize) {
        if (tok instanceof MissingTokenizer m) throw new LaminaException(m.reason());
        if (tok instanceof PipelineTokenizer p) return p.llamaCppVocabulary(vocabSize);
        String[] tokens = new String[vocabSize];
        int[] types = new int[vocabSize];
        List<String> merges;
        if (tok instanceof BpeTokenizer bpe) {
            if (bpe.prefixSpace())
                throw new LaminaException("the tokenizer adds a prefix space (add_prefix_space), which GGUF's gpt2 vocabulary cannot express");
            String[] v = bpe.vocabulary();
            for (int id = 0; id < Math.min(v.length, vocabSize); id++) if (v[id] != null) { tokens[id] = v[id]; types[id] = NORMAL; }
            for (AddedToken t : bpe.addedTokens()) {
                if (t.id() >= vocabSize) continue;
                tokens[t.id()] = t.content();
                types[t.id()] = t.special() ? CONTROL : USER_DEFINED;
            }
            merges = bpe.merges();
        } else if (tok instanceof ByteTokenizer) {
            // one token per byte and no merges encodes exactly as the byte tokenizer does
            for (int b = 0; b < 256; b++) { tokens[b] = String.valueOf(ByteLevel.charOf(b)); types[b] = NORMAL; }
            tokens[256] = BpeTokenizer.EOT;
            types[256] = CONTROL;
            merges = List.of();
        } else {
            throw new LaminaException("tokenizer " + tok.describe() + " has no GGUF form");
        }
        Vocabulary.markUnused(tokens, types);
        int eot = tok.eotId() < vocabSize ? tok.eotId() : -1;
        return new Vocabulary("gpt2", "gpt-2", Arrays.asList(tokens), null, types, merges, eot, eot, -1, false, false);
    }

    /** Whether tok has a GGUF vocabulary of vocabSize ids ({@link #vocabulary} gives it). */
    public static boolean writable(Tokenizer tok, int vocabSize) {
        try {
            vocabulary(tok, vocabSize);
            return true;
        } catch (LaminaException e) {
            return false;
        }
    }

    /** The tokenizer.ggml.* entries of v, as convert_hf_to_gguf.py writes them. */
    static void write(Vocabulary v, GgufWriter w) {
        w.putString(MODEL, v.model());
        if (v.pre() != null) w.putString(PRE, v.pre());
        w.putStrings(TOKENS, v.tokens());
        if (v.scores() != null) w.putFloat32s(SCORES, v.scores());
        int[] types = new int[v.tokens().size()];
        for (int id = 0; id < types.length; id++) types[id] = v.type(id);
        w.putInt32s(TYPES, types);
        if (v.merges() != null) w.putStrings(MERGES, v.merges());
        if (v.bosId() >= 0) w.putUint32(BOS, v.bosId());
        if (v.eosId() >= 0) w.putUint32(EOS, v.eosId());
        if (v.unkId() >= 0) w.putUint32(UNK, v.unkId());
        if (v.model().equals("llama")) w.putBool(ADD_SPACE_PREFIX, v.addSpacePrefix());
        w.putBool(ADD_BOS, v.addBos());
    }
}
