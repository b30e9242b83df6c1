package dev.lamina.tokenizer;

import dev.lamina.io.Json;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Lamina's merge loop (linear for short words, heap for long ones) against a literal port of
 * GPT-2's encoder.py bpe(): merge every occurrence of the lowest-ranked pair, repeat.
 */
class ReferenceBpeTest {
    static BpeTokenizer gpt2;
    static Map<String, Integer> encoder = new HashMap<>();
    static Map<String, Integer> ranks = new HashMap<>();

    @BeforeAll
    static void load() throws Exception {
        gpt2 = BpeTokenizer.load(Gpt2ParityTest.resource("gpt2"));
        JsonNode enc = Json.MAPPER.readTree(Files.readAllBytes(Gpt2ParityTest.resource("gpt2/encoder.json")));
        enc.properties().forEach(e -> encoder.put(e.getKey(), e.getValue().asInt()));
        List<String> lines = Files.readAllLines(Gpt2ParityTest.resource("gpt2/vocab.bpe"));
        for (int i = 1; i < lines.size(); i++) if (!lines.get(i).isBlank()) ranks.put(lines.get(i), i - 1);
    }

    static int[] reference(String piece) {
        List<String> word = new ArrayList<>();
        for (byte b : piece.getBytes(StandardCharsets.UTF_8)) word.add(String.valueOf(ByteLevel.charOf(b)));
        while (word.size() > 1) {
            int best = Integer.MAX_VALUE;
            String first = null, second = null;
            for (int i = 0; i + 1 < word.size(); i++) {
                Integer r = ranks.get(word.get(i) + " " + word.get(i + 1));
                if (r != null && r < best) { best = r; first = word.get(i); second = word.get(i + 1); }
            }
            if (first == null) break;
            List<String> merged = new ArrayList<>();
            for (int i = 0; i < word.size(); ) {
                if (i + 1 < word.size() && word.get(i).equals(first) && word.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i += 2;
                } else {
                    merged.add(word.get(i++));
                }
            }
            word = merged;
        }
        return word.stream().mapToInt(encoder::get).toArray();
    }

    @Test
    void shortAndLongWordsMatchTheReference() {
        Random r = new Random(3);
        String[] alphabets = {"abcdefghijklmnopqrstuvwxyz", "aeiou", "0123456789", " ", "中文字符和日本語", "😀🚀", "!?.,-", "ñéü"};
        for (int i = 0; i < 3_000; i++) {
            String alphabet = alphabets[r.nextInt(alphabets.length)];
            int len = r.nextInt(4) == 0 ? 40 + r.nextInt(300) : 1 + r.nextInt(20);
            StringBuilder sb = new StringBuilder();
            while (sb.length() < len) sb.appendCodePoint(alphabet.codePointAt(alphabet.offsetByCodePoints(0, r.nextInt(alphabet.codePointCount(0, alphabet.length())))));
            String w = sb.toString();
            // encode the word as one piece, bypassing pre-tokenisation
            assertThat(gpt2.model().encodeWord(w.getBytes(StandardCharsets.UTF_8))).as(w).containsExactly(reference(w));
        }
    }
}
