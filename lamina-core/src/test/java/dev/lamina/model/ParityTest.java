package dev.lamina.model;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import static org.assertj.core.api.Assertions.assertThat;

/** The decoder reproduces every PyTorch test vector: logits, loss and every gradient. */
class ParityTest {

    static List<Path> cases() throws URISyntaxException {
        List<Path> all = new ArrayList<>();
        for (String dir : List.of("testvectors", "testvectors-extra")) {
            var url = ParityTest.class.getClassLoader().getResource(dir);
            if (url != null) all.addAll(ParityCheck.cases(Path.of(url.toURI())));
        }
        return all;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesPyTorch(Path json) {
        ParityCheck.CaseResult r = ParityCheck.run(json);
        assertThat(r.tensors()).hasSizeGreaterThan(3);
        for (ParityCheck.TensorResult t : r.tensors())
            assertThat(t.error()).as("%s %s", r.name(), t.name()).isLessThanOrEqualTo(t.tolerance());
    }

    @org.junit.jupiter.api.Test
    void allSharedCasesArePresent() throws URISyntaxException {
        assertThat(cases().stream().map(p -> p.getFileName().toString()))
                .contains("llama_pre.json", "llama_post.json", "llama_mix.json", "llama_lns.json",
                        "llama_gqa_swa.json", "gpt2_pre.json", "gpt2_mix.json");
    }
}
