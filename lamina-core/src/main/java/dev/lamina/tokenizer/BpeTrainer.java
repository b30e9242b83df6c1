package dev.lamina.tokenizer;

import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Parallel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

/**
 * Trains a byte-level BPE tokenizer (GPT-2 style) from text.
 *
 * <ol>
 * <li>Each line of the corpus (with its line break, as tokenizers' train_from_files reads it) has
 *     the special tokens cut out, is pre-tokenized with GPT-2's pattern, and the pieces are
 *     counted into a word-frequency table (in parallel on {@link Parallel}'s threads). Invalid
 *     UTF-8 in a file reads as U+FFFD.</li>
 * <li>The vocabulary starts with the 256 bytes (id = byte value). Merges are learned greedily,
 *     with pair counts updated incrementally ({@link BpeMerger}, {@link PairQueue}), until the
 *     vocabulary plus the special tokens reaches vocabSize or the best pair occurs fewer than
 *     minFrequency times.</li>
 * <li>The special tokens get the ids after the learned tokens, in the order given (GPT-2 has
 *     {@code <|endoftext|>} last too). A special equal to an existing token string reuses its id.</li>
 * </ol>
 *
 * <p>Tie rule (determinism): the pair with the highest count wins; among equal counts, the one
 * with the smaller left token id, then the smaller right token id (ids of bytes are their values,
 * learned tokens are numbered in the order they were learned). The same corpus and settings
 * therefore always give the same tokenizer.json, whatever the thread count.
 */
public final class BpeTrainer {
    private BpeTrainer() {}

    /** A trained tokenizer and how well it compresses its training corpus. */
    public record Result(BpeTokenizer tokenizer, long corpusBytes, long corpusTokens) {
        /** UTF-8 bytes per token on the training corpus (special tokens count as one token). */
        public double bytesPerToken() { return corpusTokens == 0 ? 0 : (double) corpusBytes / corpusTokens; }
    }

    /** Trains on the text of files (UTF-8), counting on the default threads ({@link Parallel#defaults()}). */
    public static Result train(List<Path> files, int vocabSize, int minFrequency, List<String> specials, ProgressListener progress) {
        return train(Parallel.defaults(), files, vocabSize, minFrequency, specials, progress);
    }

    /** Trains on the text of files (UTF-8), counting on pool's threads. Throws LaminaException for bad settings or unreadable files. */
    public static Result train(Parallel pool, List<Path> files, int vocabSize, int minFrequency, List<String> specials,
                               ProgressListener progress) {
        if (files.isEmpty()) throw new LaminaException("no corpus files given; pass at least one text file");
        checkSettings(vocabSize, minFrequency, specials);
        long total = 0;
        for (Path f : files) total += size(f);
        WordCounter counter = new WordCounter(pool, specials);
        long done = 0;
        progress.progress(ProgressListener.Phase.COUNT, 0, total);
        for (Path f : files) {
            byte[] bytes = read(f);
            if (bytes.length == 0) throw new LaminaException(f + ": the corpus file is empty; give files with text");
            counter.add(new String(bytes, StandardCharsets.UTF_8));
            done += bytes.length;
            progress.progress(ProgressListener.Phase.COUNT, done, total);
        }
        return learn(counter, vocabSize, minFrequency, specials, progress);
    }

    /** Trains on in-memory texts; each text is read like one file. */
    public static Result trainOnTexts(List<String> texts, int vocabSize, int minFrequency, List<String> specials, ProgressListener progress) {
        checkSettings(vocabSize, minFrequency, specials);
        WordCounter counter = new WordCounter(Parallel.defaults(), specials);
        for (int i = 0; i < texts.size(); i++) {
            counter.add(texts.get(i));
            progress.progress(ProgressListener.Phase.COUNT, i + 1, texts.size());
        }
        return learn(counter, vocabSize, minFrequency, specials, progress);
    }

    private static void checkSettings(int vocabSize, int minFrequency, List<String> specials) {
        if (new HashSet<>(specials).size() != specials.size()) throw new LaminaException("special tokens " + specials + " repeat a token; give each once");
        for (String s : specials) if (s.isEmpty()) throw new LaminaException("a special token is empty; give non-empty special tokens");
        if (vocabSize < 256 + specials.size())
            throw new LaminaException("vocabulary size " + vocabSize + " is too small: it needs at least 256 (the bytes) + "
                    + specials.size() + " (special tokens) = " + (256 + specials.size()));
        if (minFrequency < 0) throw new LaminaException("minimum frequency " + minFrequency + " is negative; use 0 or more");
    }

