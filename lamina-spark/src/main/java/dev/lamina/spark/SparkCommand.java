package dev.lamina.spark;

import dev.lamina.io.LaminaException;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Unmatched;

import java.io.IOException;
import java.io.Serializable;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "spark", mixinStandardHelpOptions = true, subcommands = {SparkCommand.Train.class, SparkCommand.Prepare.class},
        description = "Lamina on Apache Spark: data-parallel training as one barrier stage.")
public final class SparkCommand implements Runnable {
    @Override public void run() { new picocli.CommandLine(this).usage(System.out); }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = {"Data-parallel training as one Spark barrier stage: N tasks, each a full replica running `lamina train` on its",
                    "share of every step's micro-batches; the tasks find each other through the barrier's allGather and sum their",
                    "gradients over a TCP ring in rank order (one worker's run, bit for bit, when --accum equals --workers).",
                    "Every other option is `lamina train`'s: e.g. lamina spark train --workers 2 --preset small --data D --out R --accum 2"})
    public static final class Train implements Callable<Integer> {
        @Option(names = "--master", description = "Spark master URL (default local[N]: N task threads in this JVM).") String master;
        @Option(names = "--workers", required = true, description = "Tasks of the barrier stage: the data-parallel workers.") int workers;
        @Unmatched List<String> trainArgs = new ArrayList<>();

        @Override
        public Integer call() {
            if (workers < 1) throw new LaminaException("--workers must be >= 1, got " + workers);
            for (String a : trainArgs)
                if (a.equals("--peers") || a.startsWith("--peers=") || a.equals("--rank") || a.startsWith("--rank="))
                    throw new LaminaException(a.split("=")[0] + " is set by the barrier stage; leave it out");
            SparkConf conf = new SparkConf().setAppName("lamina train").setMaster(master != null ? master : "local[" + workers + "]")
                    .set("spark.ui.enabled", "false");
            long t0 = System.nanoTime();
            try (JavaSparkContext sc = new JavaSparkContext(conf)) {
                sc.setLogLevel("WARN");
                List<Integer> ranks = new ArrayList<>();
                for (int r = 0; r < workers; r++) ranks.add(r);
                Object codes = sc.parallelize(ranks, workers).rdd().barrier()
                        .mapPartitions(new Worker(List.copyOf(trainArgs)), false, scala.reflect.ClassTag$.MODULE$.apply(Integer.class)).collect();
                System.err.printf("lamina: spark train: %d workers finished in %.1f s (codes %s)%n", workers, (System.nanoTime() - t0) / 1e9,
                        Arrays.toString((Object[]) codes));
            } catch (LaminaException e) {
                throw e;
            } catch (Exception e) {                 // Spark's own (checked, though Scala does not say so)
                throw new LaminaException("the barrier stage failed: " + firstLine(e));
            }
            return 0;
        }

        private static String firstLine(Throwable e) {
            Throwable t = e;
            while (t.getCause() != null && t.getCause() != t) t = t.getCause();
            String m = t.getMessage() == null ? t.toString() : t.getMessage();
            return m.lines().findFirst().orElse(m);
        }
    }

    /**
     * One task of the barrier stage: picks a free port, learns every task's address through allGather
     * (in partition order: the ranks), and runs `lamina train ... --peers ... --rank r` in its executor.
     */
    @Command(name = "prepare", mixinStandardHelpOptions = true,
            description = {"`lamina prepare` with the documents tokenized across Spark tasks: the same split and the same files,",
                    "byte for byte. Every task loads the tokenizer once and encodes its slice of the documents, in order."})
    public static final class Prepare implements Callable<Integer> {
        @Option(names = "--corpus", required = true, arity = "1..*", paramLabel = "TEXT", description = "UTF-8 text files, or 'brown' for the bundled Brown Corpus.")
        List<String> corpus;
        @Option(names = "--tokenizer", required = true, paramLabel = "T", description = "'bytes', or a tokenizer directory or file (every task must see it).")
        String tokenizer;
        @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory.") java.nio.file.Path out;
        @Option(names = "--val-fraction", defaultValue = "0.05", paramLabel = "F", description = "Share of documents held out for validation (default ${DEFAULT-VALUE}).")
        double valFraction;
        @Option(names = "--seed", defaultValue = "0", paramLabel = "N", description = "Seed of the split (default ${DEFAULT-VALUE}).") long seed;
        @Option(names = "--master", defaultValue = "local[*]", description = "Spark master URL (default ${DEFAULT-VALUE}).") String master;
        @Option(names = "--partitions", description = "Slices of the documents, each a task (default: Spark's parallelism).") Integer partitions;

        @Override
        public Integer call() {
            dev.lamina.tokenizer.Tokenizer tok = dev.lamina.tokenizer.Tokenizers.load(tokenizer);
            List<dev.lamina.data.Corpus.Source> sources = dev.lamina.cli.PrepareCommand.sources(corpus);
            SparkConf conf = new SparkConf().setAppName("lamina prepare").setMaster(master).set("spark.ui.enabled", "false");
            long t0 = System.nanoTime();
            dev.lamina.data.DataPrep.Stats stats;
            try (JavaSparkContext sc = new JavaSparkContext(conf)) {
                sc.setLogLevel("ERROR");
                String spec = tokenizer;
                int slices = partitions != null ? partitions : sc.defaultParallelism();
                if (slices < 1) throw new LaminaException("--partitions must be >= 1, got " + slices);
                stats = dev.lamina.data.DataPrep.prepareSources(sources, tok, out, valFraction, seed, docs -> {
                    List<int[]> ids = sc.parallelize(docs, Math.min(slices, docs.size())).mapPartitions(it -> {
                        dev.lamina.tokenizer.Tokenizer t = dev.lamina.tokenizer.Tokenizers.load(spec);     // once a task
                        List<int[]> enc = new ArrayList<>();
                        while (it.hasNext()) enc.add(t.encode(it.next()));
                        return enc.iterator();
                    }).collect();
                    return ids.toArray(int[][]::new);
                });
            }
            dev.lamina.cli.PrepareCommand.print(new java.io.PrintWriter(System.out, true), stats);
            System.err.printf("lamina: spark prepare: %d documents tokenized in %.1f s%n", stats.train().documents() + stats.val().documents(),
                    (System.nanoTime() - t0) / 1e9);
            return 0;
        }
    }

    /**
     * The run's arguments, or, when its --out directory already holds a checkpoint (a stage Spark
     * retries after a task died, or the same command again with more --steps), the same run resumed
     * from that checkpoint: nothing trained is lost, with any worker count.
     */
    static List<String> resumable(List<String> args) {
        java.nio.file.Path out = null;
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).equals("--out") && i + 1 < args.size()) out = java.nio.file.Path.of(args.get(i + 1));
            else if (args.get(i).startsWith("--out=")) out = java.nio.file.Path.of(args.get(i).substring(6));
        }
        if (out == null || !dev.lamina.train.Checkpoint.hasTrainingState(out)) return args;
        List<String> resumed = new ArrayList<>(List.of("--resume", out.toString()));
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i), name = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
            boolean valued = !a.contains("=") && i + 1 < args.size();
            switch (name) {
                case "--preset", "--config", "--init", "--student", "--out", "--resume" -> { if (valued) i++; }   // the checkpoint says
                default -> resumed.add(a);
            }
        }
        return resumed;
    }

    record Worker(List<String> trainArgs)
            implements scala.Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<Integer>>, Serializable {
        @Override
        public scala.collection.Iterator<Integer> apply(scala.collection.Iterator<Integer> partition) {
            BarrierTaskContext ctx = BarrierTaskContext.get();
            int rank = ctx.partitionId();
            int port;
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            } catch (IOException e) {
                throw new LaminaException("task " + rank + ": no free port (" + e.getMessage() + ")");
            }
            String address = ctx.getTaskInfos()[rank].address();
            String host = address.contains(":") ? address.substring(0, address.lastIndexOf(':')) : address;
            String[] all = ctx.allGather(host + ":" + port);
            List<String> args = new ArrayList<>();
            args.add("train");
            args.addAll(resumable(trainArgs));
            args.addAll(List.of("--peers", String.join(",", all), "--rank", String.valueOf(rank)));
            int code = dev.lamina.cli.Main.run(args.toArray(String[]::new));
            if (code != 0) throw new LaminaException("worker " + rank + ": lamina train exited with " + code);
            return scala.jdk.javaapi.CollectionConverters.asScala(List.of(code).iterator());
        }
    }
}
