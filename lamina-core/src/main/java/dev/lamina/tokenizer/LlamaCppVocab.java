package dev.lamina.tokenizer;

import dev.lamina.io.LaminaException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a {@link PipelineTokenizer} that encodes a {@link Vocabulary} as llama.cpp does:
 * control, unknown and user-defined tokens are cut out of the raw text; "llama" models escape
 * spaces as "▁" (with a space in front of every stretch of text when add_space_prefix) and merge
 * by piece score with byte fallback; "gpt2" models split by the regexes llama.cpp assigns to the
 * tokenizer.ggml.pre name, then run byte-level BPE.
 */
final class LlamaCppVocab {
    private LlamaCppVocab() {}

    private static final String GPT2 = Gpt2Pattern.PATTERN;
    private static final String LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN35 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String GPT2_NO_TAIL = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    private static final String GPT4O = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
            + "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
            + "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String TEKKEN = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
            + "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** A pre-tokenizer: the regexes applied one after the other (each cuts the pieces of the one before), and whether whole words skip the merges. */
    private record Pre(List<String> regexes, boolean ignoreMerges) {}

    /** llama.cpp's tokenizer.ggml.pre names (src/llama-vocab.cpp) and their regexes. */
    private static final Map<String, Pre> PRE = new HashMap<>();

    private static void pre(boolean ignoreMerges, List<String> regexes, String... names) {
        for (String n : names) PRE.put(n, new Pre(regexes, ignoreMerges));
    }

