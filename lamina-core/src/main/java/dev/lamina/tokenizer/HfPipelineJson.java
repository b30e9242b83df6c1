package dev.lamina.tokenizer;

import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.PatternSyntaxException;

/**
 * Reads any decoder-LLM tokenizer.json into a {@link PipelineTokenizer}, component by component.
 * A component Lamina does not implement is refused with its JSON path, e.g.
 * {@code normalizer.normalizers[2].type "Precompiled" is not supported}. Plain byte-level BPE
 * (GPT-2's kind) goes to {@link BpeTokenizer} instead, which also trains and saves.
 */
final class HfPipelineJson {
    private HfPipelineJson() {}

    /** Names of the token that ends a document, most specific first. */
    private static final List<String> EOT_NAMES = List.of("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|end|>");

    static Tokenizer read(Path file) {
        byte[] bytes = TokenizerFiles.readBytes(file, "tokenizer.json");
        JsonNode root = TokenizerFiles.readJson(file, "tokenizer.json");
        if (!root.isObject()) throw new LaminaException(file + ": the top level is not a JSON object; replace it with an intact tokenizer.json");
        if (isPlainByteLevel(root)) return HfTokenizerJson.read(file);
        return new HfPipelineJson.Reader(file).tokenizer(root, bytes);
    }

    /** What {@link BpeTokenizer} reproduces exactly: BPE without byte fallback, ByteLevel around it, no normalizer, no template. */
    private static boolean isPlainByteLevel(JsonNode root) {
        JsonNode m = root.path("model");
        String post = root.path("post_processor").path("type").asString("");
        return m.path("type").asString("BPE").equals("BPE") && !m.path("byte_fallback").asBoolean(false)
                && !m.path("continuing_subword_prefix").isString() && !m.path("end_of_word_suffix").isString()
                && isNull(root.path("normalizer")) && root.path("pre_tokenizer").path("type").asString("").equals("ByteLevel")
                && (isNull(root.path("decoder")) || root.path("decoder").path("type").asString("").equals("ByteLevel"))
                && (isNull(root.path("post_processor")) || post.equals("ByteLevel"));
    }

    private static boolean isNull(JsonNode n) { return n.isMissingNode() || n.isNull(); }

    private record Reader(Path file) {

        Tokenizer tokenizer(JsonNode root, byte[] bytes) {
            List<AddedToken> added = addedTokens(root.path("added_tokens"));
            SubwordModel model = model(root.path("model"), "model");
            JsonNode n = root.path("normalizer"), p = root.path("pre_tokenizer"), d = root.path("decoder"), pp = root.path("post_processor");
            PostProcessor post = isNull(pp) ? null : postProcessor(pp, "post_processor", model, added);
            var parts = new PipelineTokenizer.Parts(isNull(n) ? null : normalizer(n, "normalizer"), isNull(p) ? null : preTokenizer(p, "pre_tokenizer"),
                    model, isNull(d) ? null : decoder(d, "decoder"), post, added);
            int eot = -1;
            for (String name : EOT_NAMES.reversed()) {
                for (AddedToken t : added) if (t.content().equals(name)) eot = t.id();
                if (eot < 0 && model.id(name) >= 0) eot = model.id(name);
            }
            int bos = post instanceof PostProcessor.Template t && !t.single().isEmpty() && t.single().getFirst().ids() != null
                    && t.single().getFirst().ids().length == 1 ? t.single().getFirst().ids()[0] : -1;
            String kind = model instanceof UnigramModel ? "unigram" : "bpe";
            return new PipelineTokenizer(parts, eot, bos, new PipelineTokenizer.Source(BpeTokenizer.FILE, bytes), kind);
        }

        LaminaException bad(String path, String what) { return new LaminaException(file + ": " + path + " " + what); }

        LaminaException unsupported(String path, String type) {
            return new LaminaException(file + ": " + path + ".type \"" + type + "\" is not supported");
        }

        String type(JsonNode n, String path) {
            if (!n.path("type").isString()) throw bad(path, "has no \"type\"; the file is not a tokenizer.json Lamina can read");
            return n.get("type").stringValue();
        }

        String string(JsonNode n, String field, String path) {
            if (!n.path(field).isString()) throw bad(path + "." + field, "must be a string");
            return n.get(field).stringValue();
        }

        char oneChar(JsonNode n, String field, String path) {
            String s = string(n, field, path);
            if (s.length() != 1) throw bad(path + "." + field, "must be one character, got \"" + s + "\"");
            return s.charAt(0);
        }

