package dev.lamina.kernels;

/** Vector API kernels. (Being written: until then it runs the scalar reference.) */
public final class VectorKernels extends ScalarKernels {
    public static final VectorKernels INSTANCE = new VectorKernels();
    @Override public String name() { return "vector"; }
}
