package dev.lamina.autograd;

import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tape hands back last step's objects only where that is safe, and gradients never depend on it. */
class TapeTest {
    private static Var param(Rng rng, int... shape) {
        Tensor v = Tensor.zeros(shape);
        for (int i = 0; i < v.size(); i++) v.data()[i] = (float) rng.nextGaussian();
        return new Var(v, Tensor.zeros(shape));
    }

    /** linear → gelu → linear on n rows; returns every object the step got from the tape. */
    private static List<Object> step(Tape tape, Var x, Var w1, Var w2) {
        tape.reset();
        Var h = Ops.linear(tape, x, w1, null);
        Var g = Ops.gelu(tape, h);
        Var y = Ops.linear(tape, g, w2, null);
        return List.of(h, g, y, h.value(), g.grad(), tape.alloc(3), tape.alloc(2, 2, 2, 2), tape.rows(y.value(), 1, 3), tape.ints(4));
    }

    /** Input and weights of {@link #step} on 5 rows. */
    private record Net(Var x, Var w1, Var w2) {
        static Net random(long seed) {
            Rng rng = new Rng(seed);
            return new Net(param(rng, 5, 3), param(rng, 4, 3), param(rng, 2, 4));
        }

        List<Object> step(Tape tape) { return TapeTest.step(tape, x, w1, w2); }

        /** A step and its backward from an output gradient of ones; returns the output node. */
        Var stepAndBackward(Tape tape) {
            Var y = (Var) step(tape).get(2);
            y.grad().fill(1f);
            tape.backward();
            return y;
        }
    }

    @Test
    void aRepeatedStepGetsTheSameBuffersViewsNodesBack() {
        Net net = Net.random(1);
        Tape tape = Tape.training();
        List<Object> first = net.step(tape), second = net.step(tape);
        for (int i = 0; i < first.size(); i++) assertSame(first.get(i), second.get(i), "object " + i);
    }

    @Test
    void aReusedNodeStartsEachStepWithAZeroGradient() {
        Net net = Net.random(2);
        Tape tape = Tape.training();
        Var y = net.stepAndBackward(tape);
        Var again = (Var) net.step(tape).get(2);
        assertSame(y, again);
        for (int i = 0; i < again.size(); i++) assertEquals(0f, again.grad().get(i));
    }

    @Test
    void anotherShapeAtAPositionGetsItsOwnTensorAndKeepsAnEqualSizedBuffer() {
        Tape tape = Tape.inference();
        Tensor a = tape.alloc(4, 3);
        tape.reset();
        Tensor b = tape.alloc(6, 2);
        assertNotSame(a, b);
        assertArrayEquals(new int[]{6, 2}, b.shape());
        assertSame(a.data(), b.data(), "12 floats either way: the buffer is reused");
        tape.reset();
        Tensor c = tape.alloc(5, 3);
        assertArrayEquals(new int[]{5, 3}, c.shape());
        assertEquals(15, c.data().length);
    }

    @Test
    void rowViewsFollowTheirTensorAndRange() {
        Tape tape = Tape.inference();
        Tensor t = Tensor.of(new float[]{0, 1, 2, 3, 4, 5, 6, 7}, 4, 2);
        Tensor first = tape.rows(t, 0, 2);
        tape.reset();
        Tensor shifted = tape.rows(t, 1, 3);
        assertNotSame(first, shifted);
        assertArrayEquals(new float[]{2, 3, 4, 5}, shifted.toArray());
        tape.reset();
        Tensor other = tape.rows(Tensor.of(new float[]{9, 8, 7}, 3), 1, 3);
        assertArrayEquals(new float[]{8, 7}, other.toArray());
    }

    @Test
    void backwardRunsEachRecordedOpOnce() {
        Net net = Net.random(3);
        Tape tape = Tape.training();
        net.stepAndBackward(tape);
        float[] once = net.w1().grad().toArray();
        tape.backward();                                   // nothing new was recorded
        assertArrayEquals(once, net.w1().grad().toArray());
        net.stepAndBackward(tape);                         // a second step accumulates into the parameters
        for (int i = 0; i < once.length; i++) assertEquals(2 * once[i], net.w1().grad().get(i), 1e-6f * Math.abs(once[i]));
    }

    /** Node-gradient bytes of a residual stack x ← x + gelu(x·wᵀ) of the given depth after one training step. */
    private static long gradientBytesOfAStack(int depth) {
        Rng rng = new Rng(6);
        Var x = param(rng, 8, 5), w = param(rng, 5, 5), head = param(rng, 7, 5);
        Tape tape = Tape.training();
        Var h = x;
        for (int l = 0; l < depth; l++) h = Ops.add(tape, h, Ops.gelu(tape, Ops.linear(tape, h, w, null)));
        Ops.linearCrossEntropy(tape, h, head, new int[] {0, 1, 2, 3, 4, 5, 6, 0});
        tape.backward();
        return tape.gradientBytes();
    }

