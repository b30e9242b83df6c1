package dev.lamina.kernels;

import dev.lamina.tensor.Tensor;

/** Weights read in place: w[out, in] and bias[out] (may be null). The scalar reference's {@link LinearWeights}. */
public record DenseWeights(Tensor weight, Tensor bias) implements LinearWeights {
    @Override public int out() { return weight.dim(0); }
    @Override public int in() { return weight.dim(1); }
    @Override public long extraBytes() { return 0; }
    @Override public void dequantizeInto(float[] dst, int off) { System.arraycopy(weight.data(), weight.offset(), dst, off, weight.size()); }
    @Override public void dequantizeRow(int o, float[] dst, int off) { System.arraycopy(weight.data(), weight.offset() + o * in(), dst, off, in()); }
}
