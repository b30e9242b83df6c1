package dev.lamina.autograd;

import dev.lamina.tensor.Tensor;

/**
 * The differentiable ops of a sparse (mixture-of-experts) layer, on a tape:
 *
 * <pre>
 * logits [n, E] ─route─▶ Route (top-k experts and weights per row, rows grouped by expert)
 * x [n, d] ─permute─▶ grouped [n·k, d] ─groupedLinear per expert─▶ ... ─groupedLinear─▶ y [n·k, d] ─combine─▶ [n, d]
 * </pre>
 *
 * Each expert multiplies only the rows routed to it (one product per expert over its group; an
 * expert with no rows does no work and its gradient stays zero). The load-balancing and z losses
 * are summed over every sparse layer of a forward pass in {@link RouterLosses}; their gradients are
 * added to the router logits by each layer's route backward.
 */
public final class MoeOps {
    private MoeOps() {}

    /**
     * The router losses of one forward pass over all its sparse layers, as transformers' Mixtral
     * computes the load-balancing loss (the rows of all layers pooled):
     * aux = E · Σ_e (C_e / N) · (P_e / N), with C_e the rows that picked e among their top k, P_e the
     * sum of e's softmax probability and N the rows over all sparse layers; and ST-MoE's
     * z = (1/N) Σ_rows logsumexp(logits)². The training loss adds auxCoef·aux + zCoef·z.
     */
    public static final class RouterLosses {
        private final int E;
        private final double auxCoef, zCoef;
        private final double[] counts, probs;
        private final double[][] layerCounts;             // per layer (null for dense ones): rows that picked each expert
        private double lseSquares;
        private long rows, dropped, routed;
        private float scale = 1f;

        public RouterLosses(int experts, int layers, double auxCoef, double zCoef) {
            this.E = experts;
            layerCounts = new double[layers][];
            this.auxCoef = auxCoef;
            this.zCoef = zCoef;
            counts = new double[experts];
            probs = new double[experts];
        }

        /** Forgets the last pass (called as a forward pass starts). */
        public void reset() {
            java.util.Arrays.fill(counts, 0);
            java.util.Arrays.fill(probs, 0);
            for (double[] c : layerCounts) if (c != null) java.util.Arrays.fill(c, 0);
            lseSquares = 0;
            rows = dropped = routed = 0;
        }

        /** What the losses' gradients are multiplied by (a micro-batch's share of an accumulated step); 1 by default. */
        public void scale(float s) { scale = s; }

        /** The load-balancing loss of the pass (unweighted); 0 before any sparse layer ran. */
        public double aux() {
            if (rows == 0) return 0;
            double s = 0;
            for (int e = 0; e < E; e++) s += counts[e] * probs[e];
            return E * s / ((double) rows * rows);
        }

        /** The z-loss of the pass (unweighted). */
        public double z() { return rows == 0 ? 0 : lseSquares / rows; }

        /** auxCoef·aux + zCoef·z: what the router losses add to the training loss. */
        public double weighted() { return auxCoef * aux() + zCoef * z(); }

        /** Rows routed to an expert (top-k slots) and those dropped by the capacity, this pass, over every sparse layer. */
        public long routed() { return routed; }
        public long dropped() { return dropped; }

        /** Rows each expert was picked by, summed over the sparse layers of the pass. */
        public double[] counts() { return counts.clone(); }

        /** Each expert's share of layer l's top-k picks this pass (sums to 1), or null for a dense layer. */
        public double[] load(int layer) {
            double[] c = layerCounts[layer];
            if (c == null) return null;
            double sum = 0;
            for (double v : c) sum += v;
            double[] out = new double[E];
            for (int e = 0; e < E; e++) out[e] = sum == 0 ? 0 : c[e] / sum;
            return out;
        }
    }

    /** One sparse layer's routing of n rows to k of E experts: the op whose backward takes the router's gradient. */
    public static final class Route extends Tape.Op {
        int n, k, E, total;
        boolean renormalize;                 // weights p_j / Σ_chosen p (Mixtral), else p_j (Grok-1)
        Var logits, weights;                 // [n, E], [n, k]
        Tensor probs;                        // softmax(logits) [n, E]
        int[] expert;                        // [n·k]: the j-th expert of row r at r·k + j (descending probability)
        int[] slot;                          // [n·k]: where (r, j) sits in the grouped order, -1 when dropped
        int[] rowOf;                         // [n·k]: the row at each grouped position, -1 past the used ones
        int[] offsets;                       // [E + 1]: expert e's rows are [offsets[e], offsets[e+1])
        float[] lse;                         // [n]
        RouterLosses losses;
        float lossScale = 1f;                // the tape's loss scale when recorded (fp16 training)