    private static long size(Path f) {
        try {
            if (Files.isDirectory(f)) throw new LaminaException(f + ": is a directory; give text files as the corpus");
            return Files.size(f);
        } catch (NoSuchFileException e) {
            throw new LaminaException(f + ": corpus file not found");
        } catch (IOException e) {
            throw new LaminaException(f + ": cannot read the corpus file (" + e.getMessage() + ")");
        }
    }

    private static byte[] read(Path f) {
        try {
            return Files.readAllBytes(f);
        } catch (IOException e) {
            throw new LaminaException(f + ": cannot read the corpus file (" + e.getMessage() + ")");
        }
    }

    private static Result learn(WordCounter counter, int vocabSize, int minFrequency, List<String> specials, ProgressListener progress) {
        BpeMerger merger = new BpeMerger(counter.words);
        int maxTokens = vocabSize - specials.size();
        merger.run(maxTokens, minFrequency, n -> {
            if ((n & 63) == 0) progress.progress(ProgressListener.Phase.MERGE, n, maxTokens);
        });
        progress.progress(ProgressListener.Phase.MERGE, maxTokens, maxTokens);

        List<String> tokens = new ArrayList<>();
        for (byte[] t : merger.tokens) tokens.add(ByteLevel.toTokenString(t));
        List<AddedToken> added = new ArrayList<>();
        for (String s : specials) {
            int id = tokens.indexOf(s);
            if (id < 0) { id = tokens.size(); tokens.add(s); }
            else if (!Arrays.equals(ByteLevel.toBytes(s), s.getBytes(StandardCharsets.UTF_8)))
                throw new LaminaException("special token '" + s + "' is spelled like the learned token for different bytes; choose another special token");
            added.add(AddedToken.special(id, s));
        }
        BpeModel model = new BpeModel(tokens.toArray(String[]::new), merger.mergeLeft.toArray(), merger.mergeRight.toArray(), -1, false, false);
        return new Result(new BpeTokenizer(model, added, false, true),
                merger.corpusBytes() + counter.specialBytes, merger.corpusTokens() + counter.specialCount);
    }

    /** Pre-tokenizes texts line by line into a word-frequency table. */
    private static final class WordCounter {
        final Map<String, Long> words = new HashMap<>();
        final AddedTokens specials;
        final Parallel pool;
        long specialCount, specialBytes;

        WordCounter(Parallel pool, List<String> specials) {
            this.pool = pool;
            List<AddedToken> tokens = new ArrayList<>();
            for (int i = 0; i < specials.size(); i++) tokens.add(AddedToken.special(i, specials.get(i)));
            this.specials = new AddedTokens(tokens);
        }

        void add(String text) {
            String s = BpeTokenizer.replaceLoneSurrogates(text);
            IntList lineStarts = new IntList(1024);
            lineStarts.add(0);
            for (int i = s.indexOf('\n'); i >= 0 && i + 1 < s.length(); i = s.indexOf('\n', i + 1)) lineStarts.add(i + 1);
            lineStarts.add(s.length());
            int[] starts = lineStarts.toArray();
            List<Chunk> chunks = Collections.synchronizedList(new ArrayList<>());
            pool.forRange(starts.length - 1, 2048, (from, to) -> {
                Chunk c = new Chunk();
                for (int line = from; line < to; line++) c.add(s, starts[line], starts[line + 1], specials);
                chunks.add(c);
            });
            for (Chunk c : chunks) {
                c.words.forEach((w, n) -> words.merge(w, n[0], Long::sum));
                specialCount += c.specialCount;
                specialBytes += c.specialBytes;
            }
        }
    }

    private static final class Chunk {
        final Map<String, long[]> words = new HashMap<>();
        long specialCount, specialBytes;

        void add(String s, int from, int to, AddedTokens specials) {
            String line = s.substring(from, to);
            specials.split(line, true, new AddedTokens.Visitor() {
                @Override public void text(int start, int end) {
                    Gpt2Pattern.split(line, start, end, (a, b) -> words.computeIfAbsent(line.substring(a, b), k -> new long[1])[0]++);
                }
                @Override public void token(int id) {
                    specialCount++;
                    specialBytes += specials.all().get(id).content().getBytes(StandardCharsets.UTF_8).length;
                }
            });
        }
    }
}
