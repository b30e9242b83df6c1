package dev.lamina.autograd;

import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The fused head (chunks of rows) against the plain linear + cross-entropy path, across chunk boundaries. */
class LinearCrossEntropyTest {
    private static final int D = 19, V = 53;

    private static Var param(Rng rng, int... shape) {
        Tensor v = Tensor.zeros(shape);
        for (int i = 0; i < v.size(); i++) v.data()[i] = (float) rng.nextGaussian();
        return new Var(v, Tensor.zeros(shape));
    }

    @Test
    void theChunkIs512RowsWhileItsLogitsFitIn16MbElse256() {
        assertEquals(512, Ops.headChunk(8192));
        assertEquals(256, Ops.headChunk(8193));
        assertEquals(256, Ops.headChunk(50257));
    }

    static IntStream rowCounts() {
        int c = Ops.headChunk(V);
        return IntStream.of(1, 7, c - 1, c, c + 1, 2 * c + 37);
    }

    @ParameterizedTest
    @MethodSource("rowCounts")
    void fusedHeadMatchesLinearThenCrossEntropy(int n) {
        int d = D;
        Rng rng = new Rng(n);
        Var x1 = param(rng, n, d), w1 = param(rng, V, d);
        Var x2 = new Var(x1.value(), Tensor.zeros(n, d)), w2 = new Var(w1.value(), Tensor.zeros(V, d));
        int[] targets = new int[n];
        for (int i = 0; i < n; i++) targets[i] = (int) Math.floorMod(rng.nextLong(), V);

        Tape fused = Tape.training();
        float lossFused = Ops.linearCrossEntropy(fused, x1, w1, targets);
        fused.backward();

        Tape plain = Tape.training();
        float lossPlain = Ops.crossEntropy(plain, Ops.linear(plain, x2, w2, null), targets);
        plain.backward();

        assertEquals(lossPlain, lossFused, 1e-5 * Math.abs(lossPlain));
        assertClose(x2.grad(), x1.grad());
        assertClose(w2.grad(), w1.grad());
    }

    private static void assertClose(Tensor want, Tensor got) {
        double scale = 0;
        for (int i = 0; i < want.size(); i++) scale = Math.max(scale, Math.abs(want.data()[i]));
        for (int i = 0; i < want.size(); i++)
            assertEquals(want.data()[i], got.data()[i], 1e-5 * scale, "element " + i);
    }
}