        Route() { super("moe_route"); }

        /** Expert e's group: grouped rows [start(e), start(e + 1)). */
        public int start(int e) { return offsets[e]; }
        /** Row slots routed (all n·k but the dropped). */
        public int total() { return total; }

        @Override protected void backward() {
            if (logits.grad() == null) return;
            float[] dz = logits.grad().data(), p = probs.data();
            int dzo = logits.grad().offset();
            Tensor dw = weights.gradIfAny();
            float[] w = weights.value().data();
            double rowsAll = losses == null ? 0 : losses.rows;
            double auxScale = losses == null || losses.auxCoef == 0 ? 0 : lossScale * losses.scale * losses.auxCoef * E / (rowsAll * rowsAll);
            double zScale = losses == null || losses.zCoef == 0 ? 0 : lossScale * losses.scale * losses.zCoef * 2 / rowsAll;
            for (int r = 0; r < n; r++) {
                int zo = dzo + r * E, po = r * E;
                if (dw != null && renormalize) {           // w_j = p_j / Σ_sel p: a softmax over the selected logits
                    float[] g = dw.data();
                    int go = dw.offset() + r * k;
                    double dot = 0;
                    for (int j = 0; j < k; j++) dot += (double) w[r * k + j] * g[go + j];
                    for (int j = 0; j < k; j++) dz[zo + expert[r * k + j]] += (float) (w[r * k + j] * (g[go + j] - dot));
                } else if (dw != null) {                   // w_j = p_j: through the softmax over all experts
                    float[] g = dw.data();
                    int go = dw.offset() + r * k;
                    double dot = 0;
                    for (int j = 0; j < k; j++) dot += (double) w[r * k + j] * g[go + j];
                    for (int e = 0; e < E; e++) dz[zo + e] -= (float) (p[po + e] * dot);
                    for (int j = 0; j < k; j++) dz[zo + expert[r * k + j]] += (float) (w[r * k + j] * g[go + j]);
                }
                if (auxScale != 0) {                       // d aux / d p_e = E·C_e/N², through the softmax
                    double dot = 0;
                    for (int e = 0; e < E; e++) dot += p[po + e] * losses.counts[e];
                    for (int e = 0; e < E; e++) dz[zo + e] += (float) (auxScale * p[po + e] * (losses.counts[e] - dot));
                }
                if (zScale != 0)                           // d lse² / d z_e = 2·lse·p_e
                    for (int e = 0; e < E; e++) dz[zo + e] += (float) (zScale * lse[r] * p[po + e]);
            }
        }
    }

    /**
     * Routes the rows of logits [n, E]: softmax over all experts, the k most probable kept (ties to
     * the lower index) with weights renormalised to sum to 1 (Mixtral; k = 1 is Switch). With a
     * capacity c > 0 (training) an expert takes at most ceil(c·n·k/E) rows: first choices before
     * second ones, each in row order; the rest are dropped (their rows keep the residual alone).
     * losses (may be null) accumulates the pass's router statistics, under layer.
     */
    public static Route route(Tape tape, Var logits, int k, double capacity, RouterLosses losses, int layer) {
        return route(tape, logits, k, true, capacity, losses, layer);
    }

