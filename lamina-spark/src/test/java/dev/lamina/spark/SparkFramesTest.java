package dev.lamina.spark;

import dev.lamina.cli.Main;
import dev.lamina.infer.Sampler;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Parquet and DataFrames: spark prepare reads a Parquet column, spark generate reads and writes Parquet, Frames.complete on a DataFrame. */
class SparkFramesTest {
    static final StructType DOCS = new StructType().add("id", DataTypes.IntegerType).add("body", DataTypes.StringType);

    /** Rows (id, body) written by Spark as one Parquet file at file. */
    static void writeParquet(SparkSession spark, List<Row> rows, StructType schema, Path file) throws Exception {
        Path tmp = file.resolveSibling(file.getFileName() + ".d");
        spark.createDataFrame(rows, schema).coalesce(1).write().parquet(tmp.toString());
        try (Stream<Path> s = Files.list(tmp)) {
            Path part = s.filter(p -> p.getFileName().toString().endsWith(".parquet")).findFirst().orElseThrow();
            Files.move(part, file);
        }
    }

    static List<Row> readBack(SparkSession spark, Path parquet) { return Frames.read(spark, parquet).collectAsList(); }

    @Test
    void parquetInAndOut(@TempDir Path dir) throws Exception {
        List<String> docs = new ArrayList<>();
        for (int i = 0; i < 240; i++) docs.add("Document " + i + ": the quick brown fox jumps " + (i % 13) + " times.");
        Files.writeString(dir.resolve("corpus.txt"), String.join("\n\n", docs) + "\n");
        // a Parquet directory of two files (the second named first by Spark's packing would put it first: the bigger)
        Path pq = dir.resolve("docs.parquet");
        Files.createDirectories(pq);
        SparkSession spark = SparkCommand.session("test", "local[2]");
        try {
            List<Row> a = new ArrayList<>(), b = new ArrayList<>();
            for (int i = 0; i < docs.size(); i++) (i < 40 ? a : b).add(RowFactory.create(i, docs.get(i)));
            writeParquet(spark, a, DOCS, pq.resolve("part-0.parquet"));
            writeParquet(spark, b, DOCS, pq.resolve("part-1.parquet"));
        } finally {
            spark.stop();
        }
        Path text = dir.resolve("text"), frame = dir.resolve("frame");
        assertThat(Main.run("prepare", "--corpus", dir.resolve("corpus.txt").toString(), "--tokenizer", "bytes", "--out", text.toString(), "--seed", "4")).isZero();
        assertThat(Main.run("spark", "prepare", "--master", "local[2]", "--corpus", pq.toString(), "--column", "body", "--tokenizer", "bytes",
                "--out", frame.toString(), "--seed", "4")).isZero();
        for (String f : new String[]{"train.bin", "val.bin"}) assertThat(Files.readAllBytes(frame.resolve(f))).as(f).isEqualTo(Files.readAllBytes(text.resolve(f)));
        // bad columns: named, with the columns there are; nothing written
        assertThat(Main.run("spark", "prepare", "--master", "local[1]", "--corpus", pq.toString(), "--column", "id", "--tokenizer", "bytes",
                "--out", dir.resolve("x").toString())).isEqualTo(1);
        assertThat(dir.resolve("x")).doesNotExist();

        // a model to generate with: the tiny preset, two steps on the same data
        Path model = dir.resolve("model");
        assertThat(Main.run("train", "--preset", "tiny", "--data", text.toString(), "--steps", "2", "--batch", "2", "--seq", "32", "--threads", "1",
                "--out", model.toString())).isZero();
        dev.lamina.Lamina.Model m = dev.lamina.Lamina.load(model);
        List<Row> prompts = new ArrayList<>();
        for (int i = 0; i < 9; i++) prompts.add(RowFactory.create(i, i == 4 ? null : "the fox " + i));
        Path in = dir.resolve("prompts.parquet"), out = dir.resolve("out.parquet"), outJsonl = dir.resolve("out.jsonl");
        spark = SparkCommand.session("test", "local[2]");
        try {
            writeParquet(spark, prompts, new StructType().add("id", DataTypes.IntegerType).add("prompt", DataTypes.StringType), in);
        } finally {
            spark.stop();
        }
        assertThat(Main.run("spark", "generate", "--master", "local[2]", "--partitions", "3", "--model", model.toString(), "--input", in.toString(),
                "--out", out.toString(), "--max-tokens", "5")).isZero();
        assertThat(Main.run("spark", "generate", "--master", "local[2]", "--partitions", "2", "--model", model.toString(), "--input", in.toString(),
                "--out", outJsonl.toString(), "--max-tokens", "5")).isZero();
        spark = SparkCommand.session("test", "local[2]");
        try {
            List<Row> got = readBack(spark, out);
            assertThat(got).hasSize(9);
            List<String> lines = Files.readAllLines(outJsonl);
            assertThat(lines).hasSize(9);
            for (int i = 0; i < 9; i++) {
                Row r = got.get(i);
                assertThat(r.getInt(0)).isEqualTo(i);
                String expected = i == 4 ? null : m.generate("the fox " + i, 5, Sampler.greedy(), null);
                assertThat(r.isNullAt(2) ? null : r.getString(2)).as("row %d", i).isEqualTo(expected);
                var o = dev.lamina.io.Json.MAPPER.readTree(lines.get(i));
                assertThat(o.get("id").asInt()).isEqualTo(i);
                assertThat(o.path("completion").isString() ? o.get("completion").asString() : null).isEqualTo(expected);
            }
            // from Java, on any DataFrame: the same completions
            Dataset<Row> df = spark.createDataset(List.of("the fox 1", "the fox 7"), Encoders.STRING()).toDF("q");
            List<Row> done = Frames.complete(df, "q", new Frames.Completion(model.toString(), 5, 0, 0, List.of(), 1), 2).collectAsList();
            assertThat(done.get(1).getString(1)).isEqualTo(m.generate("the fox 7", 5, Sampler.greedy(), null));
        } finally {
            spark.stop();
        }
        // a JSONL input written as Parquet
        Files.writeString(dir.resolve("p.jsonl"), "{\"prompt\": \"the fox 3\", \"n\": 1}\n{\"prompt\": \"the fox 5\", \"n\": 2}\n");
        assertThat(Main.run("spark", "generate", "--master", "local[1]", "--model", model.toString(), "--input", dir.resolve("p.jsonl").toString(),
                "--out", dir.resolve("p.parquet").toString(), "--max-tokens", "5")).isZero();
        spark = SparkCommand.session("test", "local[1]");
        try {
            List<Row> got = readBack(spark, dir.resolve("p.parquet"));
            assertThat(got).hasSize(2);
            assertThat(got.get(1).<String>getAs("completion")).isEqualTo(m.generate("the fox 5", 5, Sampler.greedy(), null));
            assertThat(got.get(1).<Long>getAs("n")).isEqualTo(2L);
        } finally {
            spark.stop();
        }
        // bad input: not Parquet, a missing column, an --out Lamina cannot name the format of; nothing written
        Files.writeString(dir.resolve("junk.parquet"), "not parquet at all");
        assertThat(Main.run("spark", "generate", "--master", "local[1]", "--model", model.toString(), "--input", dir.resolve("junk.parquet").toString(),
                "--out", dir.resolve("j.parquet").toString())).isEqualTo(1);
        assertThat(Main.run("spark", "generate", "--master", "local[1]", "--model", model.toString(), "--input", in.toString(), "--column", "text",
                "--out", dir.resolve("j.parquet").toString())).isEqualTo(1);
        assertThat(Main.run("spark", "generate", "--model", model.toString(), "--input", in.toString(), "--out", dir.resolve("j.csv").toString())).isEqualTo(1);
        assertThat(dir.resolve("j.parquet")).doesNotExist();
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.contains(".tmp-")).toList()).isEmpty();
        }
    }
}
