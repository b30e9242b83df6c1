package dev.lamina.cli;

import dev.lamina.cascade.Fleet;
import dev.lamina.cascade.Query;
import dev.lamina.cascade.Router;
import dev.lamina.cascade.RouterConfig;
import dev.lamina.cascade.RouterTraining;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.LaminaException;
import dev.lamina.server.ApiException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "router", mixinStandardHelpOptions = true, subcommands = RouterCommand.Train.class,
        description = {"Answer prompts through an xLLM router: a classifier over a model's hidden states picks a category, whose sub-model answers.",
                "The router is described by a YAML file (routes, encoder, classifier); `lamina router train` learns the classifier;",
                "`lamina serve --router FILE` serves it as one model."})
final class RouterCommand implements Callable<Integer> {
    @Option(names = "--config", description = "The router's YAML file (required).") Path config;
    @Option(names = "--max-tokens", defaultValue = "64", description = "Longest answer (default ${DEFAULT-VALUE}).") int maxTokens;
    @Option(names = "--threads", description = "Worker threads for local models (default: all cores).") Integer threads;
    @Parameters(arity = "0..*", paramLabel = "PROMPT", description = "Prompts to answer (as completion prompts).") List<String> prompts;

    @Override
    public Integer call() {
        if (config == null) throw new LaminaException("--config FILE.yaml is required");
        if (prompts == null || prompts.isEmpty()) throw new LaminaException("give PROMPTs to answer");
        RouterConfig c = RouterConfig.read(config);
        try (Fleet fleet = CascadeCommand.fleet(threads)) {
            Router router = Router.open(c, fleet);
            for (String p : prompts) {
                ObjectNode r;
                try {
                    r = router.answer("completions", new Query(p, null, null, List.of("\n"), maxTokens, null).body());
                } catch (ApiException e) {
                    throw new LaminaException(e.getMessage());
                }
                JsonNode u = r.path("usage").path("router");
                System.out.printf("[%s, confidence %.2f]%n%s%n", u.path("category").asString(), u.path("confidence").asDouble(), Query.answerText(r).strip());
            }
        }
        return 0;
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = {"Learn the router's classifier from labelled queries ({\"prompt\"|\"messages\"|\"query\", \"category\", optional \"reference\"}):",
                    "trained on one split, routing accuracy measured on the rest (both kinds of classifier); with references, each category's",
                    "exact match of the routed answers against every sub-model alone. Writes router.json and report.md into the router's dir."})
    static final class Train implements Callable<Integer> {
        @Option(names = "--config", required = true, description = "The router's YAML file.") Path config;
        @Option(names = "--data", required = true, description = "Labelled queries, JSONL.") Path data;
        @Option(names = "--train-fraction", defaultValue = "0.7", description = "Queries the classifier learns from; the rest test (default ${DEFAULT-VALUE}).") double trainFraction;
        @Option(names = "--max-tokens", defaultValue = "32", description = "Longest answer when a query names none (default ${DEFAULT-VALUE}).") int maxTokens;
        @Option(names = "--concurrency", defaultValue = "4", description = "Requests in flight per route (default ${DEFAULT-VALUE}).") int concurrency;
        @Option(names = "--seed", defaultValue = "1", description = "Seed of the split and the classifier (default ${DEFAULT-VALUE}).") long seed;
        @Option(names = "--threads", description = "Worker threads for local models (default: all cores).") Integer threads;

        @Override
        public Integer call() {
            if (!(trainFraction > 0 && trainFraction < 1)) throw new LaminaException("--train-fraction must be in (0, 1), got " + trainFraction);
            RouterConfig c = RouterConfig.read(config);
            List<Query> queries = Query.read(data, maxTokens, false, true);
            RouterTraining.Report r;
            try (Fleet fleet = CascadeCommand.fleet(threads)) {
                r = RouterTraining.run(c, queries, fleet, trainFraction, seed, concurrency, s -> System.err.println("lamina: " + s));
            }
            String md = report(c, data, r);
            AtomicFiles.writeString(c.dir().resolve("report.md"), md);
            System.out.println(md);
            System.out.println("wrote " + c.dir().resolve("router.json") + " and report.md");
            return 0;
        }
    }

    static String report(RouterConfig c, Path data, RouterTraining.Report r) {
        StringBuilder s = new StringBuilder();
        List<String> cats = r.categories();
        s.append("## Router '").append(c.name()).append("' on ").append(data.getFileName()).append("\n\n");
        s.append(String.format("%d queries train the classifier, %d test it. Routing accuracy on the test split: %s %.3f (%s %.3f).%n%n",
                r.train(), r.test(), r.kind().name().toLowerCase(), r.accuracy(),
                r.kind() == dev.lamina.cascade.Classifier.Kind.LOGISTIC ? "nearest centroid" : "logistic", r.other()));
        s.append("Confusion (rows: true category, columns: routed to):\n\n| | ").append(String.join(" | ", cats)).append(" |\n|---|")
                .append("---:|".repeat(cats.size())).append('\n');
        for (int i = 0; i < cats.size(); i++) {
            s.append("| ").append(cats.get(i));
            for (int j = 0; j < cats.size(); j++) s.append(" | ").append(r.confusion()[i][j]);
            s.append(" |\n");
        }
        if (r.quality() != null) {
            s.append("\nExact match per category on the test split: the routed answers, then each sub-model answering everything:\n\n");
            s.append("| category | queries | routed |");
            for (String m : cats) s.append(' ').append(m).append(" alone |");
            s.append("\n|---|---:|---:|").append("---:|".repeat(cats.size())).append('\n');
            double[] mean = new double[cats.size() + 1];
            for (int i = 0; i < cats.size(); i++) {
                s.append("| ").append(cats.get(i)).append(" | ").append(r.perCategory()[i]);
                for (int j = 0; j <= cats.size(); j++) {
                    s.append(String.format(" | %.3f", r.quality()[i][j]));
                    mean[j] += r.quality()[i][j] * r.perCategory()[i] / r.test();
                }
                s.append(" |\n");
            }
            s.append("| **all** | ").append(r.test());
            for (double m : mean) s.append(String.format(" | **%.3f**", m));
            s.append(" |\n| cost per query ($) | ");
            for (double v : r.cost()) s.append(String.format(" | %.6f", v));
            s.append(" |\n");
        }
        return s.toString();
    }
}
