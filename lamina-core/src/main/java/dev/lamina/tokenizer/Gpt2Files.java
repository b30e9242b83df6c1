package dev.lamina.tokenizer;

import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Reads GPT-2's original files: encoder.json (token string → id) and vocab.bpe (a
 * {@code #version} line, then one merge "left right" per line, highest priority first).
 * {@code <|endoftext|>}, if present in encoder.json, becomes a special added token.
 */
final class Gpt2Files {
    static final String ENCODER = "encoder.json", MERGES = "vocab.bpe";

    private Gpt2Files() {}

    static BpeTokenizer read(Path encoderFile, Path mergesFile) {
        JsonNode encoder = TokenizerFiles.readJson(encoderFile, "GPT-2 " + ENCODER);
        if (!encoder.isObject() || encoder.isEmpty())
            throw new LaminaException(encoderFile + ": expected a JSON object mapping tokens to ids; replace it with GPT-2's " + ENCODER);
        String[] tokens = HfTokenizerJson.vocabArray(encoder, encoderFile, "");
        Map<String, Integer> ids = HfTokenizerJson.indexOf(tokens);

        String text = new String(TokenizerFiles.readBytes(mergesFile, "GPT-2 " + MERGES), StandardCharsets.UTF_8);
        List<String> lines = text.lines().toList();
        int[] left = new int[lines.size()], right = new int[lines.size()];
        int n = 0;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || (i == 0 && line.startsWith("#version"))) continue;
            String[] parts = line.split("\\s+");
            String where = mergesFile + ": line " + (i + 1);
            if (parts.length != 2) throw new LaminaException(where + ": expected two tokens separated by a space, got '" + line + "'");
            left[n] = HfTokenizerJson.lookup(ids, parts[0], where, ENCODER);
            right[n] = HfTokenizerJson.lookup(ids, parts[1], where, ENCODER);
            if (!ids.containsKey(parts[0] + parts[1]))
                throw new LaminaException(where + ": merge '" + line + "' gives '" + parts[0] + parts[1] + "', which is not in " + ENCODER);
            n++;
        }
        BpeModel model;
        try {
            model = new BpeModel(tokens, Arrays.copyOf(left, n), Arrays.copyOf(right, n), -1, false, false);
        } catch (IllegalArgumentException e) {
            throw new LaminaException(mergesFile + ": " + e.getMessage() + "; the file does not match " + ENCODER);
        }
        Integer eot = ids.get(BpeTokenizer.EOT);
        List<AddedToken> added = eot == null ? List.of() : List.of(AddedToken.special(eot, BpeTokenizer.EOT));
        return new BpeTokenizer(model, added, false, true);
    }
}
