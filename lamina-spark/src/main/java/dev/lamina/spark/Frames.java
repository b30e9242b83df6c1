package dev.lamina.spark;

import dev.lamina.data.Corpus;
import dev.lamina.infer.Generator;
import dev.lamina.infer.Sampler;
import dev.lamina.io.LaminaException;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * DataFrames in and out: documents from a Parquet column for `spark prepare`, and batch generation
 * over a DataFrame column ({@link #complete}) for `spark generate` or any Spark job that holds one.
 * Rows keep their order: a Parquet directory is read file by file in name order, and generation
 * numbers the rows, spreads them over the tasks in ranges of that number and returns them in it.
 */
public final class Frames {
    private Frames() {}

    /** Whether path names Parquet: *.parquet, a file or a directory of part files. */
    static boolean isParquet(String path) { return path.endsWith(".parquet") || path.endsWith(".parquet/"); }

    /**
     * The Parquet at path as one DataFrame, its files in name order (a directory's *.parquet parts;
     * Spark's own reader packs a directory's files by size, which loses the order).
     */
    public static Dataset<Row> read(SparkSession spark, Path path) {
        List<Path> files;
        if (Files.isDirectory(path)) {
            try (Stream<Path> s = Files.list(path)) {
                files = s.filter(f -> f.getFileName().toString().endsWith(".parquet")).sorted().toList();
            } catch (IOException e) {
                throw new LaminaException(path + ": cannot list it (" + e.getMessage() + ")");
            }
            if (files.isEmpty()) throw new LaminaException(path + ": a directory with no *.parquet files");
        } else files = List.of(path);
        Dataset<Row> all = null;
        for (Path f : files) {
            checkMagic(f);
            Dataset<Row> df;
            try {
                df = spark.read().parquet(f.toString());
                df.schema();
            } catch (Exception e) {                   // Spark's own, checked though Scala does not say so
                throw new LaminaException(f + ": not a Parquet file Spark can read (" + SparkCommand.firstLine(e) + ")");
            }
            if (all != null && !all.schema().equals(df.schema()))
                throw new LaminaException(f + ": its columns differ from " + files.getFirst().getFileName() + "'s (" + df.schema().simpleString() + ")");
            all = all == null ? df : all.union(df);
        }
        return all;
    }

    /** A Parquet file begins and ends with PAR1: anything else is refused here, before Spark's tasks fail on it with a stack trace. */
    private static void checkMagic(Path f) {
        try (var ch = java.nio.channels.FileChannel.open(f)) {
            java.nio.ByteBuffer head = java.nio.ByteBuffer.allocate(4), tail = java.nio.ByteBuffer.allocate(4);
            long size = ch.size();
            if (size >= 12) {
                ch.read(head, 0);
                ch.read(tail, size - 4);
            }
            byte[] par1 = "PAR1".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            if (size < 12 || !Arrays.equals(head.array(), par1) || !Arrays.equals(tail.array(), par1))
                throw new LaminaException(f + ": not a Parquet file (it does not begin and end with PAR1)");
        } catch (IOException e) {
            throw new LaminaException(f + ": cannot read (" + e.getMessage() + ")");
        }
    }

    /** Checks df has a string column named column; the error names the file and the columns it has. */
    public static void stringColumn(Dataset<Row> df, String column, Object where) {
        StructType schema = df.schema();
        int at = Arrays.asList(schema.fieldNames()).indexOf(column);
        if (at < 0 || !schema.fields()[at].dataType().equals(DataTypes.StringType))
            throw new LaminaException(where + ": no string column '" + column + "' (--column); it has " + schema.simpleString());
    }

    /** The non-blank values of a Parquet column, in row order, as a corpus source. */
    static Corpus.Source documents(SparkSession spark, Path path, String column) {
        Dataset<Row> df = read(spark, path);
        stringColumn(df, column, path);
        List<String> docs = new ArrayList<>();
        long bytes = 0;
        for (String d : df.select(column).as(Encoders.STRING()).collectAsList()) {
            if (d == null || d.isBlank()) continue;
            docs.add(d);
            bytes += d.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        }
        if (docs.isEmpty()) throw new LaminaException(path + ": no documents in column '" + column + "'");
        return new Corpus.Source(path.toString(), docs, bytes);
    }

    /**
     * How to complete a prompt: the model (a path every executor can read), tokens, sampling (row i
     * samples with seed + i, so the result does not depend on how rows fall into tasks) and stop strings.
     */
    public record Completion(String model, int maxTokens, double temperature, long seed, List<String> stops, int threads) implements Serializable {
        public Completion {
            if (maxTokens < 1) throw new LaminaException("max tokens must be >= 1, got " + maxTokens);
            stops = List.copyOf(stops);
        }

        /** A generator over this executor's copy of the model (loaded once per JVM). */
        Generator generator() {
            dev.lamina.Lamina.Model m = Models.get(model, threads);
            return new Generator(m.prepared(), m.tokenizer());
        }

        /** Row i's completion of prompt, ended before the first stop string (generation stops there). */
        String complete(Generator g, String prompt, long i) {
            Sampler sampler = temperature == 0 ? Sampler.greedy() : new Sampler(temperature, 0, 1.0, seed + i);
            return g.generate(prompt, maxTokens, sampler, stops, null).text();
        }
    }

    /**
     * df with a string column "completion" added: each row's completion of its column (a null prompt
     * gets a null completion), over slices tasks, each loading the model once per executor JVM; rows
     * come back in df's order.
     */
    public static Dataset<Row> complete(Dataset<Row> df, String column, Completion how, int slices) {
        stringColumn(df, column, "the input");
        if (Arrays.asList(df.schema().fieldNames()).contains("completion"))
            throw new LaminaException("the input already has a column 'completion'; drop or rename it");
        int at = df.schema().fieldIndex(column);
        // numbered, then range-partitioned by number: every task a run of consecutive rows, the tasks in order
        JavaPairRDD<Long, Row> numbered = df.javaRDD().zipWithIndex().mapToPair(t -> new scala.Tuple2<>(t._2(), t._1()));
        JavaRDD<Row> done = numbered.sortByKey(true, Math.max(1, slices)).mapPartitions(it -> {
            Generator g = null;
            List<Row> out = new ArrayList<>();
            while (it.hasNext()) {
                scala.Tuple2<Long, Row> t = it.next();
                Row r = t._2();
                String prompt = r.isNullAt(at) ? null : r.getString(at);
                if (prompt != null && g == null) g = how.generator();
                Object[] values = new Object[r.length() + 1];
                for (int i = 0; i < r.length(); i++) values[i] = r.get(i);
                values[r.length()] = prompt == null ? null : how.complete(g, prompt, t._1());
                out.add(RowFactory.create(values));
            }
            return out.iterator();
        });
        StructType schema = df.schema().add(new StructField("completion", DataTypes.StringType, true, org.apache.spark.sql.types.Metadata.empty()));
        return df.sparkSession().createDataFrame(done, schema);
    }

    /** Writes df as a Parquet directory at out, whole: into a temporary sibling, then renamed over out. Returns the rows. */
    static long writeParquet(Dataset<Row> df, Path out) {
        Path abs = out.toAbsolutePath(), tmp = abs.resolveSibling("." + abs.getFileName() + ".tmp-" + System.nanoTime());
        try {
            df.cache();
            long rows = df.count();
            df.write().parquet(tmp.toString());
            if (Files.exists(abs)) {
                if (!Files.isDirectory(abs) && !Files.isRegularFile(abs)) throw new LaminaException(out + ": exists and is not a file or directory");
                deleteTree(abs);
            }
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
            return rows;
        } catch (IOException e) {
            throw new LaminaException(out + ": cannot write it (" + e.getMessage() + ")");
        } finally {
            df.unpersist();
            try {
                if (Files.exists(tmp)) deleteTree(tmp);
            } catch (IOException ignored) { /* a temporary directory left behind */ }
        }
    }

    /** Writes df as JSONL at out (one object a row, in order), whole, then renamed. Returns the rows. */
    static long writeJsonl(Dataset<Row> df, Path out) {
        List<String> lines = df.toJSON().collectAsList();
        dev.lamina.io.AtomicFiles.writeString(out, lines.isEmpty() ? "" : String.join("\n", lines) + "\n");
        return lines.size();
    }

    private static void deleteTree(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(f);
        }
    }

    /** One model per JVM (per executor), loaded on first use by any task. */
    static final class Models {
        private static final Map<String, dev.lamina.Lamina.Model> LOADED = new ConcurrentHashMap<>();

        static dev.lamina.Lamina.Model get(String path, int threads) {
            return LOADED.computeIfAbsent(path, p -> dev.lamina.Lamina.load(Path.of(p),
                    dev.lamina.kernels.Kernels.withThreads(dev.lamina.kernels.Kernels.defaults(), threads)));
        }
    }
}
