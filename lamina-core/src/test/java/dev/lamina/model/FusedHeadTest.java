package dev.lamina.model;

import dev.lamina.autograd.Ops;
import dev.lamina.autograd.Tape;
import dev.lamina.io.SafeTensors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

/** Decoder.loss (fused head + cross-entropy, chunked) equals logits + cross-entropy and the PyTorch vectors. */
class FusedHeadTest {

    @ParameterizedTest
    @org.junit.jupiter.params.provider.MethodSource("dev.lamina.infer.KvCacheTest#vectors")
    void fusedLossAndGradientsMatchTheReference(String name) {
        Decoder model = TestModels.load(name);
        try (SafeTensors st = SafeTensors.open(TestModels.vector(name).resolveSibling(name + ".safetensors"))) {
            int[] shape = st.shape("input_ids");
            Tape tape = Tape.training();
            float loss = model.loss(tape, st.ints("input_ids"), st.ints("target_ids"), shape[0], shape[1]);
            tape.backward();
            assertThat((double) Math.abs(loss - st.floats("loss")[0])).isLessThan(1e-5);
            for (Parameters.Slot s : model.params().slots().values())
                assertThat(ParityCheck.compare("grad." + s.name(), model.params().grad(s.name()), st.tensor("grad." + s.name())).passed())
                        .as(s.name()).isTrue();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 63, 64, 65, 200})
    void chunkBoundariesDoNotMatter(int rows) {
        Decoder model = Decoder.create(Presets.get("tiny").config().apply(97), 3);
        int[] ids = new int[rows], tg = new int[rows];
        for (int i = 0; i < rows; i++) { ids[i] = (i * 7) % 97; tg[i] = (i * 13 + 5) % 97; }
        float fused = model.loss(Tape.inference(), ids, tg, 1, rows);
        Tape t = Tape.inference();
        float plain = Ops.crossEntropy(t, model.forward(t, ids, 1, rows), tg);
        assertThat(fused).isCloseTo(plain, org.assertj.core.data.Offset.offset(1e-5f));
    }
}
