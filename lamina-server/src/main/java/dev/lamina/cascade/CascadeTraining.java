package dev.lamina.cascade;

import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import tools.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * `lamina cascade train`: every tier answers every labelled query; the scorer learns from the first
 * split which answers are right; the thresholds are chosen on the second (held-out) split; the third
 * split measures the cascade against each single tier. Writes scorer.json and thresholds.json into
 * the config's scorer directory.
 */
public final class CascadeTraining {
    private CascadeTraining() {}

    /**
     * @param budget         maximise accuracy at this mean cost per query (dollars), or NaN
     * @param targetAccuracy minimise cost at this accuracy, or NaN; both NaN: the best single tier's held-out accuracy
     * @param split          fractions of the queries for the scorer and for the thresholds; the rest is the test split
     */
    public record Options(double budget, double targetAccuracy, double[] split, long seed, int concurrency) {}

    /**
     * What training found. Outcomes are on the test split unless named otherwise.
     *
     * @param single   each tier alone
     * @param cascade  the cascade with the chosen thresholds
     * @param curve    the cascade's accuracy–cost curve: for each budget, thresholds chosen on the held-out split, measured on the test split
     * @param auc      per tier but the last: the scorer's ROC AUC on that tier's test answers
     * @param tierAccuracy per tier, how often its answer was right over all queries
     * @param oracle   the cascade with a perfect scorer (an answer kept exactly when it is right), the bound a scorer approaches
     */
    public record Report(List<String> tiers, List<Target.Cost> costs, int train, int holdout, int test, String objective, double[] thresholds,
                         Thresholds.Outcome cascadeHoldout, Thresholds.Outcome cascade, Thresholds.Outcome oracle, Thresholds.Outcome[] single,
                         List<double[]> curve, double[] auc, double[] tierAccuracy) {}