    @Test
    void nodeGradientsAreLentWhileBackwardNeedsThemSoTheirMemoryDoesNotGrowWithDepth() {
        long two = gradientBytesOfAStack(2), twelve = gradientBytesOfAStack(12);
        assertEquals(two, twelve, "the pool holds what one block's backward needs at a time");
        assertTrue(twelve <= 4 * 8 * 5 * Float.BYTES, twelve + " bytes: at most four [8,5] gradients lent at once");
    }

    @Test
    void anOpOutputsGradientGoesBackAfterBackwardAndALeafKeepsItsOwn() {
        Net net = Net.random(7);
        Tape tape = Tape.training();
        Var y = net.stepAndBackward(tape);
        Tensor lent = y.grad();                            // lent again: zeroed, from the pool
        for (int i = 0; i < lent.size(); i++) assertEquals(0f, lent.get(i));
        assertSame(net.w1().grad(), net.w1().grad());
        assertTrue(net.w1().grad().toArray()[0] != 0f, "the leaf's gradient survives backward");
    }

    /** rmsnorm → swiglu of two linears → residual add → fused head, on n rows. */
    private static float otherGraph(Tape tape, Var x, Var norm, Var gate, Var up, Var down, Var head, int[] targets) {
        tape.reset();
        Var h = Ops.rmsnorm(tape, x, norm, 1e-5f, 1f);
        Var s = Ops.swiglu(tape, Ops.linear(tape, h, gate, null), Ops.linear(tape, h, up, null));
        Var r = Ops.add(tape, x, Ops.linear(tape, s, down, null));
        float loss = Ops.linearCrossEntropy(tape, r, head, targets);
        tape.backward();
        return loss;
    }

    @Test
    void aTapeThatRanAnotherGraphGivesBitwiseTheGradientsOfAFreshOne() {
        int n = 7, d = 6, ff = 10, V = 11;
        Rng rng = new Rng(4);
        Var x = param(rng, n, d), norm = param(rng, d), gate = param(rng, ff, d), up = param(rng, ff, d),
                down = param(rng, d, ff), head = param(rng, V, d);
        int[] targets = {1, 5, 0, 10, 3, 3, 7};
        List<Var> all = List.of(x, norm, gate, up, down, head);

        float freshLoss = otherGraph(Tape.training(), x, norm, gate, up, down, head, targets);
        List<float[]> fresh = all.stream().map(v -> v.grad().toArray()).toList();

        Tape used = Tape.training();
        Net net = Net.random(5);
        net.stepAndBackward(used);
        net.stepAndBackward(used);
        for (Var v : all) v.grad().fill(0f);
        float usedLoss = otherGraph(used, x, norm, gate, up, down, head, targets);

        assertEquals(freshLoss, usedLoss);
        for (int i = 0; i < all.size(); i++) assertArrayEquals(fresh.get(i), all.get(i).grad().toArray(), "gradient " + i);
    }

    /**
     * Residual connections two ways: fused (residualLinear) or linear then add. Covers an input that
     * takes over the output's gradient, one that already has a gradient when the residual's backward
     * runs (h0, read again further on), r = x, and add(z, z).
     */
    private static float residualGraph(Tape tape, boolean fused, Var x, Var w2, Var w, Var b, Var head, int[] targets) {
        tape.reset();
        Var h0 = Ops.gelu(tape, Ops.linear(tape, x, w2, null));
        Var a = Ops.gelu(tape, h0);
        Var y = fused ? Ops.residualLinear(tape, h0, a, w, b) : Ops.add(tape, h0, Ops.linear(tape, a, w, b));
        Var self = fused ? Ops.residualLinear(tape, y, y, w, null) : Ops.add(tape, y, Ops.linear(tape, y, w, null));
        Var z = Ops.add(tape, self, h0);
        float loss = Ops.linearCrossEntropy(tape, Ops.add(tape, z, z), head, targets);
        tape.backward();
        return loss;
    }

