package dev.lamina.cli;

import dev.lamina.model.Decoder;
import dev.lamina.model.Presets;
import dev.lamina.tokenizer.ByteTokenizer;
import dev.lamina.train.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class FinetuneCommandTest {

    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        System.setErr(new PrintStream(err, true));
        try {
            int code = Main.run(args);
            return new Result(code, out.toString(), err.toString());
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    static Path tinyRun(Path dir) {
        Decoder d = Decoder.create(Presets.get("tiny").config().apply(ByteTokenizer.INSTANCE.vocabSize()), 7);
        Path run = dir.resolve("base");
        Checkpoint.saveModel(run, d, 0);
        ByteTokenizer.INSTANCE.save(run.resolve(Checkpoint.TOKENIZER));
        return run;
    }

    @Test
    void loraFinetuneMergeAndGenerateWithTheAdapter(@TempDir Path dir) throws Exception {
        Path base = tinyRun(dir), data = dir.resolve("d.jsonl");
        Files.writeString(data, "{\"prompt\": \"2+2=\", \"completion\": \"4\"}\n"
                + "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}\n");
        Result r = run("finetune", "--model", base.toString(), "--data", data.toString(), "--eval-data", data.toString(),
                "--out", dir.resolve("ad").toString(), "--steps", "5", "--batch", "2", "--lr", "1e-2", "--threads", "2");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("trainable parameters:").contains("eval loss").contains("final loss");
        for (String f : new String[] {"adapter_config.json", "adapter_model.safetensors", "metrics.jsonl", "finetune.json"})
            assertThat(dir.resolve("ad").resolve(f)).isNotEmptyFile();
        assertThat(Files.readAllLines(dir.resolve("ad/metrics.jsonl"))).hasSize(5);

        r = run("merge", "--model", base.toString(), "--adapter", dir.resolve("ad").toString(), "--out", dir.resolve("merged").toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("into 28 linear maps");    // tiny: 4 layers x q,k,v,o,gate,up,down

        Result withAdapter = run("generate", "--model", base.toString(), "--adapter", dir.resolve("ad").toString(), "--prompt", "2+2=",
                "--temperature", "0", "--max-tokens", "8");
        Result merged = run("generate", "--model", dir.resolve("merged").toString(), "--prompt", "2+2=", "--temperature", "0", "--max-tokens", "8");
        Result plain = run("generate", "--model", base.toString(), "--prompt", "2+2=", "--temperature", "0", "--max-tokens", "8");
        assertThat(withAdapter.code()).isZero();
        assertThat(withAdapter.out()).isEqualTo(merged.out());
        assertThat(withAdapter.out()).isNotEqualTo(plain.out());     // the adapter changed something

        Path text = Files.writeString(dir.resolve("t.txt"), "2+2=4 and hi, hello.");
        Result evalAdapter = run("eval", "--model", base.toString(), "--adapter", dir.resolve("ad").toString(), "--text", text.toString());
        Result evalMerged = run("eval", "--model", dir.resolve("merged").toString(), "--text", text.toString());
        Result evalPlain = run("eval", "--model", base.toString(), "--text", text.toString());
        assertThat(evalAdapter.code()).as(evalAdapter.err()).isZero();
        assertThat(perplexity(evalAdapter)).isEqualTo(perplexity(evalMerged));     // both fold W + s·B·A the same way
        assertThat(perplexity(evalAdapter)).isNotCloseTo(perplexity(evalPlain), org.assertj.core.data.Percentage.withPercentage(1e-2));
    }

    @Test
    void qatWithLsqTrainsOnTheGridAndExportsItsLearnedScalesToGguf(@TempDir Path dir) throws Exception {
        Decoder d = Decoder.create(Presets.get("tiny").config().apply(ByteTokenizer.INSTANCE.vocabSize()).toBuilder().intermediateSize(192).build(), 7);
        Path base = dir.resolve("base"), data = dir.resolve("d.jsonl"), out = dir.resolve("qat");
        Checkpoint.saveModel(base, d, 0);
        ByteTokenizer.INSTANCE.save(base.resolve(Checkpoint.TOKENIZER));
        Files.writeString(data, "{\"text\": \"the cat sat on the mat\"}\n{\"prompt\": \"2+2=\", \"completion\": \"4\"}\n");
        Result r = run("finetune", "--model", base.toString(), "--data", data.toString(), "--method", "qat", "--bits", "4", "--group", "32",
                "--lsq", "--out", out.toString(), "--steps", "4", "--batch", "2", "--lr", "1e-3", "--threads", "2");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("quantization-aware 4-bit g32 LSQ");
        assertThat(r.out()).contains("quantized model with its learned scales: " + out.resolve("model-q4_0.gguf"));
        for (String f : new String[] {"model.safetensors", "qat.safetensors", "optimizer.safetensors", "model-q4_0.gguf", "finetune.json"})
            assertThat(out.resolve(f)).isNotEmptyFile();
        assertThat(Files.readString(out.resolve("finetune.json"))).contains("\"bits\" : 4").contains("\"lsq\" : true");
        // the run's model holds the weights on their grid; the GGUF file holds the same numbers in Q4_0 blocks
        Decoder trained = Checkpoint.loadModel(out), gguf = dev.lamina.gguf.GgufModel.load(out.resolve("model-q4_0.gguf")).decoder();
        var key = dev.lamina.model.ParamKey.of(dev.lamina.model.Role.DOWN, 3);
        assertThat(gguf.params().value(key).toArray()).isEqualTo(trained.params().value(key).toArray());
        assertThat(trained.params().value(key).toArray()).isNotEqualTo(d.params().value(key).toArray());
        assertThat(perplexity(run("eval", "--model", out.resolve("model-q4_0.gguf").toString(), "--text", data.toString())))
                .isCloseTo(perplexity(run("eval", "--model", out.toString(), "--text", data.toString())), org.assertj.core.data.Percentage.withPercentage(2));

        // bad settings, and a model that is already quantized, are one-line errors
        for (String[] bad : new String[][] {{"--bits", "5"}, {"--group", "48"}, {"--group", "rows"}}) {
            String[] args = {"finetune", "--model", base.toString(), "--data", data.toString(), "--method", "qat", "--out", dir.resolve("x").toString(),
                    "--steps", "1", bad[0], bad[1]};
            Result e = run(args);
            assertThat(e.code()).isNotZero();
            assertThat(e.err().strip()).doesNotContain("\n").contains(bad[0]).doesNotContain("Exception");
        }
        Result q = run("finetune", "--model", out.resolve("model-q4_0.gguf").toString(), "--data", data.toString(), "--method", "qat",
                "--out", dir.resolve("y").toString(), "--steps", "1");
        assertThat(q.code()).isNotZero();
        assertThat(q.err()).contains("is already quantized").contains("quantization-aware training starts from float weights");
        assertThat(dir.resolve("y")).doesNotExist();
    }

    @Test
    void generateWithAJsonSchemaPrintsValidJsonFromAnUntrainedModel(@TempDir Path dir) throws Exception {
        Path base = tinyRun(dir), schema = dir.resolve("s.json");
        Files.writeString(schema, "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"maxLength\":8},"
                + "\"days\":{\"type\":\"integer\"}},\"required\":[\"city\",\"days\"]}");
        for (String seed : new String[] {"1", "2", "3"}) {
            Result r = run("generate", "--model", base.toString(), "--prompt", "Forecast:", "--json-schema", schema.toString(),
                    "--max-tokens", "40", "--temperature", "1", "--seed", seed);
            assertThat(r.code()).as(r.err()).isZero();
            var j = dev.lamina.io.Json.MAPPER.readTree(r.out().strip().substring("Forecast:".length()));
            assertThat(j.get("city").asString().codePoints().count()).isLessThanOrEqualTo(8);
            assertThat(j.get("days").isIntegralNumber()).isTrue();
        }
        Result any = run("generate", "--model", base.toString(), "--prompt", "{", "--json", "--max-tokens", "30", "--temperature", "1");
        assertThat(dev.lamina.io.Json.MAPPER.readTree(any.out().strip().substring(1)).isObject()).isTrue();
        Result tight = run("generate", "--model", base.toString(), "--prompt", "x", "--json-schema", schema.toString(), "--max-tokens", "5");
        assertThat(tight.code()).isNotZero();
        assertThat(tight.err()).contains("cannot hold the shortest valid output");
        Files.writeString(schema, "{\"type\":\"string\",\"format\":\"email\"}");
        Result bad = run("generate", "--model", base.toString(), "--prompt", "x", "--json-schema", schema.toString());
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err().strip()).contains("unsupported schema keyword 'format'").doesNotContain("\n");
    }

    private static double perplexity(Result r) {
        assertThat(r.code()).as(r.err()).isZero();
        return Double.parseDouble(r.out().lines().filter(l -> l.startsWith("perplexity=")).findFirst().orElseThrow().substring(11));
    }

    @Test
    void theOutDirectoryIsARunWithItsBestCheckpointAndRefusesToBeOverwritten(@TempDir Path dir) throws Exception {
        Path base = tinyRun(dir), data = dir.resolve("d.jsonl"), out = dir.resolve("run");
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 10; i++) lines.append("{\"prompt\": \"").append(i).append("+1=\", \"completion\": \"").append(i + 1).append("\"}\n");
        Files.writeString(data, lines.toString());
        String[] args = {"finetune", "--model", base.toString(), "--data", data.toString(), "--out", out.toString(), "--steps", "4",
                "--batch", "2", "--lr", "1e-2", "--eval-every", "2", "--eval-fraction", "0.2", "--pack", "--seq", "32", "--threads", "2"};
        Result r = run(args);
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("2 held out").contains("packed into");
        assertThat(r.out()).contains("best eval loss");
        for (String f : new String[] {"adapter_config.json", "adapter_model.safetensors", "optimizer.safetensors", "state.json",
                "metrics.jsonl", "finetune.json", "best/adapter_model.safetensors", "best/best.json"})
            assertThat(out.resolve(f)).isNotEmptyFile();
        assertThat(Files.readString(out.resolve("metrics.jsonl"))).contains("\"eval_loss\"");
        r = run(args);
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo("lamina: error: " + out + " holds a fine-tuning run; add --resume to continue it, or choose a new --out");
        String[] more = java.util.Arrays.copyOf(args, args.length + 1);
        more[args.length] = "--resume";
        String metrics = Files.readString(out.resolve("metrics.jsonl"));
        r = run(more);                                               // nothing left to do: the run is complete
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("resuming from step 4");
        assertThat(Files.readString(out.resolve("metrics.jsonl"))).isEqualTo(metrics);
    }

    @Test
    void qloraFinetunesOverAnNf4BaseAndWritesAnOrdinaryAdapter(@TempDir Path dir) throws Exception {
        Path base = tinyRun(dir), data = dir.resolve("d.jsonl");
        Files.writeString(data, "{\"prompt\": \"2+2=\", \"completion\": \"4\"}\n{\"prompt\": \"3+3=\", \"completion\": \"6\"}\n");
        Result r = run("finetune", "--model", base.toString(), "--data", data.toString(), "--out", dir.resolve("q").toString(),
                "--method", "qlora", "--steps", "4", "--batch", "2", "--lr", "1e-2", "--threads", "2");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("QLoRA (NF4 base) r=8").containsPattern("in NF4: [0-9,]+ weights in [0-9.]+ MB \\(4\\.1[0-9]+ bits a weight\\)");
        assertThat(dir.resolve("q/adapter_model.safetensors")).isNotEmptyFile();
        r = run("generate", "--model", base.toString(), "--adapter", dir.resolve("q").toString(), "--prompt", "2+2=", "--max-tokens", "2");
        assertThat(r.code()).as(r.err()).isZero();
    }

    @Test
    void badInputIsOneLine(@TempDir Path dir) throws Exception {
        Path base = tinyRun(dir), data = dir.resolve("d.jsonl");
        Files.writeString(data, "{\"text\": \"ok\"}\n{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}\n");
        Result r = run("finetune", "--model", base.toString(), "--data", data.toString(), "--out", dir.resolve("o").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).doesNotContain("\n").contains("d.jsonl:2").contains("wizard");
        Files.writeString(data, "{\"text\": \"ok\"}\n");
        r = run("finetune", "--model", base.toString(), "--data", data.toString(), "--out", dir.resolve("o").toString(), "--rank", "0");
        assertThat(r.err().strip()).isEqualTo("lamina: error: --rank must be >= 1, got 0");
        r = run("finetune", "--model", base.toString(), "--data", data.toString(), "--out", dir.resolve("o").toString(), "--targets", "q,lm_head");
        assertThat(r.err()).contains("--targets").contains("lm_head");
        Path q8 = dir.resolve("q8.gguf");
        dev.lamina.gguf.GgufModel.write(Checkpoint.loadModel(base), ByteTokenizer.INSTANCE, q8, dev.lamina.gguf.GgufQuantType.Q8_0);
        r = run("finetune", "--model", q8.toString(), "--data", data.toString(), "--out", dir.resolve("o").toString(), "--method", "qlora");
        assertThat(r.err().strip()).doesNotContain("\n").contains("q8.gguf is already quantized").contains("Q8_0").contains("--method lora");
        r = run("finetune", "--model", base.toString(), "--data", data.toString(), "--out", dir.resolve("o").toString(), "--dropout", "1");
        assertThat(r.err().strip()).doesNotContain("\n").contains("--dropout").contains("[0, 1)");
        r = run("finetune", "--model", base.toString(), "--data", data.toString(), "--out", dir.resolve("o").toString(), "--accum", "0");
        assertThat(r.err().strip()).isEqualTo("lamina: error: --accum must be >= 1, got 0");
    }
}
