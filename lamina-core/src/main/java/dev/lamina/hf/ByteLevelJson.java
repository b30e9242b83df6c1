package dev.lamina.hf;

import dev.lamina.io.Json;
import dev.lamina.tokenizer.BpeTokenizer;
import tools.jackson.databind.node.ObjectNode;

/**
 * Lamina's byte tokenizer (ids 0..255 are the bytes, 256 is {@code <|endoftext|>}) written as a
 * Hugging Face byte-level BPE tokenizer.json with no merges: the vocabulary is GPT-2's byte↔unicode
 * table in byte order, so every byte is its own token with the same id. The one difference: the
 * {@code tokenizers} library matches the text {@code <|endoftext|>} as the special token, where the
 * byte tokenizer encodes those 13 characters as bytes.
 */
final class ByteLevelJson {
    private ByteLevelJson() {}

    static String byteTokenizerJson() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        root.putArray("added_tokens").addObject().put("id", 256).put("content", BpeTokenizer.EOT).put("single_word", false)
                .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                .put("use_regex", true);
        root.putNull("post_processor");
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        int next = 0x100;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            vocab.put(String.valueOf(printable ? (char) b : (char) next++), b);
        }
        model.putArray("merges");
        return Json.MAPPER.writeValueAsString(root);
    }
}
