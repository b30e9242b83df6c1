package dev.lamina.kernels;

import dev.lamina.io.LaminaException;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GemmTileTest {

    @Test
    void registersFollowTheInstructionSet() {
        assertThat(GemmTile.registers("amd64", 3)).isEqualTo(32);    // AVX-512: zmm0-31
        assertThat(GemmTile.registers("amd64", 2)).isEqualTo(16);    // AVX2 (or AVX-512 hardware run with -XX:UseAVX=2): ymm0-15
        assertThat(GemmTile.registers("x86_64", 1)).isEqualTo(16);
        assertThat(GemmTile.registers("aarch64", 0)).isEqualTo(32);  // NEON and SVE: v0-31 / z0-31
    }

    @Test
    void everyMachineGetsATileThatFitsItsRegisterFile() {
        assertThat(GemmTile.choose("amd64", 16, 32)).isEqualTo(GemmTile.T12X2);
        assertThat(GemmTile.choose("amd64", 8, 32)).isEqualTo(GemmTile.T12X2);   // AVX-512 machine at 8 lanes: still 32 registers
        assertThat(GemmTile.choose("aarch64", 4, 32)).isEqualTo(GemmTile.T12X2); // NEON: 4 lanes, 32 registers
        GemmTile avx2 = GemmTile.choose("amd64", 8, 16);
        assertThat(avx2.registers()).isLessThanOrEqualTo(16);
        assertThat(avx2.rows() * avx2.vectors()).isEqualTo(12);
        for (var arch : new String[] {"amd64", "aarch64"})
            for (int lanes : new int[] {4, 8, 16})
                for (int regs : new int[] {16, 32})
                    assertThat(GemmTile.choose(arch, lanes, regs).registers()).as("%s %d lanes %d registers", arch, lanes, regs)
                            .isLessThanOrEqualTo(regs);
        assertThat(GemmTile.T12X2.registers()).isEqualTo(27);  // 24 accumulators + 2 B vectors + 1 broadcast: spills on 16
    }

    @Test
    void theOverrideWinsAndIsChecked() {
        assertThat(GemmTile.resolve("4x3", "amd64", 16, 3)).isEqualTo(GemmTile.T4X3);
        assertThat(GemmTile.resolve(null, "amd64", 8, 2)).isEqualTo(GemmTile.choose("amd64", 8, 16));
        assertThat(GemmTile.resolve(null, "aarch64", 4, 0)).isEqualTo(GemmTile.T12X2);
        assertThatThrownBy(() -> GemmTile.parse("9x9")).isInstanceOf(LaminaException.class)
                .hasMessageContaining("-Dlamina.tile=9x9").hasMessageContaining("12x2");
    }

    @Test
    void columnMajorAIsPackedWithSixteenRegistersUnlessOverridden() {
        assertThat(VectorMatmul.packTn(null, 16)).isTrue();          // AVX2: measured 3-40% faster packed
        assertThat(VectorMatmul.packTn(null, 32)).isFalse();         // AVX-512, NEON: level, read in place
        assertThat(VectorMatmul.packTn("false", 16)).isFalse();
        assertThat(VectorMatmul.packTn(" true", 32)).isTrue();
        assertThat(VectorMatmul.PACK_TN).isEqualTo(VectorMatmul.packTn(System.getProperty("lamina.packTn"),
                GemmTile.registers(System.getProperty("os.arch"), GemmTile.useAvx())));
    }

    @Test
    void columnMajorStripsHoldEveryValueOfA() {
        var rnd = new java.util.Random(17);
        for (int mr : new int[] {4, 6, 12})
            for (int mc : new int[] {1, 5, 6, 37, 96})
                for (int kc : new int[] {1, 2, 7, 65})
                    for (int far : new int[] {0, 1024}) {                // columns on one page, or a page or more apart
                    int cs = far + mc + 3 + rnd.nextInt(5), off = rnd.nextInt(4), strips = (mc + mr - 1) / mr;
                    float[] A = new float[off + (kc - 1) * cs + mc];    // ends at A's last value: no slack to read past
                    for (int i = 0; i < A.length; i++) A[i] = rnd.nextFloat() - 0.5f;
                    float[] ap = new float[strips * mr * kc + 16];
                    java.util.Arrays.fill(ap, Float.NaN);
                    VectorMatmul.packAStrips(ap, A, off, cs, mc, kc, mr);
                    for (int r = 0; r < mc; r++)
                        for (int k = 0; k < kc; k++)
                            assertThat(ap[r / mr * mr * kc + k * mr + r % mr]).as("mr %d mc %d kc %d: A(%d, %d)", mr, mc, kc, r, k)
                                    .isEqualTo(A[off + r + k * cs]);
                    }
    }

    @Test
    void thisJvmsTileMatchesItsFlags() {
        int useAvx = GemmTile.useAvx();
        String arch = System.getProperty("os.arch");
        if (System.getProperty("lamina.tile") == null)
            assertThat(GemmTile.system()).isEqualTo(GemmTile.choose(arch, jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length(),
                    GemmTile.registers(arch, useAvx)));
        assertThat(((VectorKernels) Kernels.vector(1)).tile()).isEqualTo(GemmTile.system());
        assertThat(Kernels.vector(1).describe()).contains("GEMM tile " + GemmTile.system()).contains(" lanes");
    }
}
