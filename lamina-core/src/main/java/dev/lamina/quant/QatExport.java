package dev.lamina.quant;

import dev.lamina.gguf.GgmlType;
import dev.lamina.gguf.GgufModel;
import dev.lamina.gguf.GgufQuantType;
import dev.lamina.model.Decoder;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Qat;
import dev.lamina.tensor.Tensor;
import dev.lamina.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A quantization-aware trained model as a GGUF file with its learned scales: each layer map's ŵ
 * packed into 32-weight blocks whose scale is the step of the group the block lies in (groups are
 * whole blocks), Q8_0 at 8 bits and Q4_0 at 4, 3 and 2 (their levels lie within Q4_0's −8..7), so a
 * reader's d·q gives back the trained ŵ bit for bit. The embeddings and the head, which train in
 * float, are written as Q8_0.
 */
public final class QatExport {
    private QatExport() {}

    /** The block type a QAT config's weights are written in. */
    public static GgmlType type(Qat.Config c) { return c.bits() == 8 ? GgmlType.Q8_0 : GgmlType.Q4_0; }

    /** Writes qat (a decoder training quantization-aware) and tok (may be null) to out, atomically. */
    public static GgufModel.Exported write(Decoder qat, Tokenizer tok, Path out) {
        Qat.Config c = qat.qat();
        if (c == null) throw new IllegalArgumentException("the model does not train quantization-aware");
        Decoder plain = qat.quantized();
        Grid grid = Grid.of(type(c));
        Map<ParamKey, Calibrate.Quantized> calibrated = new LinkedHashMap<>();
        for (Decoder.Linear lin : qat.linears()) {
            if (lin.quant() == null) continue;
            Tensor w = lin.weight().value(), step = lin.quant().step() == null ? null : lin.quant().step().value();
            int rows = w.dim(0), in = w.dim(1), g = c.groupOf(in), blocks = in / 32;
            if (in % 32 != 0)
                throw new dev.lamina.io.LaminaException(lin.key().name() + ": rows of " + in + " inputs are not whole 32-weight GGUF blocks; "
                        + "the quantized weights are in the run directory's model.safetensors");
            float[] d = new float[rows * blocks];
            for (int r = 0; r < rows; r++)
                for (int b = 0; b < blocks; b++) d[r * blocks + b] = Qat.stepOf(c, w, step, r, b * 32 / g);
            calibrated.put(lin.key(), new Calibrate.Quantized(grid, rows, in, plain.params().value(lin.key().name()).toArray(), d,
                    new float[rows * blocks]));
        }
        return GgufModel.write(plain, tok, null, out, GgufQuantType.Q8_0, calibrated);
    }
}