    static {
        pre(false, List.of("[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_NO_TAIL, "\\p{N}+", "[0-9][0-9][0-9]"), "default");
        pre(true, List.of(LLAMA3), "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano");
        pre(false, List.of(LLAMA3), "dbrx", "smaug-bpe", "glm4", "chatglm-bpe");
        pre(false, List.of("[\r\n]", "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\ud801\udc00-\ud801\udc4f\ud801\udcb0-\ud801\udcd3\ud801\udcd8-\ud801\udcfb\ud803\udc80-\ud803\udcb2\ud803\udcc0-\ud803\udcf2\ud806\udca0-\ud806\udcdf\ud83a\udd00-\ud83a\udd43]+", "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+", "\\s+$", "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+", "\\p{N}+"),
                "deepseek-llm");
        pre(false, List.of("[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+", "\\p{N}"), "deepseek-coder");
        pre(false, List.of("\\p{N}{1,3}", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
                "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
                "deepseek-v3");
        pre(false, List.of("[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_NO_TAIL, "[0-9][0-9][0-9]"), "falcon");
        pre(false, List.of("\\p{N}", GPT2_NO_TAIL), "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b");
        pre(false, List.of(GPT2), "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "mellum", "mpt", "olmo", "jais");
        pre(false, List.of(QWEN2), "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "stablelm2", "hunyuan", "solar-open", "grok-2");
        pre(false, List.of(QWEN35), "qwen35");
        pre(false, List.of(" ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+"), "poro-chat", "bloom", "gpt3-finnish");
        pre(false, List.of(" ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+", "\\p{N}"), "viking");
        pre(true, List.of(TEKKEN), "tekken");
        pre(false, List.of(GPT4O), "gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2");
    }

    static PipelineTokenizer build(Vocabulary v) {
        try {
            return switch (v.model()) {
                case "llama" -> sentencePiece(v);
                case "gpt2" -> byteLevel(v);
                case "gemma4" -> gemma4(v);
                default -> throw new LaminaException("tokenizer.ggml.model \"" + v.model()
                        + "\" is not supported (Lamina reads llama, gpt2 and gemma4 vocabularies)");
            };
        } catch (IllegalArgumentException e) {
            throw new LaminaException("tokenizer.ggml vocabulary: " + e.getMessage() + "; the file is inconsistent");
        }
    }

    /** Control, unknown and user-defined tokens, matched in the raw text (control and unknown ones as special). */
    private static List<AddedToken> added(Vocabulary v) {
        List<AddedToken> out = new ArrayList<>();
        for (int id = 0; id < v.tokens().size(); id++) {
            int t = v.type(id);
            if ((t == Vocabulary.CONTROL || t == Vocabulary.UNKNOWN || t == Vocabulary.USER_DEFINED) && !v.tokens().get(id).isEmpty())
                out.add(new AddedToken(id, v.tokens().get(id), t != Vocabulary.USER_DEFINED, false, false, false, false));
        }
        return out;
    }

    private static PostProcessor bos(Vocabulary v) {
        return v.addBos() && v.bosId() >= 0 ? new PostProcessor.Template(List.of(new PostProcessor.Item(new int[] {v.bosId()}), PostProcessor.Item.SEQUENCE)) : null;
    }

    private static PipelineTokenizer sentencePiece(Vocabulary v) {
        if (v.scores() == null) throw new IllegalArgumentException("a \"llama\" vocabulary needs tokenizer.ggml.scores");
        List<Float> scores = new ArrayList<>(v.scores().length);
        List<Integer> types = new ArrayList<>(v.scores().length);
        for (int id = 0; id < v.scores().length; id++) {
            scores.add(v.scores()[id]);
            types.add(v.type(id));
        }
        BpeModel model = SentencePieceModel.scoredBpe(v.tokens().toArray(String[]::new), scores, types, v.unkId(), true, false);
        List<Normalizer> norm = new ArrayList<>();
        if (v.addSpacePrefix()) norm.add(new Normalizer.Prepend(" "));   // llama.cpp: a space before each stretch of text
        norm.add(new Normalizer.Replace(TextPattern.literal(" "), "\u2581"));
        List<TokenDecoder> dec = new ArrayList<>(List.of(new TokenDecoder.Replace(TextPattern.literal("\u2581"), " "),
                new TokenDecoder.ByteFallback(), new TokenDecoder.Fuse()));
        if (v.addSpacePrefix()) dec.add(new TokenDecoder.Strip(' ', 1, 0));
        var parts = new PipelineTokenizer.Parts(new Normalizer.Sequence(norm), null, model, new TokenDecoder.Sequence(dec), bos(v), added(v));
        return new PipelineTokenizer(parts, v.eosId(), v.addBos() ? v.bosId() : -1, "llama.cpp-spm", v);
    }

    private static PipelineTokenizer byteLevel(Vocabulary v) {
        String name = v.pre() == null ? "default" : v.pre();
        Pre pre = PRE.get(name);
        if (pre == null) throw new LaminaException("tokenizer.ggml.pre \"" + name + "\" is not supported (Lamina knows " + new java.util.TreeSet<>(PRE.keySet()) + ")");
        List<PreTokenizer> steps = new ArrayList<>();
        for (String r : pre.regexes()) steps.add(new PreTokenizer.Split(TextPattern.regex(r), PreTokenizer.Behavior.ISOLATED, false));
        steps.add(new PreTokenizer.ByteLevelSplit(false, false));
        BpeModel model = merged(v, pre.ignoreMerges(), false);
        var parts = new PipelineTokenizer.Parts(null, new PreTokenizer.Sequence(steps), model, new TokenDecoder.ByteLevel(), bos(v), added(v));
        return new PipelineTokenizer(parts, v.eosId(), v.addBos() ? v.bosId() : -1, "llama.cpp-bpe", v);
    }

    private static PipelineTokenizer gemma4(Vocabulary v) {
        // spaces become "▁", text is cut only at newlines, BPE runs over raw UTF-8 with <0xXX> byte fallback
        BpeModel model = merged(v, false, true);
        var split = new PreTokenizer.Split(TextPattern.regex("[^\\n]+|[\\n]+"), PreTokenizer.Behavior.ISOLATED, false);
        var norm = new Normalizer.Replace(TextPattern.literal(" "), "\u2581");
        var dec = new TokenDecoder.Sequence(List.of(new TokenDecoder.Replace(TextPattern.literal("\u2581"), " "),
                new TokenDecoder.ByteFallback(), new TokenDecoder.Fuse()));
        var parts = new PipelineTokenizer.Parts(norm, split, model, dec, bos(v), added(v));
        return new PipelineTokenizer(parts, v.eosId(), v.addBos() ? v.bosId() : -1, "llama.cpp-gemma4", v);
    }

    /** BPE from "left right" merges (split at the first space after the first character, as llama.cpp does). */
    private static BpeModel merged(Vocabulary v, boolean ignoreMerges, boolean byteFallback) {
        if (v.merges() == null) throw new IllegalArgumentException("a \"" + v.model() + "\" vocabulary needs tokenizer.ggml.merges");
        String[] tokens = v.tokens().toArray(String[]::new);
        Map<String, Integer> ids = new HashMap<>(tokens.length * 2);
        for (int id = 0; id < tokens.length; id++) if (ids.putIfAbsent(tokens[id], id) != null) tokens[id] = null;
        IntList left = new IntList(v.merges().size()), right = new IntList(v.merges().size());
        for (int i = 0; i < v.merges().size(); i++) {
            String m = v.merges().get(i);
            int sp = m.indexOf(' ', 1);
            Integer a = sp < 0 ? null : ids.get(m.substring(0, sp)), b = sp < 0 ? null : ids.get(m.substring(sp + 1));
            if (a == null || b == null || !ids.containsKey(m.substring(0, sp) + m.substring(sp + 1)))
                throw new IllegalArgumentException("tokenizer.ggml.merges[" + i + "] \"" + m + "\" does not join two tokens into a third");
            left.add(a);
            right.add(b);
        }
        var options = new BpeModel.Options(-1, false, ignoreMerges, byteFallback, null, null);
        return new BpeModel(tokens, left.toArray(), right.toArray(), null, options);
    }

    // ---- the other way: the lists llama.cpp's converter writes for a tokenizer ----------------------

    /**
     * Texts both encodings must agree on before a derived vocabulary is written: spaces, tabs and
     * newlines in runs, contractions, digits in runs, punctuation runs, code, accents, several
     * scripts, emoji with joiners and bytes a vocabulary may lack. None starts with a space or holds
     * a special token and all are in NFC: there llama.cpp tokenizes every GGUF file of a family its
     * own way (it puts "▁" in front of SentencePiece text even before a space, matches control
     * tokens in text, and does not normalize), whoever wrote the file.
     */
    static final List<String> CHECK_TEXTS = List.of(
            "Hello world! It's 2026, and we've got 3.14159 apples; they'll last.",
            "two spaces,  a tab,\ttwo tabs,\t\tnew lines\n\n three   and trailing  ",
            "x\n \n\n \t\n   \n    x",
            "I'll you'd they're we've she's 'RE 'M 'D 'Ve DON'T",
            "1 22 333 4444 55555 666666 7777777 1,000,000.50 3..3 3...3",
            "punctuation!!! ??? ... ''' \"\"\" ``` --- === ~~~ ((( ))) [[x]] {y} <z> @#$%^&*",
            "for (int i = 0; i < n; i++) { x[i] += 1; } // done\n    return x;",
            "Ünïcödé naïve café résumé Straße Ελληνικά русский текст עברית العربية हिन्दी",
            "日本語のテキスト、中文文本。한국어 텍스트 ไทย",
            "emoji 🚀🦙 ✅ 👩‍💻 😶‍🌫️ and a rare one 𓀀",
            "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX.");

    /**
     * The lists llama.cpp's convert_hf_to_gguf.py writes for t: byte-level BPE as model "gpt2"
     * with the pre-tokenizer named by its regex, tokens and merges; BPE with byte fallback over
     * "▁"-escaped text (SentencePiece's, from a tokenizer.json or tokenizer.model) as model
     * "llama" with scores that rank merged pieces as t ranks its merges. Then both encode
     * {@link #CHECK_TEXTS} and every added token, and any difference refuses the export.
     */
    static Vocabulary derive(PipelineTokenizer t, int vocabSize) {
        PipelineTokenizer.Parts p = t.parts();
        if (!(p.model() instanceof BpeModel bpe))
            throw new LaminaException(t.describe() + " is a Unigram model; llama.cpp reads those as \"t5\" vocabularies, which Lamina does not write");
        int size = t.vocabSize();
        String[] tokens = new String[size];
        int[] types = new int[size];
        for (int id = 0; id < bpe.size(); id++) if (bpe.token(id) != null) { tokens[id] = bpe.token(id); types[id] = Vocabulary.NORMAL; }
        for (AddedToken a : p.addedTokens()) { tokens[a.id()] = a.content(); types[a.id()] = a.special() ? Vocabulary.CONTROL : Vocabulary.USER_DEFINED; }
        for (int id : new int[] {t.bosId(), t.eotId()}) if (id >= 0 && types[id] == Vocabulary.NORMAL) types[id] = Vocabulary.CONTROL;
        Vocabulary v = bpe.options().byteFallback() ? spmLists(t, bpe, tokens, types) : byteLevelLists(t, bpe, tokens, types);
        check(t, v);
        return v.padded(vocabSize);
    }

    private static Vocabulary byteLevelLists(PipelineTokenizer t, BpeModel bpe, String[] tokens, int[] types) {
        PipelineTokenizer.Parts p = t.parts();
        if (p.normalizer() != null && p.normalizer() != Normalizer.Unicode.NFC)
            throw new LaminaException(t.describe() + ": its normalizer (" + p.normalizer() + ") has no llama.cpp counterpart");
        String pre = preName(p.preTokenizer(), bpe.ignoreMerges());
        if (pre == null)
            throw new LaminaException(t.describe() + ": its pre-tokenizer splits text in a way llama.cpp has no tokenizer.ggml.pre name for");
        List<String> merges = new ArrayList<>(bpe.merges());
        for (int m = 0; m < bpe.merges(); m++) {
            if (bpe.priority(m) != m) throw new LaminaException(t.describe() + ": merges share ranks, which GGUF's merge list cannot express");
            merges.add(bpe.token(bpe.mergeLeft(m)) + " " + bpe.token(bpe.mergeRight(m)));
        }
        Vocabulary.markUnused(tokens, types);
        return new Vocabulary("gpt2", pre, List.of(tokens), null, types, merges, t.bosId(), t.eotId(), -1, false, t.bosId() >= 0);
    }

    /** The llama.cpp name of a byte-level pre-tokenizer: GPT-2's, or one Split regex followed by the byte-level step. */
    private static String preName(PreTokenizer pt, boolean ignoreMerges) {
        if (pt instanceof PreTokenizer.ByteLevelSplit(boolean prefix, boolean regex) && !prefix && regex) return ignoreMerges ? null : "gpt-2";
        if (!(pt instanceof PreTokenizer.Sequence(List<PreTokenizer> steps)) || steps.size() != 2
                || !(steps.get(0) instanceof PreTokenizer.Split(TextPattern pattern, PreTokenizer.Behavior behavior, boolean invert))
                || !(steps.get(1) instanceof PreTokenizer.ByteLevelSplit(boolean prefix, boolean regex))
                || prefix || regex || invert || behavior != PreTokenizer.Behavior.ISOLATED || !pattern.regex()) return null;
        for (String name : WRITTEN_PRE) {
            Pre pre = PRE.get(name);
            if (pre.ignoreMerges() == ignoreMerges && pre.regexes().equals(List.of(pattern.source()))) return name;
        }
        return null;
    }

    /** The names written for each regex, in the order tried (llama.cpp accepts several names for one regex). */
    private static final List<String> WRITTEN_PRE = List.of("llama-bpe", "smaug-bpe", "qwen2", "qwen35", "gpt-4o", "tekken", "gpt-2");

    private static Vocabulary spmLists(PipelineTokenizer t, BpeModel bpe, String[] tokens, int[] types) {
        PipelineTokenizer.Parts p = t.parts();
        Boolean spacePrefix = spacePrefix(p.normalizer(), p.preTokenizer());
        if (spacePrefix == null)
            throw new LaminaException(t.describe() + ": BPE with byte fallback, but its text is not escaped with \"▁\" as SentencePiece's is, "
                    + "so llama.cpp's \"llama\" vocabulary would split it differently");
        int unk = bpe.unkId();
        if (unk >= 0 && unk < types.length) types[unk] = Vocabulary.UNKNOWN;
        for (int b = 0; b < 256; b++) {
            int id = bpe.id(BpeModel.byteToken(b));
            if (id >= 0 && types[id] == Vocabulary.NORMAL) types[id] = Vocabulary.BYTE;
        }
        // llama.cpp merges the adjacent pair whose joined piece scores highest: rank r scores −r
        float[] scores = new float[tokens.length];
        boolean[] merged = new boolean[tokens.length];
        int worst = 0;
        for (int m = 0; m < bpe.merges(); m++) {
            int r = bpe.priority(m), id = bpe.mergeResult(m);
            worst = Math.max(worst, r);
            if (!merged[id] || -r > scores[id]) scores[id] = -r;
            merged[id] = true;
        }
        for (int id = 0; id < tokens.length; id++)   // pieces no merge makes come last
            if (!merged[id] && tokens[id] != null && types[id] == Vocabulary.NORMAL && tokens[id].codePointCount(0, tokens[id].length()) > 1)
                scores[id] = -(worst + 1);
        Vocabulary.markUnused(tokens, types);
        return new Vocabulary("llama", "default", List.of(tokens), scores, types, null, t.bosId(), t.eotId(), unk, spacePrefix, t.bosId() >= 0);
    }

    /**
     * Whether "▁" goes in front of the text (llama.cpp's add_space_prefix) for the ways a tokenizer
     * escapes spaces as SentencePiece does; null when it does not escape them so.
     */
    private static Boolean spacePrefix(Normalizer n, PreTokenizer pt) {
        boolean noSplit = pt == null || pt instanceof PreTokenizer.Split(TextPattern pattern, var b, var inv) && !pattern.regex() && pattern.source().equals(" ");
        if (n instanceof Normalizer.SentencePiece(boolean dummy, boolean removeExtra, boolean escape) && escape && !removeExtra && pt == null) return dummy;
        if (n instanceof Normalizer.Replace r && isSpaceEscape(r) && noSplit) return false;
        if (n instanceof Normalizer.Sequence(List<Normalizer> steps) && steps.size() == 2 && steps.get(0) instanceof Normalizer.Prepend(String prefix)
                && prefix.equals("\u2581") && steps.get(1) instanceof Normalizer.Replace r && isSpaceEscape(r) && noSplit) return true;
        if (n == null && pt instanceof PreTokenizer.Metaspace(char c, PreTokenizer.PrependScheme scheme, boolean split) && c == '\u2581' && !split)
            return scheme != PreTokenizer.PrependScheme.NEVER;
        return null;
    }

    private static boolean isSpaceEscape(Normalizer.Replace r) {
        return !r.pattern().regex() && r.pattern().source().equals(" ") && r.content().equals("\u2581");
    }

    /** Refuses v unless the tokenizer llama.cpp builds from it encodes the check texts and added tokens as t does. */
    private static void check(PipelineTokenizer t, Vocabulary v) {
        PipelineTokenizer copy = build(v);
        List<String> texts = new ArrayList<>(CHECK_TEXTS);
        for (AddedToken a : t.addedTokens()) texts.add(a.content());
        for (String text : texts) {
            int[] want = t.encode(text), got = copy.encode(text);
            if (!java.util.Arrays.equals(want, got))
                throw new LaminaException(t.describe() + ": llama.cpp's \"" + v.model() + "\" vocabulary would encode \"" + text.strip().lines().findFirst().orElse("")
                        + "\" differently (" + got.length + " tokens against " + want.length + "), so it is not written");
        }
    }

    static List<String> knownPreNames() { return List.copyOf(new java.util.TreeSet<>(PRE.keySet())); }

}
