package dev.lamina.kernels;

/**
 * A linear layer's weight w[out, in] (and bias[out]) as a kernel set prepared it for inference
 * products ({@link KernelSet#prepare}, {@link KernelSet#project}): the vector kernels repack it
 * into panels, the scalar reference reads the tensors in place, and {@link Q8Weights} and
 * {@link Q4Weights} hold them in 8- and 4-bit blocks for either. A new weight storage is one more implementation here and one more
 * branch in each kernel set's project.
 */
public sealed interface LinearWeights permits DenseWeights, PanelWeights {
    int out();

    int in();

    /** Bytes held beyond the model's own parameters (a packed copy; 0 when the weights are read in place). */
    long extraBytes();

    /** The weights w[out, in] as float32 into dst[off..off + out·in), row-major: for a quantized store, what its product computes with. */
    void dequantizeInto(float[] dst, int off);

    /** Row o, w[o, 0..in), as float32 into dst[off..off + in): a token's embedding when the table is the stored head. */
    void dequantizeRow(int o, float[] dst, int off);

    /** Rows ids[i] into dst from off, one after the other (token embeddings read from a stored table); an id outside [0, out) is refused. */
    default void rows(int[] ids, float[] dst, int off) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= out()) throw new IllegalArgumentException("token id " + ids[i] + " outside the vocabulary of " + out());
            dequantizeRow(ids[i], dst, off + i * in());
        }
    }
}
