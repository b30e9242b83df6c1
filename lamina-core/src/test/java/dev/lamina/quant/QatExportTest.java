package dev.lamina.quant;

import dev.lamina.autograd.Tape;
import dev.lamina.gguf.GgmlType;
import dev.lamina.gguf.GgufFile;
import dev.lamina.gguf.GgufModel;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Parameters;
import dev.lamina.model.Presets;
import dev.lamina.model.Qat;
import dev.lamina.tensor.Rng;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A quantization-aware trained model exports to GGUF with its learned steps as the blocks' scales:
 * the layer maps read back as exactly the ŵ training computed with, at every width and group, in
 * Q4_0 (Q8_0 at 8 bits), the embeddings and head as Q8_0.
 */
class QatExportTest {

    @Test
    void theLayerMapsReadBackAsTheTrainedGridBitForBit(@TempDir Path dir) throws Exception {
        ModelConfig c = Presets.get("tiny").config().apply(257).toBuilder().intermediateSize(192).build();   // rows of 64 and 192: whole blocks
        for (Qat.Config q : new Qat.Config[] {new Qat.Config(4, 32, true), new Qat.Config(3, 0, false), new Qat.Config(2, 64, true),
                new Qat.Config(8, 32, true), new Qat.Config(4, 0, false)}) {
            Decoder m = Decoder.create(c, 11).withQat(q);
            Rng rng = new Rng(5);
            for (Parameters.Slot s : m.params().slots().values())       // steps as training leaves them: moved off their initial values
                if (s.key().factor() == ParamKey.Factor.STEP)
                    for (int i = 0; i < s.size(); i++) m.params().data()[s.offset() + i] *= (float) (0.7 + 0.6 * rng.nextDouble());
            Path f = dir.resolve(q.bits() + "-" + q.group() + ".gguf");
            QatExport.write(m, null, f);
            Decoder plain = m.quantized(), back = GgufModel.load(f).decoder();
            int maps = 0;
            for (Decoder.Linear lin : m.linears())
                if (lin.quant() != null) {
                    assertThat(back.params().value(lin.key()).toArray()).as(q + " " + lin.key()).isEqualTo(plain.params().value(lin.key()).toArray());
                    maps++;
                }
            assertThat(maps).isEqualTo(7 * c.numHiddenLayers());
            try (GgufFile g = GgufFile.open(f)) {
                GgmlType want = q.bits() == 8 ? GgmlType.Q8_0 : GgmlType.Q4_0;
                assertThat(g.tensors().get("blk.0.ffn_down.weight").type()).isEqualTo(want);
                assertThat(g.tensors().get("blk.1.attn_q.weight").type()).isEqualTo(want);
                assertThat(g.tensors().get("token_embd.weight").type()).isEqualTo(GgmlType.Q8_0);
                assertThat(g.integer("general.file_type")).isEqualTo(q.bits() == 8 ? 7 : 2);
            }
            int[] ids = {3, 9, 200, 41, 7};
            float[] a = m.forward(Tape.inference(m.kernels()), ids, 1, ids.length).value().toArray(),
                    b = back.forward(Tape.inference(back.kernels()), ids, 1, ids.length).value().toArray();
            assertThat(relativeError(b, a)).as(q + ": only the Q8_0 embeddings and head differ").isLessThan(2e-2);
        }
    }

    static double relativeError(float[] got, float[] want) {
        double d = 0, r = 0;
        for (int i = 0; i < want.length; i++) { d += (got[i] - want[i]) * (double) (got[i] - want[i]); r += want[i] * (double) want[i]; }
        return Math.sqrt(d / r);
    }

    @Test
    void rowsThatAreNotWholeBlocksAreRefused(@TempDir Path dir) {
        ModelConfig c = Presets.get("tiny").config().apply(257);       // an MLP 176 wide: per channel trains, but is no set of 32-weight blocks
        Decoder m = Decoder.create(c, 1).withQat(new Qat.Config(4, 0, true));
        assertThatThrownBy(() -> QatExport.write(m, null, dir.resolve("x.gguf"))).hasMessageContaining("not whole 32-weight GGUF blocks");
        assertThat(dir.resolve("x.gguf")).doesNotExist();
    }
}
