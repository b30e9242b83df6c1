package dev.lamina.kernels;

import dev.lamina.tensor.Parallel;
import dev.lamina.tensor.Tensor;

/**
 * The plain reference for every kernel: one thread, straightforward loops, float32 storage with
 * float accumulation in the order the math is written. {@link VectorKernels} is checked against it.
 */
public final class ScalarKernels implements KernelSet {
    private final Parallel pool;

    ScalarKernels(Parallel pool) { this.pool = pool; }

    @Override public String name() { return "scalar"; }
    @Override public Parallel parallel() { return pool; }

    // ---- matmul -----------------------------------------------------------------------------

    @Override
    public void matmul(Tensor y, Tensor x, Tensor w, Tensor bias, dev.lamina.tensor.Precision wAs) {
        int out = w.dim(0), in = w.dim(1), n = x.size() / in;
        float[] Y = y.data(), X = x.data(), W = w.data();
        for (int i = 0; i < n; i++) {
            int xi = x.offset() + i * in, yi = y.offset() + i * out;
            for (int o = 0; o < out; o++) {
                int wo = w.offset() + o * in;
                float s = 0;
                for (int k = 0; k < in; k++) s += X[xi + k] * wAs.round(W[wo + k]);
                Y[yi + o] = bias == null ? s : s + bias.data()[bias.offset() + o];
            }
        }
    }

    @Override
    public void matmulBackwardInput(Tensor dx, Tensor dy, Tensor w, dev.lamina.tensor.Precision wAs) {
        int out = w.dim(0), in = w.dim(1), n = dy.size() / out;
        float[] DX = dx.data(), DY = dy.data(), W = w.data();
        for (int i = 0; i < n; i++) {
            int dxi = dx.offset() + i * in, dyi = dy.offset() + i * out;
            for (int k = 0; k < in; k++) {
                float s = 0;
                for (int o = 0; o < out; o++) s += DY[dyi + o] * wAs.round(W[w.offset() + o * in + k]);
                DX[dxi + k] += s;
            }
        }
    }

    @Override
    public void matmulBackwardWeight(Tensor dw, Tensor dbias, Tensor dy, Tensor x) {
        int out = dw.dim(0), in = dw.dim(1), n = x.size() / in;
        float[] DW = dw.data(), DY = dy.data(), X = x.data();
        for (int o = 0; o < out; o++) {
            for (int k = 0; k < in; k++) {
                float s = 0;
                for (int i = 0; i < n; i++) s += DY[dy.offset() + i * out + o] * X[x.offset() + i * in + k];
                DW[dw.offset() + o * in + k] += s;
            }
            if (dbias != null) {
                float s = 0;
                for (int i = 0; i < n; i++) s += DY[dy.offset() + i * out + o];
                dbias.data()[dbias.offset() + o] += s;
            }
        }
    }

    // ---- norms ------------------------------------------------------------------------------

    @Override
    public void rmsnorm(Tensor y, Tensor rstd, Tensor x, Tensor w, float eps, float scale) {
        int d = w.size(), n = x.size() / d;
        float[] X = x.data(), Y = y.data(), Wt = w.data();
        for (int i = 0; i < n; i++) {
            int xi = x.offset() + i * d, yi = y.offset() + i * d;
            float ss = 0;
            for (int j = 0; j < d; j++) ss += X[xi + j] * X[xi + j];
            float r = (float) (1.0 / Math.sqrt(ss / d + eps));
            rstd.data()[rstd.offset() + i] = r;
            for (int j = 0; j < d; j++) Y[yi + j] = scale * (X[xi + j] * r * Wt[w.offset() + j]);
        }
    }

    @Override
    public void rmsnormBackward(Tensor dx, Tensor dw, Tensor dy, Tensor x, Tensor w, Tensor rstd, float scale) {
        int d = w.size(), n = x.size() / d;
        float[] X = x.data(), DY = dy.data(), DX = dx.data(), Wt = w.data(), DW = dw.data();
        for (int i = 0; i < n; i++) {
            int xi = x.offset() + i * d, gi = dy.offset() + i * d, dxi = dx.offset() + i * d;
            float r = rstd.data()[rstd.offset() + i];
            // xhat = x·r; y = s·xhat·w. dxhat = s·dy·w; dx = r·(dxhat − xhat·mean(dxhat·xhat))
            float dot = 0;
            for (int j = 0; j < d; j++) {
                float xhat = X[xi + j] * r;
                float g = scale * DY[gi + j];
                DW[dw.offset() + j] += g * xhat;
                dot += g * Wt[w.offset() + j] * xhat;
            }
            dot /= d;
            for (int j = 0; j < d; j++) {
                float xhat = X[xi + j] * r;
                float dxhat = scale * DY[gi + j] * Wt[w.offset() + j];
                DX[dxi + j] += r * (dxhat - xhat * dot);
            }
        }
    }

