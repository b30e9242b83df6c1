package dev.lamina.kernels;

/**
 * Chooses the kernel implementation once: {@code -Dlamina.kernels=scalar} for the plain reference,
 * {@code vector} (default) for the Vector API kernels.
 */
public final class Kernels {
    private static final KernelSet CHOSEN = choose(System.getProperty("lamina.kernels", "vector"));

    private Kernels() {}

    /** The kernels in use. */
    public static KernelSet get() { return CHOSEN; }

    /** The scalar reference. */
    public static KernelSet scalar() { return ScalarKernels.INSTANCE; }

    /** The Vector API kernels. */
    public static KernelSet vector() { return VectorKernels.INSTANCE; }

    static KernelSet choose(String name) {
        return switch (name.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "scalar" -> ScalarKernels.INSTANCE;
            case "vector" -> VectorKernels.INSTANCE;
            default -> throw new IllegalArgumentException(
                    "unknown -Dlamina.kernels=" + name + " (use scalar or vector)");
        };
    }
}
