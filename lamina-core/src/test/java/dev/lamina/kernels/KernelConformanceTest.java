package dev.lamina.kernels;

import dev.lamina.tensor.Precision;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every {@link KernelSet} method of {@link VectorKernels} against the {@link ScalarKernels}
 * reference on the same seeded random data: odd sizes and lane tails, nonzero view offsets,
 * guard floats around every view (which must come back untouched), and gradient buffers
 * pre-filled with random values (so accumulation, not overwrite, is checked: accumulated
 * outputs are compared by their increments).
 *
 * <p>Pass criterion: ‖vector − scalar‖ / ‖scalar‖ ≤ 1e-5 per output (the scalar reference sums
 * in float in the order the math is written; the vector kernels sum in lanes and blocks, so
 * they agree to rounding, typically 1e-7). The vector kernels run
 * with 1 and 2 threads, twice each, and the two runs with the same thread count must agree
 * bit for bit. Run it also with {@code -Dtest.extra.args=-XX:MaxVectorSize=32} (8 lanes).
 */
class KernelConformanceTest {
    private static final KernelSet REF = Kernels.scalar(1);
    private static final double TOL = 1e-5;
    private static final int GUARD = 5;
    private static final int[] SIZES = {1, 7, 15, 16, 17, 33, 100, 257};
    private static final int[] ROWS = {1, 3, 37};
    // ---- the harness ------------------------------------------------------------------------

    /** Seeded random tensors, each a view at a random nonzero offset with guard floats after it. */
    static final class Gen {
        final SplittableRandom r;
        Gen(long seed) { r = new SplittableRandom(seed); }

        Tensor t(float range, int... shape) {
            int off = 1 + r.nextInt(GUARD), n = Math.toIntExact(Tensor.count(shape));
            float[] data = new float[off + n + GUARD];
            for (int i = 0; i < data.length; i++) data[i] = (float) ((r.nextDouble() * 2 - 1) * range);
            return new Tensor(data, off, shape);
        }

        Tensor t(int... shape) { return t(1f, shape); }

        int[] ids(int n, int bound) {
            int[] ids = new int[n];
            for (int i = 0; i < n; i++) ids[i] = r.nextInt(bound);
            return ids;
        }