        TextPattern pattern(JsonNode n, String path) {
            if (n.path("String").isString()) return TextPattern.literal(n.get("String").stringValue());
            if (n.path("Regex").isString()) {
                try {
                    return TextPattern.regex(n.get("Regex").stringValue());
                } catch (PatternSyntaxException e) {
                    throw bad(path + ".Regex", "does not compile (" + e.getDescription() + " near index " + e.getIndex() + ")");
                }
            }
            throw bad(path, "must be {\"String\": ...} or {\"Regex\": ...}");
        }

        JsonNode array(JsonNode n, String field, String path) {
            if (!n.path(field).isArray()) throw bad(path + "." + field, "must be an array");
            return n.get(field);
        }

        Normalizer normalizer(JsonNode n, String path) {
            String type = type(n, path);
            return switch (type) {
                case "Sequence" -> {
                    JsonNode a = array(n, "normalizers", path);
                    List<Normalizer> steps = new ArrayList<>();
                    for (int i = 0; i < a.size(); i++) steps.add(normalizer(a.get(i), path + ".normalizers[" + i + "]"));
                    yield new Normalizer.Sequence(steps);
                }
                case "Prepend" -> new Normalizer.Prepend(string(n, "prepend", path));
                case "Replace" -> new Normalizer.Replace(pattern(n.path("pattern"), path + ".pattern"), string(n, "content", path));
                case "NFC" -> Normalizer.Unicode.NFC;
                case "NFD" -> Normalizer.Unicode.NFD;
                case "NFKC" -> Normalizer.Unicode.NFKC;
                case "NFKD" -> Normalizer.Unicode.NFKD;
                case "Lowercase" -> new Normalizer.Lowercase();
                case "Strip" -> new Normalizer.Strip(n.path("strip_left").asBoolean(true), n.path("strip_right").asBoolean(true));
                case "StripAccents" -> new Normalizer.StripAccents();
                default -> throw unsupported(path, type);
            };
        }

