package dev.lamina.tokenizer;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes Hugging Face {@code tokenizer.json} for byte-level BPE: model type BPE with
 * vocab and merges (merges as "a b" strings or as [a, b] arrays), the ByteLevel pre-tokenizer
 * and decoder, and added tokens. The post-processor is ignored (Lamina never adds template
 * tokens); normalizers, other pre-tokenizers, dropout and subword prefixes/suffixes are rejected
 * because encoding would differ from tokenizers. Writes merges as "a b" strings, which every
 * tokenizers version reads (byte-level tokens never contain a space).
 */
final class HfTokenizerJson {
    private HfTokenizerJson() {}

    private static final String WHAT = "tokenizer.json";

    static BpeTokenizer read(Path file) {
        JsonNode root = TokenizerFiles.readJson(file, WHAT);
        if (!root.isObject()) throw bad(file, "the top level is not a JSON object");
        JsonNode model = root.get("model");
        if (model == null || !model.isObject()) throw bad(file, "missing the 'model' object");
        String type = model.path("type").asString("BPE");
        if (!type.equals("BPE")) throw bad(file, "model.type is '" + type + "'; Lamina reads only BPE models");

        JsonNode vocab = model.get("vocab");
        if (vocab == null || !vocab.isObject()) throw bad(file, "missing the 'model.vocab' object");
        String[] tokens = vocabArray(vocab, file, "model.vocab");
        Map<String, Integer> ids = indexOf(tokens);

        JsonNode merges = model.get("merges");
        if (merges == null || !merges.isArray()) throw bad(file, "missing the 'model.merges' array");
        int[] left = new int[merges.size()], right = new int[merges.size()];
        for (int i = 0; i < merges.size(); i++) {
            JsonNode m = merges.get(i);
            String where = file + ": model.merges[" + i + "]";
            String a, b;
            if (m.isString() && m.stringValue().split(" ").length == 2) {
                String[] parts = m.stringValue().split(" ");
                a = parts[0];
                b = parts[1];
            } else if (m.isArray() && m.size() == 2 && m.get(0).isString() && m.get(1).isString()) {
                a = m.get(0).stringValue();
                b = m.get(1).stringValue();
            } else {
                throw new LaminaException(where + ": expected \"left right\" or [\"left\", \"right\"], got " + m);
            }
            left[i] = lookup(ids, a, where, "model.vocab");
            right[i] = lookup(ids, b, where, "model.vocab");
            if (!ids.containsKey(a + b))
                throw new LaminaException(where + ": merging '" + a + "' and '" + b + "' gives '" + a + b + "', which is not in model.vocab");
        }

        int unk = -1;
        JsonNode unkNode = model.path("unk_token");
        if (unkNode.isString()) unk = lookup(ids, unkNode.stringValue(), file + ": model.unk_token", "model.vocab");
        if (model.path("dropout").isNumber() && model.get("dropout").asDouble() > 0)
            throw bad(file, "model.dropout is set; Lamina encodes deterministically, set it to null");
        for (String f : List.of("continuing_subword_prefix", "end_of_word_suffix"))
            if (model.path(f).isString() && !model.get(f).stringValue().isEmpty())
                throw bad(file, "model." + f + " is set; byte-level BPE in Lamina does not support it");
        if (root.hasNonNull("normalizer"))
            throw bad(file, "has a normalizer (" + root.get("normalizer").path("type").asString("?") + "); Lamina supports byte-level BPE without one");

        JsonNode pre = root.path("pre_tokenizer");
        if (!pre.path("type").asString("").equals("ByteLevel"))
            throw bad(file, "pre_tokenizer is " + (pre.isMissingNode() || pre.isNull() ? "missing" : "'" + pre.path("type").asString("?") + "'")
                    + "; Lamina reads byte-level BPE, which needs the ByteLevel pre-tokenizer");
        JsonNode dec = root.path("decoder");
        if (!dec.isMissingNode() && !dec.isNull() && !dec.path("type").asString("").equals("ByteLevel"))
            throw bad(file, "decoder is '" + dec.path("type").asString("?") + "'; Lamina reads byte-level BPE, which needs the ByteLevel decoder");

        List<AddedToken> added = new ArrayList<>();
        JsonNode addedNode = root.path("added_tokens");
        for (int i = 0; i < addedNode.size(); i++) {
            JsonNode t = addedNode.get(i);
            if (!t.path("id").isInt() || !t.path("content").isString() || t.get("content").stringValue().isEmpty())
                throw new LaminaException(file + ": added_tokens[" + i + "] needs an integer 'id' and a non-empty 'content'");
            added.add(new AddedToken(t.get("id").asInt(), t.get("content").stringValue(), t.path("special").asBoolean(false),
                    t.path("single_word").asBoolean(false), t.path("lstrip").asBoolean(false), t.path("rstrip").asBoolean(false),
                    t.path("normalized").asBoolean(!t.path("special").asBoolean(false))));
        }

        BpeModel bpe;
        try {
            bpe = new BpeModel(tokens, left, right, unk, model.path("fuse_unk").asBoolean(false), model.path("ignore_merges").asBoolean(false));
        } catch (IllegalArgumentException e) {
            throw bad(file, e.getMessage());
        }
        return new BpeTokenizer(bpe, added, pre.path("add_prefix_space").asBoolean(true), pre.path("use_regex").asBoolean(true));
    }

