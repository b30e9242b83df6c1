package dev.lamina.tokenizer;

import dev.lamina.io.LaminaException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loads a tokenizer from a directory or the word {@code bytes}. */
public final class Tokenizers {
    private Tokenizers() {}

    /**
     * spec is "bytes", a tokenizer.json, SentencePiece .model or GGUF file, or a directory holding
     * tokenizer.json, GPT-2's encoder.json + vocab.bpe, tokenizer.model, or tokenizer.txt (written
     * by {@link ByteTokenizer#save}), looked for in that order.
     */
    public static Tokenizer load(String spec) {
        if (spec.equals("bytes")) return ByteTokenizer.INSTANCE;
        return load(Path.of(spec));
    }

    public static Tokenizer load(Path dir) {
        if (Files.isRegularFile(dir)) {
            String name = dir.getFileName().toString();
            if (name.endsWith(".json")) return readTokenizerJson(dir);
            if (name.endsWith(".model")) return readSentencePiece(dir);
            if (name.endsWith(".gguf")) return dev.lamina.gguf.GgufVocab.tokenizer(dir);
            throw new LaminaException(dir + ": not a tokenizer file (expected tokenizer.json, a SentencePiece .model or a .gguf file, or a directory holding one)");
        }
        if (!Files.isDirectory(dir))
            throw new LaminaException(dir + ": tokenizer directory not found (give a directory with tokenizer.json, "
                    + "encoder.json + vocab.bpe or tokenizer.model, such a file itself, or the word 'bytes')");
        Path marker = dir.resolve(ByteTokenizer.MARKER_FILE);
        boolean bpe = Files.exists(dir.resolve(BpeTokenizer.FILE)) || Files.exists(dir.resolve(Gpt2Files.ENCODER))
                || Files.exists(dir.resolve(SentencePieceModel.FILE));
        if (!bpe && Files.exists(marker)) {
            try {
                if (Files.readString(marker).trim().equals(ByteTokenizer.MARKER)) return ByteTokenizer.INSTANCE;
            } catch (IOException e) {
                throw new LaminaException(marker + ": cannot read (" + e.getMessage() + ")");
            }
            throw new LaminaException(marker + ": unknown tokenizer marker; expected the word 'bytes'");
        }
        if (Files.exists(dir.resolve(BpeTokenizer.FILE))) return HfPipelineJson.read(dir.resolve(BpeTokenizer.FILE));
        if (!Files.exists(dir.resolve(Gpt2Files.ENCODER)) && Files.exists(dir.resolve(SentencePieceModel.FILE)))
            return SentencePieceModel.read(dir.resolve(SentencePieceModel.FILE));
        return BpeTokenizer.load(dir);
    }

    /** Reads a Hugging Face tokenizer.json of any kind decoder LLMs ship. */
    public static Tokenizer readTokenizerJson(Path file) { return HfPipelineJson.read(file); }

    /**
     * A tokenizer from the vocabulary lists of a llama.cpp GGUF file, encoding as llama.cpp does
     * (see {@link Vocabulary}). Throws LaminaException for a model or pre-tokenizer name Lamina
     * does not implement, naming it.
     */
    public static PipelineTokenizer fromVocabulary(Vocabulary vocabulary) { return LlamaCppVocab.build(vocabulary); }

    /** Reads a SentencePiece tokenizer.model (BPE or Unigram). */
    public static Tokenizer readSentencePiece(Path file) { return SentencePieceModel.read(file); }
}