        PreTokenizer.Behavior behavior(JsonNode n, String path, PreTokenizer.Behavior dflt) {
            if (isNull(n.path("behavior"))) return dflt;
            String b = n.path("behavior").asString("");
            return switch (b) {
                case "Removed" -> PreTokenizer.Behavior.REMOVED;
                case "Isolated" -> PreTokenizer.Behavior.ISOLATED;
                case "MergedWithPrevious" -> PreTokenizer.Behavior.MERGED_WITH_PREVIOUS;
                case "MergedWithNext" -> PreTokenizer.Behavior.MERGED_WITH_NEXT;
                case "Contiguous" -> PreTokenizer.Behavior.CONTIGUOUS;
                default -> throw bad(path + ".behavior", "\"" + b + "\" is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
            };
        }

        PreTokenizer.PrependScheme prependScheme(JsonNode n, String path) {
            if (n.path("prepend_scheme").isString()) {
                String s = n.get("prepend_scheme").stringValue();
                return switch (s) {
                    case "always" -> PreTokenizer.PrependScheme.ALWAYS;
                    case "first" -> PreTokenizer.PrependScheme.FIRST;
                    case "never" -> PreTokenizer.PrependScheme.NEVER;
                    default -> throw bad(path + ".prepend_scheme", "\"" + s + "\" is not one of always, first, never");
                };
            }
            // files from before prepend_scheme: add_prefix_space true meant always
            return n.path("add_prefix_space").asBoolean(true) ? PreTokenizer.PrependScheme.ALWAYS : PreTokenizer.PrependScheme.NEVER;
        }

        PreTokenizer preTokenizer(JsonNode n, String path) {
            String type = type(n, path);
            return switch (type) {
                case "Sequence" -> {
                    JsonNode a = array(n, "pretokenizers", path);
                    List<PreTokenizer> steps = new ArrayList<>();
                    for (int i = 0; i < a.size(); i++) steps.add(preTokenizer(a.get(i), path + ".pretokenizers[" + i + "]"));
                    yield new PreTokenizer.Sequence(steps);
                }
                case "Split" -> new PreTokenizer.Split(pattern(n.path("pattern"), path + ".pattern"),
                        behavior(n, path, PreTokenizer.Behavior.ISOLATED), n.path("invert").asBoolean(false));
                case "Metaspace" -> new PreTokenizer.Metaspace(oneChar(n, "replacement", path), prependScheme(n, path), n.path("split").asBoolean(true));
                case "ByteLevel" -> new PreTokenizer.ByteLevelSplit(n.path("add_prefix_space").asBoolean(true), n.path("use_regex").asBoolean(true));
                case "Digits" -> new PreTokenizer.Digits(n.path("individual_digits").asBoolean(false));
                case "Punctuation" -> new PreTokenizer.Punctuation(behavior(n, path, PreTokenizer.Behavior.ISOLATED));
                case "WhitespaceSplit" -> new PreTokenizer.WhitespaceSplit();
                case "Whitespace" -> new PreTokenizer.Split(TextPattern.regex("\\w+|[^\\w\\s]+"), PreTokenizer.Behavior.REMOVED, true);
                default -> throw unsupported(path, type);
            };
        }

        TokenDecoder decoder(JsonNode n, String path) {
            String type = type(n, path);
            return switch (type) {
                case "Sequence" -> {
                    JsonNode a = array(n, "decoders", path);
                    List<TokenDecoder> steps = new ArrayList<>();
                    for (int i = 0; i < a.size(); i++) steps.add(decoder(a.get(i), path + ".decoders[" + i + "]"));
                    yield new TokenDecoder.Sequence(steps);
                }
                case "ByteLevel" -> new TokenDecoder.ByteLevel();
                case "ByteFallback" -> new TokenDecoder.ByteFallback();
                case "Fuse" -> new TokenDecoder.Fuse();
                case "Strip" -> {
                    String c = string(n, "content", path);
                    if (c.codePointCount(0, c.length()) != 1) throw bad(path + ".content", "must be one character, got \"" + c + "\"");
                    yield new TokenDecoder.Strip(c.codePointAt(0), n.path("start").asInt(0), n.path("stop").asInt(0));
                }
                case "Replace" -> new TokenDecoder.Replace(pattern(n.path("pattern"), path + ".pattern"), string(n, "content", path));
                case "Metaspace" -> new TokenDecoder.Metaspace(oneChar(n, "replacement", path), prependScheme(n, path));
                default -> throw unsupported(path, type);
            };
        }

        PostProcessor postProcessor(JsonNode n, String path, SubwordModel model, List<AddedToken> added) {
            String type = type(n, path);
            return switch (type) {
                case "Sequence" -> {
                    JsonNode a = array(n, "processors", path);
                    List<PostProcessor> steps = new ArrayList<>();
                    for (int i = 0; i < a.size(); i++) steps.add(postProcessor(a.get(i), path + ".processors[" + i + "]", model, added));
                    yield new PostProcessor.Sequence(steps);
                }
                case "ByteLevel" -> new PostProcessor.Identity();
                case "TemplateProcessing" -> {
                    JsonNode single = array(n, "single", path), specials = n.path("special_tokens");
                    List<PostProcessor.Item> items = new ArrayList<>();
                    for (int i = 0; i < single.size(); i++) {
                        JsonNode it = single.get(i);
                        String where = path + ".single[" + i + "]";
                        if (it.has("Sequence")) { items.add(PostProcessor.Item.SEQUENCE); continue; }
                        if (!it.path("SpecialToken").path("id").isString()) throw bad(where, "must be {\"Sequence\": ...} or {\"SpecialToken\": {\"id\": ...}}");
                        String name = it.get("SpecialToken").get("id").stringValue();
                        JsonNode ids = specials.path(name).path("ids");
                        if (!ids.isArray()) throw bad(path + ".special_tokens", "has no entry \"" + name + "\" with an \"ids\" array");
                        int[] v = new int[ids.size()];
                        for (int k = 0; k < v.length; k++) v[k] = ids.get(k).asInt();
                        items.add(new PostProcessor.Item(v));
                    }
                    yield new PostProcessor.Template(items);
                }
                case "BertProcessing", "RobertaProcessing" -> {
                    JsonNode cls = n.path("cls"), sep = n.path("sep");
                    if (!cls.path(1).isInt() || !sep.path(1).isInt()) throw bad(path, "needs \"cls\" and \"sep\" as [token, id]");
                    yield new PostProcessor.Template(List.of(new PostProcessor.Item(new int[] {cls.get(1).asInt()}), PostProcessor.Item.SEQUENCE,
                            new PostProcessor.Item(new int[] {sep.get(1).asInt()})));
                }
                default -> throw unsupported(path, type);
            };
        }

        SubwordModel model(JsonNode m, String path) {
            if (!m.isObject()) throw bad(path, "is missing; the file is not a tokenizer.json");
            String type = m.path("type").asString(m.has("merges") ? "BPE" : "");
            try {
                return switch (type) {
                    case "BPE" -> bpe(m, path);
                    case "Unigram" -> unigram(m, path);
                    default -> throw unsupported(path, type);
                };
            } catch (IllegalArgumentException e) {
                throw bad(path, e.getMessage() + "; the file is inconsistent");
            }
        }

        BpeModel bpe(JsonNode m, String path) {
            if (m.path("dropout").isNumber() && m.get("dropout").asDouble() > 0)
                throw bad(path + ".dropout", "is set; Lamina encodes deterministically, set it to null");
            JsonNode vocab = m.path("vocab");
            if (!vocab.isObject()) throw bad(path + ".vocab", "must be an object {token: id}");
            String[] tokens = HfTokenizerJson.vocabArray(vocab, file, path + ".vocab");
            Map<String, Integer> ids = HfTokenizerJson.indexOf(tokens);
            JsonNode merges = array(m, "merges", path);
            int[] left = new int[merges.size()], right = new int[merges.size()];
            for (int i = 0; i < merges.size(); i++) {
                JsonNode x = merges.get(i);
                String where = file + ": " + path + ".merges[" + i + "]";
                String a, b;
                if (x.isString() && x.stringValue().split(" ").length == 2) {
                    String[] s = x.stringValue().split(" ");
                    a = s[0];
                    b = s[1];
                } else if (x.isArray() && x.size() == 2 && x.get(0).isString() && x.get(1).isString()) {
                    a = x.get(0).stringValue();
                    b = x.get(1).stringValue();
                } else {
                    throw new LaminaException(where + ": expected \"left right\" or [\"left\", \"right\"], got " + x);
                }
                left[i] = HfTokenizerJson.lookup(ids, a, where, path + ".vocab");
                right[i] = HfTokenizerJson.lookup(ids, b, where, path + ".vocab");
            }
            int unk = -1;
            if (m.path("unk_token").isString()) unk = HfTokenizerJson.lookup(ids, m.get("unk_token").stringValue(), file + ": " + path + ".unk_token", path + ".vocab");
            String prefix = m.path("continuing_subword_prefix").isString() ? m.get("continuing_subword_prefix").stringValue() : null;
            String suffix = m.path("end_of_word_suffix").isString() ? m.get("end_of_word_suffix").stringValue() : null;
            var options = new BpeModel.Options(unk, m.path("fuse_unk").asBoolean(false), m.path("ignore_merges").asBoolean(false),
                    m.path("byte_fallback").asBoolean(false), prefix == null || prefix.isEmpty() ? null : prefix, suffix == null || suffix.isEmpty() ? null : suffix);
            return new BpeModel(tokens, left, right, null, options);
        }

        UnigramModel unigram(JsonNode m, String path) {
            JsonNode vocab = array(m, "vocab", path);
            if (vocab.isEmpty()) throw bad(path + ".vocab", "of the Unigram model is empty; the file is not a usable tokenizer.json");
            String[] pieces = new String[vocab.size()];
            double[] scores = new double[vocab.size()];
            for (int i = 0; i < pieces.length; i++) {
                JsonNode e = vocab.get(i);
                if (!e.path(0).isString() || !e.path(1).isNumber()) throw bad(path + ".vocab[" + i + "]", "must be [piece, score]");
                pieces[i] = e.get(0).stringValue();
                scores[i] = e.get(1).asDouble();
            }
            int unk = m.path("unk_id").isInt() ? m.get("unk_id").asInt() : -1;
            return new UnigramModel(pieces, scores, null, unk, m.path("byte_fallback").asBoolean(false));
        }

        List<AddedToken> addedTokens(JsonNode a) {
            List<AddedToken> out = new ArrayList<>();
            for (int i = 0; i < a.size(); i++) {
                JsonNode t = a.get(i);
                if (!t.path("id").isInt() || !t.path("content").isString() || t.get("content").stringValue().isEmpty())
                    throw bad("added_tokens[" + i + "]", "needs an integer 'id' and a non-empty 'content'");
                boolean special = t.path("special").asBoolean(false);
                out.add(new AddedToken(t.get("id").asInt(), t.get("content").stringValue(), special, t.path("single_word").asBoolean(false),
                        t.path("lstrip").asBoolean(false), t.path("rstrip").asBoolean(false), t.path("normalized").asBoolean(!special)));
            }
            return out;
        }
    }
}
