package dev.lamina.cascade;

import dev.lamina.io.LaminaException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * A small classifier over standardised feature vectors: multinomial logistic regression (a binary
 * one is two classes), or nearest centroid. Shapes: D features, K classes; w is [K][D] (weights, or
 * the centroids), b is [K].
 */
public record Classifier(Kind kind, List<String> labels, float[] mean, float[] std, float[][] w, float[] b) {
    public enum Kind { LOGISTIC, CENTROID }

    /** P(class k | x), k in label order. */
    public double[] probabilities(float[] x) {
        if (x.length != mean.length) throw new LaminaException("the classifier reads " + mean.length + " features, got " + x.length);
        int K = w.length, D = mean.length;
        double[] z = new double[K];
        for (int k = 0; k < K; k++) {
            double s = kind == Kind.LOGISTIC ? b[k] : 0;
            for (int j = 0; j < D; j++) {
                double v = (x[j] - mean[j]) / std[j];
                s += kind == Kind.LOGISTIC ? w[k][j] * v : -(v - w[k][j]) * (v - w[k][j]) / D;
            }
            z[k] = s;
        }
        return softmax(z);
    }

    public int predict(float[] x) {
        double[] p = probabilities(x);
        int best = 0;
        for (int k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
        return best;
    }

    /**
     * Fits to examples xs with classes ys (indices into labels). Logistic regression's L2 weight is
     * chosen among 1e-3..1 by log-loss on a fifth of the examples held out (seeded), then it is fitted
     * on all of them.
     */
    public static Classifier fit(Kind kind, List<float[]> xs, int[] ys, List<String> labels, long seed) {
        int n = xs.size(), K = labels.size();
        if (n == 0) throw new LaminaException("no examples to train a classifier on");
        int D = xs.get(0).length;
        float[] mean = new float[D], std = new float[D];
        for (float[] x : xs) for (int j = 0; j < D; j++) mean[j] += x[j] / n;
        for (float[] x : xs) for (int j = 0; j < D; j++) std[j] += (x[j] - mean[j]) * (x[j] - mean[j]) / n;
        for (int j = 0; j < D; j++) std[j] = (float) Math.max(1e-6, Math.sqrt(std[j]));
        double[][] z = new double[n][D];
        for (int i = 0; i < n; i++) for (int j = 0; j < D; j++) z[i][j] = (xs.get(i)[j] - mean[j]) / std[j];
        if (kind == Kind.CENTROID) {
            float[][] c = new float[K][D];
            int[] count = new int[K];
            for (int i = 0; i < n; i++) { count[ys[i]]++; for (int j = 0; j < D; j++) c[ys[i]][j] += (float) z[i][j]; }
            for (int k = 0; k < K; k++) for (int j = 0; j < D; j++) c[k][j] /= Math.max(1, count[k]);
            return new Classifier(kind, List.copyOf(labels), mean, std, c, new float[K]);
        }
        // choose the L2 weight on a held-out fifth
        int[] order = Query.permutation(n, seed);
        int held = n >= 10 ? n / 5 : 0;
        double bestL2 = 1e-2, bestLoss = Double.POSITIVE_INFINITY;
        if (held > 0)
            for (double l2 : new double[]{1e-3, 1e-2, 1e-1, 1}) {
                int[] fitIdx = java.util.Arrays.copyOfRange(order, held, n), valIdx = java.util.Arrays.copyOfRange(order, 0, held);
                double[][] wb = logistic(z, ys, fitIdx, K, D, l2);
                double loss = 0;
                for (int i : valIdx) loss -= Math.log(Math.max(1e-12, softmax(logits(wb, z[i], K, D))[ys[i]]));
                if (loss < bestLoss) { bestLoss = loss; bestL2 = l2; }
            }
        double[][] wb = logistic(z, ys, order, K, D, bestL2);
        float[][] w = new float[K][D];
        float[] b = new float[K];
        for (int k = 0; k < K; k++) {
            for (int j = 0; j < D; j++) w[k][j] = (float) wb[k][j];
            b[k] = (float) wb[k][D];
        }
        return new Classifier(kind, List.copyOf(labels), mean, std, w, b);
    }

    /** Full-batch Adam on the mean cross-entropy plus l2/2 |w|^2 over the examples idx; rows [K][D+1], the bias last. */
    private static double[][] logistic(double[][] z, int[] ys, int[] idx, int K, int D, double l2) {
        double[][] wb = new double[K][D + 1], m = new double[K][D + 1], v = new double[K][D + 1], g = new double[K][D + 1];
        double lr = 0.05, b1 = 0.9, b2 = 0.999;
        for (int step = 1; step <= 400; step++) {
            for (double[] row : g) java.util.Arrays.fill(row, 0);
            for (int i : idx) {
                double[] p = softmax(logits(wb, z[i], K, D));
                for (int k = 0; k < K; k++) {
                    double e = (p[k] - (ys[i] == k ? 1 : 0)) / idx.length;
                    for (int j = 0; j < D; j++) g[k][j] += e * z[i][j];
                    g[k][D] += e;
                }
            }
            for (int k = 0; k < K; k++)
                for (int j = 0; j <= D; j++) {
                    double gj = g[k][j] + (j < D ? l2 * wb[k][j] : 0);
                    m[k][j] = b1 * m[k][j] + (1 - b1) * gj;
                    v[k][j] = b2 * v[k][j] + (1 - b2) * gj * gj;
                    wb[k][j] -= lr * (m[k][j] / (1 - Math.pow(b1, step))) / (Math.sqrt(v[k][j] / (1 - Math.pow(b2, step))) + 1e-8);
                }
        }
        return wb;
    }

    private static double[] logits(double[][] wb, double[] x, int K, int D) {
        double[] z = new double[K];
        for (int k = 0; k < K; k++) {
            double s = wb[k][D];
            for (int j = 0; j < D; j++) s += wb[k][j] * x[j];
            z[k] = s;
        }
        return z;
    }

    private static double[] softmax(double[] z) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (double v : z) max = Math.max(max, v);
        double[] p = new double[z.length];
        for (int k = 0; k < z.length; k++) sum += p[k] = Math.exp(z[k] - max);
        for (int k = 0; k < z.length; k++) p[k] /= sum;
        return p;
    }

    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode().put("kind", kind.name().toLowerCase());
        labels.forEach(o.putArray("labels")::add);
        floats(o.putArray("mean"), mean);
        floats(o.putArray("std"), std);
        ArrayNode ws = o.putArray("w");
        for (float[] row : w) floats(ws.addArray(), row);
        floats(o.putArray("b"), b);
        return o;
    }

    public static Classifier fromJson(JsonNode o, String where) {
        try {
            Kind kind = Kind.valueOf(o.get("kind").asString().toUpperCase());
            List<String> labels = new ArrayList<>();
            o.get("labels").forEach(l -> labels.add(l.asString()));
            float[] mean = floats(o.get("mean")), std = floats(o.get("std")), b = floats(o.get("b"));
            float[][] w = new float[o.get("w").size()][];
            for (int k = 0; k < w.length; k++) w[k] = floats(o.get("w").get(k));
            if (w.length != labels.size() || b.length != labels.size() || std.length != mean.length)
                throw new LaminaException("shapes disagree");
            for (float[] row : w) if (row.length != mean.length) throw new LaminaException("shapes disagree");
            return new Classifier(kind, List.copyOf(labels), mean, std, w, b);
        } catch (RuntimeException e) {
            throw new LaminaException(where + ": not a classifier this version writes (" + e.getMessage() + "); train it again");
        }
    }

    private static void floats(ArrayNode a, float[] v) { for (float f : v) a.add(f); }

    private static float[] floats(JsonNode a) {
        float[] v = new float[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = (float) a.get(i).asDouble();
        return v;
    }
}
