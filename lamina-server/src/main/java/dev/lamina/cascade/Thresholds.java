package dev.lamina.cascade;

import java.util.Arrays;
import java.util.TreeSet;

/**
 * FrugalGPT's cascade policy and the search for its thresholds. For each query q and tier i:
 * correct[q][i], cost[q][i] (dollars) and, for every tier but the last, the scorer's score[q][i].
 * With thresholds t, a query stops at the first tier whose score reaches t[i] (the last tier always
 * answers) and pays for every tier it tried.
 */
public final class Thresholds {
    private Thresholds() {}

    /** Accuracy and mean cost per query of a policy on a set. */
    public record Outcome(double accuracy, double cost) {}

    /** A threshold no score reaches: the tier's answer is never kept. */
    public static final double NEVER = Double.POSITIVE_INFINITY;

    public static Outcome evaluate(double[] t, boolean[][] correct, double[][] cost, double[][] score) {
        int n = correct.length, k = t.length + 1;
        double acc = 0, paid = 0;
        for (int q = 0; q < n; q++)
            for (int i = 0; i < k; i++) {
                paid += cost[q][i];
                if (i == k - 1 || score[q][i] >= t[i]) {
                    if (correct[q][i]) acc++;
                    break;
                }
            }
        return new Outcome(acc / n, paid / n);
    }

    /** Thresholds of the highest accuracy whose mean cost stays within budget (ties: the cheaper); null if none fits. */
    public static double[] maximiseAccuracy(double budget, boolean[][] correct, double[][] cost, double[][] score) {
        return search(correct, cost, score, budget, Double.NaN);
    }

    /** Thresholds of the lowest mean cost whose accuracy reaches target (ties: the more accurate); null if none does. */
    public static double[] minimiseCost(double target, boolean[][] correct, double[][] cost, double[][] score) {
        return search(correct, cost, score, Double.NaN, target);
    }

    private static double[] search(boolean[][] correct, double[][] cost, double[][] score, double budget, double target) {
        int k = correct[0].length;
        if (k == 1) return new double[0];
        int per = (int) Math.max(2, Math.min(34, Math.floor(Math.pow(200_000, 1.0 / (k - 1)))));
        double[][] cands = new double[k - 1][];
        for (int i = 0; i < k - 1; i++) cands[i] = candidates(score, i, per);
        double[] t = new double[k - 1], best = null;
        double bestAcc = -1, bestCost = Double.POSITIVE_INFINITY;
        int[] at = new int[k - 1];
        while (true) {
            for (int i = 0; i < k - 1; i++) t[i] = cands[i][at[i]];
            Outcome o = evaluate(t, correct, cost, score);
            boolean ok = Double.isNaN(budget) ? o.accuracy() >= target - 1e-12 : o.cost() <= budget + 1e-15;
            if (ok) {
                boolean better = Double.isNaN(budget)
                        ? o.cost() < bestCost - 1e-15 || Math.abs(o.cost() - bestCost) <= 1e-15 && o.accuracy() > bestAcc
                        : o.accuracy() > bestAcc || o.accuracy() == bestAcc && o.cost() < bestCost;
                if (better) { best = t.clone(); bestAcc = o.accuracy(); bestCost = o.cost(); }
            }
            int i = 0;
            while (i < k - 1 && ++at[i] == cands[i].length) at[i++] = 0;
            if (i == k - 1) break;
        }
        return best;
    }

    /** Up to per candidate thresholds of tier i: 0 (always keep), quantiles of its scores, and never. */
    private static double[] candidates(double[][] score, int i, int per) {
        double[] s = new double[score.length];
        for (int q = 0; q < s.length; q++) s[q] = score[q][i];
        Arrays.sort(s);
        TreeSet<Double> c = new TreeSet<>();
        c.add(0.0);
        c.add(NEVER);
        for (int j = 1; j < per - 1; j++) c.add(s[(int) Math.min(s.length - 1, (long) j * s.length / (per - 1))]);
        return c.stream().mapToDouble(Double::doubleValue).toArray();
    }
}
