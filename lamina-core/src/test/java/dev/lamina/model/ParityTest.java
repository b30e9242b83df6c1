package dev.lamina.model;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The decoder reproduces every PyTorch test vector: logits, loss and every gradient on the tape,
 * and the logits again through the inference runner (ParityCheck runs both executors).
 */
class ParityTest {

    static List<Path> cases() { return TestModels.cases(); }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesPyTorch(Path json) {
        ParityCheck.CaseResult r = ParityCheck.run(json);
        assertThat(r.tensors()).hasSizeGreaterThan(3);
        assertThat(r.tensors()).extracting(ParityCheck.TensorResult::name).contains("logits", "inference.logits");
        for (ParityCheck.TensorResult t : r.tensors())
            assertThat(t.error()).as("%s %s", r.name(), t.name()).isLessThanOrEqualTo(t.tolerance());
    }

    @org.junit.jupiter.api.Test
    void allSharedCasesArePresent() {
        assertThat(cases().stream().map(p -> p.getFileName().toString()))
                .contains("llama_pre.json", "llama_post.json", "llama_mix.json", "llama_lns.json",
                        "llama_gqa_swa.json", "gpt2_pre.json", "gpt2_mix.json");
    }
}