    private static LaminaException bad(Path file, String what) {
        return new LaminaException(file + ": " + what + " (not a byte-level BPE tokenizer.json Lamina can read)");
    }

    /** tokens[id] from a {token: id} object; ids must be distinct non-negative integers. */
    static String[] vocabArray(JsonNode vocab, Path file, String field) {
        int max = -1;
        for (var e : vocab.properties()) {
            if (!e.getValue().isInt() || e.getValue().asInt() < 0)
                throw new LaminaException(file + ": " + field + (field.isEmpty() ? "" : ": ") + "token '" + e.getKey()
                        + "' has id " + e.getValue() + "; ids must be non-negative integers");
            max = Math.max(max, e.getValue().asInt());
        }
        String[] tokens = new String[max + 1];
        for (var e : vocab.properties()) {
            int id = e.getValue().asInt();
            if (tokens[id] != null)
                throw new LaminaException(file + ": " + field + (field.isEmpty() ? "" : ": ") + "tokens '" + tokens[id] + "' and '" + e.getKey()
                        + "' share id " + id + "; every token needs its own id");
            tokens[id] = e.getKey();
        }
        return tokens;
    }

    static Map<String, Integer> indexOf(String[] tokens) {
        Map<String, Integer> ids = new HashMap<>(tokens.length * 2);
        for (int i = 0; i < tokens.length; i++) if (tokens[i] != null) ids.put(tokens[i], i);
        return ids;
    }

    static int lookup(Map<String, Integer> ids, String token, String where, String vocabName) {
        Integer id = ids.get(token);
        if (id == null) throw new LaminaException(where + ": refers to token '" + token + "', which is not in " + vocabName + "; the file is inconsistent");
        return id;
    }

    static void write(BpeTokenizer tok, Path file) {
        TokenizerFiles.writeAtomically(file, Json.MAPPER.writeValueAsBytes(toJson(tok)));
    }

    static ObjectNode toJson(BpeTokenizer tok) {
        BpeModel m = tok.model();
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (AddedToken t : tok.addedTokens()) {
            added.addObject().put("id", t.id()).put("content", t.content()).put("single_word", t.singleWord())
                    .put("lstrip", t.lstrip()).put("rstrip", t.rstrip()).put("normalized", t.normalized()).put("special", t.special());
        }
        root.putNull("normalizer");
        byteLevel(root.putObject("pre_tokenizer"), tok.addPrefixSpace(), tok.useRegex());
        root.putNull("post_processor");
        byteLevel(root.putObject("decoder"), true, true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        if (m.unkId() >= 0) model.put("unk_token", m.token(m.unkId())); else model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", m.fuseUnk());
        model.put("byte_fallback", false);
        model.put("ignore_merges", m.ignoreMerges());
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < m.size(); id++) if (m.token(id) != null) vocab.put(m.token(id), id);
        ArrayNode merges = model.putArray("merges");
        for (int r = 0; r < m.merges(); r++) merges.add(m.token(m.mergeLeft(r)) + " " + m.token(m.mergeRight(r)));
        return root;
    }

    private static void byteLevel(ObjectNode node, boolean addPrefixSpace, boolean useRegex) {
        node.put("type", "ByteLevel").put("add_prefix_space", addPrefixSpace).put("trim_offsets", true).put("use_regex", useRegex);
    }
}
