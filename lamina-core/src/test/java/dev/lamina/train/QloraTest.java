package dev.lamina.train;

import dev.lamina.autograd.Tape;
import dev.lamina.infer.PreparedModel;
import dev.lamina.io.LaminaException;
import dev.lamina.kernels.Nf4Weights;
import dev.lamina.model.Decoder;
import dev.lamina.model.Lora;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Presets;
import dev.lamina.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** QLoRA: LoRA over a base whose linear maps are frozen in NF4 and decoded only for each product. */
class QloraTest {
    private static final ByteTokenizer TOK = ByteTokenizer.INSTANCE;

    @Test
    void anNf4BaseComputesWhatTheFloatModelOfItsDequantizedWeightsComputesAndHoldsNoFloatCopy() {
        nf4BaseComputesItsDequantizedModel(Presets.get("tiny").config().apply(TOK.vocabSize()));
    }

    /** The same on Gemma 2 and 3 shapes (o and down pass a norm before the residual add; soft caps; q/k norms, two RoPE tables). */
    @Test
    void anNf4BaseOfGemmaShapesToo() {
        ModelConfig g2 = ModelConfig.builder().vocabSize(TOK.vocabSize()).hiddenSize(32).numHiddenLayers(3).numAttentionHeads(4)
                .numKeyValueHeads(2).headDim(16).intermediateSize(64).maxPositionEmbeddings(48).activation(ModelConfig.Activation.GEGLU)
                .scaleEmbeddings(true).tieWordEmbeddings(true).sandwichNorms(true).slidingWindow(6).slidingWindowPattern(2)
                .queryPreAttnScalar(24.0).attnLogitSoftcapping(2.0).finalLogitSoftcapping(1.5).build();
        nf4BaseComputesItsDequantizedModel(g2);
        nf4BaseComputesItsDequantizedModel(g2.toBuilder().qkNorm(true).attnLogitSoftcapping(null).finalLogitSoftcapping(null)
                .ropeTheta(1e6).ropeLocalBaseFreq(1e4).build());
    }

    private static void nf4BaseComputesItsDequantizedModel(ModelConfig mc) {
        Decoder base = Decoder.create(mc, 3);
        Decoder nf4 = base.withNf4Base();
        // the float model of the dequantized weights
        Decoder deq = Decoder.create(mc, 99);
        deq.params().copyFrom(base.params());
        for (Decoder.Linear l : nf4.linears())
            if (l.nf4() != null) {
                float[] w = l.nf4().dequantize();
                System.arraycopy(w, 0, deq.params().data(), deq.params().slot(l.key().name()).offset(), w.length);
            }
        int B = 2, T = 16;
        int[] ids = new int[B * T], targets = new int[B * T];
        for (int i = 0; i < ids.length; i++) { ids[i] = (i * 37) % 256; targets[i] = (i * 11 + 5) % 256; }
        float[] want = deq.forward(Tape.inference(deq.kernels()), ids, B, T).value().toArray();
        float[] got = nf4.forward(Tape.inference(nf4.kernels()), ids, B, T).value().toArray();
        for (int i = 0; i < want.length; i++) assertThat(got[i]).as("logit %d", i).isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-5f));
        float[] floatLogits = base.forward(Tape.inference(base.kernels()), ids, B, T).value().toArray();
        assertThat(got).isNotEqualTo(floatLogits);                                  // it is quantized
        // the NF4 model's own parameters are the rest: embeddings, norms (no linear weight but the head)
        long linearWeights = 0;
        for (Decoder.Linear l : nf4.linears()) if (l.nf4() != null) linearWeights += l.nf4().size();
        assertThat(nf4.params().count()).isEqualTo(base.params().count() - linearWeights);
        assertThat(8.0 * nf4.nf4Bytes() / linearWeights).isBetween(4.12, 4.2);
        assertThatThrownBy(() -> PreparedModel.of(nf4)).isInstanceOf(LaminaException.class).hasMessageContaining("QLoRA");
    }

    @Test
    void qloraLearnsWithTheNf4BaseFrozenAndItsAdapterAppliesToTheFloatBase(@TempDir Path dir) throws Exception {
        String[] lines = new String[8];
        for (int i = 0; i < lines.length; i++) lines[i] = "{\"prompt\": \"n" + i + "=\", \"completion\": \"" + "xyz".repeat(i % 3 + 1) + "\"}";
        FineTune.Data data = FineTune.read(FineTuneTest.write(dir, "t.jsonl", lines), TOK, 32, false);
        ModelConfig mc = Presets.get("tiny").config().apply(TOK.vocabSize());
        Decoder base = Decoder.create(mc, 1);
        var head = base.params().value(base.head().key().name());          // a pretrained-like head range (see FineTuneTest)
        for (int i = 0; i < head.size(); i++) head.set(i, head.get(i) * 50);
        TrainConfig c = TrainConfig.builder(60, 4, 32).lr(1e-2).warmup(2).evalEvery(0).seed(3).build();
        Lora.Config lc = new Lora.Config(8, 16, 0, Lora.Config.parseTargets("all-linear"), false);
        FineTune.Result r = FineTune.run(base, FineTune.Method.QLORA, lc, data, data, c, null);
        double first = r.steps().getFirst().loss(), last = r.steps().getLast().loss();
        assertThat(last).as("QLoRA loss %f -> %f", first, last).isLessThan(0.1 * first);
        assertThat(r.model().nf4Base()).isTrue();
        assertThat(r.trainable()).isEqualTo(r.adapter().size());
        // the adapter is an ordinary one: on the float base it gives about the loss it reached over NF4
        double overFloat = FineTune.evaluate(base.withAdapter(r.adapter()), data, 4);
        assertThat(overFloat).isLessThan(0.2 * first);
        assertThat(Nf4Weights.BLOCK).isEqualTo(64);
    }
}
