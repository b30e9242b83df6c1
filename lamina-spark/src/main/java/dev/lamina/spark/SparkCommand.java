package dev.lamina.spark;

import dev.lamina.io.LaminaException;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
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

@Command(name = "spark", mixinStandardHelpOptions = true, subcommands = {SparkCommand.Train.class, SparkCommand.Prepare.class, SparkCommand.Generate.class},
        description = "Lamina on Apache Spark: data-parallel training as one barrier stage.")
public final class SparkCommand implements Runnable {
    @Override public void run() { new picocli.CommandLine(this).usage(System.out); }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = {"Data-parallel training as one Spark barrier stage: N tasks, each a full replica running `lamina train` on its",
                    "share of every step's micro-batches; the tasks find each other through the barrier's allGather and sum their",
                    "gradients over a TCP ring in rank order (one worker's run, bit for bit, when --accum equals --workers).",
                    "Every other option is `lamina train`'s: e.g. lamina spark train --workers 2 --preset small --data D --out R --accum 2"})
    public static final class Train implements Callable<Integer> {
        @Option(names = "--master", description = "Spark master URL (default: spark-submit's --master, else local[N]: N task threads in this JVM).") String master;
        @Option(names = "--workers", required = true, description = "Tasks of the barrier stage: the data-parallel workers.") int workers;
        @Unmatched List<String> trainArgs = new ArrayList<>();

        @Override
        public Integer call() {
            if (workers < 1) throw new LaminaException("--workers must be >= 1, got " + workers);
            for (String a : trainArgs)
                if (a.equals("--peers") || a.startsWith("--peers=") || a.equals("--rank") || a.startsWith("--rank="))
                    throw new LaminaException(a.split("=")[0] + " is set by the barrier stage; leave it out");
            String accum = value(trainArgs, "--accum");
            if (value(trainArgs, "--resume") == null || accum != null) {         // a resumed run's comes from its checkpoint
                int a;
                try {
                    a = accum == null ? 1 : Integer.parseInt(accum);
                } catch (NumberFormatException e) {
                    throw new LaminaException("--accum must be a whole number, got '" + accum + "'");
                }
                if (a % workers != 0)
                    throw new LaminaException("--accum " + a + (accum == null ? " (the default)" : "") + " must be a multiple of --workers " + workers
                            + ": each worker takes accum / workers micro-batches of every step");
            }
            String submitted = System.getProperty("spark.master");          // set by spark-submit --master
            String url = master != null ? master : submitted != null ? submitted : "local[" + workers + "]";
            SparkConf conf = conf("lamina train", url);
            List<String> args = new ArrayList<>(trainArgs);
            // workers sharing one machine's cores gain nothing from summing during backward: the second thread takes
            // a core from the compute (measured in docs/experiments/data-parallel.md); across machines it hides the network
            if (url.startsWith("local") && args.stream().noneMatch(a -> a.equals("--bucket-mb") || a.startsWith("--bucket-mb=")))
                args.addAll(List.of("--bucket-mb", "0"));
            long t0 = System.nanoTime();
            try (JavaSparkContext sc = new JavaSparkContext(conf)) {
                sc.setLogLevel("WARN");
                List<Integer> ranks = new ArrayList<>();
                for (int r = 0; r < workers; r++) ranks.add(r);
                scala.reflect.ClassTag<Integer> tag = scala.reflect.ClassTag$.MODULE$.apply(Integer.class);
                // a shuffle after the barrier stage makes it a map stage, which Spark retries when a task or an executor dies
                // (a failed barrier result stage is not retried); the retried tasks resume from the run's checkpoint
                List<Integer> codes = org.apache.spark.api.java.JavaRDD.fromRDD(sc.parallelize(ranks, workers).rdd().barrier()
                        .mapPartitions(new Worker(List.copyOf(args)), false, tag), tag).repartition(1).collect();
                System.err.printf("lamina: spark train: %d workers finished in %.1f s (codes %s)%n", workers, (System.nanoTime() - t0) / 1e9,
                        codes);
            } catch (LaminaException e) {
                throw e;
            } catch (Exception e) {                 // Spark's own (checked, though Scala does not say so)
                throw new LaminaException("the barrier stage failed: " + firstLine(e));
            }
            return 0;
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
        @Option(names = "--corpus", required = true, arity = "1..*", paramLabel = "FILE",
                description = "UTF-8 text files (documents separated by blank lines), JSONL files (*.jsonl: one document a line, from --column), "
                        + "Parquet files or directories of them (*.parquet: one document a row, from --column), or 'brown'.")
        List<String> corpus;
        @Option(names = "--column", defaultValue = "text", description = "The field of a JSONL line or the column of a Parquet row holding its document (default ${DEFAULT-VALUE}).")
        String column;
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
            for (String c : corpus)                                     // before Spark starts
                if (Frames.isParquet(c) && !java.nio.file.Files.exists(java.nio.file.Path.of(c))) throw new LaminaException(c + ": no such file or directory");
            List<dev.lamina.data.Corpus.Source> sources = new ArrayList<>();
            for (String c : corpus)
                if (!Frames.isParquet(c))
                    sources.add(c.endsWith(".jsonl") ? jsonl(java.nio.file.Path.of(c), column) : dev.lamina.cli.PrepareCommand.sources(List.of(c)).getFirst());
            long t0 = System.nanoTime();
            dev.lamina.data.DataPrep.Stats stats;
            SparkSession spark = session("lamina prepare", master);
            try {
                JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
                List<dev.lamina.data.Corpus.Source> all = new ArrayList<>();
                int next = 0;
                for (String c : corpus)                                 // in the order given
                    all.add(Frames.isParquet(c) ? Frames.documents(spark, java.nio.file.Path.of(c), column) : sources.get(next++));
                String spec = tokenizer;
                int slices = partitions != null ? partitions : sc.defaultParallelism();
                if (slices < 1) throw new LaminaException("--partitions must be >= 1, got " + slices);
                stats = dev.lamina.data.DataPrep.prepareSources(all, tok, out, valFraction, seed, docs -> {
                    List<int[]> ids = sc.parallelize(docs, Math.min(slices, docs.size())).mapPartitions(it -> {
                        dev.lamina.tokenizer.Tokenizer t = dev.lamina.tokenizer.Tokenizers.load(spec);     // once a task
                        List<int[]> enc = new ArrayList<>();
                        while (it.hasNext()) enc.add(t.encode(it.next()));
                        return enc.iterator();
                    }).collect();
                    return ids.toArray(int[][]::new);
                });
            } finally {
                spark.stop();
            }
            dev.lamina.cli.PrepareCommand.print(new java.io.PrintWriter(System.out, true), stats);
            System.err.printf("lamina: spark prepare: %d documents tokenized in %.1f s%n", stats.train().documents() + stats.val().documents(),
                    (System.nanoTime() - t0) / 1e9);
            return 0;
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "Batch generation over a column of a JSONL or Parquet input: each Spark task loads the model once (one per executor "
                    + "JVM) and completes its slice of the rows; every row comes back with its fields and a \"completion\", in input order, "
                    + "written as JSONL or Parquet (by --out's extension). From Java, Frames.complete does the same to any DataFrame.")
    public static final class Generate implements Callable<Integer> {
        @Option(names = "--model", required = true, description = "Run directory, Hugging Face directory or FILE.gguf (every task must see it).") String model;
        @Option(names = "--input", required = true, description = "JSONL (one object a line), or Parquet (*.parquet: a file or a directory of them).") java.nio.file.Path input;
        @Option(names = "--column", defaultValue = "prompt", description = "The field or column holding the prompt (default ${DEFAULT-VALUE}).") String column;
        @Option(names = "--out", required = true, description = "*.jsonl or *.parquet (a Parquet directory) to write; written whole, then renamed.") java.nio.file.Path out;
        @Option(names = "--max-tokens", defaultValue = "64", description = "Tokens per completion (default ${DEFAULT-VALUE}).") int maxTokens;
        @Option(names = "--temperature", defaultValue = "0", description = "0 for greedy (default ${DEFAULT-VALUE}).") double temperature;
        @Option(names = "--seed", defaultValue = "0", description = "Sampling seed; row i samples with seed + i (default ${DEFAULT-VALUE}).") long seed;
        @Option(names = "--stop", description = "Cut each completion at the first of these strings; repeatable.") List<String> stop = new ArrayList<>();
        @Option(names = "--threads", defaultValue = "1", description = "Threads per task (default ${DEFAULT-VALUE}).") int threads;
        @Option(names = "--master", defaultValue = "local[*]", description = "Spark master URL (default ${DEFAULT-VALUE}).") String master;
        @Option(names = "--partitions", description = "Slices of the input, each a task (default: Spark's parallelism).") Integer partitions;

        @Override
        public Integer call() {
            if (maxTokens < 1) throw new LaminaException("--max-tokens must be >= 1, got " + maxTokens);
            if (temperature < 0) throw new LaminaException("--temperature must be >= 0, got " + temperature);
            if (threads < 1) throw new LaminaException("--threads must be >= 1, got " + threads);
            if (partitions != null && partitions < 1) throw new LaminaException("--partitions must be >= 1, got " + partitions);
            boolean parquetIn = Frames.isParquet(input.toString()), parquetOut = Frames.isParquet(out.toString());
            if (!parquetOut && !out.toString().endsWith(".jsonl")) throw new LaminaException("--out " + out + ": name it *.jsonl or *.parquet");
            if (parquetIn ? !java.nio.file.Files.exists(input) : !java.nio.file.Files.isRegularFile(input)) throw new LaminaException(input + ": no such file");
            List<String> lines = parquetIn ? List.of() : jsonlLines(input, column);     // bad lines are found before Spark starts
            Frames.Completion how = new Frames.Completion(model, maxTokens, temperature, seed, List.copyOf(stop), threads);
            long t0 = System.nanoTime();
            long rows;
            SparkSession spark = session("lamina generate", master);
            try {
                JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
                int slices = partitions != null ? partitions : sc.defaultParallelism();
                if (parquetIn) {
                    org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> in = Frames.read(spark, input);
                    Frames.stringColumn(in, column, input);
                    org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> done = Frames.complete(in, column, how, slices);
                    rows = parquetOut ? Frames.writeParquet(done, out) : Frames.writeJsonl(done, out);
                } else {
                    int n = Math.max(1, Math.min(lines.size(), slices));
                    List<Object[]> indexed = new ArrayList<>();
                    for (int i = 0; i < lines.size(); i++) indexed.add(new Object[]{(long) i, lines.get(i)});
                    String field = column;
                    List<String> done = sc.parallelize(indexed, n).mapPartitions(it -> {
                        dev.lamina.infer.Generator g = how.generator();
                        List<String> outLines = new ArrayList<>();
                        while (it.hasNext()) {
                            Object[] row = it.next();
                            var o = (tools.jackson.databind.node.ObjectNode) dev.lamina.io.Json.MAPPER.readTree((String) row[1]);
                            outLines.add(dev.lamina.io.Json.compact(o.put("completion", how.complete(g, o.get(field).asString(), (Long) row[0]))));
                        }
                        return outLines.iterator();
                    }).collect();
                    if (parquetOut) rows = Frames.writeParquet(spark.read().json(spark.createDataset(done, org.apache.spark.sql.Encoders.STRING())), out);
                    else {
                        dev.lamina.io.AtomicFiles.writeString(out, String.join("\n", done) + "\n");
                        rows = done.size();
                    }
                }
            } finally {
                spark.stop();
            }
            System.err.printf("lamina: spark generate: %d completions in %.1f s; wrote %s%n", rows, (System.nanoTime() - t0) / 1e9, out);
            return 0;
        }

        /** The non-blank lines of a JSONL file, each checked to be an object with a string field column. */
        private static List<String> jsonlLines(java.nio.file.Path input, String column) {
            List<String> lines;
            try {
                lines = java.nio.file.Files.readAllLines(input).stream().filter(l -> !l.isBlank()).toList();
            } catch (IOException | java.io.UncheckedIOException e) {
                throw new LaminaException(input + ": cannot read (" + e.getMessage() + ")");
            }
            for (int i = 0; i < lines.size(); i++) {
                tools.jackson.databind.JsonNode o;
                try {
                    o = dev.lamina.io.Json.MAPPER.readTree(lines.get(i));
                } catch (RuntimeException e) {
                    throw new LaminaException(input.getFileName() + ":" + (i + 1) + ": not JSON");
                }
                if (!o.path(column).isString()) throw new LaminaException(input.getFileName() + ":" + (i + 1) + ": no string field '" + column + "' (--column)");
            }
            return lines;
        }
    }

    /** The documents of a JSONL file: each line's column (a line without it, or not JSON, is an error naming it). */
    static dev.lamina.data.Corpus.Source jsonl(java.nio.file.Path file, String column) {
        List<String> docs = new ArrayList<>();
        long bytes = 0;
        try (var lines = java.nio.file.Files.lines(file)) {
            int n = 0;
            for (String line : (Iterable<String>) lines::iterator) {
                n++;
                if (line.isBlank()) continue;
                tools.jackson.databind.JsonNode o;
                try {
                    o = dev.lamina.io.Json.MAPPER.readTree(line);
                } catch (RuntimeException e) {
                    throw new LaminaException(file.getFileName() + ":" + n + ": not JSON");
                }
                if (!o.path(column).isString()) throw new LaminaException(file.getFileName() + ":" + n + ": no string field '" + column + "' (--column)");
                String d = o.get(column).asString();
                if (d.isBlank()) continue;
                docs.add(d);
                bytes += d.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new LaminaException(file + ": cannot read (" + e.getMessage() + ")");
        }
        if (docs.isEmpty()) throw new LaminaException(file + ": no documents in column '" + column + "'");
        return new dev.lamina.data.Corpus.Source(file.toString(), docs, bytes);
    }

    /**
     * A Spark configuration for master. A local-cluster master (executor JVMs on this machine, started
     * through $SPARK_HOME, which bin/lamina provides) gives the executors this JVM's class path.
     */
    /**
     * Fails at once, in one line, when a spark:// or k8s:// master answers on none of its addresses
     * (Spark itself would retry for a minute and then report a stopped context).
     */
    static void reachable(String master) {
        List<String> hosts = new ArrayList<>();
        if (master.startsWith("spark://")) hosts.addAll(Arrays.asList(master.substring(8).split(",")));
        else if (master.startsWith("k8s://")) {
            java.net.URI u = java.net.URI.create(master.substring(6).contains("://") ? master.substring(6) : "https://" + master.substring(6));
            hosts.add(u.getHost() + ":" + (u.getPort() > 0 ? u.getPort() : u.getScheme().equals("http") ? 80 : 443));
        } else return;
        String why = "";
        for (String h : hosts) {
            int colon = h.lastIndexOf(':');
            if (colon < 0) throw new LaminaException("--master " + master + ": " + h + " has no port (HOST:PORT)");
            try (java.net.Socket s = new java.net.Socket()) {
                s.connect(new java.net.InetSocketAddress(h.substring(0, colon), Integer.parseInt(h.substring(colon + 1))), 10_000);
                return;
            } catch (IOException | IllegalArgumentException e) {
                why = h + " (" + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()) + ")";
            }
        }
        throw new LaminaException("--master " + master + ": cannot connect to " + why + "; is the master running and reachable from here?");
    }

    /** The value of option name in args (--name V or --name=V), or null. */
    static String value(List<String> args, String name) {
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).equals(name) && i + 1 < args.size()) return args.get(i + 1);
            if (args.get(i).startsWith(name + "=")) return args.get(i).substring(name.length() + 1);
        }
        return null;
    }

    /** The innermost cause's message, first line: Spark wraps what went wrong several levels deep. */
    static String firstLine(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        String m = t.getMessage() == null ? t.toString() : t.getMessage();
        return m.lines().findFirst().orElse(m);
    }

    /** A Spark session for master ({@link #conf}), Spark's own log quiet below errors. */
    static SparkSession session(String app, String master) {
        SparkSession spark = SparkSession.builder().config(conf(app, master)).getOrCreate();
        spark.sparkContext().setLogLevel("ERROR");
        return spark;
    }

    static SparkConf conf(String app, String master) {
        reachable(master);
        SparkConf conf = new SparkConf().setAppName(app).setMaster(master).set("spark.ui.enabled", "false");
        if (master.startsWith("local-cluster")) {
            String home = System.getenv("SPARK_HOME");
            if (home == null) throw new LaminaException("--master " + master + " starts executor JVMs through a Spark home: set SPARK_HOME");
            try {                                       // what Spark's launcher looks for in a Spark home
                java.nio.file.Files.createDirectories(java.nio.file.Path.of(home, "jars"));
                java.nio.file.Files.createDirectories(java.nio.file.Path.of(home, "launcher", "target", "scala-2.13"));
            } catch (IOException e) {
                throw new LaminaException("SPARK_HOME " + home + ": cannot prepare it (" + e.getMessage() + ")");
            }
            conf.set("spark.executor.extraClassPath", System.getProperty("java.class.path"))
                    .set("spark.executor.extraJavaOptions", "--enable-native-access=ALL-UNNAMED -Djava.awt.headless=true");
        }
        return conf;
    }

    /**
     * The run's arguments, or, when its --out directory already holds a checkpoint (a stage Spark
     * retries after a task died, or the same command again with more --steps), the same run resumed
     * from that checkpoint: nothing trained is lost, with any worker count.
     */
    static List<String> resumable(List<String> args) {
        String outArg = value(args, "--out");
        java.nio.file.Path out = outArg == null ? null : java.nio.file.Path.of(outArg);
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
