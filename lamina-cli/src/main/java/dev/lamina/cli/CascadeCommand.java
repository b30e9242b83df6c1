package dev.lamina.cli;

import dev.lamina.Lamina;
import dev.lamina.cascade.Cascade;
import dev.lamina.cascade.CascadeConfig;
import dev.lamina.cascade.CascadeTraining;
import dev.lamina.cascade.Fleet;
import dev.lamina.cascade.Query;
import dev.lamina.cascade.Thresholds;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.LaminaException;
import dev.lamina.kernels.WeightFormat;
import dev.lamina.server.ApiException;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.awt.Color;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "cascade", mixinStandardHelpOptions = true, subcommands = CascadeCommand.Train.class,
        description = {"Answer queries through a FrugalGPT cascade (cheapest tier first; a scorer decides whether to ask the next tier).",
                "The cascade is described by a YAML file (tiers, costs, scorer); `lamina cascade train` learns its scorer and thresholds;",
                "`lamina serve --cascade FILE` serves it as one model."})
final class CascadeCommand implements Callable<Integer> {
    @Option(names = "--config", description = "The cascade's YAML file (required).") Path config;
    @Option(names = "--input", description = "JSONL of queries ({\"prompt\"} or {\"messages\"} or {\"query\"}, optional \"reference\"), instead of PROMPTs.") Path input;
    @Option(names = "--max-tokens", defaultValue = "64", description = "Longest answer (default ${DEFAULT-VALUE}).") int maxTokens;
    @Option(names = "--chat", description = "Send PROMPTs as a user's chat message rather than a completion prompt.") boolean chat;
    @Option(names = "--threads", description = "Worker threads for local models (default: all cores).") Integer threads;
    @Parameters(arity = "0..*", paramLabel = "PROMPT", description = "Prompts to answer.") List<String> prompts;

    @Override
    public Integer call() {
        if (config == null) throw new LaminaException("--config FILE.yaml is required");
        CascadeConfig c = CascadeConfig.read(config);
        List<Query> queries = new ArrayList<>();
        if (input != null) queries.addAll(Query.read(input, maxTokens, false, false));
        for (String p : prompts == null ? List.<String>of() : prompts) {
            if (chat) {
                var ms = tools.jackson.databind.node.JsonNodeFactory.instance.arrayNode();
                ms.addObject().put("role", "user").put("content", p);
                queries.add(new Query(null, ms, null, List.of(), maxTokens, null));
            } else queries.add(new Query(p, null, null, List.of(), maxTokens, null));
        }
        if (queries.isEmpty()) throw new LaminaException("nothing to answer: give PROMPTs or --input FILE.jsonl");
        try (Fleet fleet = fleet(threads)) {
            Cascade cascade = Cascade.open(c, fleet);
            Map<String, Integer> byTier = new LinkedHashMap<>();
            double cost = 0;
            int right = 0, judged = 0;
            for (Query q : queries) {
                ObjectNode r;
                try {
                    r = cascade.answer(q.endpoint(), q.body());
                } catch (ApiException e) {
                    throw new LaminaException(e.getMessage());
                }
                String text = Query.answerText(r);
                JsonNode u = r.path("usage");
                String tier = u.path("cascade").path("tier").asString();
                byTier.merge(tier, 1, Integer::sum);
                cost += u.path("cost").asDouble();
                StringBuilder scores = new StringBuilder();
                for (JsonNode t : u.path("cascade").path("tiers"))
                    if (t.has("score")) scores.append(String.format(" %s %.2f", t.get("tier").asString(), t.get("score").asDouble()));
                String mark = "";
                if (q.reference() != null) {
                    judged++;
                    if (q.correct(text)) { right++; mark = " right"; } else mark = " wrong";
                }
                System.out.printf("[%s%s; $%.6f; scores:%s]%s%n", tier, u.path("cascade").path("cached").asBoolean() ? ", cached" : "",
                        u.path("cost").asDouble(), scores.isEmpty() ? " -" : scores, mark);
                System.out.println(text.strip());
            }
            System.out.printf("%nanswered %d: %s; cost $%.6f ($%.6f per query)%s%n", queries.size(), byTier, cost, cost / queries.size(),
                    judged > 0 ? String.format("; exact match %d/%d = %.3f", right, judged, (double) right / judged) : "");
        }
        return 0;
    }