    @Test
    void theFusedResidualProjectionGivesBitwiseTheLossAndGradientsOfLinearThenAdd() {
        int n = 6, d = 5, V = 9;
        Rng rng = new Rng(8);
        Var x = param(rng, n, d), w2 = param(rng, d, d), w = param(rng, d, d), b = param(rng, d), head = param(rng, V, d);
        int[] targets = {1, 8, 0, 4, 4, 2};
        List<Var> all = List.of(x, w2, w, b, head);

        Tape plain = Tape.training();
        float plainLoss = residualGraph(plain, false, x, w2, w, b, head, targets);
        List<float[]> expected = all.stream().map(v -> v.grad().toArray()).toList();
        for (Var v : all) v.grad().fill(0f);
        Tape fused = Tape.training();
        float fusedLoss = residualGraph(fused, true, x, w2, w, b, head, targets);

        assertEquals(plainLoss, fusedLoss);
        for (int i = 0; i < all.size(); i++) assertArrayEquals(expected.get(i), all.get(i).grad().toArray(), "gradient " + i);
        assertTrue(fused.bytes() < plain.bytes(), fused.bytes() + " against " + plain.bytes() + " bytes: x·wᵀ is not kept");
    }

    @Test
    void dropoutKeepsEachElementWithProbabilityOneMinusPScaledAndPassesGradientsThroughTheSameMask() {
        Rng rng = new Rng(9);
        Var x = param(rng, 200, 50);
        Tape tape = Tape.training().dropoutSeed(4);
        Var y = Ops.dropout(tape, x, 0.25f);
        Var z = Ops.scale(tape, y, 1f);                 // an op whose input gradient flows back into the dropout
        int kept = 0;
        for (int i = 0; i < x.size(); i++) {
            float v = y.value().get(i);
            if (v != 0f) { kept++; assertEquals(x.value().get(i) / 0.75f, v, 1e-6f * Math.abs(v)); }
        }
        assertEquals(0.75, kept / (double) x.size(), 0.02);   // 10,000 draws: 4.3 standard deviations
        z.grad().fill(1f);
        tape.backward();
        for (int i = 0; i < x.size(); i++)
            assertEquals(y.value().get(i) == 0f ? 0f : 1f / 0.75f, x.grad().get(i), 1e-6f, "element " + i);
        // the same seed draws the same mask; an inference tape and p = 0 are the identity
        Var again = Ops.dropout(Tape.training().dropoutSeed(4), x, 0.25f);
        assertArrayEquals(y.value().toArray(), again.value().toArray());
        assertSame(x, Ops.dropout(Tape.inference(), x, 0.25f));
        assertSame(x, Ops.dropout(Tape.training(), x, 0f));
    }

    @Test
    void geglusGradientsMatchFiniteDifferencesAndItsKernelsAgreeVectorAndScalar() {
        Rng rng = new Rng(5);
        Var gate = param(rng, 3, 7), up = param(rng, 3, 7);
        Tape tape = Tape.training();
        Var y = Ops.geglu(tape, gate, up);
        float[] dy = new float[y.size()];
        for (int i = 0; i < dy.length; i++) { dy[i] = (float) rng.nextGaussian(); y.grad().set(i, dy[i]); }
        tape.backward();
        double h = 1e-3;
        for (Var v : new Var[] {gate, up})
            for (int i = 0; i < v.size(); i++) {
                float keep = v.value().get(i);
                v.value().set(i, (float) (keep + h));
                double plus = dot(Ops.geglu(Tape.inference(), gate, up), dy);
                v.value().set(i, (float) (keep - h));
                double minus = dot(Ops.geglu(Tape.inference(), gate, up), dy);
                v.value().set(i, keep);
                assertEquals((plus - minus) / (2 * h), v.grad().get(i), 2e-3, "d/d" + (v == gate ? "gate" : "up") + "[" + i + "]");
            }
        for (int n : new int[] {1, 7, 16, 33, 1000}) {
            Tensor a = Tensor.zeros(n), b = Tensor.zeros(n), ys = Tensor.zeros(n), yv = Tensor.zeros(n);
            for (int i = 0; i < n; i++) { a.set(i, (float) rng.nextGaussian()); b.set(i, (float) rng.nextGaussian()); ys.set(i, i); yv.set(i, i); }
            dev.lamina.kernels.Kernels.scalar(1).multiplyAdd(ys, a, b);
            dev.lamina.kernels.Kernels.vector(2).multiplyAdd(yv, a, b);
            assertArrayEquals(ys.toArray(), yv.toArray(), "multiplyAdd " + n);
            dev.lamina.kernels.Kernels.scalar(1).mul(ys, a, b);
            dev.lamina.kernels.Kernels.vector(2).mul(yv, a, b);
            assertArrayEquals(ys.toArray(), yv.toArray(), "mul " + n);
            for (int i = 0; i < n; i++) assertEquals(a.get(i) * b.get(i), ys.get(i));
        }
    }

    private static double dot(Var y, float[] w) {
        double s = 0;
        for (int i = 0; i < w.length; i++) s += (double) y.value().get(i) * w[i];
        return s;
    }
}