        float[] floats(int n, float range) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) a[i] = (float) ((r.nextDouble() * 2 - 1) * range);
            return a;
        }
    }

    @FunctionalInterface interface Op { void apply(KernelSet k, Tensor[] t); }

    /**
     * One check: inputs built from the seed, the op applied to a private copy per run, outputs
     * compared (overwritten ones by value, accumulated ones by their increment).
     */
    record Case(String label, Function<Gen, Tensor[]> setup, Op op, int[] overwritten, int[] accumulated) {
        DynamicTest test() { return DynamicTest.dynamicTest(label, () -> check(this)); }
    }

    static Case overwrite(String label, Function<Gen, Tensor[]> setup, Op op, int... outputs) {
        return new Case(label, setup, op, outputs, new int[0]);
    }

    static Case accumulate(String label, Function<Gen, Tensor[]> setup, Op op, int... outputs) {
        return new Case(label, setup, op, new int[0], outputs);
    }

    /** Deep copy keeping aliasing: views of one array stay views of one (copied) array. */
    static Tensor[] copy(Tensor[] ts) {
        Map<float[], float[]> copies = new IdentityHashMap<>();
        Tensor[] out = new Tensor[ts.length];
        for (int i = 0; i < ts.length; i++) {
            Tensor t = ts[i];
            if (t == null) continue;
            float[] c = copies.computeIfAbsent(t.data(), float[]::clone);
            out[i] = new Tensor(c, t.offset(), t.shape());
        }
        return out;
    }

    static Tensor[] run(Case c, KernelSet k, Tensor[] base) {
        Tensor[] t = copy(base);
        c.op().apply(k, t);
        return t;
    }

    static void check(Case c) {
        long seed = c.label().hashCode();
        Tensor[] base = c.setup().apply(new Gen(seed));
        Tensor[] ref = run(c, REF, base);
        // products (matmuls, attention) run on every register tile: each must match the reference
        // and, since every tile sums in the same order, every other tile bit for bit
        List<GemmTile> tiles = c.label().startsWith("matmul") || c.label().startsWith("attention") ? GemmTile.ALL
                : List.of(GemmTile.system());
        for (int threads : new int[] {1, 2}) {
          Tensor[] first = null;
          for (GemmTile tile : tiles) {
            KernelSet vec = Kernels.vector(threads, tile);
            Tensor[] v = run(c, vec, base), again = run(c, vec, base);
            String where = c.label() + " [" + threads + " thread(s), tile " + tile + "]";
            if (first == null) first = v;
            for (int o : c.overwritten()) assertThat(v[o].data()).as("%s: output %d differs from tile %s", where, o, tiles.getFirst()).isEqualTo(first[o].data());
            for (int o : c.accumulated()) assertThat(v[o].data()).as("%s: gradient %d differs from tile %s", where, o, tiles.getFirst()).isEqualTo(first[o].data());
            for (int i = 0; i < base.length; i++) {
                if (base[i] == null) continue;
                assertThat(again[i].data()).as("%s: tensor %d differs between two runs", where, i).isEqualTo(v[i].data());
                assertGuardsKept(where, i, base[i], v[i]);
            }
            for (int o : c.overwritten()) assertClose(where + " output " + o, v[o].toArray(), ref[o].toArray(), null);
            for (int o : c.accumulated())
                assertClose(where + " gradient " + o, v[o].toArray(), ref[o].toArray(), base[o].toArray());
            for (int i = 0; i < base.length; i++) {     // inputs are left alone
                if (base[i] == null || contains(c.overwritten(), i) || contains(c.accumulated(), i)) continue;
                if (aliasesOutput(c, base, i)) continue;
                assertThat(v[i].data()).as("%s: input %d modified", where, i).isEqualTo(base[i].data());
            }
          }
        }
    }

    private static boolean contains(int[] a, int x) { return Arrays.stream(a).anyMatch(y -> y == x); }

    private static boolean aliasesOutput(Case c, Tensor[] base, int i) {
        for (int o : c.overwritten()) if (base[o].data() == base[i].data()) return true;
        for (int o : c.accumulated()) if (base[o].data() == base[i].data()) return true;
        return false;
    }

    /** Floats outside the view must be exactly as before (no writes past the view). */
    private static void assertGuardsKept(String where, int i, Tensor before, Tensor after) {
        float[] b = before.data(), a = after.data();
        int from = before.offset(), to = before.offset() + before.size();
        for (int j = 0; j < b.length; j++) {
            if (j >= from && j < to) continue;
            if (Float.floatToRawIntBits(a[j]) != Float.floatToRawIntBits(b[j]))
                fail(where + ": tensor " + i + " written outside its view at " + j);
        }
    }

    /** ‖got − want‖ / ‖want‖ ≤ TOL, on increments when base is given. */
    static void assertClose(String what, float[] got, float[] want, float[] base) {
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            double w = want[i] - (base == null ? 0 : base[i]), g = got[i] - (base == null ? 0 : base[i]);
            if (Double.isNaN(g) != Double.isNaN(w) || Double.isInfinite(g) != Double.isInfinite(w))
                fail(what + ": element " + i + " is " + got[i] + ", reference " + want[i]);
            if (Double.isNaN(w) || Double.isInfinite(w)) continue;
            num += (g - w) * (g - w);
            den += w * w;
        }
        // the 1e-30 floor only matters for all-denormal outputs (swiglu of a gate of −100)
        double rel = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
        if (!(rel <= TOL)) fail(what + ": relative error " + rel + " > " + TOL + " (n=" + want.length + ")");
    }

    static Tensor scalarOut(Gen g) { return g.t(1); }

    // ---- matmul -----------------------------------------------------------------------------

    /** (n, in, out): odd sizes, both sides of the decode path (16 rows), and shapes past KC/MC/NC. */
    static List<int[]> matmulShapes() {
        List<int[]> shapes = new ArrayList<>();
        for (int n : new int[] {1, 3, 16, 17, 37})
            for (int in : new int[] {1, 7, 16, 17, 33, 100, 257})
                for (int out : new int[] {1, 7, 15, 16, 33, 100, 257}) shapes.add(new int[] {n, in, out});
        shapes.add(new int[] {70, 300, 130});
        shapes.add(new int[] {130, 70, 300});
        shapes.add(new int[] {300, 130, 70});
        shapes.add(new int[] {256, 384, 520});
        shapes.add(new int[] {40, 1100, 1030});     // N past the column block for every layout
        shapes.add(new int[] {9, 600, 1100});       // decode path, parallel over out
        shapes.add(new int[] {1, 1100, 600});       // few-row input gradient: column blocks and K slices
        shapes.add(new int[] {4, 4200, 530});
        shapes.add(new int[] {40, 512, 130});       // rows of w 2 KB apart: packed without the gather
        shapes.add(new int[] {70, 130, 1024});      // dy's columns 4 KB apart, read in place for dw; its rows copied for dx
        shapes.add(new int[] {50, 1024, 70});       // x's rows 4 KB apart: copied per K slice for y = x·wᵀ
        shapes.add(new int[] {1100, 70, 130});      // dw over K = 1100 rows: three K slices
        return shapes;
    }

    @TestFactory
    Stream<DynamicTest> matmul() {
        return matmulShapes().stream().flatMap(s -> {
            int n = s[0], in = s[1], out = s[2];
            String dims = "n=" + n + " in=" + in + " out=" + out;
            return Stream.of(
                    overwrite("matmul " + dims, g -> new Tensor[] {g.t(n, out), g.t(n, in), g.t(out, in), null},
                            (k, t) -> k.matmul(t[0], t[1], t[2], t[3]), 0),
                    overwrite("matmul+bias " + dims, g -> new Tensor[] {g.t(n, out), g.t(n, in), g.t(out, in), g.t(out)},
                            (k, t) -> k.matmul(t[0], t[1], t[2], t[3]), 0),
                    accumulate("matmulBackwardInput " + dims, g -> new Tensor[] {g.t(n, in), g.t(n, out), g.t(out, in)},
                            (k, t) -> k.matmulBackwardInput(t[0], t[1], t[2]), 0),
                    accumulate("matmulBackwardWeight " + dims,
                            g -> new Tensor[] {g.t(out, in), g.t(out), g.t(n, out), g.t(n, in)},
                            (k, t) -> k.matmulBackwardWeight(t[0], t[1], t[2], t[3]), 0, 1),
                    accumulate("matmulBackwardWeight nobias " + dims,
                            g -> new Tensor[] {g.t(out, in), null, g.t(n, out), g.t(n, in)},
                            (k, t) -> k.matmulBackwardWeight(t[0], t[1], t[2], t[3]), 0))
                    .map(Case::test);
        });
    }

    /** Shapes for the products that read w rounded: each path (few rows, packed, column blocks, K slices) at odd sizes. */
    static List<int[]> roundedShapes() {
        List<int[]> shapes = new ArrayList<>();
        for (int n : new int[] {1, 3, 4, 5, 16, 17, 37})
            for (int in : new int[] {7, 33, 257})
                for (int out : new int[] {7, 100, 257}) shapes.add(new int[] {n, in, out});
        shapes.add(new int[] {40, 1100, 1030});
        shapes.add(new int[] {9, 600, 1100});
        shapes.add(new int[] {1, 1100, 600});
        shapes.add(new int[] {4, 4200, 530});
        shapes.add(new int[] {3, 70, 4500});        // gemvNN past one column block (NB) with rows read rounded
        return shapes;
    }

    /** The products with w read rounded to bf16 and fp16 (16-bit training's master weights) against the scalar reference. */
    @TestFactory
    Stream<DynamicTest> matmulReadingRoundedWeights() {
        return roundedShapes().stream().flatMap(s -> {
            int n = s[0], in = s[1], out = s[2];
            return Stream.of(Precision.BF16, Precision.FP16).flatMap(p -> {
                String dims = p.label() + " n=" + n + " in=" + in + " out=" + out;
                return Stream.of(
                        overwrite("matmul rounded w " + dims, g -> new Tensor[] {g.t(n, out), g.t(n, in), g.t(out, in), g.t(out)},
                                (k, t) -> k.matmul(t[0], t[1], t[2], t[3], p), 0),
                        accumulate("matmulBackwardInput rounded w " + dims, g -> new Tensor[] {g.t(n, in), g.t(n, out), g.t(out, in)},
                                (k, t) -> k.matmulBackwardInput(t[0], t[1], t[2], p), 0));
            });
        }).map(Case::test);
    }

    /**
     * A product reading w rounded gives the bits of the same product on a rounded copy of w (what
     * 16-bit training relied on before it dropped the copies), on every kernel set, tile and thread
     * count, with w left as it was.
     */
    @Test
    void readingWRoundedIsMultiplyingARoundedCopy() {
        List<KernelSet> sets = new ArrayList<>(List.of(REF));
        for (GemmTile tile : GemmTile.ALL) for (int threads : new int[] {1, 2}) sets.add(Kernels.vector(threads, tile));
        for (int[] s : roundedShapes()) {
            int n = s[0], in = s[1], out = s[2];
            for (Precision p : new Precision[] {Precision.BF16, Precision.FP16}) {
                Gen g = new Gen(n * 31L + in * 7L + out + p.ordinal());
                Tensor x = g.t(n, in), dy = g.t(n, out), w = g.t(out, in), bias = g.t(out);
                float[] master = w.toArray();
                Tensor copy = Tensor.of(w.toArray(), out, in);
                for (int i = 0; i < copy.size(); i++) copy.data()[i] = p.round(copy.data()[i]);
                for (KernelSet k : sets) {
                    String where = p.label() + " " + n + "x" + in + "x" + out + " on " + k;
                    Tensor y1 = Tensor.zeros(n, out), y2 = Tensor.zeros(n, out);
                    k.matmul(y1, x, w, bias, p);
                    k.matmul(y2, x, copy, bias);
                    assertThat(y1.toArray()).as("y, %s", where).isEqualTo(y2.toArray());
                    Tensor dx1 = g.t(n, in), dx2 = Tensor.of(dx1.toArray(), n, in);
                    k.matmulBackwardInput(dx1, dy, w, p);
                    k.matmulBackwardInput(dx2, dy, copy);
                    assertThat(dx1.toArray()).as("dx, %s", where).isEqualTo(dx2.toArray());
                    assertThat(w.toArray()).as("w untouched, %s", where).isEqualTo(master);
                }
            }
        }
    }

    /** The few-row path (gemvNN) sums in the packed path's order: a row's result does not depend on its batch. */
    @Test
    void aFewRowsGiveBitwiseTheSameRowsAsALargeProduct() {
        Gen g = new Gen(7);
        int n = 37, in = 4200, out = 600;                       // K = 600 spans two K slices; N several column blocks
        Tensor dy = g.t(n, out), w = g.t(out, in);
        for (int threads : new int[] {1, 2}) {
            KernelSet vec = Kernels.vector(threads);
            Tensor all = Tensor.zeros(n, in);
            vec.matmulBackwardInput(all, dy, w);
            for (int rows : new int[] {1, 3, 4}) {
                for (int r0 = 0; r0 + rows <= 9; r0 += rows) {
                    Tensor part = Tensor.zeros(rows, in);
                    vec.matmulBackwardInput(part, dy.rows(r0, r0 + rows), w);
                    for (int i = 0; i < rows * in; i++)
                        assertThat(part.data()[i]).as("threads %d, rows %d from %d, element %d", threads, rows, r0, i)
                                .isEqualTo(all.data()[r0 * in + i]);
                }
            }
        }
    }

    /**
     * squaresByBlock: per block against the scalar reference, and for every kernel set sumOfSquares is
     * their in-order sum bit for bit, and a view starting at a block boundary has the same blocks
     * (what lets workers each sum their shard of the gradient and agree on the global norm).
     */
    @Test
    void sumOfSquaresIsItsBlocksSummedInOrder() {
        Gen g = new Gen(11);
        int B = KernelSet.SQUARES_BLOCK;
        for (int n : new int[] {1, 17, B - 1, B, B + 1, 3 * B + 17}) {
            Tensor x = g.t(n);
            int blocks = (n + B - 1) / B;
            double[] ref = new double[blocks];
            REF.squaresByBlock(x, ref);
            for (KernelSet k : new KernelSet[] {REF, Kernels.vector(1), Kernels.vector(2)}) {
                double[] out = new double[blocks];
                k.squaresByBlock(x, out);
                double s = 0;
                for (int b = 0; b < blocks; b++) {
                    assertThat(Math.abs(out[b] - ref[b])).as("n %d block %d", n, b).isLessThanOrEqualTo(TOL * ref[b]);
                    s += out[b];
                }
                assertThat(Double.doubleToRawLongBits(k.sumOfSquares(x))).as("n %d", n).isEqualTo(Double.doubleToRawLongBits(s));
                if (blocks > 1) {
                    double[] tail = new double[blocks - 1];
                    k.squaresByBlock(x.rows(B, n), tail);
                    for (int b = 1; b < blocks; b++) assertThat(tail[b - 1]).as("n %d, block %d from a view", n, b).isEqualTo(out[b]);
                }
            }
        }
    }

    // ---- norms ------------------------------------------------------------------------------

    static Stream<int[]> rowShapes() {
        Stream<int[]> small = Arrays.stream(ROWS).boxed().flatMap(n -> Arrays.stream(SIZES).mapToObj(d -> new int[] {n, d}));
        return Stream.concat(small, Stream.of(new int[] {300, 384}, new int[] {129, 1000}));
    }

    @TestFactory
    Stream<DynamicTest> norms() {
        float eps = 1e-5f, sc = 0.7f;
        return rowShapes().flatMap(s -> {
            int n = s[0], d = s[1];
            String dims = "n=" + n + " d=" + d;
            return Stream.of(
                    overwrite("rmsnorm " + dims, g -> new Tensor[] {g.t(n, d), g.t(n), g.t(n, d), g.t(d)},
                            (k, t) -> k.rmsnorm(t[0], t[1], t[2], t[3], eps, sc), 0, 1),
                    accumulate("rmsnormBackward " + dims, g -> {
                        Tensor x = g.t(n, d), w = g.t(d), y = g.t(n, d), rstd = g.t(n);
                        REF.rmsnorm(y, rstd, x, w, eps, sc);
                        return new Tensor[] {g.t(n, d), g.t(d), g.t(n, d), x, w, rstd};
                    }, (k, t) -> k.rmsnormBackward(t[0], t[1], t[2], t[3], t[4], t[5], sc), 0, 1),
                    overwrite("layernorm " + dims,
                            g -> new Tensor[] {g.t(n, d), g.t(n), g.t(n), g.t(2f, n, d), g.t(d), g.t(d)},
                            (k, t) -> k.layernorm(t[0], t[1], t[2], t[3], t[4], t[5], eps, sc), 0, 1, 2),
                    overwrite("layernorm nobias " + dims,
                            g -> new Tensor[] {g.t(n, d), g.t(n), g.t(n), g.t(2f, n, d), g.t(d), null},
                            (k, t) -> k.layernorm(t[0], t[1], t[2], t[3], t[4], t[5], eps, sc), 0, 1, 2),
                    accumulate("layernormBackward " + dims, g -> {
                        Tensor x = g.t(2f, n, d), w = g.t(d), y = g.t(n, d), mean = g.t(n), rstd = g.t(n);
                        REF.layernorm(y, mean, rstd, x, w, null, eps, sc);
                        return new Tensor[] {g.t(n, d), g.t(d), g.t(d), g.t(n, d), x, w, mean, rstd};
                    }, (k, t) -> k.layernormBackward(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], sc), 0, 1, 2),
                    accumulate("layernormBackward nobias " + dims, g -> {
                        Tensor x = g.t(2f, n, d), w = g.t(d), y = g.t(n, d), mean = g.t(n), rstd = g.t(n);
                        REF.layernorm(y, mean, rstd, x, w, null, eps, sc);
                        return new Tensor[] {g.t(n, d), g.t(d), null, g.t(n, d), x, w, mean, rstd};
                    }, (k, t) -> k.layernormBackward(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], sc), 0, 1))
                    .map(Case::test);
        });
    }

    // ---- rope and attention -----------------------------------------------------------------

    @TestFactory
    Stream<DynamicTest> rope() {
        List<Case> cases = new ArrayList<>();
        for (int T : new int[] {1, 5})
            for (int heads : new int[] {1, 3})
                for (int hd : new int[] {2, 8, 12, 34, 64})
                    for (int pos0 : new int[] {0, 3})
                        for (boolean inverse : new boolean[] {false, true}) {
                            int B = 2, half = hd / 2, maxPos = pos0 + T;
                            float[][] tables = new float[2][];
                            String label = "rope T=" + T + " heads=" + heads + " hd=" + hd + " pos0=" + pos0 + " inverse=" + inverse;
                            cases.add(overwrite(label, g -> {
                                tables[0] = g.floats(maxPos * half, 1f);
                                tables[1] = g.floats(maxPos * half, 1f);
                                return new Tensor[] {g.t(B, T, heads, hd)};
                            }, (k, t) -> k.rope(t[0], T, heads, hd, pos0, tables[0], tables[1], inverse), 0));
                        }
        cases.add(overwrite("rope T=256 heads=6 hd=64 (parallel)", g -> new Tensor[] {g.t(2, 256, 6, 64)},
                (k, t) -> k.rope(t[0], 256, 6, 64, 0, TABLE_COS, TABLE_SIN, false), 0));
        return cases.stream().map(Case::test);
    }

    private static final float[] TABLE_COS = new Gen(1).floats(256 * 32, 1f), TABLE_SIN = new Gen(2).floats(256 * 32, 1f);

    /** (T, H, KV, hd, window) */
    static List<int[]> attentionShapes() {
        List<int[]> shapes = new ArrayList<>();
        for (int T : new int[] {1, 5, 19})
            for (int[] hk : new int[][] {{4, 4}, {4, 2}, {6, 1}})
                for (int hd : new int[] {8, 12, 64})
                    for (int window : new int[] {0, 3}) shapes.add(new int[] {T, hk[0], hk[1], hd, window});
        shapes.add(new int[] {70, 4, 2, 64, 0});     // more than one block of query rows
        shapes.add(new int[] {70, 4, 2, 64, 33});
        shapes.add(new int[] {40, 3, 3, 20, 0});
        shapes.add(new int[] {150, 4, 2, 16, 70});   // several row blocks, window across block edges
        return shapes;
    }

    /** The score rules a shape is tested with: plain causal; on some shapes also another scale with a soft cap (Gemma 2) that bites. */
    static List<AttentionScores> scoreRules(int T, int hd, int window) {
        AttentionScores plain = AttentionScores.causal(hd, window);
        return hd == 12 || T >= 40 ? List.of(plain, new AttentionScores(window, 0.3f, 1.5f)) : List.of(plain);
    }

    @TestFactory
    Stream<DynamicTest> attention() {
        int B = 2;
        return attentionShapes().stream().flatMap(s -> {
            int T = s[0], H = s[1], KV = s[2], hd = s[3], window = s[4];
            return scoreRules(T, hd, window).stream().flatMap(sc -> {
                String dims = "B=" + B + " T=" + T + " H=" + H + " KV=" + KV + " hd=" + hd + " window=" + window
                        + (sc.softcap() > 0 ? " scale=" + sc.scale() + " softcap=" + sc.softcap() : "");
                return Stream.of(
                        overwrite("attention " + dims, g -> new Tensor[] {g.t(B, T, H, hd), g.t(B, H, T, T),
                                        g.t(2f, B, T, H, hd), g.t(2f, B, T, KV, hd), g.t(B, T, KV, hd)},
                                (k, t) -> k.attention(t[0], t[1], t[2], t[3], t[4], B, T, H, KV, hd, sc), 0, 1),
                        accumulate("attentionBackward " + dims, g -> {
                            Tensor q = g.t(2f, B, T, H, hd), kk = g.t(2f, B, T, KV, hd), v = g.t(B, T, KV, hd);
                            Tensor att = g.t(B, H, T, T), out = g.t(B, T, H, hd);
                            REF.attention(out, att, q, kk, v, B, T, H, KV, hd, sc);
                            return new Tensor[] {g.t(B, T, H, hd), g.t(B, T, KV, hd), g.t(B, T, KV, hd), g.t(B, T, H, hd),
                                    q, kk, v, att};
                        }, (k, t) -> k.attentionBackward(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7],
                                B, T, H, KV, hd, sc), 0, 1, 2))
                        .map(Case::test);
            });
        });
    }

    /** The soft cap saturates: the scores' derivative vanishes far out, so the gradient flows only through scores near 0. */
    @Test
    void softCappedAttentionBackwardIsTheDerivativeOfItsForward() {
        int B = 1, T = 6, H = 2, KV = 1, hd = 4;
        AttentionScores sc = new AttentionScores(0, 0.5f, 1.2f);
        Gen g = new Gen(5);
        Tensor q = g.t(2f, B, T, H, hd), kk = g.t(2f, B, T, KV, hd), v = g.t(B, T, KV, hd), w = g.t(B, T, H, hd);
        for (KernelSet k : List.of(REF, Kernels.vector(1, GemmTile.system()))) {
            Tensor out = Tensor.zeros(B, T, H, hd), att = Tensor.zeros(B, H, T, T);
            Tensor dq = Tensor.zeros(B, T, H, hd), dk = Tensor.zeros(B, T, KV, hd), dv = Tensor.zeros(B, T, KV, hd);
            k.attention(out, att, q, kk, v, B, T, H, KV, hd, sc);
            k.attentionBackward(dq, dk, dv, Tensor.of(w.toArray(), w.shape()), q, kk, v, att, B, T, H, KV, hd, sc);
            for (int i = 0; i < q.size(); i += 3) {           // loss Σ w·out, central differences in float64 of the float32 forward
                double eps = 1e-2, up = weighted(k, q, kk, v, w, i, eps, sc), down = weighted(k, q, kk, v, w, i, -eps, sc);
                assertThat((double) dq.get(i)).as("dq[%d] %s", i, k).isCloseTo((up - down) / (2 * eps), org.assertj.core.data.Offset.offset(2e-3));
            }
        }
    }

    private static double weighted(KernelSet k, Tensor q, Tensor kk, Tensor v, Tensor w, int i, double eps, AttentionScores sc) {
        Tensor qq = Tensor.of(q.toArray(), q.shape());
        qq.set(i, (float) (qq.get(i) + eps));
        int[] s = q.shape(), sv = kk.shape();
        Tensor out = Tensor.zeros(s), att = Tensor.zeros(s[0], s[2], s[1], s[1]);
        k.attention(out, att, qq, kk, v, s[0], s[1], s[2], sv[2], s[3], sc);
        double sum = 0;
        for (int j = 0; j < out.size(); j++) sum += (double) out.get(j) * w.get(j);
        return sum;
    }

    // ---- activations and elementwise --------------------------------------------------------

    static int[] elementSizes() { return new int[] {1, 7, 15, 16, 17, 33, 100, 257, 70_001}; }

    @TestFactory
    Stream<DynamicTest> elementwise() {
        // GELU inputs span ±5, except a single element: the reference rounds 1 + tanh(u) in float, so
        // it has no relative precision left for x < −3 (the values there are tiny and do not move the
        // norm of a longer vector, but alone they would compare the reference's rounding).
        return Arrays.stream(elementSizes()).boxed().flatMap(n -> Stream.of(
                overwrite("gelu n=" + n, g -> new Tensor[] {g.t(n), g.t(n == 1 ? 2f : 5f, n)},
                        (k, t) -> k.gelu(t[0], t[1]), 0),
                accumulate("geluBackward n=" + n, g -> new Tensor[] {g.t(n), g.t(n), g.t(n == 1 ? 2f : 5f, n)},
                        (k, t) -> k.geluBackward(t[0], t[1], t[2]), 0),
                overwrite("softcap n=" + n, g -> new Tensor[] {g.t(12f, n)},
                        (k, t) -> k.softcap(t[0].data(), t[0].offset(), t[0].size(), 3f), 0),
                overwrite("softcapBackward n=" + n, g -> new Tensor[] {g.t(n), g.t(2.9f, n)},
                        (k, t) -> k.softcapBackward(t[0], t[1], 3f), 0),
                overwrite("swiglu n=" + n, g -> new Tensor[] {g.t(n), withExtremes(g.t(8f, n)), g.t(n)},
                        (k, t) -> k.swiglu(t[0], t[1], t[2]), 0),
                accumulate("swigluBackward n=" + n,
                        g -> new Tensor[] {g.t(n), g.t(n), g.t(n), withExtremes(g.t(8f, n)), g.t(n)},
                        (k, t) -> k.swigluBackward(t[0], t[1], t[2], t[3], t[4]), 0, 1),
                overwrite("add n=" + n, g -> new Tensor[] {g.t(n), g.t(n), g.t(n)}, (k, t) -> k.add(t[0], t[1], t[2]), 0),
                overwrite("add aliased n=" + n, g -> {
                    Tensor a = g.t(n);
                    return new Tensor[] {a, a, g.t(n)};
                }, (k, t) -> k.add(t[0], t[1], t[2]), 0),
                accumulate("accumulate n=" + n, g -> new Tensor[] {g.t(n), g.t(n)}, (k, t) -> k.accumulate(t[0], t[1]), 0),
                overwrite("scale n=" + n, g -> new Tensor[] {g.t(n)}, (k, t) -> k.scale(t[0], -1.7f), 0),
                overwrite("sumOfSquares n=" + n, g -> new Tensor[] {g.t(n), scalarOut(g)},
                        (k, t) -> t[1].set(0, (float) k.sumOfSquares(t[0])), 1),
                overwrite("dot n=" + n, g -> new Tensor[] {g.t(n), g.t(n), scalarOut(g)},
                        (k, t) -> t[2].set(0, k.dot(t[0].data(), t[0].offset(), t[1].data(), t[1].offset(), n)), 2),
                overwrite("adamw n=" + n, g -> {
                    Tensor v = g.t(n);
                    for (int i = 0; i < n; i++) v.set(i, Math.abs(v.get(i)) * 1e-3f);     // second moments are ≥ 0
                    return new Tensor[] {g.t(n), g.t(n), g.t(1e-2f, n), v};
                }, (k, t) -> k.adamw(t[0], t[1], t[2], t[3], 3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f,
                        1 - (float) Math.pow(0.9, 7), 1 - (float) Math.pow(0.95, 7)), 0, 2, 3)
        ).map(Case::test));
    }

    /** A few gate values far in the tails, where exp overflows in float. */
    private static Tensor withExtremes(Tensor t) {
        float[] ext = {-100f, 100f, -30f, 88.9f};
        for (int i = 0; i < Math.min(ext.length, t.size()); i++) t.set(t.size() - 1 - i, ext[i]);
        return t;
    }

    // ---- embeddings and the loss ------------------------------------------------------------

    @TestFactory
    Stream<DynamicTest> embeddings() {
        int V = 11, T = 5;
        Stream<int[]> shapes = Stream.concat(rowShapes().filter(s -> s[1] != 1000), Stream.of(new int[] {300, 384}));
        return shapes.flatMap(s -> {
            int n = s[0], d = s[1];
            int[][] ids = new int[1][];
            String dims = "n=" + n + " d=" + d;
            return Stream.of(
                    overwrite("embedding " + dims, g -> {
                        ids[0] = g.ids(n, V);
                        return new Tensor[] {g.t(n, d), g.t(V, d), g.t(T, d)};
                    }, (k, t) -> k.embedding(t[0], ids[0], t[1], t[2], T), 0),
                    overwrite("embedding nopos " + dims, g -> {
                        ids[0] = g.ids(n, V);
                        return new Tensor[] {g.t(n, d), g.t(V, d), null};
                    }, (k, t) -> k.embedding(t[0], ids[0], t[1], t[2], T), 0),
                    accumulate("embeddingBackward " + dims, g -> {
                        ids[0] = g.ids(n, V);
                        return new Tensor[] {g.t(V, d), g.t(T, d), g.t(n, d)};
                    }, (k, t) -> k.embeddingBackward(t[0], t[1], t[2], ids[0], T), 0, 1),
                    accumulate("embeddingBackward nopos " + dims, g -> {
                        ids[0] = g.ids(n, V);
                        return new Tensor[] {g.t(V, d), null, g.t(n, d)};
                    }, (k, t) -> k.embeddingBackward(t[0], t[1], t[2], ids[0], T), 0))
                    .map(Case::test);
        });
    }

    @TestFactory
    Stream<DynamicTest> crossEntropy() {
        List<Case> cases = new ArrayList<>();
        for (int n : ROWS)
            for (int V : new int[] {1, 7, 16, 17, 100, 257, 8192}) {
                int[][] targets = new int[1][];
                float gs = 1f / n;
                String dims = "n=" + n + " V=" + V;
                cases.add(overwrite("crossEntropy " + dims, g -> {
                    targets[0] = g.ids(n, V);
                    return new Tensor[] {g.t(n), g.t(n, V), g.t(8f, n, V)};
                }, (k, t) -> k.crossEntropy(t[0], t[1], t[2], targets[0], gs), 0, 1));
                cases.add(overwrite("crossEntropy nograd " + dims, g -> {
                    targets[0] = g.ids(n, V);
                    return new Tensor[] {g.t(n), null, g.t(8f, n, V)};
                }, (k, t) -> k.crossEntropy(t[0], t[1], t[2], targets[0], gs), 0));
                cases.add(overwrite("crossEntropy in place " + dims, g -> {
                    targets[0] = g.ids(n, V);
                    Tensor logits = g.t(8f, n, V);
                    return new Tensor[] {g.t(n), logits, logits};
                }, (k, t) -> k.crossEntropy(t[0], t[1], t[2], targets[0], gs), 0, 1));
                cases.add(overwrite("crossEntropy ignoring every other target " + dims, g -> {
                    targets[0] = g.ids(n, V);
                    for (int i = 0; i < n; i += 2) targets[0][i] = KernelSet.IGNORE;
                    return new Tensor[] {g.t(n), g.t(n, V), g.t(8f, n, V)};
                }, (k, t) -> {
                    k.crossEntropy(t[0], t[1], t[2], targets[0], gs);
                    for (int i = 0; i < n; i += 2) {                  // an ignored row: no loss, no gradient
                        assertThat(t[0].get(i)).isZero();
                        for (int j = 0; j < V; j++) assertThat(t[1].get(i * V + j)).isZero();
                    }
                }, 0, 1));
            }
        return cases.stream().map(Case::test);
    }

    // ---- selection --------------------------------------------------------------------------

    @Test
    void selectionFollowsTheProperty() {
        System.out.println("vector kernels run with " + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED
                + ", " + Kernels.defaults().threads() + " threads by default");
        String chosen = System.getProperty("lamina.kernels", "vector");
        assertThat(Kernels.defaults().name()).isEqualTo(chosen.trim().toLowerCase(java.util.Locale.ROOT));
        assertThat(Kernels.of(Kernels.Kind.SCALAR, 1)).isSameAs(REF);
        assertThat(Kernels.vector(2).threads()).isEqualTo(2);
        assertThat(Kernels.vector(2).parallel()).isSameAs(Kernels.scalar(2).parallel());
        assertThatThrownBy(() -> Kernels.kind("simd")).isInstanceOf(dev.lamina.io.LaminaException.class)
                .hasMessageContaining("-Dlamina.kernels=simd");
    }
}
