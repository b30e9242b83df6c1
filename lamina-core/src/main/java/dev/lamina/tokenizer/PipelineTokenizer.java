package dev.lamina.tokenizer;

import dev.lamina.io.LaminaException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A tokenizer as Hugging Face's {@code tokenizers} composes one: added tokens are cut out of the
 * raw text, each stretch between them is normalized, pre-tokenized into pieces, and each piece is
 * encoded by the model (BPE or Unigram); a post-processor may add the model's special tokens.
 * Decoding maps ids to token strings and runs the decoder chain. Reads tokenizer.json files of
 * every kind decoder LLMs ship, SentencePiece's tokenizer.model, and llama.cpp vocabularies
 * ({@link Tokenizers}). Immutable apart from a piece cache, and thread-safe.
 *
 * <p>{@link #encode(String)} matches special tokens in the text and adds no template tokens, like
 * Lamina's other tokenizers; {@link #encode(String, boolean)} can add them (Llama's bos).
 */
public final class PipelineTokenizer implements Tokenizer {
    private static final int CACHE_LIMIT = 1 << 16, CACHE_MAX_PIECE = 64;

    /** The file the tokenizer was read from, kept so that {@link #save} writes it back unchanged. */
    record Source(String fileName, byte[] content) {}

    /** The pipeline's parts; normalizer, preTokenizer, decoder and postProcessor may be null. */
    record Parts(Normalizer normalizer, PreTokenizer preTokenizer, SubwordModel model, TokenDecoder decoder,
                 PostProcessor postProcessor, List<AddedToken> addedTokens) {}

    private final Parts parts;
    private final AddedTokens added;
    private final String[] addedText;   // id -> content of an added token, else null
    private final String[] decodeText;  // id -> what the decoder gets for an added token: normalized ones as normalized
    private final boolean[] special;
    private final int eotId, bosId;
    private final Source source;
    private final String kind;
    private final Vocabulary vocabulary;  // the llama.cpp lists it was built from, or null
    private volatile Vocabulary derived;  // llamaCppVocabulary's last result (deriving checks by encoding)
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /** eotId/bosId -1 when there is none; source null when the tokenizer has no file to write back. */
    PipelineTokenizer(Parts parts, int eotId, int bosId, Source source, String kind) {
        this(parts, true, eotId, bosId, source, kind);
    }

    /**
     * normalizeAddedTokens: added tokens with normalized=true are looked for as the normalizer
     * makes them (tokenizers), or as written (SentencePiece's user-defined pieces).
     */
    PipelineTokenizer(Parts parts, boolean normalizeAddedTokens, int eotId, int bosId, Source source, String kind) {
        this(parts, normalizeAddedTokens, eotId, bosId, source, kind, null);
    }

    /** Built from a GGUF file's vocabulary, which {@link #llamaCppVocabulary} gives back as it was. */
    PipelineTokenizer(Parts parts, int eotId, int bosId, String kind, Vocabulary vocabulary) {
        this(parts, true, eotId, bosId, null, kind, vocabulary);
    }

    private PipelineTokenizer(Parts parts, boolean normalizeAddedTokens, int eotId, int bosId, Source source, String kind, Vocabulary vocabulary) {
        this.parts = parts;
        Normalizer n = parts.normalizer();
        this.added = new AddedTokens(parts.addedTokens(), n == null || !normalizeAddedTokens ? s -> s : n::normalize);
        int size = parts.model().size();
        for (AddedToken t : parts.addedTokens()) size = Math.max(size, t.id() + 1);
        addedText = new String[size];
        decodeText = new String[size];
        special = new boolean[size];
        for (AddedToken t : parts.addedTokens()) {
            addedText[t.id()] = t.content();
            decodeText[t.id()] = t.normalized() && n != null && normalizeAddedTokens ? n.normalize(t.content()) : t.content();
            special[t.id()] = t.special();
        }
        this.eotId = eotId;
        this.bosId = bosId;
        this.source = source;
        this.kind = kind;
        this.vocabulary = vocabulary;
    }

    Parts parts() { return parts; }

    /**
     * The tokenizer as llama.cpp's GGUF vocabulary lists ({@code tokenizer.ggml.*}) that encode
     * text as this tokenizer does, padded with unused entries to vocabSize ids: the lists it was
     * read from, or derived as llama.cpp's converter derives them from a tokenizer.json or
     * tokenizer.model and checked by encoding sample texts both ways. Throws LaminaException
     * saying why when there is no such form.
     */
    public Vocabulary llamaCppVocabulary(int vocabSize) {
        if (vocabulary != null) return vocabulary.padded(vocabSize);
        Vocabulary v = derived;
        if (v == null || v.tokens().size() != vocabSize) derived = v = LlamaCppVocab.derive(this, vocabSize);
        return v;
    }

