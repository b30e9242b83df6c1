package dev.lamina.quant;

import dev.lamina.data.TokenFile;
import dev.lamina.gguf.GgmlType;
import dev.lamina.gguf.GgufModel;
import dev.lamina.gguf.GgufQuantType;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Presets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A calibrated model written as GGUF reads back as exactly the calibrated weights (the scales and
 * levels chosen, the layout unchanged), for every 32-weight block type and every method, GPTQ's
 * layer-by-layer calibration included.
 */
class CalibratedGgufTest {

    @Test
    void calibratedWeightsReadBackBitForBit(@TempDir Path dir) throws Exception {
        ModelConfig c = Presets.get("tiny").config().apply(257).toBuilder().intermediateSize(192).build();   // rows of 64 and 192: whole blocks
        Decoder m = Decoder.create(c, 11);
        int[] tokens = new int[3000];
        for (int i = 0; i < tokens.length; i++) tokens[i] = (i * 37 + i / 5) % 257;
        Path tf = dir.resolve("calib.bin");
        TokenFile.write(tf, tokens, 257);
        Ptq.Calibration cal = new Ptq.Calibration(TokenFile.open(tf), 2, 32, 4);
        for (GgufQuantType t : new GgufQuantType[] {GgufQuantType.Q8_0, GgufQuantType.Q4_0, GgufQuantType.Q4_1, GgufQuantType.Q5_0, GgufQuantType.Q5_1})
            for (Calibrate.Method method : Calibrate.Method.values()) {
                Map<ParamKey, GgmlType> types = GgufModel.types(c, m.params(), t);
                Ptq.Result r = Ptq.run(m, k -> Grid.of(types.get(k)), Ptq.Options.of(method), cal, null);
                assertThat(r.tensors()).as(t + " " + method).hasSize(7 * c.numHiddenLayers());
                Path f = dir.resolve(t.label() + "-" + method + ".gguf");
                GgufModel.write(r.model(), null, null, f, t, r.tensors());
                Decoder back = GgufModel.load(f).decoder();
                for (ParamKey k : r.tensors().keySet())
                    assertThat(back.params().value(k).toArray()).as(t + " " + method + " " + k).isEqualTo(r.model().params().value(k).toArray());
            }
        assertThatThrownBy(() -> Ptq.run(m, k -> Grid.of(GgmlType.Q4_0), Ptq.Options.of(Calibrate.Method.GPTQ), null, null)).hasMessageContaining("--calib");
    }
}
