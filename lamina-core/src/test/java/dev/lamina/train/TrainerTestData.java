package dev.lamina.train;

import dev.lamina.data.Dataset;
import dev.lamina.data.TokenFile;
import dev.lamina.tokenizer.ByteTokenizer;

import java.nio.file.Path;

/** Repetitive byte-level text as train and val token files: the training tests' data. */
public final class TrainerTestData {
    private TrainerTestData() {}

    public static Dataset write(Path dir) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 300; i++) sb.append("the cat sat on the mat. the dog ate the bone ").append(i % 7).append(". ");
        int[] all = ByteTokenizer.INSTANCE.encode(sb.toString());
        int split = all.length * 9 / 10;
        TokenFile.write(dir.resolve("train.bin"), java.util.Arrays.copyOf(all, split), 257);
        TokenFile.write(dir.resolve("val.bin"), java.util.Arrays.copyOfRange(all, split, all.length), 257);
        return new Dataset(dir, TokenFile.open(dir.resolve("train.bin")), TokenFile.open(dir.resolve("val.bin")), ByteTokenizer.INSTANCE);
    }
}
