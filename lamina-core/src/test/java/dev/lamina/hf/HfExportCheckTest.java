package dev.lamina.hf;

import dev.lamina.io.SafeTensors;
import dev.lamina.model.Decoder;
import dev.lamina.tokenizer.ByteTokenizer;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.train.Checkpoint;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Writes Hugging Face directories exported by Lamina, each with lamina-logits.safetensors (the ids
 * and Lamina's logits on the exported weights), into target/hf-export/, so that
 * src/test/python/make_hf_fixtures.py --check can load them in transformers and compare.
 */
class HfExportCheckTest {
    static final Path OUT = Path.of("target", "hf-export");
    static final int B = 2, T = 12;

    @Test
    void writeExportsForTheTransformersCheck() throws IOException {
        clean();
        int seed = 11;
        for (ExportModels.Case k : ExportModels.CASES) {
            Tokenizer tok = null;
            var config = k.config();
            if (k.arch() == HfArch.GPT2) tok = HfCheckpoint.tokenizer(HfFixtures.dir("gpt2"));
            else if (k.arch() == HfArch.LLAMA && !config.bias()) {
                tok = ByteTokenizer.INSTANCE;
                config = config.withVocabSize(257);
            }
            Decoder m = ExportModels.random(config, seed++);
            write(k.name(), HfCheckpoint.export(m, tok, OUT.resolve(k.name()), k.dtype()), OUT.resolve(k.name()));
        }
        for (String name : new String[] {"mistral", "gpt2-bf16", "mixtral-bf16", "qwen2-moe"}) {
            Path out = OUT.resolve("from-" + name);
            write(name, HfCheckpoint.export(HfFixtures.dir(name), out, HfCheckpoint.DType.F32), out);
        }
    }

    private static void write(String name, HfCheckpoint.Exported e, Path dir) {
        Decoder back = Checkpoint.loadModel(dir);
        int[] ids = ExportModels.ids(back.config().vocabSize(), B * T, name.hashCode());
        float[] logits = HfFixtures.logits(back, ids, B, T);
        assertThat(logits).hasSize(B * T * back.config().vocabSize());
        new SafeTensors.Writer().putInts("input_ids", ids, B, T).putFloats("logits", logits, B, T, back.config().vocabSize())
                .write(dir.resolve("lamina-logits.safetensors"));
        assertThat(e.arch()).isNotNull();
    }

    private static void clean() throws IOException {
        if (!Files.exists(OUT)) return;
        try (Stream<Path> s = Files.walk(OUT)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}
