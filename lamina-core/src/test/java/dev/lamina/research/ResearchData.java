package dev.lamina.research;

import dev.lamina.data.Dataset;
import dev.lamina.data.TokenFile;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Presets;
import dev.lamina.tokenizer.ByteTokenizer;

import java.nio.file.Path;
import java.util.Arrays;

/** Small byte-level data and models for the research tests. */
final class ResearchData {
    private ResearchData() {}

    /** Repetitive text as a byte-level dataset in dir (train.bin, val.bin). */
    static Dataset dataset(Path dir) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 300; i++) sb.append("the cat sat on the mat. the dog ate the bone ").append(i % 7).append(". ");
        int[] all = ByteTokenizer.INSTANCE.encode(sb.toString());
        int split = all.length * 9 / 10;
        TokenFile.write(dir.resolve("train.bin"), Arrays.copyOf(all, split), 257);
        TokenFile.write(dir.resolve("val.bin"), Arrays.copyOfRange(all, split, all.length), 257);
        return new Dataset(dir, TokenFile.open(dir.resolve("train.bin")), TokenFile.open(dir.resolve("val.bin")), ByteTokenizer.INSTANCE);
    }

    /** The tiny preset (d 64, 4 layers) over bytes. */
    static ModelConfig tiny() { return Presets.get("tiny").config().apply(257); }
}