    @Override
    public void layernorm(Tensor y, Tensor mean, Tensor rstd, Tensor x, Tensor w, Tensor b, float eps, float scale) {
        int d = w.size(), n = x.size() / d;
        float[] X = x.data(), Y = y.data(), Wt = w.data();
        for (int i = 0; i < n; i++) {
            int xi = x.offset() + i * d, yi = y.offset() + i * d;
            float m = 0;
            for (int j = 0; j < d; j++) m += X[xi + j];
            m /= d;
            float var = 0;
            for (int j = 0; j < d; j++) { float c = X[xi + j] - m; var += c * c; }
            var /= d;
            float r = (float) (1.0 / Math.sqrt(var + eps));
            mean.data()[mean.offset() + i] = m;
            rstd.data()[rstd.offset() + i] = r;
            for (int j = 0; j < d; j++) {
                float v = (X[xi + j] - m) * r * Wt[w.offset() + j];
                if (b != null) v += b.data()[b.offset() + j];
                Y[yi + j] = scale * v;
            }
        }
    }

    @Override
    public void layernormBackward(Tensor dx, Tensor dw, Tensor db, Tensor dy, Tensor x, Tensor w, Tensor mean,
                                  Tensor rstd, float scale) {
        int d = w.size(), n = x.size() / d;
        float[] X = x.data(), DY = dy.data(), DX = dx.data(), Wt = w.data(), DW = dw.data();
        for (int i = 0; i < n; i++) {
            int xi = x.offset() + i * d, gi = dy.offset() + i * d, dxi = dx.offset() + i * d;
            float m = mean.data()[mean.offset() + i], r = rstd.data()[rstd.offset() + i];
            // dx = r·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat))
            float sumG = 0, sumGx = 0;
            for (int j = 0; j < d; j++) {
                float xhat = (X[xi + j] - m) * r;
                float g = scale * DY[gi + j];
                DW[dw.offset() + j] += g * xhat;
                if (db != null) db.data()[db.offset() + j] += g;
                float dxhat = g * Wt[w.offset() + j];
                sumG += dxhat;
                sumGx += dxhat * xhat;
            }
            sumG /= d;
            sumGx /= d;
            for (int j = 0; j < d; j++) {
                float xhat = (X[xi + j] - m) * r;
                float dxhat = scale * DY[gi + j] * Wt[w.offset() + j];
                DX[dxi + j] += r * (dxhat - sumG - xhat * sumGx);
            }
        }
    }

    // ---- positions and attention ------------------------------------------------------------

    @Override
    public void rope(Tensor x, int T, int heads, int hd, int pos0, float[] cos, float[] sin, boolean inverse) {
        int half = hd / 2, rowLen = heads * hd, n = x.size() / rowLen;
        float[] X = x.data();
        for (int r = 0; r < n; r++) {
            int p = pos0 + r % T;
            for (int h = 0; h < heads; h++) {
                int base = x.offset() + r * rowLen + h * hd;
                for (int i = 0; i < half; i++) {
                    float c = cos[p * half + i], s = inverse ? -sin[p * half + i] : sin[p * half + i];
                    float a = X[base + i], b = X[base + i + half];
                    X[base + i] = a * c - b * s;
                    X[base + i + half] = b * c + a * s;
                }
            }
        }
    }

