package dev.lamina.research;

import dev.lamina.autograd.Tape;
import dev.lamina.data.Dataset;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.Role;
import dev.lamina.model.TapeExecutor;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ModelConfig.Placement;
import dev.lamina.model.Parameters;
import dev.lamina.tensor.Rng;
import dev.lamina.train.Checkpoint;
import dev.lamina.train.TrainConfig;
import dev.lamina.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class InherituneTest {

    /** A GPT-2-style config (LayerNorm, learned positions, biases, tied head) of the given placement. */
    static ModelConfig gpt2(int layers, Placement p, double alpha) {
        return ModelConfig.builder().gpt2Style().vocabSize(257).hiddenSize(32).numHiddenLayers(layers).numAttentionHeads(4)
                .intermediateSize(64).maxPositionEmbeddings(64).normPlacement(p).mixAlpha(alpha).build();
    }

    @Test
    void studentKeepsTheLeadingPostLnLayersForEveryDepth() {
        for (int L = 1; L <= 24; L++)
            for (int P = 0; P <= L; P++) {
                ModelConfig ref = ResearchData.tiny().withLayers(L).withPlacement(Placement.MIX, Inheritune.alphaFor(P, L), false);
                assertThat(ref.postLayers()).isEqualTo(P);
                for (int n = 1; n <= L; n++) {
                    ModelConfig s = Inheritune.studentConfig(ref, n);
                    assertThat(s.postLayers()).as("L %d P %d n %d", L, P, n).isEqualTo(Math.min(P, n));
                    Inheritune.checkCompatible(ref, s, "ref");
                }
            }
        // the usual case: alpha 0.25 of 12 layers is 3 Post-LN layers; a 6-layer student keeps 3 (floor(0.25 · 6) would give 1)
        ModelConfig mix = ResearchData.tiny().withLayers(12).withPlacement(Placement.MIX, 0.25, false);
        assertThat(Inheritune.studentConfig(mix, 6).postLayers()).isEqualTo(3);
        assertThat(Inheritune.studentConfig(mix, 6).mixAlpha()).isEqualTo(0.5);
    }

    @Test
    void inheritedLayersComputeBitwiseWhatTheReferencesFirstLayersCompute() {
        for (ModelConfig c : new ModelConfig[] {ResearchData.tiny().withLayers(6),
                ResearchData.tiny().withLayers(6).withPlacement(Placement.MIX, 0.5, false),
                ResearchData.tiny().withLayers(6).withPlacement(Placement.PRE, 0, true),
                gpt2(6, Placement.POST, 1), gpt2(6, Placement.MIX, 0.34)}) {
            Decoder ref = Decoder.create(c, 21);
            Decoder student = Inheritune.inherit(ref, 3, Inheritune.DEFAULT_PARTS, 99);
            assertThat(student.config().numHiddenLayers()).isEqualTo(3);
            int B = 2, T = 16;
            int[] ids = new int[B * T];
            Rng r = new Rng(4);
            for (int i = 0; i < ids.length; i++) ids[i] = (int) r.nextLong(257);
            Map<Integer, float[]> refStates = new HashMap<>(), studentStates = new HashMap<>();
            ref.forward(new TapeExecutor(ref, Tape.inference(), ids, B, T).probes(null, (l, x) -> refStates.put(l, x.toArray()), null));
            student.forward(new TapeExecutor(student, Tape.inference(), ids, B, T).probes(null, (l, x) -> studentStates.put(l, x.toArray()), null));
            for (int l = 0; l <= 3; l++)
                assertThat(studentStates.get(l)).as("%s: hidden state entering layer %d", c.normPlacement(), l).isEqualTo(refStates.get(l));
        }
    }

    @Test
    void partsNotInheritedStartFresh() {
        Decoder ref = Decoder.create(ResearchData.tiny(), 1);
        Decoder s = Inheritune.inherit(ref, 2, EnumSet.of(Role.Part.ATTN), 2);
        assertThat(s.params().value("layers.1.self_attn.q_proj.weight").toArray()).isEqualTo(ref.params().value("layers.1.self_attn.q_proj.weight").toArray());
        assertThat(s.params().value("layers.1.mlp.up_proj.weight").toArray()).isNotEqualTo(ref.params().value("layers.1.mlp.up_proj.weight").toArray());
        assertThat(s.params().value("embed_tokens.weight").toArray()).isNotEqualTo(ref.params().value("embed_tokens.weight").toArray());
    }

    @Test
    void growingAppendsTheReferencesNextLayersAndKeepsTheStudents() {
        ModelConfig c = ResearchData.tiny().withLayers(8).withPlacement(Placement.MIX, 0.25, false);
        Decoder ref = Decoder.create(c, 3);
        Decoder student = Inheritune.inherit(ref, 4, Inheritune.DEFAULT_PARTS, 5);
        for (float[] buf = student.params().data(); ; ) { for (int i = 0; i < buf.length; i++) buf[i] += 0.5f; break; } // "trained"
        Decoder grown = Inheritune.grow(student, ref, 2, Inheritune.DEFAULT_PARTS, 6);
        assertThat(grown.config().numHiddenLayers()).isEqualTo(6);
        assertThat(grown.config().postLayers()).isEqualTo(2);
        for (Parameters.Slot s : grown.params().slots().values()) {
            int l = s.layer();
            float[] got = grown.params().value(s.name()).toArray();
            if (l >= 4) assertThat(got).as(s.name()).isEqualTo(ref.params().value(s.name()).toArray());
            else assertThat(got).as(s.name()).isEqualTo(student.params().value(s.name()).toArray());
        }
        assertThatThrownBy(() -> Inheritune.grow(grown, ref, 3, Inheritune.DEFAULT_PARTS, 1)).isInstanceOf(LaminaException.class)
                .hasMessageContaining("reference has 8");
    }

    @Test
    void aReferenceOfAnotherConfigIsRejected() {
        Decoder ref = Decoder.create(ResearchData.tiny(), 1);
        ModelConfig other = ResearchData.tiny();
        Decoder wide = Decoder.create(ModelConfig.builder().vocabSize(257).hiddenSize(32).numHiddenLayers(2)
                .numAttentionHeads(4).numKeyValueHeads(2).intermediateSize(176).maxPositionEmbeddings(256).norm(other.norm())
                .normEps(other.normEps()).normPlacement(other.normPlacement()).mixAlpha(other.mixAlpha()).position(other
                .position()).ropeTheta(other.ropeTheta()).activation(other.activation()).bias(other.bias())
                .tieWordEmbeddings(other.tieWordEmbeddings()).build(), 1);
        assertThatThrownBy(() -> Inheritune.grow(wide, ref, 1, Inheritune.DEFAULT_PARTS, 1)).isInstanceOf(LaminaException.class)
                .hasMessageContaining("hidden_size 64 vs 32").hasMessageContaining("only the number of layers may differ");
        Decoder post = Decoder.create(ResearchData.tiny().withLayers(2).withPlacement(Placement.POST, 1, false), 1);
        assertThatThrownBy(() -> Inheritune.grow(post, ref, 1, Inheritune.DEFAULT_PARTS, 1)).isInstanceOf(LaminaException.class)
                .hasMessageContaining("layer 0 is Pre-LN in the reference");
        assertThatThrownBy(() -> Inheritune.inherit(ref, 5, Inheritune.DEFAULT_PARTS, 1)).isInstanceOf(LaminaException.class)
                .hasMessageContaining("exceeds the reference's 4 layers");
    }

    @Test
    void runsFromATrainedCheckpointAndWritesTheReport(@TempDir Path dir) throws Exception {
        Dataset data = ResearchData.dataset(dir);
        Path refRun = dir.resolve("ref");
        TrainConfig tc = TrainConfig.builder(8, 2, 32).lr(3e-3).warmup(1).seed(42).evalEvery(4).evalBatches(2).build();
        Trainer.start(Decoder.create(ResearchData.tiny(), 1), data, dir.toString(), tc, refRun).train(8, null);
        Path out = dir.resolve("inh");
        Inheritune.Result r = Inheritune.run(refRun, data, new Inheritune.Settings(0, 1, 3, 2, Inheritune.DEFAULT_PARTS, true), out, null);
        List<Figure> drawn = new ArrayList<>();
        Inheritune.writeReport(r, out, (d, f) -> drawn.add(f));
        assertThat(r.rounds()).isNotEmpty();
        assertThat(r.rounds().getFirst().layers()).isEqualTo(2);
        assertThat(r.refAttention().rank()).hasNumberOfRows(4);
        if (!r.parity()) assertThat(r.rounds()).hasSize(2);
        assertThat(r.baseline().steps()).isEqualTo(3 * r.rounds().size());
        assertThat(r.baseline().layers()).isEqualTo(r.rounds().getLast().layers());
        assertThat(out.resolve("round-1/model.safetensors")).exists();
        assertThat(Files.readString(out.resolve("report.md"))).contains("| reference | 4 |").contains("from scratch").contains("| 3 |");
        assertThat(drawn).extracting(Figure::name).containsExactly("val_loss", "reference_attention_rank");
        assertThat(((Figure.Lines) drawn.getFirst()).series()).hasSize(3); // rounds, scratch baseline, reference
    }

    @Test
    void aReferenceWithoutATrainingRecipeNeedsStepsAndThenTrainsWithDefaults(@TempDir Path dir) throws Exception {
        Dataset data = ResearchData.dataset(dir);
        Path hfLike = dir.resolve("imported");
        Checkpoint.saveModel(hfLike, Decoder.create(ResearchData.tiny(), 3), 0);    // weights and config, no state.json
        assertThatThrownBy(() -> Inheritune.run(hfLike, data, new Inheritune.Settings(0, 1, 0, 1, Inheritune.DEFAULT_PARTS, false),
                dir.resolve("no-steps"), null))
                .isInstanceOf(LaminaException.class).hasMessageContaining("no state.json").extracting(e -> ((LaminaException) e).field()).isEqualTo("steps");
        Inheritune.Result r = Inheritune.run(hfLike, data, new Inheritune.Settings(0, 1, 2, 1, Inheritune.DEFAULT_PARTS, false),
                dir.resolve("inh"), null);
        assertThat(r.rounds()).hasSize(1);
        assertThat(r.rounds().getFirst().steps()).isEqualTo(2);
        assertThat(r.train().batch()).isEqualTo(16);
        assertThat(dir.resolve("inh/round-1/model.safetensors")).exists();
    }
}
