package dev.lamina.tensor;

import dev.lamina.io.LaminaException;

import java.util.Locale;
import java.util.Properties;

/**
 * Every {@code -Dlamina.*} system property the library reads, read once, here. They set defaults
 * and tuning knobs for experiments; code that runs a model takes its kernels and threads from
 * the model, session or trainer ({@link dev.lamina.kernels.KernelSet}), never from a property
 * directly. The table in docs/ARCHITECTURE.md ("Tuning properties") lists them.
 *
 * @param kernels        {@code lamina.kernels}: the default kernel implementation, "vector" or "scalar"
 * @param threads        {@code lamina.threads}: the default thread count (default: one per core)
 * @param spinMicros     {@code lamina.spinMicros}: how long pool threads spin before parking (100)
 * @param kc             {@code lamina.kc}: the matrix product's K slice (512)
 * @param mcPanels       {@code lamina.mcp}: row panels per block of the matrix product (16)
 * @param nc             {@code lamina.nc}: columns per block of the matrix product (1024)
 * @param gather         {@code lamina.nogather} unset: pack transposed right operands by gathering
 * @param headChunk      {@code lamina.headChunk}: rows per chunk of the fused head and loss (0: by vocabulary size)
 * @param tile           {@code lamina.tile}: the GEMM register tile "RxC" (rows x vectors), null to choose by machine
 * @param peakGflopsPerCore {@code lamina.peakGflopsPerCore}: the MFU denominator per thread as given
 *                       (checked where it is used, {@link dev.lamina.kernels.FmaPeak}), null to measure it
 */
public record Tuning(String kernels, int threads, long spinMicros, int kc, int mcPanels, int nc, boolean gather,
                     int headChunk, String tile, String peakGflopsPerCore) {

    private static volatile Tuning system;

    /**
     * The properties of this JVM, read on first use and kept. A malformed value is a one-line
     * {@link LaminaException} naming the property (on every call until it is mended).
     */
    public static Tuning system() {
        Tuning t = system;
        if (t == null) system = t = read(System.getProperties());
        return t;
    }

    /** Reads the properties from p. */
    public static Tuning read(Properties p) {
        return new Tuning(
                p.getProperty("lamina.kernels", "vector").trim().toLowerCase(Locale.ROOT),
                positive(p, "lamina.threads", Runtime.getRuntime().availableProcessors()),
                positive(p, "lamina.spinMicros", 100),
                positive(p, "lamina.kc", 512),
                positive(p, "lamina.mcp", 16),
                positive(p, "lamina.nc", 1024),
                !Boolean.parseBoolean(p.getProperty("lamina.nogather", "false")),
                nonNegative(p, "lamina.headChunk", 0),
                blankToNull(p.getProperty("lamina.tile")),
                blankToNull(p.getProperty("lamina.peakGflopsPerCore")));
    }

    private static String blankToNull(String s) { return s == null || s.isBlank() ? null : s.trim(); }

    private static int positive(Properties p, String key, int def) {
        int v = integer(p, key, def);
        if (v < 1) throw new LaminaException("-D" + key + " must be a positive integer, got " + p.getProperty(key));
        return v;
    }

    private static int nonNegative(Properties p, String key, int def) {
        int v = integer(p, key, def);
        if (v < 0) throw new LaminaException("-D" + key + " must be >= 0, got " + p.getProperty(key));
        return v;
    }

    private static int integer(Properties p, String key, int def) {
        String s = p.getProperty(key);
        if (s == null || s.isBlank()) return def;
        try {
            return Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            throw new LaminaException("-D" + key + " must be an integer, got '" + s + "'");
        }
    }
}