    @Override
    public void attention(Tensor out, Tensor att, Tensor q, Tensor k, Tensor v, int B, int T, int H, int KV, int hd,
                          AttentionScores scores) {
        float scale = scores.scale(), cap = scores.softcap();
        int window = scores.window();
        int group = H / KV;
        float[] Q = q.data(), K = k.data(), Vv = v.data(), O = out.data(), A = att.data();
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                int kh = h / group;
                for (int i = 0; i < T; i++) {
                    int qi = q.offset() + ((b * T + i) * H + h) * hd;
                    int ai = att.offset() + ((b * H + h) * T + i) * T;
                    int lo = KernelSet.firstVisible(i, window);
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < T; j++) A[ai + j] = 0;
                    for (int j = lo; j <= i; j++) {
                        int kj = k.offset() + ((b * T + j) * KV + kh) * hd;
                        float s = 0;
                        for (int c = 0; c < hd; c++) s += Q[qi + c] * K[kj + c];
                        s *= scale;
                        if (cap > 0) s = cap * (float) Math.tanh(s / cap);
                        A[ai + j] = s;
                        max = Math.max(max, s);
                    }
                    float sum = 0;
                    for (int j = lo; j <= i; j++) { float e = (float) Math.exp(A[ai + j] - max); A[ai + j] = e; sum += e; }
                    float inv = 1f / sum;
                    for (int j = lo; j <= i; j++) A[ai + j] *= inv;
                    int oi = out.offset() + ((b * T + i) * H + h) * hd;
                    for (int c = 0; c < hd; c++) O[oi + c] = 0;
                    for (int j = lo; j <= i; j++) {
                        int vj = v.offset() + ((b * T + j) * KV + kh) * hd;
                        float a = A[ai + j];
                        for (int c = 0; c < hd; c++) O[oi + c] += a * Vv[vj + c];
                    }
                }
            }
    }

    @Override
    public void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor att,
                                  int B, int T, int H, int KV, int hd, AttentionScores scores) {
        float scale = scores.scale(), cap = scores.softcap();
        int window = scores.window();
        int group = H / KV;
        float[] Q = q.data(), K = k.data(), Vv = v.data(), A = att.data(), DO = dout.data();
        float[] DQ = dq.data(), DK = dk.data(), DV = dv.data();
        float[] dp = new float[T];
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                int kh = h / group;
                for (int i = 0; i < T; i++) {
                    int ai = att.offset() + ((b * H + h) * T + i) * T;
                    int oi = dout.offset() + ((b * T + i) * H + h) * hd;
                    int qi = q.offset() + ((b * T + i) * H + h) * hd;
                    int lo = KernelSet.firstVisible(i, window);
                    // dP_ij = dout_i · v_j ; dv_j += P_ij · dout_i
                    float rowDot = 0;
                    for (int j = lo; j <= i; j++) {
                        int vj = v.offset() + ((b * T + j) * KV + kh) * hd;
                        float s = 0;
                        for (int c = 0; c < hd; c++) s += DO[oi + c] * Vv[vj + c];
                        dp[j] = s;
                        rowDot += s * A[ai + j];
                        int dvj = dv.offset() + ((b * T + j) * KV + kh) * hd;
                        float a = A[ai + j];
                        for (int c = 0; c < hd; c++) DV[dvj + c] += a * DO[oi + c];
                    }
                    // dS_ij = P_ij (dP_ij − Σ_j P_ij dP_ij); dq_i += dS·k·scale; dk_j += dS·q_i·scale
                    // (with a soft cap, times 1 − tanh²(s/cap) of the score s = scale·q·k, recomputed)
                    int dqi = dq.offset() + ((b * T + i) * H + h) * hd;
                    for (int j = lo; j <= i; j++) {
                        float ds = A[ai + j] * (dp[j] - rowDot) * scale;
                        int kj = k.offset() + ((b * T + j) * KV + kh) * hd;
                        if (cap > 0) {
                            float s = 0;
                            for (int c = 0; c < hd; c++) s += Q[qi + c] * K[kj + c];
                            float t = (float) Math.tanh(s * scale / cap);
                            ds *= 1f - t * t;
                        }
                        int dkj = dk.offset() + ((b * T + j) * KV + kh) * hd;
                        for (int c = 0; c < hd; c++) {
                            DQ[dqi + c] += ds * K[kj + c];
                            DK[dkj + c] += ds * Q[qi + c];
                        }
                    }
                }
            }
    }

    @Override
    public void softcap(float[] a, int off, int len, float cap) {
        for (int i = off; i < off + len; i++) a[i] = cap * (float) Math.tanh(a[i] / cap);
    }

    @Override
    public void softcapBackward(Tensor g, Tensor y, float cap) {
        float[] G = g.data(), Y = y.data();
        for (int i = 0; i < g.size(); i++) {
            float t = Y[y.offset() + i] / cap;
            G[g.offset() + i] *= 1f - t * t;
        }
    }

    // ---- activations ------------------------------------------------------------------------

    static final float GELU_C = (float) Math.sqrt(2.0 / Math.PI);

    @Override
    public void gelu(Tensor y, Tensor x) {
        float[] X = x.data(), Y = y.data();
        for (int i = 0, n = x.size(); i < n; i++) {
            float v = X[x.offset() + i];
            Y[y.offset() + i] = 0.5f * v * (1f + (float) Math.tanh(GELU_C * (v + 0.044715f * v * v * v)));
        }
    }

    @Override
    public void geluBackward(Tensor dx, Tensor dy, Tensor x) {
        float[] X = x.data(), DY = dy.data(), DX = dx.data();
        for (int i = 0, n = x.size(); i < n; i++) {
            float v = X[x.offset() + i];
            float u = GELU_C * (v + 0.044715f * v * v * v);
            float t = (float) Math.tanh(u);
            float du = GELU_C * (1f + 3f * 0.044715f * v * v);
            float grad = 0.5f * (1f + t) + 0.5f * v * (1f - t * t) * du;
            DX[dx.offset() + i] += DY[dy.offset() + i] * grad;
        }
    }

    @Override
    public void swiglu(Tensor y, Tensor gate, Tensor up) {
        float[] G = gate.data(), U = up.data(), Y = y.data();
        for (int i = 0, n = y.size(); i < n; i++) {
            float g = G[gate.offset() + i];
            float sig = (float) (1.0 / (1.0 + Math.exp(-g)));
            Y[y.offset() + i] = g * sig * U[up.offset() + i];
        }
    }

    @Override
    public void swigluBackward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up) {
        float[] G = gate.data(), U = up.data(), DY = dy.data(), DG = dgate.data(), DU = dup.data();
        for (int i = 0, n = dy.size(); i < n; i++) {
            float g = G[gate.offset() + i], u = U[up.offset() + i], d = DY[dy.offset() + i];
            float sig = (float) (1.0 / (1.0 + Math.exp(-g)));
            float silu = g * sig;
            DG[dgate.offset() + i] += d * u * sig * (1f + g * (1f - sig));
            DU[dup.offset() + i] += d * silu;
        }
    }

    // ---- embeddings and the loss ------------------------------------------------------------

    @Override
    public void embedding(Tensor y, int[] ids, Tensor table, Tensor positions, int T) {
        int d = table.dim(1), V = table.dim(0);
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            if (id < 0 || id >= V) throw new IllegalArgumentException("token id " + id + " out of range [0, " + V + ")");
            System.arraycopy(table.data(), table.offset() + id * d, y.data(), y.offset() + i * d, d);
            if (positions != null) {
                int p = positions.offset() + (i % T) * d;
                for (int j = 0; j < d; j++) y.data()[y.offset() + i * d + j] += positions.data()[p + j];
            }
        }
    }

    @Override
    public void embeddingBackward(Tensor dtable, Tensor dpositions, Tensor dy, int[] ids, int T) {
        int d = dtable.dim(1);
        for (int i = 0; i < ids.length; i++) {
            int t = dtable.offset() + ids[i] * d, g = dy.offset() + i * d;
            for (int j = 0; j < d; j++) dtable.data()[t + j] += dy.data()[g + j];
            if (dpositions != null) {
                int p = dpositions.offset() + (i % T) * d;
                for (int j = 0; j < d; j++) dpositions.data()[p + j] += dy.data()[g + j];
            }
        }
    }

    @Override
    public void crossEntropy(Tensor losses, Tensor dlogits, Tensor logits, int[] targets, float gradScale) {
        int n = targets.length, V = logits.size() / n;
        float[] L = logits.data();
        for (int i = 0; i < n; i++) {
            int li = logits.offset() + i * V;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < V; j++) max = Math.max(max, L[li + j]);
            double sum = 0;
            for (int j = 0; j < V; j++) sum += Math.exp(L[li + j] - max);
            int t = targets[i];
            if (t == IGNORE) {
                losses.data()[losses.offset() + i] = 0;
                if (dlogits != null) java.util.Arrays.fill(dlogits.data(), dlogits.offset() + i * V, dlogits.offset() + (i + 1) * V, 0f);
                continue;
            }
            if (t < 0 || t >= V) throw new IllegalArgumentException("target id " + t + " out of range [0, " + V + ")");
            float lse = (float) (max + Math.log(sum));
            losses.data()[losses.offset() + i] = lse - L[li + t];
            if (dlogits != null) {
                float[] D = dlogits.data();
                int di = dlogits.offset() + i * V;
                for (int j = 0; j < V; j++) D[di + j] = (float) Math.exp(L[li + j] - lse) * gradScale;
                D[di + t] -= gradScale;
            }
        }
    }

    // ---- elementwise and reductions ---------------------------------------------------------

    @Override
    public void add(Tensor y, Tensor a, Tensor b) {
        for (int i = 0, n = y.size(); i < n; i++)
            y.data()[y.offset() + i] = a.data()[a.offset() + i] + b.data()[b.offset() + i];
    }

    @Override
    public void accumulate(Tensor y, Tensor x) {
        for (int i = 0, n = y.size(); i < n; i++) y.data()[y.offset() + i] += x.data()[x.offset() + i];
    }

    @Override
    public void nf4Dequantize(Nf4Weights w, Tensor out) { w.dequantizeScalar(out.data(), out.offset(), 0, w.blocks()); }

    @Override
    public void mul(Tensor y, Tensor a, Tensor b) {
        for (int i = 0, n = y.size(); i < n; i++)
            y.data()[y.offset() + i] = a.data()[a.offset() + i] * b.data()[b.offset() + i];
    }

    @Override
    public void multiplyAdd(Tensor y, Tensor a, Tensor b) {
        for (int i = 0, n = y.size(); i < n; i++)
            y.data()[y.offset() + i] += a.data()[a.offset() + i] * b.data()[b.offset() + i];
    }

    @Override
    public void scale(Tensor y, float s) {
        for (int i = 0, n = y.size(); i < n; i++) y.data()[y.offset() + i] *= s;
    }

    @Override
    public void round(Tensor x, dev.lamina.tensor.Precision p) {
        if (p == dev.lamina.tensor.Precision.FP32) return;
        float[] a = x.data();
        for (int i = x.offset(), end = i + x.size(); i < end; i++) a[i] = p.round(a[i]);
    }

    @Override
    public boolean pack16(float[] src, int srcOff, short[] dst, int dstOff, int n, dev.lamina.tensor.Precision p) {
        return dev.lamina.tensor.Half.pack(src, srcOff, dst, dstOff, n, p);
    }

    @Override
    public void unpack16(short[] src, int srcOff, float[] dst, int dstOff, int n, dev.lamina.tensor.Precision p) {
        dev.lamina.tensor.Half.unpack(src, srcOff, dst, dstOff, n, p);
    }

    @Override
    public double sumOfSquares(Tensor x) {
        double s = 0;
        for (int b = 0, n = x.size(); b * SQUARES_BLOCK < n; b++) s += blockSquares(x, b);
        return s;
    }

    private static double blockSquares(Tensor x, int b) {
        double s = 0;
        for (int i = b * SQUARES_BLOCK, end = Math.min(x.size(), i + SQUARES_BLOCK); i < end; i++) { double v = x.data()[x.offset() + i]; s += v * v; }
        return s;
    }

    /** Each block summed in double, in order. */
    @Override
    public void squaresByBlock(Tensor x, double[] out) {
        for (int b = 0, n = x.size(); b * SQUARES_BLOCK < n; b++) out[b] = blockSquares(x, b);
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int len) {
        float s = 0;
        for (int i = 0; i < len; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    @Override
    public float dot(float[] a, int aOff, short[] b, int bOff, int len, dev.lamina.tensor.Precision p) {
        float s = 0;
        for (int i = 0; i < len; i++) s += a[aOff + i] * widen(b[bOff + i], p);
        return s;
    }

    /** The float32 value of a 16-bit one in p (BF16: the high half; FP16: IEEE half). */
    static float widen(short h, dev.lamina.tensor.Precision p) {
        return p == dev.lamina.tensor.Precision.FP16 ? Float.float16ToFloat(h) : Float.intBitsToFloat(h << 16);
    }

    @Override
    public void adamw(Tensor p, Tensor g, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                      float weightDecay, float bc1, float bc2) {
        float[] P = p.data(), G = g.data(), M = m.data(), Vv = v.data();
        for (int i = 0, n = p.size(); i < n; i++) {
            int pi = p.offset() + i, gi = g.offset() + i, mi = m.offset() + i, vi = v.offset() + i;
            float gr = G[gi];
            M[mi] = beta1 * M[mi] + (1 - beta1) * gr;
            Vv[vi] = beta2 * Vv[vi] + (1 - beta2) * gr * gr;
            float mhat = M[mi] / bc1, vhat = Vv[vi] / bc2;
            P[pi] -= lr * (mhat / ((float) Math.sqrt(vhat) + eps) + weightDecay * P[pi]);
        }
    }

    // ---- inference --------------------------------------------------------------------------

    @Override
    public LinearWeights prepare(Tensor w, Tensor bias) { return new DenseWeights(w, bias); }

    /** Output blocks of four columns, over all matrices, split over the pool: each output one {@link #dot}. */
    @Override
    public void project(int n, Tensor x, LinearWeights[] ws, Tensor[] ys) {
        int in = x.dim(-1);
        int[] blockStart = new int[ws.length + 1];
        for (int m = 0; m < ws.length; m++) {
            if (ws[m] instanceof PackedWeights || ws[m].in() != in)
                throw new IllegalArgumentException("weight " + m + " was not prepared by the scalar kernels for input width " + in);
            blockStart[m + 1] = blockStart[m] + (ws[m].out() + 3) / 4;
        }
        float[] X = x.data();
        int xOff = x.offset();
        pool.forRange(blockStart[ws.length], (b0, b1) -> {
            for (int m = 0; m < ws.length; m++) {
                int lo = Math.max(b0, blockStart[m]), hi = Math.min(b1, blockStart[m + 1]);
                if (lo >= hi) continue;
                int out = ws[m].out(), o0 = (lo - blockStart[m]) * 4, o1 = Math.min(out, (hi - blockStart[m]) * 4);
                Tensor y = ys[m];
                if (ws[m] instanceof Q8Weights q8) {
                    Q8Weights.multiplyScalar(n, X, xOff, in, q8, y.data(), y.offset(), out, o0, o1);
                    continue;
                }
                if (ws[m] instanceof HalfWeights h) {            // as float32 weights holding the 16-bit values: the same dot products
                    float[] row = new float[in];
                    for (int o = o0; o < o1; o++) {
                        h.dequantizeRow(o, row, 0);
                        for (int i = 0; i < n; i++) {
                            float s = dot(X, xOff + i * in, row, 0, in);
                            y.data()[y.offset() + i * out + o] = h.bias == null ? s : s + h.bias.get(o);
                        }
                    }
                    continue;
                }
                if (ws[m] instanceof Q4Weights q4) {
                    Q4Weights.multiplyScalar(n, X, xOff, in, q4, y.data(), y.offset(), out, o0, o1);
                    continue;
                }
                DenseWeights dw = (DenseWeights) ws[m];
                Tensor w = dw.weight(), bias = dw.bias();
                for (int i = 0; i < n; i++)
                    for (int o = o0; o < o1; o++) {
                        float s = dot(X, xOff + i * in, w.data(), w.offset() + o * in, in);
                        y.data()[y.offset() + i * out + o] = bias == null ? s : s + bias.get(o);
                    }
            }
        });
    }

    @Override
    public void softmax(float[] a, int off, int len) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < len; i++) max = Math.max(max, a[off + i]);
        float sum = 0;
        for (int i = 0; i < len; i++) { float e = (float) Math.exp(a[off + i] - max); a[off + i] = e; sum += e; }
        float inv = 1f / sum;
        for (int i = 0; i < len; i++) a[off + i] *= inv;
    }

    @Override
    public void weightedRows(float[] p, int pOff, int count, float[] V, int[] idx, int idxOff, int add, int stride,
                             float[] out, int oOff, int hd) {
        for (int j = 0; j < count; j++) {
            int row = idx != null ? idx[idxOff + j] + add : add + j * stride;
            float pj = p[pOff + j];
            for (int c = 0; c < hd; c++) out[oOff + c] += pj * V[row + c];
        }
    }

    @Override
    public void weightedRows(float[] p, int pOff, int count, short[] V, dev.lamina.tensor.Precision format, int[] idx, int idxOff, int add,
                             float[] out, int oOff, int hd) {
        for (int j = 0; j < count; j++) {
            int row = idx[idxOff + j] + add;
            float pj = p[pOff + j];
            for (int c = 0; c < hd; c++) out[oOff + c] += pj * widen(V[row + c], format);
        }
    }
}