    @Override public int vocabSize() { return addedText.length; }
    @Override public int eotId() { return eotId; }

    /** The beginning-of-sequence id the model expects in front of a prompt, or -1. */
    public int bosId() { return bosId; }

    @Override public String describe() { return kind + "(" + vocabSize() + ")"; }

    /** The token string of id: an added token's content or the model's vocabulary entry. */
    public String tokenString(int id) {
        String s = id >= 0 && id < addedText.length && addedText[id] != null ? addedText[id] : parts.model().token(id);
        if (s == null) throw unknownId(id);
        return s;
    }

    /** The added tokens (special or not), in file order. */
    public List<AddedToken> addedTokens() { return parts.addedTokens(); }

    @Override
    public int[] encodePrompt(String text) {
        int[] ids = encode(text);
        if (bosId < 0 || (ids.length > 0 && ids[0] == bosId)) return ids;
        int[] out = new int[ids.length + 1];
        out[0] = bosId;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** Ids of text, special tokens matched, no template tokens added. */
    @Override public int[] encode(String text) { return encode(text, false); }

    /** Ids of text; with addSpecialTokens the post-processor adds the model's special tokens (tokenizers' default). */
    public int[] encode(String text, boolean addSpecialTokens) {
        String s = BpeTokenizer.replaceLoneSurrogates(text);
        IntList out = new IntList(s.length() / 3 + 4);
        added.splitRaw(s, true, new AddedTokens.Visitor() {
            @Override public void text(int start, int end) { encodeStretch(s.substring(start, end), start == 0, out); }
            @Override public void token(int id) { out.add(id); }
        });
        int[] ids = out.toArray();
        return addSpecialTokens && parts.postProcessor() != null ? parts.postProcessor().process(ids) : ids;
    }

    private void encodeStretch(String raw, boolean first, IntList out) {
        String n = parts.normalizer() == null ? raw : parts.normalizer().normalize(raw);
        if (!added.hasNormalized()) { pieces(n, first, out); return; }
        added.splitNormalized(n, true, new AddedTokens.Visitor() {
            @Override public void text(int start, int end) { pieces(n.substring(start, end), first && start == 0, out); }
            @Override public void token(int id) { out.add(id); }
        });
    }

    private void pieces(String text, boolean first, IntList out) {
        if (text.isEmpty()) return;
        if (parts.preTokenizer() == null) { piece(text, out); return; }
        List<PreTokenizer.Piece> pieces = new ArrayList<>();
        parts.preTokenizer().split(new PreTokenizer.Piece(text, first), pieces);
        for (PreTokenizer.Piece p : pieces) piece(p.text(), out);
    }

    private void piece(String p, IntList out) {
        if (p.length() > CACHE_MAX_PIECE) { parts.model().encode(p, out); return; }
        int[] ids = cache.get(p);
        if (ids == null) {
            IntList one = new IntList(8);
            parts.model().encode(p, one);
            ids = one.toArray();
            if (cache.size() < CACHE_LIMIT) cache.putIfAbsent(p, ids);
        }
        out.addAll(ids);
    }

    /** Text of ids, special tokens included. */
    @Override public String decode(int[] ids) { return decode(ids, false); }

    /** Added tokens (special or not) have no fixed bytes in text; the others as {@link Tokenizer#tokenBytes}. */
    @Override
    public byte[] tokenBytes(int id) {
        if (id < 0 || id >= special.length || special[id] || addedText[id] != null) return null;
        return Tokenizer.super.tokenBytes(id);
    }

    /** Text of ids through the decoder chain; special tokens left out when skipSpecial. */
    public String decode(int[] ids, boolean skipSpecial) {
        List<String> tokens = new ArrayList<>(ids.length);
        for (int id : ids) {
            String t = tokenString(id);
            if (skipSpecial && special[id]) continue;
            tokens.add(decodeText[id] != null ? decodeText[id] : t);
        }
        if (parts.decoder() == null) return String.join(" ", tokens);
        return String.join("", parts.decoder().decode(tokens));
    }

    private IllegalArgumentException unknownId(int id) {
        return new IllegalArgumentException("token id " + id + " is not in the vocabulary of " + describe()
                + " (valid ids: 0.." + (vocabSize() - 1) + ")");
    }

    /** Whether {@link #save} can write the file this tokenizer was read from (not one built from a GGUF vocabulary). */
    public boolean savable() { return source != null; }

    /** Writes the file this tokenizer was read from (tokenizer.json or tokenizer.model) into dir, atomically. */
    @Override
    public void save(Path dir) {
        if (source == null)
            throw new LaminaException(describe() + ": built from a vocabulary list, not a tokenizer file, so there is nothing to save; "
                    + "save the tokenizer.json or tokenizer.model of the model instead");
        TokenizerFiles.writeAtomically(dir.resolve(source.fileName()), source.content());
    }
}
