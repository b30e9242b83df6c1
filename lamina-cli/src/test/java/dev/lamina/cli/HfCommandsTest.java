package dev.lamina.cli;

import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.tokenizer.ByteTokenizer;
import dev.lamina.train.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** `lamina import hf` and `lamina export hf`, on the Hugging Face fixtures of lamina-core. */
class HfCommandsTest extends CliTest {
    static final Path FIXTURES = Path.of("..", "lamina-core", "src", "test", "resources", "hf", "models");

    @TempDir Path dir;

    @Test
    void importThenExportThenGenerate() {
        Path run = dir.resolve("run"), hf = dir.resolve("hf");
        assertThat(Main.run("import", "hf", FIXTURES.resolve("gpt2").toString(), "--out", run.toString())).as(err()).isZero();
        assertThat(out()).contains("imported gpt2: 2 layers, hidden 32, 4 heads (4 kv), vocab 300");
        assertThat(run.resolve("model.safetensors")).exists();
        assertThat(run.resolve("tokenizer/tokenizer.json")).exists();

        assertThat(Main.run("export", "hf", run.toString(), "--out", hf.toString(), "--dtype", "bf16")).as(err()).isZero();
        assertThat(out()).contains("as GPT2LMHeadModel (bfloat16)");
        assertThat(hf.resolve("config.json")).exists();
        assertThat(hf.resolve("tokenizer.json")).exists();

        assertThat(Main.run("generate", "--model", hf.toString(), "--prompt", "The", "--max-tokens", "3", "--temperature", "0"))
                .as(err()).isZero();
    }

    @Test
    void fineTuneAHuggingFaceModelAndExportIt() throws Exception {
        Path fixture = FIXTURES.resolve("gpt2"), corpus = dir.resolve("c.txt"), data = dir.resolve("data"), run = dir.resolve("ft");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 200; i++) text.append("The jury said the election was conducted well, number ").append(i).append(".\n\n");
        Files.writeString(corpus, text);
        assertThat(Main.run("prepare", "--corpus", corpus.toString(), "--tokenizer", fixture.toString(), "--out", data.toString()))
                .as(err()).isZero();
        float[] before = Checkpoint.loadModel(fixture).params().data().clone();
        assertThat(Main.run("train", "--init", fixture.toString(), "--data", data.toString(), "--out", run.toString(),
                "--steps", "3", "--batch", "2", "--seq", "16", "--eval-every", "3", "--eval-batches", "1", "--threads", "1"))
                .as(err()).isZero();
        assertThat(err()).contains("weights of " + fixture);
        Decoder tuned = Checkpoint.loadModel(run);
        assertThat(tuned.config()).isEqualTo(Checkpoint.loadModel(fixture).config());
        assertThat(tuned.params().data()).isNotEqualTo(before);
        assertThat(Main.run("export", "hf", run.toString(), "--out", dir.resolve("hf").toString())).as(err()).isZero();
        assertThat(dir.resolve("hf/tokenizer.json")).exists();
    }

    @Test
    void importWithoutTokenizerNotesIt() {
        Path run = dir.resolve("run");
        assertThat(Main.run("import", "hf", FIXTURES.resolve("llama-sharded").toString(), "--out", run.toString())).as(err()).isZero();
        assertThat(out()).contains("imported llama: 3 layers");
        assertThat(err()).contains("note: no tokenizer imported").contains("no tokenizer.json");
    }

    @Test
    void exportRefusesAPostLnRun() {
        ModelConfig post = ModelConfig.builder().vocabSize(257).hiddenSize(16).numHiddenLayers(2).numAttentionHeads(2)
                .intermediateSize(32).maxPositionEmbeddings(16).normPlacement(ModelConfig.Placement.POST).build();
        Path run = dir.resolve("post");
        Checkpoint.saveModel(run, Decoder.create(post, 1), 0);
        ByteTokenizer.INSTANCE.save(run.resolve(Checkpoint.TOKENIZER));
        Path hf = dir.resolve("hf");
        assertThat(Main.run("export", "hf", run.toString(), "--out", hf.toString())).isEqualTo(1);
        assertThat(err()).contains("lamina: error: cannot export to Hugging Face: the model is Post-LN");
        assertThat(err().strip().lines()).hasSize(1);
        assertThat(hf).doesNotExist();
    }

    @Test
    void badInputExitsOneAndWritesNothing() {
        Path run = dir.resolve("run");
        assertThat(Main.run("import", "hf", dir.toString(), "--out", run.toString())).isEqualTo(1);
        assertThat(err()).contains("not a Hugging Face model directory");
        assertThat(run).doesNotExist();
        assertThat(Main.run("export", "hf", FIXTURES.resolve("llama").toString(), "--out", run.toString(), "--dtype", "f8"))
                .isEqualTo(1);
        assertThat(err()).contains("--dtype must be f32, f16 or bf16");
        assertThat(run).doesNotExist();
        assertThat(Main.run("import")).isEqualTo(2);
        assertThat(Main.run("import", "hf", FIXTURES.resolve("llama").toString())).isEqualTo(2);   // --out is required
    }

    @Test
    void generateNeedsATokenizer() throws Exception {
        assertThat(Main.run("generate", "--model", FIXTURES.resolve("mistral").toString(), "--prompt", "Hi")).isEqualTo(1);
        assertThat(err()).contains("no tokenizer.json");
        assertThat(Files.exists(FIXTURES.resolve("mistral/tokenizer.json"))).isFalse();
    }
}
