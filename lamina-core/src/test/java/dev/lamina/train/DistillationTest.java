package dev.lamina.train;

import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.Presets;
import dev.lamina.tokenizer.BpeTrainer;
import dev.lamina.tokenizer.ByteTokenizer;
import dev.lamina.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Training against a teacher: the student's loss moves toward the teacher's distribution, a resumed
 * distillation is bitwise the uninterrupted one, α = 0 is plain training, and a teacher with another
 * tokenizer or vocabulary, α outside [0, 1] or τ ≤ 0 are refused.
 */
class DistillationTest {
    @TempDir static Path dataDir;
    private static dev.lamina.data.Dataset data;

    /** TrainerTest's repetitive byte-level text, as token files of this class's own. */
    static synchronized dev.lamina.data.Dataset data() {
        if (data != null) return data;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 300; i++) sb.append("the cat sat on the mat. the dog ate the bone ").append(i % 7).append(". ");
        int[] all = ByteTokenizer.INSTANCE.encode(sb.toString());
        int split = all.length * 9 / 10;
        dev.lamina.data.TokenFile.write(dataDir.resolve("train.bin"), java.util.Arrays.copyOf(all, split), 257);
        dev.lamina.data.TokenFile.write(dataDir.resolve("val.bin"), java.util.Arrays.copyOfRange(all, split, all.length), 257);
        data = new dev.lamina.data.Dataset(dataDir, dev.lamina.data.TokenFile.open(dataDir.resolve("train.bin")),
                dev.lamina.data.TokenFile.open(dataDir.resolve("val.bin")), ByteTokenizer.INSTANCE);
        return data;
    }

    private static Decoder teacher() {
        Decoder t = Decoder.create(Presets.get("tiny").config().apply(257), 9);
        Trainer.start(t, data(), "test", TrainerTest.config(30), tempRun()).train(30, null);   // a teacher that has learnt something
        return t;
    }

    private static Path tempRun() {
        try {
            return java.nio.file.Files.createTempDirectory("teacher");
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Distillation of(Decoder teacher, double alpha, double tau) {
        return Distillation.of(teacher, ByteTokenizer.INSTANCE, ByteTokenizer.INSTANCE, 257, alpha, tau);
    }

    @Test
    void resumedDistillationIsBitwiseTheUninterruptedOneAndAlphaZeroIsPlainTraining(@TempDir Path a, @TempDir Path b, @TempDir Path c,
                                                                                   @TempDir Path d) {
        Decoder teacher = teacher();
        Trainer straight = Trainer.start(Decoder.create(Presets.get("tiny").config().apply(257), 5), data(), "test", TrainerTest.config(9), a)
                .distilling(of(teacher, 0.6, 2.0));
        List<Float> expected = straight.train(9, null);

        Trainer first = Trainer.start(Decoder.create(Presets.get("tiny").config().apply(257), 5), data(), "test", TrainerTest.config(9), b)
                .distilling(of(teacher, 0.6, 2.0));
        List<Float> got = new ArrayList<>(first.train(6, null));
        got.addAll(Trainer.resume(b, data(), "test", 0).distilling(of(teacher, 0.6, 2.0)).train(9, null));
        assertThat(got).isEqualTo(expected);

        List<Float> plain = Trainer.start(Decoder.create(Presets.get("tiny").config().apply(257), 5), data(), "test", TrainerTest.config(4), c)
                .train(4, null);
        List<Float> alphaZero = Trainer.start(Decoder.create(Presets.get("tiny").config().apply(257), 5), data(), "test", TrainerTest.config(4), d)
                .distilling(of(teacher, 0.0, 3.0)).train(4, null);
        assertThat(alphaZero).isEqualTo(plain);
    }

    @Test
    void theStudentMovesTowardTheTeacher(@TempDir Path a, @TempDir Path b) {
        Decoder teacher = teacher();
        // the KL to the teacher after a few steps, with the teacher's term and without it
        Trainer kd = Trainer.start(Decoder.create(Presets.get("tiny").config().apply(257), 5), data(), "test", TrainerTest.config(12), a)
                .distilling(of(teacher, 1.0, 1.0));
        List<Float> kl = kd.train(12, null);                              // α = 1, τ = 1: the loss is the KL itself
        assertThat(kl.getLast()).isLessThan(kl.getFirst() * 0.7f);
    }

    @Test
    void badTeachersAndWeightsAreRefused(@TempDir Path dir) throws Exception {
        Decoder teacher = Decoder.create(Presets.get("tiny").config().apply(257), 9);
        assertThatThrownBy(() -> of(teacher, 1.5, 2)).isInstanceOf(LaminaException.class).hasMessageContaining("alpha must be in [0, 1]");
        assertThatThrownBy(() -> of(teacher, -0.1, 2)).hasMessageContaining("alpha");
        assertThatThrownBy(() -> of(teacher, 0.5, 0)).hasMessageContaining("temperature must be > 0");
        assertThatThrownBy(() -> Distillation.of(teacher, ByteTokenizer.INSTANCE, ByteTokenizer.INSTANCE, 300, 0.5, 2))
                .hasMessageContaining("the teacher has 257 logits a position and the student 300");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 200; i++) text.append("the cat sat on the mat ").append(i % 5).append(' ');
        Path corpus = dir.resolve("c.txt");
        java.nio.file.Files.writeString(corpus, text);
        Tokenizer bpe = BpeTrainer.train(List.of(corpus), 300, 1, List.of(), (phase, done, total) -> { }).tokenizer();
        assertThatThrownBy(() -> Distillation.of(teacher, ByteTokenizer.INSTANCE, bpe, 257, 0.5, 2))
                .hasMessageContaining("the teacher's tokenizer is not the student's");
    }
}
