package dev.lamina.bench;

import dev.lamina.data.TokenFile;
import dev.lamina.gguf.GgufModel;
import dev.lamina.infer.ContiguousKvCache;
import dev.lamina.infer.InferenceSession;
import dev.lamina.infer.PreparedModel;
import dev.lamina.kernels.Kernels;
import dev.lamina.model.Decoder;

import java.nio.file.Path;
import java.util.Locale;

/**
 * A quantized GGUF file's quality as it is served: each token through the KV-cache decode path with
 * the file's blocks kept (the kernels generate and serve run), beside the reference file dequantized
 * to float32. `lamina eval --reference` scores on the tape, which decodes the weights and multiplies
 * them by float inputs; this measures the kernels that serve the file (a kernel that rounds its inputs
 * shows here and not there). Prints perplexity of both, the mean KL from the reference and how often
 * the top token agrees.
 *
 * <pre>ServedQuality REFERENCE.gguf QUANTIZED.gguf VAL.bin WINDOWS [THREADS]</pre>
 * (disjoint windows of 256 tokens from the start of a prepared data directory's token file)
 */
public final class ServedQuality {
    private ServedQuality() {}

    public static void main(String[] args) {
        if (args.length < 4) {
            System.err.println("usage: ServedQuality REFERENCE.gguf QUANTIZED.gguf VAL.bin WINDOWS [THREADS]");
            System.exit(2);
        }
        var kernels = Kernels.vector(args.length > 4 ? Integer.parseInt(args[4]) : 2);
        Decoder ref = GgufModel.load(Path.of(args[0]), false).decoder().withKernels(kernels);
        Decoder quant = GgufModel.load(Path.of(args[1]), true).decoder().withKernels(kernels);
        int windows = Integer.parseInt(args[3]), T = 256;
        PreparedModel pr = PreparedModel.of(ref), pq = PreparedModel.of(quant);
        double nllRef = 0, nllQuant = 0, kl = 0;
        long n = 0, same = 0;
        try (TokenFile val = TokenFile.open(Path.of(args[2]))) {
            if ((long) windows * T > val.size()) throw new IllegalArgumentException(windows + " windows of " + T + " exceed " + val);
            int[] ids = new int[T];
            for (int w = 0; w < windows; w++) {
                val.read((long) w * T, ids, 0, T);
                try (var sr = new InferenceSession(pr, new ContiguousKvCache(ref.config(), T + 1));
                     var sq = new InferenceSession(pq, new ContiguousKvCache(quant.config(), T + 1))) {
                    for (int t = 0; t + 1 < T; t++) {
                        float[] lr = sr.forward(ids[t]), lq = sq.forward(ids[t]);
                        double[] p = softmax(lr), q = softmax(lq);
                        nllRef -= Math.log(p[ids[t + 1]]);
                        nllQuant -= Math.log(q[ids[t + 1]]);
                        for (int v = 0; v < p.length; v++) if (p[v] > 0) kl += p[v] * (Math.log(p[v]) - Math.log(Math.max(q[v], 1e-300)));
                        if (argmax(lr) == argmax(lq)) same++;
                        n++;
                    }
                }
            }
        }
        double pplRef = Math.exp(nllRef / n), pplQuant = Math.exp(nllQuant / n);
        System.out.printf(Locale.ROOT, "%d tokens: perplexity reference %.4f, quantized %.4f (%+.2f%%), mean KL %.6f nats/token, same top token %.2f%%%n",
                n, pplRef, pplQuant, 100 * (pplQuant / pplRef - 1), kl / n, 100.0 * same / n);
    }

    private static double[] softmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float v : logits) max = Math.max(max, v);
        double[] p = new double[logits.length];
        for (int i = 0; i < p.length; i++) sum += p[i] = Math.exp(logits[i] - max);
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
