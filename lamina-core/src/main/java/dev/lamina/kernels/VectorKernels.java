package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API kernels: the {@link KernelSet} contract computed with {@link FloatVector} over
 * {@link FloatVector#SPECIES_PREFERRED} (no width assumed; loop tails use masks) and split over
 * the {@link Parallel} pool when the work is big enough. Matmuls live in {@link VectorMatmul},
 * attention in {@link VectorAttention}.
 *
 * <p>Determinism: every output element is written by one thread, and every reduction sums in a
 * fixed order (weight and bias gradients of the norms and embeddings are partitioned over the
 * feature dimension, so they do not even depend on the thread count).
 *
 * <p>Shapes as in {@link KernelSet}: n rows, d features, V vocabulary.
 */
public final class VectorKernels implements KernelSet {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();

    /** Elementwise ops go parallel above this many floats per thread (below, the pool costs more than it saves). */
    private static final int ELEMENT_CHUNK = 1 << 15;
    /** Row-wise ops: a chunk of rows holds at least this many floats. */
    private static final int ROW_CHUNK = 1 << 13;

    private final Parallel pool;
    /** The matrix product with this set's register tile. */
    private final VectorMatmul mm;

    VectorKernels(Parallel pool, GemmTile tile) {
        this.pool = pool;
        this.mm = VectorMatmul.of(tile);
    }

    /** The GEMM register tile this set computes with. */
    public GemmTile tile() { return mm.tile; }

    @Override public String name() { return "vector"; }

    @Override public String describe() { return "vector (" + GemmTile.describe(mm.tile) + ")"; }
    @Override public Parallel parallel() { return pool; }

    private static int rowsPerChunk(int rowLen) { return Math.max(1, ROW_CHUNK / Math.max(1, rowLen)); }

    // ---- matmul -----------------------------------------------------------------------------

    @Override
    public void matmul(Tensor y, Tensor x, Tensor w, Tensor bias, dev.lamina.tensor.Precision wAs) {
        int out = w.dim(0), in = w.dim(1), n = x.size() / in;
        float[] Y = y.data();
        int yo = y.offset();
        if (n <= VectorMatmul.GEMV_MAX_ROWS) {
            mm.gemvNT(pool, n, in, out, x.data(), x.offset(), w.data(), w.offset(), Y, yo, wAs);
        } else {
            // C[n,out] = x[n,in] · B with B(k,j) = w[j,k]
            mm.gemm(pool, n, out, in, x.data(), x.offset(), in, 1, w.data(), w.offset(), 1, in, Y, yo, out, false, wAs);
        }
        if (bias == null) return;
        float[] Bv = bias.data();
        int bo = bias.offset();
        pool.forRange(n, rowsPerChunk(out), (r0, r1) -> {
            for (int i = r0; i < r1; i++) addInto(Y, yo + i * out, Bv, bo, out);
        });
    }

    @Override
    public void matmulBackwardInput(Tensor dx, Tensor dy, Tensor w, dev.lamina.tensor.Precision wAs) {
        int out = w.dim(0), in = w.dim(1), n = dy.size() / out;
        // C[n,in] += dy[n,out] · w[out,in]
        mm.gemm(pool, n, in, out, dy.data(), dy.offset(), out, 1, w.data(), w.offset(), in, 1,
                dx.data(), dx.offset(), in, true, wAs);
    }

    @Override
    public void matmulBackwardWeight(Tensor dw, Tensor dbias, Tensor dy, Tensor x) {
        int out = dw.dim(0), in = dw.dim(1), n = x.size() / in;
        // C[out,in] += A · x[n,in] with A(o,i) = dy[i,o]
        mm.gemm(pool, out, in, n, dy.data(), dy.offset(), 1, out, x.data(), x.offset(), in, 1,
                dw.data(), dw.offset(), in, true);
        if (dbias != null) columnSums(dbias.data(), dbias.offset(), dy.data(), dy.offset(), n, out);
    }

    /** dst[j] += Σ_i src[i·d + j]: partitioned over columns j, rows summed in order. */
    private void columnSums(float[] dst, int dOff, float[] src, int sOff, int n, int d) {
        pool.forRange(d, featureChunk(n, d), (j0, j1) -> {
            for (int j = j0; j < j1; j += L) {
                VectorMask<Float> m = S.indexInRange(j, j1);
                FloatVector acc = FloatVector.zero(S);
                for (int i = 0; i < n; i++) acc = acc.add(FloatVector.fromArray(S, src, sOff + i * d + j, m));
                acc.add(FloatVector.fromArray(S, dst, dOff + j, m)).intoArray(dst, dOff + j, m);
            }
        });
    }

    // ---- norms ------------------------------------------------------------------------------

    @Override
    public void rmsnorm(Tensor y, Tensor rstd, Tensor x, Tensor w, float eps, float scale) {
        int d = w.size(), n = x.size() / d;
        float[] X = x.data(), Y = y.data(), W = w.data(), R = rstd.data();
        int xo = x.offset(), yo = y.offset(), wo = w.offset(), ro = rstd.offset();
        pool.forRange(n, rowsPerChunk(d), (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                int xi = xo + i * d, yi = yo + i * d;
                float r = (float) (1.0 / Math.sqrt(vdot(X, xi, X, xi, d) / d + eps));
                R[ro + i] = r;
                FloatVector rv = FloatVector.broadcast(S, r), sv = FloatVector.broadcast(S, scale);
                for (int j = 0; j < d; j += L) {
                    VectorMask<Float> m = S.indexInRange(j, d);
                    FloatVector xv = FloatVector.fromArray(S, X, xi + j, m), wv = FloatVector.fromArray(S, W, wo + j, m);
                    sv.mul(xv.mul(rv).mul(wv)).intoArray(Y, yi + j, m);
                }
            }
        });
    }

    @Override
    public void rmsnormBackward(Tensor dx, Tensor dw, Tensor dy, Tensor x, Tensor w, Tensor rstd, float scale) {
        int d = w.size(), n = x.size() / d;
        float[] X = x.data(), DY = dy.data(), DX = dx.data(), W = w.data(), R = rstd.data();
        int xo = x.offset(), go = dy.offset(), dxo = dx.offset(), wo = w.offset(), ro = rstd.offset();
        // dx: rows in parallel. xhat = x·r; dxhat = s·dy·w; dx += r·(dxhat − xhat·mean(dxhat·xhat))
        pool.forRange(n, rowsPerChunk(d), (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                int xi = xo + i * d, gi = go + i * d, dxi = dxo + i * d;
                float r = R[ro + i];
                FloatVector rv = FloatVector.broadcast(S, r), sv = FloatVector.broadcast(S, scale);
                FloatVector acc = FloatVector.zero(S);
                for (int j = 0; j < d; j += L) {
                    VectorMask<Float> m = S.indexInRange(j, d);
                    FloatVector xhat = FloatVector.fromArray(S, X, xi + j, m).mul(rv);
                    FloatVector dxhat = sv.mul(FloatVector.fromArray(S, DY, gi + j, m)).mul(FloatVector.fromArray(S, W, wo + j, m));
                    acc = dxhat.fma(xhat, acc);
                }
                FloatVector dot = FloatVector.broadcast(S, VectorMath.sum(acc) / d);
                for (int j = 0; j < d; j += L) {
                    VectorMask<Float> m = S.indexInRange(j, d);
                    FloatVector xhat = FloatVector.fromArray(S, X, xi + j, m).mul(rv);
                    FloatVector dxhat = sv.mul(FloatVector.fromArray(S, DY, gi + j, m)).mul(FloatVector.fromArray(S, W, wo + j, m));
                    FloatVector g = dxhat.sub(xhat.mul(dot)).mul(rv);
                    g.add(FloatVector.fromArray(S, DX, dxi + j, m)).intoArray(DX, dxi + j, m);
                }
            }
        });
        // dw[j] += Σ_i s·dy[i,j]·x[i,j]·r[i]: feature columns in parallel
        float[] DW = dw.data();
        int dwo = dw.offset();
        pool.forRange(d, featureChunk(n, d), (j0, j1) -> {
            for (int j = j0; j < j1; j += L) {
                VectorMask<Float> m = S.indexInRange(j, j1);
                FloatVector acc = FloatVector.zero(S);
                for (int i = 0; i < n; i++) {
                    FloatVector xhat = FloatVector.fromArray(S, X, xo + i * d + j, m).mul(R[ro + i]);
                    acc = FloatVector.fromArray(S, DY, go + i * d + j, m).mul(scale).fma(xhat, acc);
                }
                acc.add(FloatVector.fromArray(S, DW, dwo + j, m)).intoArray(DW, dwo + j, m);
            }
        });
    }

    /** Minimum columns per chunk when a [n,d] reduction over rows is split over d. */
    private int featureChunk(int n, int d) {
        return (long) n * d < 2L * ELEMENT_CHUNK ? d : Math.max(L, d / pool.threads());
    }

    @Override
    public void layernorm(Tensor y, Tensor mean, Tensor rstd, Tensor x, Tensor w, Tensor b, float eps, float scale) {
        int d = w.size(), n = x.size() / d;
        float[] X = x.data(), Y = y.data(), W = w.data(), M = mean.data(), R = rstd.data();
        float[] Bv = b == null ? null : b.data();
        int xo = x.offset(), yo = y.offset(), wo = w.offset(), mo = mean.offset(), ro = rstd.offset();
        int bo = b == null ? 0 : b.offset();
        pool.forRange(n, rowsPerChunk(d), (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                int xi = xo + i * d, yi = yo + i * d;
                float mu = sum(X, xi, d) / d;
                FloatVector mv = FloatVector.broadcast(S, mu);
                FloatVector acc = FloatVector.zero(S);
                for (int j = 0; j < d; j += L) {
                    VectorMask<Float> m = S.indexInRange(j, d);
                    FloatVector c = FloatVector.fromArray(S, X, xi + j, m).sub(mv, m);
                    acc = c.fma(c, acc);
                }
                float var = VectorMath.sum(acc) / d;
                float r = (float) (1.0 / Math.sqrt(var + eps));
                M[mo + i] = mu;
                R[ro + i] = r;
                FloatVector rv = FloatVector.broadcast(S, r), sv = FloatVector.broadcast(S, scale);
                for (int j = 0; j < d; j += L) {
                    VectorMask<Float> m = S.indexInRange(j, d);
                    FloatVector v = FloatVector.fromArray(S, X, xi + j, m).sub(mv).mul(rv).mul(FloatVector.fromArray(S, W, wo + j, m));
                    if (Bv == null) sv.mul(v).intoArray(Y, yi + j, m);
                    else sv.mul(v.add(FloatVector.fromArray(S, Bv, bo + j, m))).intoArray(Y, yi + j, m);
                }
            }
        });
    }

    @Override
    public void layernormBackward(Tensor dx, Tensor dw, Tensor db, Tensor dy, Tensor x, Tensor w, Tensor mean,
                                  Tensor rstd, float scale) {
        int d = w.size(), n = x.size() / d;
        float[] X = x.data(), DY = dy.data(), DX = dx.data(), W = w.data(), M = mean.data(), R = rstd.data();
        int xo = x.offset(), go = dy.offset(), dxo = dx.offset(), wo = w.offset(), mo = mean.offset(), ro = rstd.offset();
        // dx = r·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)), rows in parallel
        pool.forRange(n, rowsPerChunk(d), (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                int xi = xo + i * d, gi = go + i * d, dxi = dxo + i * d;
                FloatVector mv = FloatVector.broadcast(S, M[mo + i]), rv = FloatVector.broadcast(S, R[ro + i]);
                FloatVector sv = FloatVector.broadcast(S, scale);
                FloatVector accG = FloatVector.zero(S), accGx = FloatVector.zero(S);
                for (int j = 0; j < d; j += L) {
                    VectorMask<Float> m = S.indexInRange(j, d);
                    FloatVector xhat = FloatVector.fromArray(S, X, xi + j, m).sub(mv).mul(rv);
                    FloatVector dxhat = sv.mul(FloatVector.fromArray(S, DY, gi + j, m)).mul(FloatVector.fromArray(S, W, wo + j, m));
                    accG = accG.add(dxhat);
                    accGx = dxhat.fma(xhat, accGx);
                }
                FloatVector meanG = FloatVector.broadcast(S, VectorMath.sum(accG) / d);
                FloatVector meanGx = FloatVector.broadcast(S, VectorMath.sum(accGx) / d);
                for (int j = 0; j < d; j += L) {
                    VectorMask<Float> m = S.indexInRange(j, d);
                    FloatVector xhat = FloatVector.fromArray(S, X, xi + j, m).sub(mv).mul(rv);
                    FloatVector dxhat = sv.mul(FloatVector.fromArray(S, DY, gi + j, m)).mul(FloatVector.fromArray(S, W, wo + j, m));
                    FloatVector g = dxhat.sub(meanG).sub(xhat.mul(meanGx)).mul(rv);
                    g.add(FloatVector.fromArray(S, DX, dxi + j, m)).intoArray(DX, dxi + j, m);
                }
            }
        });
        // dw[j] += Σ_i s·dy·xhat, db[j] += Σ_i s·dy: feature columns in parallel
        float[] DW = dw.data(), DB = db == null ? null : db.data();
        int dwo = dw.offset(), dbo = db == null ? 0 : db.offset();
        pool.forRange(d, featureChunk(n, d), (j0, j1) -> {
            for (int j = j0; j < j1; j += L) {
                VectorMask<Float> m = S.indexInRange(j, j1);
                FloatVector accW = FloatVector.zero(S), accB = FloatVector.zero(S);
                for (int i = 0; i < n; i++) {
                    FloatVector xhat = FloatVector.fromArray(S, X, xo + i * d + j, m).sub(M[mo + i]).mul(R[ro + i]);
                    FloatVector g = FloatVector.fromArray(S, DY, go + i * d + j, m).mul(scale);
                    accW = g.fma(xhat, accW);
                    accB = accB.add(g);
                }
                accW.add(FloatVector.fromArray(S, DW, dwo + j, m)).intoArray(DW, dwo + j, m);
                if (DB != null) accB.add(FloatVector.fromArray(S, DB, dbo + j, m)).intoArray(DB, dbo + j, m);
            }
        });
    }

    // ---- positions and attention ------------------------------------------------------------

    @Override
    public void rope(Tensor x, int T, int heads, int hd, int pos0, float[] cos, float[] sin, boolean inverse) {
        int half = hd / 2, rowLen = heads * hd, n = x.size() / rowLen;
        float[] X = x.data();
        int xo = x.offset();
        float sign = inverse ? -1f : 1f;
        pool.forRange(n, rowsPerChunk(rowLen), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int tab = (pos0 + r % T) * half;
                for (int h = 0; h < heads; h++) {
                    int base = xo + r * rowLen + h * hd;
                    for (int i = 0; i < half; i += L) {
                        VectorMask<Float> m = S.indexInRange(i, half);
                        FloatVector c = FloatVector.fromArray(S, cos, tab + i, m);
                        FloatVector s = FloatVector.fromArray(S, sin, tab + i, m).mul(sign);
                        FloatVector a = FloatVector.fromArray(S, X, base + i, m);
                        FloatVector b = FloatVector.fromArray(S, X, base + half + i, m);
                        a.mul(c).sub(b.mul(s)).intoArray(X, base + i, m);
                        b.mul(c).add(a.mul(s)).intoArray(X, base + half + i, m);
                    }
                }
            }
        });
    }

    @Override
    public void attention(Tensor out, Tensor att, Tensor q, Tensor k, Tensor v, int B, int T, int H, int KV, int hd,
                          AttentionScores scores) {
        VectorAttention.forward(pool, mm, out, att, q, k, v, B, T, H, KV, hd, scores);
    }

    @Override
    public void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor att,
                                  int B, int T, int H, int KV, int hd, AttentionScores scores) {
        VectorAttention.backward(pool, mm, dq, dk, dv, dout, q, k, v, att, B, T, H, KV, hd, scores);
    }

    @Override
    public void softcap(float[] a, int off, int len, float cap) { VectorAttention.softcap(a, off, 0, len, cap); }

    @Override
    public void softcapBackward(Tensor g, Tensor y, float cap) {
        float[] G = g.data(), Y = y.data();
        int go = g.offset(), yo = y.offset(), n = g.size();
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector t = FloatVector.fromArray(S, Y, yo + i, m).div(cap);
            FloatVector.fromArray(S, G, go + i, m).mul(ONE.sub(t.mul(t))).intoArray(G, go + i, m);
        }
    }

    // ---- activations ------------------------------------------------------------------------

    private static final float GELU_C = ScalarKernels.GELU_C;
    private static final float GELU_A = 0.044715f;
    private static final FloatVector ONE = FloatVector.broadcast(S, 1f);

    // GELU through the logistic form, 0.5·(1 + tanh u) = s = 1 / (1 + e^(−2u)), which keeps full
    // relative precision in the negative tail where 1 + tanh u cancels (the reference rounds there).

    @Override
    public void gelu(Tensor y, Tensor x) {
        float[] X = x.data(), Y = y.data();
        int xo = x.offset(), yo = y.offset();
        elementwise(x.size(), (i0, i1) -> {
            for (int i = i0; i < i1; i += L) {
                VectorMask<Float> m = S.indexInRange(i, i1);
                FloatVector v = FloatVector.fromArray(S, X, xo + i, m);
                v.mul(geluS(v)).intoArray(Y, yo + i, m);
            }
        });
    }

    @Override
    public void geluBackward(Tensor dx, Tensor dy, Tensor x) {
        float[] X = x.data(), DY = dy.data(), DX = dx.data();
        int xo = x.offset(), go = dy.offset(), dxo = dx.offset();
        elementwise(x.size(), (i0, i1) -> {
            for (int i = i0; i < i1; i += L) {
                VectorMask<Float> m = S.indexInRange(i, i1);
                FloatVector v = FloatVector.fromArray(S, X, xo + i, m);
                FloatVector s = geluS(v);
                FloatVector du = v.mul(v).mul(3f * GELU_A).add(1f).mul(GELU_C);
                // 0.5·(1 + t) + 0.5·x·(1 − t²)·du = s + 2·x·s·(1 − s)·du
                FloatVector grad = s.mul(v.mul(2f).mul(s.neg().add(1f)).mul(du).add(1f));
                FloatVector.fromArray(S, DY, go + i, m).mul(grad)
                        .add(FloatVector.fromArray(S, DX, dxo + i, m)).intoArray(DX, dxo + i, m);
            }
        });
    }

    /** s = 0.5·(1 + tanh u) = 1 / (1 + e^(−2u)), u = √(2/π)·(x + 0.044715·x³). */
    private static FloatVector geluS(FloatVector x) {
        FloatVector u = x.mul(x).mul(x).mul(GELU_A).add(x).mul(GELU_C);
        return ONE.div(VectorMath.exp(u.mul(-2f)).add(1f));
    }

    @Override
    public void swiglu(Tensor y, Tensor gate, Tensor up) {
        float[] G = gate.data(), U = up.data(), Y = y.data();
        int go = gate.offset(), uo = up.offset(), yo = y.offset();
        elementwise(y.size(), (i0, i1) -> {
            for (int i = i0; i < i1; i += L) {
                VectorMask<Float> m = S.indexInRange(i, i1);
                FloatVector g = FloatVector.fromArray(S, G, go + i, m);
                FloatVector sig = sigmoid(g);
                g.mul(sig).mul(FloatVector.fromArray(S, U, uo + i, m)).intoArray(Y, yo + i, m);
            }
        });
    }

    @Override
    public void swigluBackward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up) {
        float[] G = gate.data(), U = up.data(), DY = dy.data(), DG = dgate.data(), DU = dup.data();
        int go = gate.offset(), uo = up.offset(), yo = dy.offset(), dgo = dgate.offset(), duo = dup.offset();
        elementwise(dy.size(), (i0, i1) -> {
            for (int i = i0; i < i1; i += L) {
                VectorMask<Float> m = S.indexInRange(i, i1);
                FloatVector g = FloatVector.fromArray(S, G, go + i, m);
                FloatVector u = FloatVector.fromArray(S, U, uo + i, m);
                FloatVector d = FloatVector.fromArray(S, DY, yo + i, m);
                FloatVector sig = sigmoid(g);
                // silu'(g) = sig·(1 + g·(1 − sig))
                FloatVector dsilu = sig.mul(g.mul(sig.neg().add(1f)).add(1f));
                d.mul(u).mul(dsilu).add(FloatVector.fromArray(S, DG, dgo + i, m)).intoArray(DG, dgo + i, m);
                d.mul(g.mul(sig)).add(FloatVector.fromArray(S, DU, duo + i, m)).intoArray(DU, duo + i, m);
            }
        });
    }

    /** 1 / (1 + e^−g); e^−g overflows to +∞ for very negative g, giving 0 as it should. */
    private static FloatVector sigmoid(FloatVector g) {
        return ONE.div(VectorMath.exp(g.neg()).add(1f));
    }

    // ---- embeddings and the loss ------------------------------------------------------------

    @Override
    public void embedding(Tensor y, int[] ids, Tensor table, Tensor positions, int T) {
        int d = table.dim(1), V = table.dim(0);
        checkIds(ids, V, "token id");
        float[] Y = y.data(), E = table.data(), P = positions == null ? null : positions.data();
        int yo = y.offset(), eo = table.offset(), po = positions == null ? 0 : positions.offset();
        pool.forRange(ids.length, rowsPerChunk(d), (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                int yi = yo + i * d, ei = eo + ids[i] * d;
                if (P == null) { System.arraycopy(E, ei, Y, yi, d); continue; }
                int pi = po + (i % T) * d;
                for (int j = 0; j < d; j += L) {
                    VectorMask<Float> m = S.indexInRange(j, d);
                    FloatVector.fromArray(S, E, ei + j, m).add(FloatVector.fromArray(S, P, pi + j, m)).intoArray(Y, yi + j, m);
                }
            }
        });
    }

    @Override
    public void embeddingBackward(Tensor dtable, Tensor dpositions, Tensor dy, int[] ids, int T) {
        int d = dtable.dim(1);
        checkIds(ids, dtable.dim(0), "token id");
        float[] DT = dtable.data(), DY = dy.data(), DP = dpositions == null ? null : dpositions.data();
        int to = dtable.offset(), go = dy.offset(), po = dpositions == null ? 0 : dpositions.offset();
        int n = ids.length;
        // Partitioned over features: every table row is updated by one thread, tokens in order.
        pool.forRange(d, featureChunk(n, d), (j0, j1) -> {
            for (int i = 0; i < n; i++) {
                int gi = go + i * d, ti = to + ids[i] * d, pi = po + (i % T) * d;
                for (int j = j0; j < j1; j += L) {
                    VectorMask<Float> m = S.indexInRange(j, j1);
                    FloatVector g = FloatVector.fromArray(S, DY, gi + j, m);
                    g.add(FloatVector.fromArray(S, DT, ti + j, m)).intoArray(DT, ti + j, m);
                    if (DP != null) g.add(FloatVector.fromArray(S, DP, pi + j, m)).intoArray(DP, pi + j, m);
                }
            }
        });
    }

    private static void checkIds(int[] ids, int V, String what) {
        for (int id : ids)
            if (id < 0 || id >= V) throw new IllegalArgumentException(what + " " + id + " out of range [0, " + V + ")");
    }

    @Override
    public void crossEntropy(Tensor losses, Tensor dlogits, Tensor logits, int[] targets, float gradScale) {
        int n = targets.length, V = logits.size() / n;
        for (int t : targets)
            if (t != IGNORE && (t < 0 || t >= V)) throw new IllegalArgumentException("target id " + t + " out of range [0, " + V + ")");
        float[] Lg = logits.data(), Ls = losses.data(), D = dlogits == null ? null : dlogits.data();
        int lo = logits.offset(), lso = losses.offset(), dlo = dlogits == null ? 0 : dlogits.offset();
        pool.forRange(n, rowsPerChunk(V), (r0, r1) -> {
            for (int i = r0; i < r1; i++) {
                int li = lo + i * V, di = dlo + i * V, t = targets[i];
                if (t == IGNORE) {
                    Ls[lso + i] = 0;
                    if (D != null) java.util.Arrays.fill(D, di, di + V, 0f);
                    continue;
                }
                float max = max(Lg, li, V);
                float target = Lg[li + t];      // read before dlogits (which may alias logits) is written
                // one pass: e = exp(x − max), summed, and kept in dlogits when there is one
                double sum = VectorMath.expSum(Lg, li, D, di, V, max);
                Ls[lso + i] = (float) (max + Math.log(sum)) - target;
                if (D == null) continue;
                FloatVector f = FloatVector.broadcast(S, (float) (gradScale / sum));
                for (int j = 0; j < V; j += L) {
                    VectorMask<Float> m = S.indexInRange(j, V);
                    FloatVector.fromArray(S, D, di + j, m).mul(f).intoArray(D, di + j, m);
                }
                D[di + t] -= gradScale;
            }
        });
    }

    // ---- elementwise and reductions ---------------------------------------------------------

    /** Runs body over [0, n) in chunks of at least ELEMENT_CHUNK floats. */
    private void elementwise(int n, Parallel.Range body) { pool.forRange(n, ELEMENT_CHUNK, body); }

    @Override
    public void add(Tensor y, Tensor a, Tensor b) {
        float[] Y = y.data(), A = a.data(), Bv = b.data();
        int yo = y.offset(), ao = a.offset(), bo = b.offset();
        elementwise(y.size(), (i0, i1) -> {
            for (int i = i0; i < i1; i += L) {
                VectorMask<Float> m = S.indexInRange(i, i1);
                FloatVector.fromArray(S, A, ao + i, m).add(FloatVector.fromArray(S, Bv, bo + i, m)).intoArray(Y, yo + i, m);
            }
        });
    }

    @Override
    public void accumulate(Tensor y, Tensor x) {
        float[] Y = y.data(), X = x.data();
        int yo = y.offset(), xo = x.offset();
        elementwise(y.size(), (i0, i1) -> addInto(Y, yo + i0, X, xo + i0, i1 - i0));
    }

    /** dst[dOff + i] += src[sOff + i] for i < len. */
    private static void addInto(float[] dst, int dOff, float[] src, int sOff, int len) {
        for (int i = 0; i < len; i += L) {
            VectorMask<Float> m = S.indexInRange(i, len);
            FloatVector.fromArray(S, dst, dOff + i, m).add(FloatVector.fromArray(S, src, sOff + i, m)).intoArray(dst, dOff + i, m);
        }
    }

    @Override
    public void nf4Dequantize(Nf4Weights w, Tensor out) {
        float[] o = out.data();
        int off = out.offset();
        pool.forRange(w.blocks(), 64, (b0, b1) -> w.dequantizeVector(o, off, b0, b1));
    }

    @Override
    public void mul(Tensor y, Tensor a, Tensor b) {
        float[] Y = y.data(), A = a.data(), Bv = b.data();
        int yo = y.offset(), ao = a.offset(), bo = b.offset();
        elementwise(y.size(), (i0, i1) -> {
            for (int i = i0; i < i1; i += L) {
                VectorMask<Float> m = S.indexInRange(i, i1);
                FloatVector.fromArray(S, A, ao + i, m).mul(FloatVector.fromArray(S, Bv, bo + i, m)).intoArray(Y, yo + i, m);
            }
        });
    }

    @Override
    public void multiplyAdd(Tensor y, Tensor a, Tensor b) {
        float[] Y = y.data(), A = a.data(), Bv = b.data();
        int yo = y.offset(), ao = a.offset(), bo = b.offset();
        elementwise(y.size(), (i0, i1) -> {
            for (int i = i0; i < i1; i += L) {     // a·b rounded, then added: the scalar reference's two roundings, not an FMA
                VectorMask<Float> m = S.indexInRange(i, i1);
                FloatVector p = FloatVector.fromArray(S, A, ao + i, m).mul(FloatVector.fromArray(S, Bv, bo + i, m));
                FloatVector.fromArray(S, Y, yo + i, m).add(p).intoArray(Y, yo + i, m);
            }
        });
    }

    @Override
    public void scale(Tensor y, float s) {
        float[] Y = y.data();
        int yo = y.offset();
        elementwise(y.size(), (i0, i1) -> {
            for (int i = i0; i < i1; i += L) {
                VectorMask<Float> m = S.indexInRange(i, i1);
                FloatVector.fromArray(S, Y, yo + i, m).mul(s).intoArray(Y, yo + i, m);
            }
        });
    }

    /**
     * bfloat16 on the float's bits (add 0x7fff plus the kept lowest bit, clear the low half; a NaN
     * gets its quiet bit instead); float16 on the bits too where it is normal, by float addition
     * where it is subnormal (the Vector API has no half-precision conversion); a vector holding a NaN
     * goes through the JDK's conversions element by element.
     */
    @Override
    public void round(Tensor x, dev.lamina.tensor.Precision p) {
        if (p == dev.lamina.tensor.Precision.FP32) return;
        float[] X = x.data();
        int xo = x.offset();
        elementwise(x.size(), (i0, i1) -> VectorMath.round(X, xo + i0, xo + i1, p));
    }

    /** Shorts with as many lanes as S has floats. */
    private static final VectorSpecies<Short> S16 = VectorSpecies.of(short.class, jdk.incubator.vector.VectorShape.forBitSize(S.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> SI = VectorSpecies.of(int.class, S.vectorShape());

    /**
     * bfloat16: each float's high half, and an OR of the low halves to tell exactness; over the pool's
     * threads. fp16: normal halves and zeros on the float's bits (sign, exponent − 112, the top ten
     * mantissa bits), a vector holding any other value through the JDK's conversions, element by
     * element (the Vector API has none).
     */
    @Override
    public boolean pack16(float[] src, int so, short[] dst, int dO, int n, dev.lamina.tensor.Precision p) {
        if (p != dev.lamina.tensor.Precision.BF16) {
            if (p != dev.lamina.tensor.Precision.FP16) throw new IllegalArgumentException("16-bit copies of " + p);
            java.util.concurrent.atomic.AtomicBoolean inexact = new java.util.concurrent.atomic.AtomicBoolean();
            elementwise(n, (i0, i1) -> {
                int i = i0;
                for (; i + L <= i1; i += L) {
                    // a normal half (exponent 113..142 in float32, the low 13 mantissa bits zero) or a zero: its bits
                    // directly; a vector holding anything else (subnormal halves, infinities, NaNs, inexact values)
                    // goes element by element through the JDK's conversion
                    IntVector b = FloatVector.fromArray(S, src, so + i).reinterpretAsInts();
                    IntVector e = b.lanewise(VectorOperators.LSHR, 23).and(0xff);
                    VectorMask<Integer> normal = e.compare(VectorOperators.GE, 113).and(e.compare(VectorOperators.LE, 142))
                            .and(b.and(0x1fff).compare(VectorOperators.EQ, 0));
                    VectorMask<Integer> zero = b.and(0x7fffffff).compare(VectorOperators.EQ, 0);
                    if (!normal.or(zero).allTrue()) {
                        if (!dev.lamina.tensor.Half.pack(src, so + i, dst, dO + i, L, p)) { inexact.set(true); return; }
                        continue;
                    }
                    IntVector h = b.lanewise(VectorOperators.LSHR, 16).and(0x8000)
                            .or(e.sub(112).lanewise(VectorOperators.LSHL, 10).or(b.and(0x7fffff).lanewise(VectorOperators.LSHR, 13)).blend(0, zero));
                    h.convertShape(VectorOperators.I2S, S16, 0).reinterpretAsShorts().intoArray(dst, dO + i);
                }
                if (!dev.lamina.tensor.Half.pack(src, so + i, dst, dO + i, i1 - i, p)) inexact.set(true);
            });
            return !inexact.get();
        }
        java.util.concurrent.atomic.AtomicBoolean lost = new java.util.concurrent.atomic.AtomicBoolean();
        elementwise(n, (i0, i1) -> {
            IntVector acc = IntVector.zero(SI);          // the OR of every float's bits: its low half must end up 0
            int i = i0;
            for (; i + L <= i1; i += L) {
                IntVector b = FloatVector.fromArray(S, src, so + i).reinterpretAsInts();
                acc = acc.or(b);
                b.lanewise(VectorOperators.LSHR, 16).convertShape(VectorOperators.I2S, S16, 0).reinterpretAsShorts().intoArray(dst, dO + i);
            }
            int rest = acc.and(0xffff).reduceLanes(VectorOperators.OR);
            for (; i < i1; i++) {
                int b = Float.floatToRawIntBits(src[so + i]);
                rest |= b & 0xffff;
                dst[dO + i] = (short) (b >>> 16);
            }
            if (rest != 0) lost.set(true);
        });
        return !lost.get();
    }

    @Override
    public void unpack16(short[] src, int so, float[] dst, int dO, int n, dev.lamina.tensor.Precision p) {
        if (p != dev.lamina.tensor.Precision.BF16) {
            elementwise(n, (i0, i1) -> { for (int i = i0; i < i1; i++) dst[dO + i] = Float.float16ToFloat(src[so + i]); });
            return;
        }
        elementwise(n, (i0, i1) -> {
            int i = i0;
            for (; i + L <= i1; i += L)
                ((IntVector) jdk.incubator.vector.ShortVector.fromArray(S16, src, so + i).convertShape(VectorOperators.S2I, SI, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dO + i);
            for (; i < i1; i++) dst[dO + i] = Float.intBitsToFloat(src[so + i] << 16);
        });
    }

    /** Per-block partial sums of sumOfSquares, kept per calling thread (a step allocates nothing). */
    private static final ThreadLocal<double[][]> SQ_PARTIAL = ThreadLocal.withInitial(() -> new double[1][0]);

    @Override
    public double sumOfSquares(Tensor x) {
        int blocks = (x.size() + SQUARES_BLOCK - 1) / SQUARES_BLOCK;
        double[][] holder = SQ_PARTIAL.get();
        if (holder[0].length < blocks) holder[0] = new double[blocks];
        double[] partial = holder[0];               // fixed blocks, summed in order: thread-count independent
        squaresByBlock(x, partial);
        double s = 0;
        for (int b = 0; b < blocks; b++) s += partial[b];
        return s;
    }

    /** Blocks of 4,096: short enough for float partials (one vdot each) to stay exact to ~1e-7. */
    @Override
    public void squaresByBlock(Tensor x, double[] out) {
        float[] X = x.data();
        int xo = x.offset(), n = x.size(), blocks = (n + SQUARES_BLOCK - 1) / SQUARES_BLOCK;
        pool.forRange(blocks, Math.max(1, ELEMENT_CHUNK / SQUARES_BLOCK), (b0, b1) -> {
            for (int b = b0; b < b1; b++) {
                int from = b * SQUARES_BLOCK, len = Math.min(SQUARES_BLOCK, n - from);
                out[b] = vdot(X, xo + from, X, xo + from, len);
            }
        });
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int len) { return vdot(a, aOff, b, bOff, len); }

    /** Σ a[aOff+i]·b[bOff+i], two accumulators to hide the FMA latency. */
    static float vdot(float[] a, int aOff, float[] b, int bOff, int len) {
        FloatVector acc0 = FloatVector.zero(S), acc1 = acc0;
        int i = 0;
        for (int bound = len - 2 * L; i <= bound; i += 2 * L) {
            acc0 = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc0);
            acc1 = FloatVector.fromArray(S, a, aOff + i + L).fma(FloatVector.fromArray(S, b, bOff + i + L), acc1);
        }
        for (; i < len; i += L) {
            VectorMask<Float> m = S.indexInRange(i, len);
            acc0 = FloatVector.fromArray(S, a, aOff + i, m).fma(FloatVector.fromArray(S, b, bOff + i, m), acc0);
        }
        return VectorMath.sum(acc0.add(acc1));
    }

    /**
     * Four keys at a time when len is a whole number of 2L-wide steps: eight accumulators in registers and four
     * independent lane sums, where one dot after another waits on each sum; every score is vdot's chain.
     */
    @Override
    public void scores(float[] q, int qOff, float[] K, int[] idx, int idxOff, int add, int stride, int count, float scale,
                       float[] out, int oOff, int len) {
        int j = 0;
        if (len % (2 * L) == 0)
            for (; j + 4 <= count; j += 4) {
                int r0 = idx != null ? idx[idxOff + j] + add : add + j * stride, r1 = idx != null ? idx[idxOff + j + 1] + add : r0 + stride;
                int r2 = idx != null ? idx[idxOff + j + 2] + add : r1 + stride, r3 = idx != null ? idx[idxOff + j + 3] + add : r2 + stride;
                FloatVector z = FloatVector.zero(S), a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z, a3 = z, b3 = z;
                for (int i = 0; i < len; i += 2 * L) {
                    FloatVector x = FloatVector.fromArray(S, q, qOff + i), y = FloatVector.fromArray(S, q, qOff + i + L);
                    a0 = x.fma(FloatVector.fromArray(S, K, r0 + i), a0); b0 = y.fma(FloatVector.fromArray(S, K, r0 + i + L), b0);
                    a1 = x.fma(FloatVector.fromArray(S, K, r1 + i), a1); b1 = y.fma(FloatVector.fromArray(S, K, r1 + i + L), b1);
                    a2 = x.fma(FloatVector.fromArray(S, K, r2 + i), a2); b2 = y.fma(FloatVector.fromArray(S, K, r2 + i + L), b2);
                    a3 = x.fma(FloatVector.fromArray(S, K, r3 + i), a3); b3 = y.fma(FloatVector.fromArray(S, K, r3 + i + L), b3);
                }
                out[oOff + j] = VectorMath.sum(a0.add(b0)) * scale;
                out[oOff + j + 1] = VectorMath.sum(a1.add(b1)) * scale;
                out[oOff + j + 2] = VectorMath.sum(a2.add(b2)) * scale;
                out[oOff + j + 3] = VectorMath.sum(a3.add(b3)) * scale;
            }
        for (; j < count; j++) out[oOff + j] = vdot(q, qOff, K, idx != null ? idx[idxOff + j] + add : add + j * stride, len) * scale;
    }

    private static float sum(float[] a, int off, int len) {
        FloatVector acc = FloatVector.zero(S);
        for (int i = 0; i < len; i += L) acc = acc.add(FloatVector.fromArray(S, a, off + i, S.indexInRange(i, len)));
        return VectorMath.sum(acc);
    }

    private static float max(float[] a, int off, int len) {
        FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) acc = acc.max(FloatVector.fromArray(S, a, off + i));
        float m = acc.reduceLanes(VectorOperators.MAX);
        for (; i < len; i++) m = Math.max(m, a[off + i]);
        return m;
    }

    @Override
    public void adamw(Tensor p, Tensor g, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                      float weightDecay, float bc1, float bc2) {
        float[] P = p.data(), G = g.data(), M = m.data(), Vv = v.data();
        int po = p.offset(), go = g.offset(), mo = m.offset(), vo = v.offset();
        float c1 = 1 - beta1, c2 = 1 - beta2;
        // same operation order as the scalar reference, so results agree to the last bit in practice
        elementwise(p.size(), (i0, i1) -> {
            for (int i = i0; i < i1; i += L) {
                VectorMask<Float> k = S.indexInRange(i, i1);
                FloatVector gr = FloatVector.fromArray(S, G, go + i, k);
                FloatVector mv = FloatVector.fromArray(S, M, mo + i, k).mul(beta1).add(gr.mul(c1));
                FloatVector vv = FloatVector.fromArray(S, Vv, vo + i, k).mul(beta2).add(gr.mul(c2).mul(gr));
                mv.intoArray(M, mo + i, k);
                vv.intoArray(Vv, vo + i, k);
                FloatVector pv = FloatVector.fromArray(S, P, po + i, k);
                FloatVector step = mv.div(bc1).div(vv.div(bc2).sqrt().add(eps)).add(pv.mul(weightDecay));
                pv.sub(step.mul(lr)).intoArray(P, po + i, k);
            }
        });
    }

    // ---- inference --------------------------------------------------------------------------

    @Override
    public LinearWeights prepare(Tensor w, Tensor bias) { return PackedWeights.pack(pool, w, bias); }

    @Override
    public void project(int n, Tensor x, LinearWeights[] ws, Tensor[] ys) {
        int in = x.dim(-1);
        PanelWeights[] panels = new PanelWeights[ws.length];
        for (int m = 0; m < ws.length; m++) {
            if (ws[m].in() != in || !(ws[m] instanceof PanelWeights p))
                throw new IllegalArgumentException("weight " + m + " was not prepared by the vector kernels for input width " + in);
            panels[m] = p;
        }
        PanelWeights.multiply(pool, n, x, panels, ys);
    }

    @Override
    public void projectEach(int[] n, Tensor[] xs, LinearWeights[] ws, Tensor[] ys) {
        PanelWeights[] panels = new PanelWeights[ws.length];
        for (int m = 0; m < ws.length; m++) {
            if (ws[m].in() != xs[m].dim(-1) || !(ws[m] instanceof PanelWeights p))
                throw new IllegalArgumentException("weight " + m + " was not prepared by the vector kernels for input width " + xs[m].dim(-1));
            panels[m] = p;
        }
        PanelWeights.multiplyEach(pool, n, xs, panels, ys);
    }

    /** max, then e^(a − max) summed in the fixed order of {@link VectorMath#expSum}, then a scale. */
    @Override
    public void softmax(float[] a, int off, int len) {
        float inv = 1f / VectorMath.expSum(a, off, a, off, len, max(a, off, len));
        for (int i = 0; i < len; i += L) {
            VectorMask<Float> m = S.indexInRange(i, len);
            FloatVector.fromArray(S, a, off + i, m).mul(inv).intoArray(a, off + i, m);
        }
    }

    /** Up to four vectors of the output stay in registers while the rows stream by. */
    @Override
    public void weightedRows(float[] p, int pOff, int count, float[] V, int[] idx, int idxOff, int add, int stride,
                             float[] out, int oOff, int hd) {
        int c = 0;
        for (; c + 4 * L <= hd; c += 4 * L) {
            FloatVector a0 = FloatVector.fromArray(S, out, oOff + c), a1 = FloatVector.fromArray(S, out, oOff + c + L);
            FloatVector a2 = FloatVector.fromArray(S, out, oOff + c + 2 * L), a3 = FloatVector.fromArray(S, out, oOff + c + 3 * L);
            for (int j = 0; j < count; j++) {
                int row = (idx != null ? idx[idxOff + j] + add : add + j * stride) + c;
                FloatVector w = FloatVector.broadcast(S, p[pOff + j]);
                a0 = FloatVector.fromArray(S, V, row).fma(w, a0);
                a1 = FloatVector.fromArray(S, V, row + L).fma(w, a1);
                a2 = FloatVector.fromArray(S, V, row + 2 * L).fma(w, a2);
                a3 = FloatVector.fromArray(S, V, row + 3 * L).fma(w, a3);
            }
            a0.intoArray(out, oOff + c); a1.intoArray(out, oOff + c + L);
            a2.intoArray(out, oOff + c + 2 * L); a3.intoArray(out, oOff + c + 3 * L);
        }
        for (; c + 2 * L <= hd; c += 2 * L) {
            FloatVector a0 = FloatVector.fromArray(S, out, oOff + c), a1 = FloatVector.fromArray(S, out, oOff + c + L);
            for (int j = 0; j < count; j++) {
                int row = (idx != null ? idx[idxOff + j] + add : add + j * stride) + c;
                FloatVector w = FloatVector.broadcast(S, p[pOff + j]);
                a0 = FloatVector.fromArray(S, V, row).fma(w, a0);
                a1 = FloatVector.fromArray(S, V, row + L).fma(w, a1);
            }
            a0.intoArray(out, oOff + c); a1.intoArray(out, oOff + c + L);
        }
        for (; c + L <= hd; c += L) {
            FloatVector a0 = FloatVector.fromArray(S, out, oOff + c);
            for (int j = 0; j < count; j++) {
                int row = (idx != null ? idx[idxOff + j] + add : add + j * stride) + c;
                a0 = FloatVector.fromArray(S, V, row).fma(FloatVector.broadcast(S, p[pOff + j]), a0);
            }
            a0.intoArray(out, oOff + c);
        }
        for (; c < hd; c++) {
            float a = out[oOff + c];
            for (int j = 0; j < count; j++) {
                int row = (idx != null ? idx[idxOff + j] + add : add + j * stride) + c;
                a = Math.fma(p[pOff + j], V[row], a);
            }
            out[oOff + c] = a;
        }
    }

    // ---- 16-bit KV rows: each kernel computes its float32 sibling's sums bit for bit, the rows widened as they are loaded.
    // One key (or two vectors of a value row) per loop pass, one method per format: with eight widenings in a pass (four
    // keys at a time) C2 stopped inlining the vector helpers and boxed them, 22 against 5.5 ns a key.

    /** Rows idx[idxOff+j] + add (j < count) of len 16-bit values in format as float32 into tile, row j at j·len (odd lengths). */
    private static void widenRows(short[] V, dev.lamina.tensor.Precision format, int[] idx, int idxOff, int add, int count, int len, float[] tile) {
        for (int j = 0; j < count; j++)
            for (int i = 0, src = idx[idxOff + j] + add; i < len; i++) tile[j * len + i] = ScalarKernels.widen(V[src + i], format);
    }

    private static final ThreadLocal<float[][]> KV_TILE = ThreadLocal.withInitial(() -> new float[1][0]);

    private static float[] kvTile(int size) {
        float[][] t = KV_TILE.get();
        if (t[0].length < size) t[0] = new float[size];
        return t[0];
    }

    @Override
    public float dot(float[] a, int aOff, short[] b, int bOff, int len, dev.lamina.tensor.Precision p) {
        float[] out = new float[1];
        scores(a, aOff, b, p, new int[] {bOff}, 0, 0, 1, 1f, out, 0, len);
        return out[0];
    }

    @Override
    public void scores(float[] q, int qOff, short[] K, dev.lamina.tensor.Precision format, int[] idx, int idxOff, int add, int count,
                       float scale, float[] out, int oOff, int len) {
        if (len % (2 * L) != 0) {                          // vdot's masked tail: on widened rows, one at a time
            float[] tile = kvTile(len);
            for (int j = 0; j < count; j++) {
                widenRows(K, format, idx, idxOff + j, add, 1, len, tile);
                out[oOff + j] = vdot(q, qOff, tile, 0, len) * scale;
            }
        } else if (format == dev.lamina.tensor.Precision.FP16) scoresFp16(q, qOff, K, idx, idxOff, add, count, scale, out, oOff, len);
        else scoresBf16(q, qOff, K, idx, idxOff, add, count, scale, out, oOff, len);
    }

    @Override
    public void weightedRows(float[] p, int pOff, int count, short[] V, dev.lamina.tensor.Precision format, int[] idx, int idxOff, int add,
                             float[] out, int oOff, int hd) {
        int c = format == dev.lamina.tensor.Precision.FP16 ? weightedRowsFp16(p, pOff, count, V, idx, idxOff, add, out, oOff, hd)
                : weightedRowsBf16(p, pOff, count, V, idx, idxOff, add, out, oOff, hd);
        for (; c < hd; c++) {
            float a = out[oOff + c];
            for (int j = 0; j < count; j++) a = Math.fma(p[pOff + j], ScalarKernels.widen(V[idx[idxOff + j] + add + c], format), a);
            out[oOff + c] = a;
        }
    }

    /** vdot's chain per key (len a multiple of 2L), times scale. */
    private static void scoresBf16(float[] q, int qOff, short[] K, int[] idx, int idxOff, int add, int count, float scale,
                                 float[] out, int oOff, int len) {
        for (int j = 0; j < count; j++) {
            int r = idx[idxOff + j] + add;
            FloatVector acc0 = FloatVector.zero(S), acc1 = acc0;
            for (int i = 0; i < len; i += 2 * L) {
                acc0 = FloatVector.fromArray(S, q, qOff + i).fma(HalfWeights.bf16(K, r + i), acc0);
                acc1 = FloatVector.fromArray(S, q, qOff + i + L).fma(HalfWeights.bf16(K, r + i + L), acc1);
            }
            out[oOff + j] = VectorMath.sum(acc0.add(acc1)) * scale;
        }
    }

    /** weightedRows' chains over the columns [0, c) of whole vectors; returns c (the rest is left to a scalar loop). */
    private static int weightedRowsBf16(float[] p, int pOff, int count, short[] V, int[] idx, int idxOff, int add, float[] out, int oOff, int hd) {
        int c = 0;
        for (; c + 2 * L <= hd; c += 2 * L) {
            FloatVector a0 = FloatVector.fromArray(S, out, oOff + c), a1 = FloatVector.fromArray(S, out, oOff + c + L);
            for (int j = 0; j < count; j++) {
                int row = idx[idxOff + j] + add + c;
                FloatVector w = FloatVector.broadcast(S, p[pOff + j]);
                a0 = HalfWeights.bf16(V, row).fma(w, a0);
                a1 = HalfWeights.bf16(V, row + L).fma(w, a1);
            }
            a0.intoArray(out, oOff + c);
            a1.intoArray(out, oOff + c + L);
        }
        for (; c + L <= hd; c += L) {
            FloatVector a0 = FloatVector.fromArray(S, out, oOff + c);
            for (int j = 0; j < count; j++) a0 = HalfWeights.bf16(V, idx[idxOff + j] + add + c).fma(FloatVector.broadcast(S, p[pOff + j]), a0);
            a0.intoArray(out, oOff + c);
        }
        return c;
    }

    /** vdot's chain per key (len a multiple of 2L), times scale. */
    private static void scoresFp16(float[] q, int qOff, short[] K, int[] idx, int idxOff, int add, int count, float scale,
                                 float[] out, int oOff, int len) {
        for (int j = 0; j < count; j++) {
            int r = idx[idxOff + j] + add;
            FloatVector acc0 = FloatVector.zero(S), acc1 = acc0;
            for (int i = 0; i < len; i += 2 * L) {
                acc0 = FloatVector.fromArray(S, q, qOff + i).fma(HalfWeights.fp16(K, r + i), acc0);
                acc1 = FloatVector.fromArray(S, q, qOff + i + L).fma(HalfWeights.fp16(K, r + i + L), acc1);
            }
            out[oOff + j] = VectorMath.sum(acc0.add(acc1)) * scale;
        }
    }

    /** weightedRows' chains over the columns [0, c) of whole vectors; returns c (the rest is left to a scalar loop). */
    private static int weightedRowsFp16(float[] p, int pOff, int count, short[] V, int[] idx, int idxOff, int add, float[] out, int oOff, int hd) {
        int c = 0;
        for (; c + 2 * L <= hd; c += 2 * L) {
            FloatVector a0 = FloatVector.fromArray(S, out, oOff + c), a1 = FloatVector.fromArray(S, out, oOff + c + L);
            for (int j = 0; j < count; j++) {
                int row = idx[idxOff + j] + add + c;
                FloatVector w = FloatVector.broadcast(S, p[pOff + j]);
                a0 = HalfWeights.fp16(V, row).fma(w, a0);
                a1 = HalfWeights.fp16(V, row + L).fma(w, a1);
            }
            a0.intoArray(out, oOff + c);
            a1.intoArray(out, oOff + c + L);
        }
        for (; c + L <= hd; c += L) {
            FloatVector a0 = FloatVector.fromArray(S, out, oOff + c);
            for (int j = 0; j < count; j++) a0 = HalfWeights.fp16(V, idx[idxOff + j] + add + c).fma(FloatVector.broadcast(S, p[pOff + j]), a0);
            a0.intoArray(out, oOff + c);
        }
        return c;
    }
}
