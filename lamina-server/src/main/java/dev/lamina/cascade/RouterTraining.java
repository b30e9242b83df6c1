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
 * `lamina router train`: the classifier learns the categories of labelled queries from the encoder's
 * hidden states on a training split; the test split measures routing accuracy (of both kinds of
 * classifier) and, when the queries carry references, the quality per category of the routed answers
 * against each sub-model alone. Writes router.json into the config's directory.
 */
public final class RouterTraining {
    private RouterTraining() {}

    /**
     * @param accuracy    routing accuracy on the test split, of the config's classifier
     * @param other       the same of the other kind (logistic vs centroid), for comparison
     * @param confusion   [true category][routed category] counts on the test split
     * @param quality     when references exist: [category][column] exact match on the test split; columns: routed, then each route alone; else null
     * @param cost        mean cost per query of the same columns, or null
     */
    public record Report(List<String> categories, Classifier.Kind kind, int train, int test, double accuracy, double other,
                         int[][] confusion, double[][] quality, double[] cost, int[] perCategory) {}

    public static Report run(RouterConfig config, List<Query> queries, Fleet fleet, double trainFraction, long seed, int concurrency, Consumer<String> log) {
        List<String> cats = config.routes().stream().map(Target::name).toList();
        for (Query q : queries)
            if (!cats.contains(q.category()))
                throw new LaminaException("a query's category '" + q.category() + "' has no route in " + config.file().getFileName() + " (routes: " + cats + ")");
        int n = queries.size();
        int[] order = Query.permutation(n, seed);
        int nTrain = (int) Math.round(n * trainFraction);
        if (nTrain < cats.size() || n - nTrain < 1) throw new LaminaException("--train-fraction leaves too few queries to train on or to test with (" + n + " queries)");
        int[] train = Arrays.copyOfRange(order, 0, nTrain), test = Arrays.copyOfRange(order, nTrain, n);

        Encoder encoder = new Encoder(fleet.model(config.encoder()));
        log.accept("router: reading " + n + " queries with " + config.encoder());
        float[][] x = new float[n][];
        int[] y = new int[n];
        for (int q = 0; q < n; q++) { x[q] = encoder.text(queries.get(q).text()); y[q] = cats.indexOf(queries.get(q).category()); }
        List<float[]> xs = new ArrayList<>();
        int[] ys = new int[nTrain];
        for (int i = 0; i < nTrain; i++) { xs.add(x[train[i]]); ys[i] = y[train[i]]; }
        Classifier cl = Classifier.fit(config.classifier(), xs, ys, cats, seed);
        Classifier.Kind otherKind = config.classifier() == Classifier.Kind.LOGISTIC ? Classifier.Kind.CENTROID : Classifier.Kind.LOGISTIC;
        Classifier ot = Classifier.fit(otherKind, xs, ys, cats, seed);
        int K = cats.size();
        int[][] confusion = new int[K][K];
        int[] routed = new int[n], perCategory = new int[K];
        double hits = 0, otherHits = 0;
        for (int q : test) {
            routed[q] = cl.predict(x[q]);
            confusion[y[q]][routed[q]]++;
            perCategory[y[q]]++;
            if (routed[q] == y[q]) hits++;
            if (ot.predict(x[q]) == y[q]) otherHits++;
        }
        double[][] quality = null;
        double[] cost = null;
        if (queries.stream().allMatch(q -> q.reference() != null)) {
            List<Query> tq = Arrays.stream(test).mapToObj(queries::get).toList();
            List<Fleet.Endpoint> routes = fleet.connect(config.routes());
            log.accept("router: every route answers the " + tq.size() + " test queries (" + tq.size() * K + " answers)");
            int step = Math.max(1, tq.size() * K / 10);
            Answers.Answer[][] a = Answers.collect(tq, routes, config.dir().resolve("answers.jsonl"), concurrency,
                    d -> { if (d % step == 0) log.accept("  answers " + d + "/" + tq.size() * K); });
            quality = new double[K][K + 1];
            cost = new double[K + 1];
            for (int j = 0; j < tq.size(); j++) {
                int q = test[j], c = y[q];
                Query query = queries.get(q);
                for (int m = 0; m < K; m++) {
                    if (query.correct(a[j][m].text())) quality[c][m + 1] += 1.0 / perCategory[c];
                    cost[m + 1] += config.routes().get(m).cost().of(a[j][m].promptTokens(), a[j][m].completionTokens()) / tq.size();
                }
                Answers.Answer mine = a[j][routed[q]];
                if (query.correct(mine.text())) quality[c][0] += 1.0 / perCategory[c];
                cost[0] += config.routes().get(routed[q]).cost().of(mine.promptTokens(), mine.completionTokens()) / tq.size();
            }
        }
        ObjectNode o = Json.MAPPER.createObjectNode().put("encoder", config.encoder().toAbsolutePath().normalize().toString());
        o.set("classifier", cl.toJson());
        o.putObject("test").put("queries", test.length).put("routing_accuracy", hits / test.length);
        AtomicFiles.writeString(config.dir().resolve(Router.FILE), Json.MAPPER.writeValueAsString(o));
        return new Report(cats, config.classifier(), nTrain, test.length, hits / test.length, otherHits / test.length, confusion, quality, cost, perCategory);
    }
}
