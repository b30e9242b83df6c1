package dev.lamina.gguf;

import dev.lamina.io.SafeTensors;
import dev.lamina.model.Decoder;
import dev.lamina.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Lamina's GGUF files read by the gguf Python package: written to target/gguf-export/ with
 * Lamina's dequantization beside each, then checked by src/test/python/check_gguf_export.py
 * (no reader warnings, every tensor bit-equal). The Python part runs only where the interpreter
 * (/tmp/lamina-py, or -Dlamina.python) is installed.
 */
class GgufExportCheckTest {
    static final Path OUT = Path.of("target/gguf-export");

    @Test
    void theGgufReaderReadsLaminasFiles() throws Exception {
        Files.createDirectories(OUT);
        try (var s = Files.list(OUT)) { for (Path p : s.toList()) Files.delete(p); }
        Decoder llama = Decoder.create(GgufModelTest.llama(true, false, 6).toBuilder().hiddenSize(256).intermediateSize(512).build(), 1);
        Decoder gpt2 = Decoder.create(GgufModelTest.gpt2(true), 2);
        for (String type : new String[] {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k", "q4_k_m", "q5_k_m"})
            export(llama, "llama-" + type, type);
        export(gpt2, "gpt2-q8_0", "q8_0");
        export(gpt2, "gpt2-q4_k_m", "q4_k_m");

        Path python = Path.of(System.getProperty("lamina.python", "/tmp/lamina-py/bin/python"));
        assumeTrue(Files.isExecutable(python) && imports(python, "gguf"), "no Python with gguf at " + python);
        Process p = new ProcessBuilder(python.toString(), "src/test/python/check_gguf_export.py", OUT.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out.lines().count()).as(out).isEqualTo(15);
    }

    /** Whether python imports module (a Python being set up, or one without the package, skips the check). */
    static boolean imports(Path python, String module) throws Exception {
        Process p = new ProcessBuilder(python.toString(), "-c", "import " + module).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
    }

    private static void export(Decoder model, String name, String type) {
        Path file = OUT.resolve(name + ".gguf");
        GgufModel.write(model, ByteTokenizer.INSTANCE, file, GgufQuantType.parse(type));
        SafeTensors.Writer ref = new SafeTensors.Writer();
        try (GgufFile f = GgufFile.open(file)) {
            for (GgufFile.Tensor t : f.tensors().values()) ref.putFloats(t.name(), f.floats(t.name()), t.shape());
        }
        ref.write(OUT.resolve(name + ".ref.safetensors"));
    }
}
