package dev.lamina.kernels;

import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Tuning;
import jdk.incubator.vector.FloatVector;

import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Locale;

/**
 * The matrix product's register tile: rows × vectors of accumulators, held in vector registers
 * for a whole K slice. It must fit the register file, not only the vector width: the inner loop
 * keeps rows·vectors accumulators, the vectors of B and one broadcast A value live at once, and a
 * tile that needs more registers than the machine has spills on every k.
 *
 * <ul>
 *   <li>32 registers (x86 with AVX-512, aarch64 with NEON or SVE): 12 × 2, 24 accumulators and
 *       two B loads per k (measured on AVX-512; see {@link VectorMatmul}).</li>
 *   <li>16 registers (x86 with AVX2 only: Haswell to Alder Lake clients, Zen 1-3): a tile of 12
 *       accumulators, the shape BLIS and OpenBLAS use there ({@link #choose}).</li>
 * </ul>
 *
 * The choice is made once per JVM ({@link #system()}), printed by the benchmarks, and can be
 * overridden with {@code -Dlamina.tile=RxC}. Every tile sums each output in the same order, so
 * results are bitwise the same whichever runs.
 */
public record GemmTile(int rows, int vectors) {

    /** The shapes {@link VectorMatmul} has register kernels for. */
    public static final GemmTile T12X2 = new GemmTile(12, 2), T6X2 = new GemmTile(6, 2), T4X3 = new GemmTile(4, 3);
    public static final List<GemmTile> ALL = List.of(T12X2, T6X2, T4X3);

    public GemmTile {
        if (rows < 1 || vectors < 1) throw new IllegalArgumentException("tile " + rows + "x" + vectors);
    }

    /** Vector registers the inner loop keeps live: the accumulators, a vector of B per column vector, one broadcast A value. */
    public int registers() { return rows * vectors + vectors + 1; }

    @Override public String toString() { return rows + "x" + vectors; }

    /**
     * The tile for a machine: architecture (os.arch), lanes per float vector and vector registers.
     * The largest tile that fits; on 16 registers the one measured fastest on the AVX2 path
     * (docs/BENCHMARKS.md).
     */
    public static GemmTile choose(String arch, int lanes, int registers) {
        return registers >= T12X2.registers() ? T12X2 : AVX2_CHOICE;
    }

    /**
     * The 16-register choice: 4 × 3. It and 6 × 2 were level in whole training steps and on most
     * products; on 256x3072x768's forward layout (few rows, wide w) 4 × 3 ran 4-7% faster in three
     * of four JMH runs on the AVX2 path, level in the fourth, a noisy one (docs/BENCHMARKS.md, 2026-12-05).
     */
    static final GemmTile AVX2_CHOICE = T4X3;

    /**
     * Vector registers of this machine: 32 on aarch64 and on x86 with AVX-512 enabled (UseAVX 3),
     * 16 on x86 otherwise (UseAVX 2 or less, including AVX-512 hardware run with -XX:UseAVX=2).
     */
    public static int registers(String arch, int useAvx) {
        String a = arch.toLowerCase(Locale.ROOT);
        if (a.equals("aarch64") || a.equals("arm64")) return 32;
        if (a.equals("amd64") || a.equals("x86_64") || a.equals("x86")) return useAvx >= 3 ? 32 : 16;
        return 32; // other 64-bit ISAs the Vector API supports (riscv64, ppc64le) have 32
    }

    /** The JIT's -XX:UseAVX level (0 when the flag is absent, e.g. not x86). */
    static int useAvx() {
        try {
            var bean = ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            return Integer.parseInt(bean.getVMOption("UseAVX").getValue());
        } catch (RuntimeException | LinkageError e) {
            return 0;
        }
    }

    private static volatile GemmTile system;

    /** This JVM's tile: -Dlamina.tile when given, else chosen from the machine. */
    public static GemmTile system() {
        GemmTile t = system;
        if (t == null) system = t = resolve(Tuning.system().tile(), System.getProperty("os.arch"),
                FloatVector.SPECIES_PREFERRED.length(), useAvx());
        return t;
    }

    /** The tile an override names, or the machine's choice when override is null. */
    static GemmTile resolve(String override, String arch, int lanes, int useAvx) {
        if (override == null) return choose(arch, lanes, registers(arch, useAvx));
        return parse(override);
    }

    /** "RxC" as one of {@link #ALL}. */
    public static GemmTile parse(String s) {
        for (GemmTile t : ALL) if (t.toString().equalsIgnoreCase(s.trim())) return t;
        throw new LaminaException("-Dlamina.tile=" + s + ": no such register tile; use one of " + ALL);
    }

    /** What the benchmarks print about a tile on this machine: e.g. "16 lanes, 32 registers, GEMM tile 12x2". */
    public static String describe(GemmTile t) {
        String arch = System.getProperty("os.arch");
        String how = !t.equals(system()) ? ", not this machine's choice"
                : Tuning.system().tile() != null ? ", set by -Dlamina.tile" : ", chosen for this machine";
        return FloatVector.SPECIES_PREFERRED.length() + " lanes, " + registers(arch, useAvx()) + " vector registers, GEMM tile "
                + t + how + (VectorMatmul.PACK_TN ? ", column-major A packed" : "");
    }
}