    /** Local models load with the given threads, weights as stored. */
    static Fleet fleet(Integer threads) {
        var kernels = Main.kernels(threads);
        return new Fleet(p -> Lamina.load(p, kernels, WeightFormat.STORED));
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = {"Learn the cascade's scorer and thresholds from labelled queries: every tier answers each one; the scorer learns",
                    "which answers are right (first split), thresholds are chosen on a held-out split, and a test split measures the cascade",
                    "against each tier alone. Writes scorer.json, thresholds.json, report.md and cascade-curve.png/svg into the scorer's dir."})
    static final class Train implements Callable<Integer> {
        @Option(names = "--config", required = true, description = "The cascade's YAML file.") Path config;
        @Option(names = "--data", required = true, description = "Labelled queries, JSONL: {\"prompt\"|\"messages\"|\"query\", \"reference\", optional \"stop\", \"max_tokens\"}.") Path data;
        @Option(names = "--budget", description = "Maximise accuracy at this mean cost per query (dollars).") Double budget;
        @Option(names = "--target-accuracy", description = "Minimise cost at this accuracy (default: the best single tier's held-out accuracy).") Double target;
        @Option(names = "--split", defaultValue = "0.5,0.25", description = "Fractions of queries for the scorer and for the thresholds; the rest tests (default ${DEFAULT-VALUE}).") String split;
        @Option(names = "--max-tokens", defaultValue = "32", description = "Longest answer when a query names none (default ${DEFAULT-VALUE}).") int maxTokens;
        @Option(names = "--concurrency", defaultValue = "4", description = "Requests in flight per tier (default ${DEFAULT-VALUE}).") int concurrency;
        @Option(names = "--seed", defaultValue = "1", description = "Seed of the splits and the scorer (default ${DEFAULT-VALUE}).") long seed;
        @Option(names = "--threads", description = "Worker threads for local models (default: all cores).") Integer threads;

        @Override
        public Integer call() {
            if (budget != null && target != null) throw new LaminaException("give --budget or --target-accuracy, not both");
            if (budget != null && !(budget > 0)) throw new LaminaException("--budget must be a cost > 0 in dollars per query, got " + budget);
            if (target != null && !(target > 0 && target <= 1)) throw new LaminaException("--target-accuracy must be in (0, 1], got " + target);
            double[] sp = fractions(split);
            CascadeConfig c = CascadeConfig.read(config);
            List<Query> queries = Query.read(data, maxTokens, true, false);
            CascadeTraining.Report r;
            try (Fleet fleet = fleet(threads)) {
                r = CascadeTraining.run(c, queries, fleet, new CascadeTraining.Options(budget == null ? Double.NaN : budget,
                        target == null ? Double.NaN : target, sp, seed, concurrency), s -> System.err.println("lamina: " + s));
            }
            String md = report(c, data, r);
            AtomicFiles.writeString(c.dir().resolve("report.md"), md);
            curve(c.dir(), r);
            System.out.println(md);
            System.out.println("wrote " + c.dir().resolve("scorer.json") + ", thresholds.json, report.md and cascade-curve.png/svg");
            return 0;
        }

        private static double[] fractions(String s) {
            String[] p = s.split(",");
            try {
                double a = Double.parseDouble(p[0].trim()), b = Double.parseDouble(p[1].trim());
                if (p.length != 2 || a <= 0 || b <= 0 || a + b >= 1) throw new NumberFormatException();
                return new double[]{a, b};
            } catch (RuntimeException e) {
                throw new LaminaException("--split must be two fractions > 0 with a sum < 1 (scorer, thresholds), e.g. 0.5,0.25; got '" + s + "'");
            }
        }
    }

