package dev.lamina.tokenizer;

import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Parallel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BpeTrainerTest {
    static final List<String> EOT = List.of(BpeTokenizer.EOT);

    static BpeTokenizer train(String text, int vocab, int minFreq, List<String> specials) {
        return BpeTrainer.trainOnTexts(List.of(text), vocab, minFreq, specials, ProgressListener.NONE).tokenizer();
    }

    static List<String> merges(BpeTokenizer t) {
        List<String> out = new ArrayList<>();
        BpeModel m = t.model();
        for (int r = 0; r < m.merges(); r++) out.add(m.token(m.mergeLeft(r)) + " " + m.token(m.mergeRight(r)));
        return out;
    }

    @Test
    void firstMergesAreTheMostFrequentPairsWithTiesToSmallerIds() {
        // pieces: "ab", " ab" x2, " cd" x2, "\n": (a,b) 3 times; then ( ,c) (c,d) ( ,ab) twice each
        BpeTokenizer t = train("ab ab ab cd cd\n", 300, 2, List.of());
        // ties at count 2: ( ,c) = (32, 99) before ( ,ab) = (32, 256); ( ,ab) before ( c,d) = (257, 100)
        assertThat(merges(t)).containsExactly("a b", "Ġ c", "Ġ ab", "Ġc d");
        assertThat(t.vocabSize()).isEqualTo(260);
        assertThat(t.encode("ab cd ab")).containsExactly(256, 259, 258);
        assertThat(t.eotId()).isEqualTo(-1);
    }

    @Test
    void minimumFrequencyStopsTraining() {
        assertThat(merges(train("ab ab ab cd cd\n", 300, 3, List.of()))).containsExactly("a b");
        assertThat(merges(train("ab ab ab cd cd\n", 300, 4, List.of()))).isEmpty();
        // vocabulary size also stops it: 256 bytes + 1 merge + 1 special
        BpeTokenizer t = train("ab ab ab cd cd\n", 258, 1, EOT);
        assertThat(merges(t)).containsExactly("a b");
        assertThat(t.vocabSize()).isEqualTo(258);
        assertThat(t.eotId()).isEqualTo(257);
    }

    @Test
    void specialTokensAreNeverLearnedOrSplitAndComeLast() {
        String text = "<|endoftext|>hello<|endoftext|>hello<|endoftext|><pad><|endoftext|>\n".repeat(50);
        BpeTokenizer t = train(text, 400, 2, List.of(BpeTokenizer.EOT, "<pad>"));
        assertThat(merges(t)).noneMatch(m -> m.contains("|") || m.contains("<") || m.contains(">"));
        int n = t.vocabSize();
        assertThat(t.eotId()).isEqualTo(n - 2);
        assertThat(t.tokenString(n - 1)).isEqualTo("<pad>");
        assertThat(t.addedTokens()).extracting(AddedToken::content).containsExactly(BpeTokenizer.EOT, "<pad>");
        assertThat(t.encode("hello<|endoftext|><pad>")).containsExactly(t.encode("hello")[0], n - 2, n - 1);
        assertThat(t.encode("hello")).hasSize(1);
    }

    @Test
    void statisticsMatchEncodingTheCorpus() throws Exception {
        Path slice = HfFixtureTest.hf("brown-slice.txt");
        BpeTrainer.Result r = BpeTrainer.train(List.of(slice), 600, 2, EOT, ProgressListener.NONE);
        String text = Files.readString(slice);
        long tokens = 0;
        for (String line : text.split("(?<=\n)")) tokens += r.tokenizer().encode(line).length;   // the trainer reads line by line
        assertThat(r.corpusTokens()).isEqualTo(tokens);
        assertThat(r.corpusBytes()).isEqualTo(text.getBytes(StandardCharsets.UTF_8).length);
        assertThat(r.bytesPerToken()).isGreaterThan(2.0);
    }

    @Test
    void sameInputsGiveIdenticalFilesWhateverTheThreadCount(@TempDir Path tmp) throws Exception {
        Path slice = HfFixtureTest.hf("brown-slice.txt");
        BpeTrainer.train(Parallel.of(2), List.of(slice), 800, 2, EOT, ProgressListener.NONE).tokenizer().save(tmp.resolve("a"));
        BpeTrainer.train(Parallel.of(2), List.of(slice), 800, 2, EOT, ProgressListener.NONE).tokenizer().save(tmp.resolve("b"));
        BpeTrainer.train(Parallel.of(1), List.of(slice), 800, 2, EOT, ProgressListener.NONE).tokenizer().save(tmp.resolve("c"));
        byte[] a = Files.readAllBytes(tmp.resolve("a/tokenizer.json"));
        assertThat(Files.readAllBytes(tmp.resolve("b/tokenizer.json"))).isEqualTo(a);
        assertThat(Files.readAllBytes(tmp.resolve("c/tokenizer.json"))).isEqualTo(a);
    }

    @Test
    void incrementalCountsGiveTheSameMergesAsRecountingEveryStep() {
        Random r = new Random(9);
        String[] pieces = {"a", "b", "c", "ab", "aa", "aaa", " ", "  ", "\n", "é", "中", "'s", "1", "22", ".", "😀"};
        for (int trial = 0; trial < 40; trial++) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0, n = 50 + r.nextInt(400); i < n; i++) sb.append(pieces[r.nextInt(pieces.length)]);
            String text = sb.toString();
            int vocab = 256 + 1 + r.nextInt(60), minFreq = r.nextInt(3);
            assertThat(merges(train(text, vocab, minFreq, List.of())))
                    .as("trial %d", trial).isEqualTo(naiveMerges(text, vocab, minFreq));
        }
    }

    /** Full recount of all pairs per merge, same tie rule and id reuse: the slow, obvious trainer. */
    static List<String> naiveMerges(String text, int vocab, int minFreq) {
        Map<String, Long> counts = new HashMap<>();
        for (String line : text.split("(?<=\n)"))
            Gpt2Pattern.split(line, 0, line.length(), (a, b) -> counts.merge(line.substring(a, b), 1L, Long::sum));
        List<int[]> words = new ArrayList<>();
        List<Long> freqs = new ArrayList<>();
        counts.forEach((w, f) -> {
            byte[] b = w.getBytes(StandardCharsets.UTF_8);
            int[] ids = new int[b.length];
            for (int i = 0; i < b.length; i++) ids[i] = b[i] & 0xff;
            words.add(ids);
            freqs.add(f);
        });
        List<byte[]> tokens = new ArrayList<>();
        for (int b = 0; b < 256; b++) tokens.add(new byte[] {(byte) b});
        List<String> merges = new ArrayList<>();
        while (tokens.size() < vocab) {
            Map<Long, Long> pairs = new HashMap<>();
            for (int w = 0; w < words.size(); w++)
                for (int i = 0; i + 1 < words.get(w).length; i++) pairs.merge(LongIntMap.pair(words.get(w)[i], words.get(w)[i + 1]), freqs.get(w), Long::sum);
            long best = -1, bestCount = 0;
            for (var e : pairs.entrySet())
                if (e.getValue() > bestCount || (e.getValue() == bestCount && e.getKey() < best)) { best = e.getKey(); bestCount = e.getValue(); }
            if (best < 0 || bestCount < minFreq) break;
            int a = LongIntMap.left(best), b = LongIntMap.right(best);
            byte[] ab = new byte[tokens.get(a).length + tokens.get(b).length];
            System.arraycopy(tokens.get(a), 0, ab, 0, tokens.get(a).length);
            System.arraycopy(tokens.get(b), 0, ab, tokens.get(a).length, tokens.get(b).length);
            int c = -1;
            for (int i = 0; i < tokens.size(); i++) if (Arrays.equals(tokens.get(i), ab)) c = i;
            if (c < 0) { tokens.add(ab); c = tokens.size() - 1; }
            merges.add(ByteLevel.toTokenString(tokens.get(a)) + " " + ByteLevel.toTokenString(tokens.get(b)));
            for (int w = 0; w < words.size(); w++) {
                int[] s = words.get(w);
                int[] out = new int[s.length];
                int m = 0;
                for (int i = 0; i < s.length; ) {
                    if (i + 1 < s.length && s[i] == a && s[i + 1] == b) { out[m++] = c; i += 2; } else out[m++] = s[i++];
                }
                words.set(w, Arrays.copyOf(out, m));
            }
        }
        return merges;
    }

    @Test
    void badSettingsAndFilesAreOneLineErrors(@TempDir Path tmp) throws Exception {
        Path ok = Files.writeString(tmp.resolve("ok.txt"), "some text\n");
        Path empty = Files.writeString(tmp.resolve("empty.txt"), "");
        assertThatThrownBy(() -> BpeTrainer.train(List.of(ok), 256, 0, EOT, ProgressListener.NONE))
                .isInstanceOf(LaminaException.class).hasMessageContaining("vocabulary size 256 is too small").hasMessageContaining("257");
        assertThatThrownBy(() -> BpeTrainer.train(List.of(empty), 300, 0, EOT, ProgressListener.NONE))
                .isInstanceOf(LaminaException.class).hasMessageContaining("empty.txt").hasMessageContaining("empty");
        assertThatThrownBy(() -> BpeTrainer.train(List.of(tmp.resolve("missing.txt")), 300, 0, EOT, ProgressListener.NONE))
                .isInstanceOf(LaminaException.class).hasMessageContaining("missing.txt").hasMessageContaining("not found");
        assertThatThrownBy(() -> BpeTrainer.train(List.of(tmp), 300, 0, EOT, ProgressListener.NONE))
                .isInstanceOf(LaminaException.class).hasMessageContaining("directory");
        assertThatThrownBy(() -> BpeTrainer.train(List.of(), 300, 0, EOT, ProgressListener.NONE)).isInstanceOf(LaminaException.class);
        assertThatThrownBy(() -> BpeTrainer.train(List.of(ok), 300, 0, List.of("x", "x"), ProgressListener.NONE))
                .isInstanceOf(LaminaException.class).hasMessageContaining("repeat");
        assertThatThrownBy(() -> BpeTrainer.train(List.of(ok), 300, 0, List.of("Ġ"), ProgressListener.NONE))
                .isInstanceOf(LaminaException.class).hasMessageContaining("'Ġ'");
        assertThat(BpeTrainer.train(List.of(ok), 300, 0, List.of("e"), ProgressListener.NONE).tokenizer().encode("se")).containsExactly('s', 'e');
        assertThatThrownBy(() -> BpeTrainer.train(List.of(ok), 300, -1, EOT, ProgressListener.NONE))
                .isInstanceOf(LaminaException.class).hasMessageContaining("negative");
    }

    @Test
    void progressIsReportedForBothPhases() throws Exception {
        List<String> seen = new ArrayList<>();
        BpeTrainer.train(List.of(HfFixtureTest.hf("brown-slice.txt")), 500, 2, EOT, (phase, done, total) -> {
            assertThat(done).isBetween(0L, total);
            seen.add(phase + (done == total ? " done" : ""));
        });
        assertThat(seen).contains("COUNT done", "MERGE done");
        assertThat(seen.indexOf("COUNT done")).isLessThan(seen.indexOf("MERGE done"));
    }
}