    public static Report run(CascadeConfig config, List<Query> queries, Fleet fleet, Options o, Consumer<String> log) {
        int n = queries.size(), k = config.tiers().size();
        if (k < 2) throw new LaminaException(config.file().getFileName() + ": a cascade of one tier has nothing to learn");
        if (n < 20) throw new LaminaException("only " + n + " labelled queries; the three splits need at least 20");
        List<Fleet.Endpoint> tiers = fleet.connect(config.tiers());
        log.accept("answering " + n + " queries with " + k + " tiers (" + n * k + " answers; kept in " + config.dir().resolve("answers.jsonl") + ")");
        int step = Math.max(1, n * k / 20);
        Answers.Answer[][] answers = Answers.collect(queries, tiers, config.dir().resolve("answers.jsonl"), o.concurrency(),
                d -> { if (d % step == 0 || d == n * k) log.accept("  answers " + d + "/" + n * k); });
        boolean[][] correct = new boolean[n][k];
        double[][] cost = new double[n][k];
        double[] tierAccuracy = new double[k];
        for (int q = 0; q < n; q++)
            for (int i = 0; i < k; i++) {
                correct[q][i] = queries.get(q).correct(answers[q][i].text());
                cost[q][i] = config.tiers().get(i).cost().of(answers[q][i].promptTokens(), answers[q][i].completionTokens());
                if (correct[q][i]) tierAccuracy[i] += 1.0 / n;
            }
        // splits
        int[] order = Query.permutation(n, o.seed());
        int nTrain = (int) Math.round(n * o.split()[0]), nHold = (int) Math.round(n * o.split()[1]);
        if (nTrain < 1 || nHold < 1 || n - nTrain - nHold < 1) throw new LaminaException("--split leaves an empty split of " + n + " queries");
        int[] train = Arrays.copyOfRange(order, 0, nTrain), hold = Arrays.copyOfRange(order, nTrain, nTrain + nHold),
                test = Arrays.copyOfRange(order, nTrain + nHold, n);

        // the scorer: every tier's answers to the training queries
        Encoder encoder = new Encoder(fleet.model(config.encoder()));
        log.accept("scorer: reading " + n * k + " query-answer pairs with " + config.encoder());
        float[][][] x = new float[n][k][];
        for (int q = 0; q < n; q++)
            for (int i = 0; i < k; i++) x[q][i] = encoder.answer(queries.get(q).text(), answers[q][i].text());
        List<float[]> xs = new ArrayList<>();
        List<Integer> ys = new ArrayList<>();
        for (int q : train)
            for (int i = 0; i < k; i++) { xs.add(x[q][i]); ys.add(correct[q][i] ? 1 : 0); }
        Classifier cl = Classifier.fit(Classifier.Kind.LOGISTIC, xs, ys.stream().mapToInt(Integer::intValue).toArray(), List.of("wrong", "right"), o.seed());
        Scorer scorer = new Scorer(config.encoder(), encoder, cl);
        double[][] score = new double[n][k - 1];
        for (int q = 0; q < n; q++)
            for (int i = 0; i < k - 1; i++) score[q][i] = cl.probabilities(x[q][i])[1];

        // thresholds on the held-out split
        boolean[][] cH = pick(correct, hold), cT = pick(correct, test);
        double[][] kH = pick(cost, hold), kT = pick(cost, test), sH = pick(score, hold), sT = pick(score, test);
        Thresholds.Outcome[] singleH = singles(cH, kH), single = singles(cT, kT);
        String objective;
        double[] t;
        if (!Double.isNaN(o.budget())) {
            objective = String.format("highest accuracy at a mean cost of at most $%.6g per query", o.budget());
            t = Thresholds.maximiseAccuracy(o.budget(), cH, kH, sH);
            if (t == null) throw new LaminaException(String.format("no thresholds keep the mean cost within $%.6g per query; the cheapest tier alone costs $%.6g",
                    o.budget(), singleH[0].cost()));
        } else {
            double target = o.targetAccuracy();
            if (Double.isNaN(target)) {
                target = Arrays.stream(singleH).mapToDouble(Thresholds.Outcome::accuracy).max().orElse(0);
                objective = String.format("lowest cost at the best single tier's held-out accuracy (%.3f)", target);
            } else objective = String.format("lowest cost at an accuracy of at least %.3f", target);
            t = Thresholds.minimiseCost(target, cH, kH, sH);
            if (t == null) throw new LaminaException(String.format("no thresholds reach an accuracy of %.3f on the held-out split (the best single tier: %.3f); "
                    + "ask for less (--target-accuracy) or give a --budget", target, Arrays.stream(singleH).mapToDouble(Thresholds.Outcome::accuracy).max().orElse(0)));
        }
        Thresholds.Outcome chosenH = Thresholds.evaluate(t, cH, kH, sH), chosen = Thresholds.evaluate(t, cT, kT, sT);
        double[][] perfect = new double[cT.length][k - 1];
        for (int q = 0; q < cT.length; q++) for (int i = 0; i < k - 1; i++) perfect[q][i] = cT[q][i] ? 1 : 0;
        double[] half = new double[k - 1];
        Arrays.fill(half, 0.5);
        Thresholds.Outcome oracle = Thresholds.evaluate(half, cT, kT, perfect);

        // the curve: budgets from the cheapest tier alone to every tier asked
        double lo = singleH[0].cost(), hi = Arrays.stream(kH).mapToDouble(row -> Arrays.stream(row).sum()).average().orElse(lo);
        List<double[]> curve = new ArrayList<>();
        for (int b = 0; b <= 24; b++) {
            double budget = lo + (hi - lo) * b / 24;
            double[] tb = Thresholds.maximiseAccuracy(budget, cH, kH, sH);
            if (tb == null) continue;
            Thresholds.Outcome e = Thresholds.evaluate(tb, cT, kT, sT);
            curve.add(new double[]{budget, e.accuracy(), e.cost()});
        }
        double[] auc = new double[k - 1];
        for (int i = 0; i < k - 1; i++) auc[i] = auc(sT, cT, i);

        // save: scorer and thresholds
        AtomicFiles.writeString(config.dir().resolve(Scorer.FILE), Json.MAPPER.writeValueAsString(scorer.toJson()));
        ObjectNode th = Json.MAPPER.createObjectNode().put("objective", objective);
        ObjectNode tn = th.putObject("thresholds");
        for (int i = 0; i < k - 1; i++)
            if (t[i] == Thresholds.NEVER) tn.putNull(config.tiers().get(i).name()); else tn.put(config.tiers().get(i).name(), t[i]);
        th.putObject("holdout").put("queries", nHold).put("accuracy", chosenH.accuracy()).put("cost_per_query", chosenH.cost());
        th.putObject("test").put("queries", test.length).put("accuracy", chosen.accuracy()).put("cost_per_query", chosen.cost());
        AtomicFiles.writeString(config.dir().resolve(Cascade.THRESHOLDS), Json.MAPPER.writeValueAsString(th));
        return new Report(config.tiers().stream().map(Target::name).toList(), config.tiers().stream().map(Target::cost).toList(),
                nTrain, nHold, test.length, objective, t, chosenH, chosen, oracle, single, curve, auc, tierAccuracy);
    }

    private static Thresholds.Outcome[] singles(boolean[][] correct, double[][] cost) {
        int k = correct[0].length;
        Thresholds.Outcome[] out = new Thresholds.Outcome[k];
        for (int i = 0; i < k; i++) {
            double acc = 0, c = 0;
            for (int q = 0; q < correct.length; q++) { acc += correct[q][i] ? 1 : 0; c += cost[q][i]; }
            out[i] = new Thresholds.Outcome(acc / correct.length, c / correct.length);
        }
        return out;
    }

    /** ROC AUC of tier i's scores against its answers' correctness (0.5 when one class is missing). */
    static double auc(double[][] score, boolean[][] correct, int i) {
        long pos = 0, neg = 0;
        double wins = 0;
        for (int a = 0; a < score.length; a++) {
            if (correct[a][i]) pos++; else neg++;
            if (!correct[a][i]) continue;
            for (int b = 0; b < score.length; b++)
                if (!correct[b][i]) wins += score[a][i] > score[b][i] ? 1 : score[a][i] == score[b][i] ? 0.5 : 0;
        }
        return pos == 0 || neg == 0 ? 0.5 : wins / (pos * neg);
    }

    private static boolean[][] pick(boolean[][] a, int[] idx) {
        boolean[][] out = new boolean[idx.length][];
        for (int i = 0; i < idx.length; i++) out[i] = a[idx[i]];
        return out;
    }

    private static double[][] pick(double[][] a, int[] idx) {
        double[][] out = new double[idx.length][];
        for (int i = 0; i < idx.length; i++) out[i] = a[idx[i]];
        return out;
    }
}