    /** The training report in Markdown: each tier alone and the cascade, on the test split. */
    static String report(CascadeConfig c, Path data, CascadeTraining.Report r) {
        StringBuilder s = new StringBuilder();
        s.append("## Cascade '").append(c.name()).append("' on ").append(data.getFileName()).append("\n\n");
        s.append(String.format("%d labelled queries: %d train the scorer, %d choose the thresholds, %d test. Objective: %s.%n%n",
                r.train() + r.holdout() + r.test(), r.train(), r.holdout(), r.test(), r.objective()));
        s.append("| on the test split | accuracy | cost per query ($) | cost vs the best tier |\n| --- | ---: | ---: | ---: |\n");
        int best = 0;
        for (int i = 1; i < r.single().length; i++) if (r.single()[i].accuracy() > r.single()[best].accuracy()) best = i;
        double bestCost = r.single()[best].cost();
        for (int i = 0; i < r.single().length; i++)
            s.append(String.format("| %s alone ($%.4g / $%.4g per 1k in/out) | %.3f | %.6f | %s |%n", r.tiers().get(i), r.costs().get(i).input(),
                    r.costs().get(i).output(), r.single()[i].accuracy(), r.single()[i].cost(), ratio(r.single()[i].cost(), bestCost)));
        s.append(String.format("| **cascade** | **%.3f** | **%.6f** | **%s** |%n", r.cascade().accuracy(), r.cascade().cost(), ratio(r.cascade().cost(), bestCost)));
        s.append(String.format("| cascade with a perfect scorer (the bound) | %.3f | %.6f | %s |%n%n", r.oracle().accuracy(), r.oracle().cost(), ratio(r.oracle().cost(), bestCost)));
        s.append("Thresholds (P(right) an answer needs to be kept):");
        for (int i = 0; i < r.thresholds().length; i++)
            s.append(String.format(" %s %s;", r.tiers().get(i), r.thresholds()[i] == Thresholds.NEVER ? "never kept" : String.format("%.3f", r.thresholds()[i])));
        s.append(String.format(" on the held-out split: accuracy %.3f at $%.6f per query.%n%n", r.cascadeHoldout().accuracy(), r.cascadeHoldout().cost()));
        s.append("Scorer ROC AUC on the test answers:");
        for (int i = 0; i < r.auc().length; i++) s.append(String.format(" %s %.3f;", r.tiers().get(i), r.auc()[i]));
        s.append("\n\nAccuracy–cost curve (thresholds chosen on the held-out split for each budget, measured on the test split):\n\n");
        s.append("| budget ($/query) | accuracy | cost ($/query) |\n| ---: | ---: | ---: |\n");
        double[] prev = null;
        for (double[] p : r.curve()) {          // a larger budget the held-out split could not use: the same policy, one row
            if (prev == null || p[1] != prev[1] || p[2] != prev[2]) s.append(String.format("| %.6f | %.3f | %.6f |%n", p[0], p[1], p[2]));
            prev = p;
        }
        return s.toString();
    }

    private static String ratio(double cost, double best) {
        return best <= 0 ? "-" : String.format("%.0f%%", 100 * cost / best);
    }

    /** cascade-curve.png/svg: the cascade's curve with each tier alone as a point. */
    static void curve(Path dir, CascadeTraining.Report r) {
        XYChart c = new XYChartBuilder().width(Plots.W).height(Plots.H).title("Cascade: accuracy against cost (test split)")
                .xAxisTitle("mean cost per query ($)").yAxisTitle("exact match").build();
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE);
        if (!r.curve().isEmpty()) {
            XYSeries s = c.addSeries("cascade", r.curve().stream().mapToDouble(p -> p[2]).toArray(), r.curve().stream().mapToDouble(p -> p[1]).toArray());
            s.setMarker(SeriesMarkers.CIRCLE);
        }
        for (int i = 0; i < r.single().length; i++) {
            XYSeries s = c.addSeries(r.tiers().get(i) + " alone", new double[]{r.single()[i].cost()}, new double[]{r.single()[i].accuracy()});
            s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
            s.setMarker(SeriesMarkers.DIAMOND);
        }
        XYSeries chosen = c.addSeries("cascade, chosen thresholds", new double[]{r.cascade().cost()}, new double[]{r.cascade().accuracy()});
        chosen.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        chosen.setMarker(SeriesMarkers.SQUARE);
        Plots.save(c, dir, "cascade-curve");
    }
}