    /** As {@link #route(Tape, Var, int, double, RouterLosses, int)}; renormalize false keeps the chosen probabilities as they are (Grok-1). */
    public static Route route(Tape tape, Var logits, int k, boolean renormalize, double capacity, RouterLosses losses, int layer) {
        int n = logits.value().dim(0), E = logits.value().dim(1);
        Var weights = tape.var(n, k);
        Tensor probs = tape.alloc(n, E);
        long t0 = tape.start();
        Route op = tape.op(Route.class, Route::new);
        op.n = n; op.k = k; op.E = E; op.logits = logits; op.weights = weights; op.probs = probs; op.losses = losses;
        op.renormalize = renormalize;
        op.lossScale = tape.lossScale();
        op.expert = tape.ints(n * k);
        op.slot = tape.ints(n * k);
        op.rowOf = tape.ints(n * k);
        op.offsets = tape.ints(E + 1);
        if (op.lse == null || op.lse.length < n) op.lse = new float[n];
        float[] z = logits.value().data(), p = probs.data(), w = weights.value().data();
        int zo = logits.value().offset();
        for (int r = 0; r < n; r++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int e = 0; e < E; e++) max = Math.max(max, z[zo + r * E + e]);
            double sum = 0;
            for (int e = 0; e < E; e++) sum += Math.exp(z[zo + r * E + e] - max);
            op.lse[r] = (float) (max + Math.log(sum));
            for (int e = 0; e < E; e++) p[r * E + e] = (float) (Math.exp(z[zo + r * E + e] - max) / sum);
            choose(p, r * E, E, k, renormalize, op.expert, w, r * k);
        }
        int cap = capacity > 0 && tape.recording() ? (int) Math.ceil(capacity * n * k / E) : n * k;
        int dropped = group(n, k, E, op.expert, cap, op.offsets, op.slot, op.rowOf, tape.ints(E));
        op.total = op.offsets[E];
        if (losses != null && !tape.recomputing()) {          // a checkpointed segment run again counted its rows the first time
            if (losses.layerCounts[layer] == null) losses.layerCounts[layer] = new double[E];
            for (int r = 0; r < n; r++) {
                for (int j = 0; j < k; j++) {
                    losses.counts[op.expert[r * k + j]]++;
                    losses.layerCounts[layer][op.expert[r * k + j]]++;
                }
                for (int e = 0; e < E; e++) losses.probs[e] += p[r * E + e];
                losses.lseSquares += (double) op.lse[r] * op.lse[r];
            }
            losses.rows += n;
            losses.routed += (long) n * k;
            losses.dropped += dropped;
        }
        tape.forward("moe_route", t0);
        return op;
    }

    /**
     * Row r's choice: the k most probable experts of p[off, off+E) into expert[at, at+k) and their
     * weights into w[at, at+k): p_j / Σ_chosen p (renormalize, Mixtral) or p_j (Grok-1, Qwen-MoE).
     * Both executors route with it.
     */
    public static void choose(float[] p, int off, int E, int k, boolean renormalize, int[] expert, float[] w, int at) {
        topK(p, off, E, k, expert, at);
        double kept = 0;
        for (int j = 0; j < k; j++) kept += p[off + expert[at + j]];
        if (!renormalize) kept = 1;
        for (int j = 0; j < k; j++) w[at + j] = (float) (p[off + expert[at + j]] / kept);
    }

    /**
     * Groups n rows' k choices (expert[r·k + j]) by expert, at most cap rows per expert: first
     * choices claim capacity before second ones, each in row order, and within a group the rows keep
     * their order. offsets [E + 1] gets each group's start, slot[r·k + j] the grouped position of row
     * r's j-th choice (−1 when dropped), rowOf[position] its row (−1 past the used ones; rowOf may be
     * null). fill [E] is scratch. Returns how many choices were dropped. Both executors group with it.
     */
    public static int group(int n, int k, int E, int[] expert, int cap, int[] offsets, int[] slot, int[] rowOf, int[] fill) {
        java.util.Arrays.fill(offsets, 0, E + 1, 0);
        int dropped = 0;
        for (int j = 0; j < k; j++)
            for (int r = 0; r < n; r++) {
                int e = expert[r * k + j];
                if (offsets[e] < cap) { offsets[e]++; slot[r * k + j] = 0; }
                else { slot[r * k + j] = -1; dropped++; }
            }
        for (int e = 0, acc = 0; e <= E; e++) { int c = e < E ? offsets[e] : 0; offsets[e] = acc; acc += c; }   // counts → starts
        java.util.Arrays.fill(fill, 0, E, 0);
        if (rowOf != null) java.util.Arrays.fill(rowOf, 0, n * k, -1);
        for (int r = 0; r < n; r++)
            for (int j = 0; j < k; j++) {
                if (slot[r * k + j] < 0) continue;
                int e = expert[r * k + j], at = offsets[e] + fill[e]++;
                slot[r * k + j] = at;
                if (rowOf != null) rowOf[at] = r;
            }
        return dropped;
    }

    /** The k largest of p[off, off+E) into out[at, at+k), largest first; equal values: the lower index first. */
    public static void topK(float[] p, int off, int E, int k, int[] out, int at) {
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int e = 0; e < E; e++) {
                boolean taken = false;
                for (int i = 0; i < j; i++) if (out[at + i] == e) { taken = true; break; }
                if (!taken && (best < 0 || p[off + e] > p[off + best])) best = e;
            }
            out[at + j] = best;
        }
    }

    /** grouped [n·k, d]: the rows of x [n, d] in the route's grouped order (positions past the used ones are zero). */
    public static Var permute(Tape tape, Var x, Route route) {
        int d = x.value().dim(1), rows = route.n * route.k;
        Var y = tape.var(rows, d);
        long t0 = tape.start();
        float[] xs = x.value().data(), ys = y.value().data();
        int xo = x.value().offset(), yo = y.value().offset();
        for (int at = 0; at < rows; at++) {
            int r = route.rowOf[at];
            if (r < 0) java.util.Arrays.fill(ys, yo + at * d, yo + (at + 1) * d, 0f);
            else System.arraycopy(xs, xo + r * d, ys, yo + at * d, d);
        }
        tape.forward("moe_permute", t0);
        Permute op = tape.op(Permute.class, Permute::new);
        op.x = x; op.y = y; op.route = route;
        return y;
    }

    private static final class Permute extends Tape.Op {
        Var x, y; Route route;
        Permute() { super("moe_permute"); }
        @Override protected void backward() {
            if (x.grad() == null) return;
            int d = x.value().dim(1);
            float[] dx = x.grad().data(), dy = y.grad().data();
            int xo = x.grad().offset(), yo = y.grad().offset();
            for (int at = 0; at < route.total; at++) {
                int r = route.rowOf[at], a = xo + r * d, b = yo + at * d;
                for (int i = 0; i < d; i++) dx[a + i] += dy[b + i];
            }
        }
    }

    /**
     * y [n·k, out]: for each expert e, its group's rows of x [n·k, in] times w[e]ᵀ (w[e] [out, in],
     * no bias); an expert with no rows does nothing, so its weight's gradient stays zero.
     */
    public static Var groupedLinear(Tape tape, Var x, Var[] w, Route route) {
        return groupedLinear(tape, x, w[0].value().dim(0), w, null, null, route);
    }

    /**
     * As {@link #groupedLinear(Tape, Var, Var[], Route)} where some experts' weights are frozen in a
     * compact form (a quantized file's blocks): decode[e] writes expert e's float weights [out, in]
     * into scratch for its product, forward and again backward (no gradient for them); w[e] is then null.
     */
    public static Var groupedLinear(Tape tape, Var x, int out, Var[] w, java.util.function.Consumer<Tensor>[] decode, Tensor scratch,
                                    Route route) {
        int rows = x.value().dim(0), in = x.value().dim(1);
        Var y = tape.var(rows, out);
        long t0 = tape.start();
        Tensor xv = x.value(), yv = y.value();
        GroupedLinear op = tape.op(GroupedLinear.class, GroupedLinear::new);
        op.x = x; op.y = y; op.w = w; op.route = route; op.decode = decode;
        op.frozen = scratch == null ? null : new Tensor(scratch.data(), scratch.offset(), new int[] {out, in});
        for (int e = 0; e < w.length; e++) {
            int from = route.offsets[e], to = route.offsets[e + 1];
            if (to > from) tape.kernels().matmul(tape.rows(yv, from, to), tape.rows(xv, from, to), op.weight(e), null, op.readAs(e));
        }
        java.util.Arrays.fill(yv.data(), yv.offset() + route.total * out, yv.offset() + rows * out, 0f);
        tape.forward("moe_linear", t0);
        return y;
    }

    private static final class GroupedLinear extends Tape.Op {
        Var x, y; Var[] w; Route route; java.util.function.Consumer<Tensor>[] decode; Tensor frozen;
        GroupedLinear() { super("moe_linear"); }

        /** Expert e's weight: its parameter, or its frozen blocks decoded into the scratch. */
        Tensor weight(int e) {
            if (decode == null || decode[e] == null) return w[e].value();
            decode[e].accept(frozen);
            return frozen;
        }

        /** How expert e's weight is read: its parameter's {@link Var#readAs}; a decoded one as it is. */
        dev.lamina.tensor.Precision readAs(int e) { return w[e] != null ? w[e].readAs() : dev.lamina.tensor.Precision.FP32; }

        @Override protected void backward() {
            Tensor dy = y.grad(), dx = x.grad(), xv = x.value();
            for (int e = 0; e < w.length; e++) {
                int from = route.offsets[e], to = route.offsets[e + 1];
                if (to == from) continue;
                Tensor g = dy.rows(from, to);
                if (dx != null) kernels.matmulBackwardInput(dx.rows(from, to), g, weight(e), readAs(e));
                if (w[e] != null && w[e].grad() != null) kernels.matmulBackwardWeight(w[e].grad(), null, g, xv.rows(from, to));
            }
        }
    }

    /** [n, d]: each row's experts' rows of y [n·k, d] weighted by the route's weights, summed in the order of the choices. */
    public static Var combine(Tape tape, Var y, Route route) {
        int n = route.n, k = route.k, d = y.value().dim(1);
        Var out = tape.var(n, d);
        long t0 = tape.start();
        float[] o = out.value().data(), ys = y.value().data(), w = route.weights.value().data();
        int oo = out.value().offset(), yo = y.value().offset();
        java.util.Arrays.fill(o, oo, oo + n * d, 0f);
        for (int r = 0; r < n; r++)
            for (int j = 0; j < k; j++) {
                int at = route.slot[r * k + j];
                if (at < 0) continue;
                float wj = w[r * k + j];
                int a = oo + r * d, b = yo + at * d;
                for (int i = 0; i < d; i++) o[a + i] += wj * ys[b + i];
            }
        tape.forward("moe_combine", t0);
        Combine op = tape.op(Combine.class, Combine::new);
        op.y = y; op.out = out; op.route = route;
        return out;
    }

    private static final class Combine extends Tape.Op {
        Var y, out; Route route;
        Combine() { super("moe_combine"); }
        @Override protected void backward() {
            int n = route.n, k = route.k, d = y.value().dim(1);
            float[] dout = out.grad().data(), ys = y.value().data(), w = route.weights.value().data();
            int go = out.grad().offset(), yo = y.value().offset();
            Tensor dyT = y.grad(), dwT = route.weights.grad();
            float[] dy = dyT.data(), dw = dwT.data();
            int dyo = dyT.offset(), dwo = dwT.offset();
            for (int r = 0; r < n; r++)
                for (int j = 0; j < k; j++) {
                    int at = route.slot[r * k + j];
                    if (at < 0) continue;
                    float wj = w[r * k + j];
                    int a = go + r * d, b = yo + at * d, c = dyo + at * d;
                    double dot = 0;
                    for (int i = 0; i < d; i++) {
                        dy[c + i] += wj * dout[a + i];
                        dot += (double) dout[a + i] * ys[b + i];
                    }
                    dw[dwo + r * k + j] += (float) dot;
                }
        }
    }

    /** out [n, d] = y + sigmoid(gate) ⊙ s, gate [n, 1] (a shared expert added with its own weight, Qwen-MoE). */
    public static Var gatedAdd(Tape tape, Var y, Var gate, Var s) {
        int n = y.value().dim(0), d = y.value().dim(1);
        Var out = tape.var(n, d);
        long t0 = tape.start();
        float[] o = out.value().data(), ys = y.value().data(), ss = s.value().data(), g = gate.value().data();
        int oo = out.value().offset(), yo = y.value().offset(), so = s.value().offset(), go = gate.value().offset();
        for (int r = 0; r < n; r++) {
            float w = (float) (1 / (1 + Math.exp(-g[go + r])));
            for (int i = 0; i < d; i++) o[oo + r * d + i] = ys[yo + r * d + i] + w * ss[so + r * d + i];
        }
        tape.forward("moe_shared", t0);
        GatedAdd op = tape.op(GatedAdd.class, GatedAdd::new);
        op.y = y; op.gate = gate; op.s = s; op.out = out;
        return out;
    }

    private static final class GatedAdd extends Tape.Op {
        Var y, gate, s, out;
        GatedAdd() { super("moe_shared"); }
        @Override protected void backward() {
            int n = out.value().dim(0), d = out.value().dim(1);
            float[] dout = out.grad().data(), ss = s.value().data(), g = gate.value().data();
            int go = out.grad().offset(), so = s.value().offset(), gg = gate.value().offset();
            Tensor dy = y.grad(), ds = s.grad(), dg = gate.grad();
            for (int r = 0; r < n; r++) {
                float w = (float) (1 / (1 + Math.exp(-g[gg + r])));
                double dot = 0;
                for (int i = 0; i < d; i++) {
                    float gi = dout[go + r * d + i];
                    if (dy != null) dy.data()[dy.offset() + r * d + i] += gi;
                    if (ds != null) ds.data()[ds.offset() + r * d + i] += w * gi;
                    dot += (double) gi * ss[so + r * d + i];
                }
                if (dg != null) dg.data()[dg.offset() + r] += (float) (dot * w * (1 - w));
            }
        }
    }
}
