package dev.lamina.gguf;

import dev.lamina.io.LaminaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/** The GGUF container: typed metadata, version 2, alignment, and one-line errors for broken files. */
class GgufFileTest {
    @TempDir Path tmp;

    /** A small file with every metadata type, a nested array, a custom alignment and three tensors. */
    private Path sample(String name) {
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", "test")
                .put(GgufFile.ALIGNMENT_KEY, GgufValue.uint32(64))
                .put("u8", new GgufValue(GgufValueType.UINT8, 200L))
                .put("i8", new GgufValue(GgufValueType.INT8, -5L))
                .put("u16", new GgufValue(GgufValueType.UINT16, 65535L))
                .put("i16", new GgufValue(GgufValueType.INT16, -300L))
                .putUint32("u32", 4_000_000_000L)
                .put("i32", GgufValue.int32(-7))
                .put("u64", new GgufValue(GgufValueType.UINT64, -1L))
                .put("i64", new GgufValue(GgufValueType.INT64, Long.MIN_VALUE))
                .putFloat32("f32", 0.1)
                .put("f64", new GgufValue(GgufValueType.FLOAT64, 0.1))
                .putBool("yes", true)
                .putStrings("words", List.of("a", "ü", ""))
                .put("nested", GgufValue.array(GgufValueType.ARRAY, List.of(
                        new GgufValue.Array(GgufValueType.INT32, List.of(1L, 2L)), new GgufValue.Array(GgufValueType.STRING, List.of("x")))));
        float[] a = new float[64], b = new float[3 * 32];
        for (int i = 0; i < a.length; i++) a[i] = i * 0.25f;
        for (int i = 0; i < b.length; i++) b[i] = (float) Math.sin(i);
        w.addTensor("a", GgmlType.F32, a, 2, 32).addTensor("b", GgmlType.Q8_0, b, 3, 32).addTensor("c", GgmlType.F16, new float[] {1, 2, 3}, 3);
        Path f = tmp.resolve(name);
        w.write(f);
        return f;
    }

    @Test
    void readsWhatItWrites() {
        try (GgufFile f = GgufFile.open(sample("s.gguf"))) {
            assertThat(f.version()).isEqualTo(3);
            assertThat(f.alignment()).isEqualTo(64);
            assertThat(f.integer("u8")).isEqualTo(200);
            assertThat(f.integer("i8")).isEqualTo(-5);
            assertThat(f.integer("u16")).isEqualTo(65535);
            assertThat(f.integer("i16")).isEqualTo(-300);
            assertThat(f.integer("u32")).isEqualTo(4_000_000_000L);
            assertThat(f.integer("i32")).isEqualTo(-7);
            assertThat(f.integer("i64")).isEqualTo(Long.MIN_VALUE);
            assertThatThrownBy(() -> f.integer("u64")).hasMessageContaining("18446744073709551615");
            assertThat(f.number("f32")).isEqualTo(0.1);
            assertThat(f.number("f64")).isEqualTo(0.1);
            assertThat(f.bool("yes")).isTrue();
            assertThat(f.strings("words")).containsExactly("a", "ü", "");
            GgufValue.Array nested = (GgufValue.Array) f.values().get("nested").value();
            assertThat(nested.elementType()).isEqualTo(GgufValueType.ARRAY);
            assertThat(((GgufValue.Array) nested.items().getFirst()).items()).isEqualTo(List.of(1L, 2L));
            assertThat(f.shape("a")).containsExactly(2, 32);
            assertThat(f.info("a").ne()).containsExactly(32, 2);
            assertThat(f.floats("a")[5]).isEqualTo(1.25f);
            assertThat(f.floats("c")).containsExactly(1, 2, 3);
            for (GgufFile.Tensor t : f.tensors().values()) assertThat(t.offset() % 64).isZero();
            assertThat(f.raw("b").byteSize()).isEqualTo(3 * 34);
            assertThatThrownBy(() -> f.string("u8")).isInstanceOf(LaminaException.class)
                    .hasMessageEndingWith("metadata 'u8' is UINT8, expected a STRING");
            assertThatThrownBy(() -> f.strings("nested")).hasMessageContaining("'nested' is an array of ARRAY, expected an array of STRING");
            assertThatThrownBy(() -> f.string("absent")).hasMessageContaining("metadata 'absent' is missing");
        }
    }

    @Test
    void readsVersion2() throws IOException {
        Path f = sample("v2.gguf");
        byte[] b = Files.readAllBytes(f);
        b[4] = 2;
        Files.write(f, b);
        try (GgufFile g = GgufFile.open(f)) {
            assertThat(g.version()).isEqualTo(2);
            assertThat(g.floats("a")[63]).isEqualTo(15.75f);
        }
    }

    // ---- broken files ---------------------------------------------------------------------------

    private Path patched(String name, int at, byte... bytes) throws IOException {
        Path f = sample(name);
        byte[] b = Files.readAllBytes(f);
        System.arraycopy(bytes, 0, b, at, bytes.length);
        Files.write(f, b);
        return f;
    }

    private static byte[] le32(int v) { return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array(); }
    private static byte[] le64(long v) { return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array(); }

    /** The byte offset of tensor info field (0 n_dims, 1 type, 2 offset) of the named tensor. */
    private long infoField(Path f, String tensor, int field) throws IOException {
        byte[] b = Files.readAllBytes(f);
        byte[] key = ("\u0001\0\0\0\0\0\0\0" + tensor).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int at = indexOf(b, key) + key.length;   // just after the name
        int nDims = ByteBuffer.wrap(b, at, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        return switch (field) {
            case 0 -> at;
            case 1 -> at + 4 + 8L * nDims;
            default -> at + 8 + 8L * nDims;
        };
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        throw new IllegalStateException("not found");
    }

    private static void refused(Path f, String... parts) {
        assertThatThrownBy(() -> GgufFile.open(f).close()).isInstanceOf(LaminaException.class)
                .satisfies(e -> {
                    assertThat(e.getMessage()).startsWith(f.toString()).doesNotContain("\n");
                    for (String p : parts) assertThat(e.getMessage()).contains(p);
                });
    }

    @Test
    void refusesBrokenFilesWithOneLineNamingTheField() throws IOException {
        refused(patched("magic.gguf", 0, (byte) 'G', (byte) 'G', (byte) 'M', (byte) 'L'), "magic is 'GGML'", "not a GGUF file");
        refused(patched("v1.gguf", 4, le32(1)), "unknown GGUF version 1");
        refused(patched("v9.gguf", 4, le32(9)), "unknown GGUF version 9");
        refused(patched("be.gguf", 4, (byte) 0, (byte) 0, (byte) 0, (byte) 3), "big-endian");
        refused(patched("count.gguf", 8, le64(1L << 40)), "tensor_count 1099511627776");
        refused(patched("kv.gguf", 16, le64(1L << 40)), "metadata_kv_count");

        Path f = sample("t.gguf");
        refused(patched("type.gguf", (int) infoField(f, "b", 1), le32(4)), "tensor 'b'", "unknown ggml type 4");
        refused(patched("dims.gguf", (int) infoField(f, "b", 0), le32(5)), "tensor 'b'", "n_dims is 5");
        refused(patched("misaligned.gguf", (int) infoField(f, "b", 2), le64(32)), "tensor 'b'", "not a multiple of the alignment 64");
        long aOffset = 0;
        refused(patched("overlap.gguf", (int) infoField(f, "b", 2), le64(aOffset)), "'a'", "'b'", "overlap");
        refused(patched("past.gguf", (int) infoField(f, "c", 2), le64(1L << 20)), "tensor 'c'", "runs past the end");
        refused(patched("rows.gguf", (int) infoField(f, "b", 1), le32(GgmlType.Q4_K.id)), "tensor 'b'", "not a multiple of the Q4_K block size 256");

        byte[] whole = Files.readAllBytes(f);
        Path cut = tmp.resolve("cut.gguf");
        Files.write(cut, Arrays.copyOf(whole, 100));
        refused(cut, "truncated");
        Files.write(cut, Arrays.copyOf(whole, whole.length - 62));   // into c's 6 bytes, before its padding to 64
        refused(cut, "runs past the end of the data section", "truncated");
        Files.write(cut, new byte[0]);
        refused(cut, "too short");
    }

    @Test
    void refusesAWrongAlignmentType() {
        GgufWriter w = new GgufWriter().put(GgufFile.ALIGNMENT_KEY, GgufValue.int32(32));
        Path f = tmp.resolve("align.gguf");
        w.write(f);
        refused(f, "'general.alignment' is INT32, expected UINT32");
        new GgufWriter().put(GgufFile.ALIGNMENT_KEY, GgufValue.uint32(48)).write(f);
        refused(f, "'general.alignment' is 48, expected a power of two");
    }

    /**
     * Random byte flips in the header and random truncations of valid files (a sample and a model
     * made by llama.cpp's converter) give a LaminaException or a readable file, never another
     * exception: every tensor of a file that opens also dequantizes, and a model file loads or
     * is refused.
     */
    @Test
    void fuzzedFilesFailOnlyWithLaminaException() throws IOException {
        Random r = new Random(18);
        for (Path valid : List.of(sample("fuzz.gguf"), Path.of("src/test/resources/gguf/models/llama-f16.gguf"))) {
            byte[] orig = Files.readAllBytes(valid);
            int header;
            try (GgufFile g = GgufFile.open(valid)) {
                header = (int) (orig.length - g.tensors().values().stream().mapToLong(t -> t.bytes()).sum());
            }
            Path f = tmp.resolve("fuzzed.gguf");
            int opened = 0, refusedCount = 0;
            for (int round = 0; round < 400; round++) {
                byte[] b = orig.clone();
                if (round % 4 == 3) {
                    b = Arrays.copyOf(b, r.nextInt(b.length));
                } else {
                    for (int k = 1 + r.nextInt(4); k > 0; k--) {
                        int at = r.nextInt(Math.min(b.length, header + 64));
                        b[at] = (byte) (round % 2 == 0 ? b[at] ^ (1 << r.nextInt(8)) : r.nextInt(256));
                    }
                }
                Files.write(f, b);
                try (GgufFile g = GgufFile.open(f)) {
                    for (String n : g.names()) {
                        try {
                            g.floats(n);
                        } catch (LaminaException e) {
                            assertThat(e.getMessage()).doesNotContain("\n");
                        }
                    }
                    try {
                        GgufModel.decoder(g);
                    } catch (LaminaException e) {
                        assertThat(e.getMessage()).doesNotContain("\n");
                    }
                    opened++;
                } catch (LaminaException e) {
                    assertThat(e.getMessage()).doesNotContain("\n").startsWith(f.toString());
                    refusedCount++;
                } catch (RuntimeException | Error e) {
                    fail("round " + round + " of " + valid.getFileName() + ": " + e, e);
                }
            }
            assertThat(opened).as("some mutations are harmless").isPositive();
            assertThat(refusedCount).as("most are refused").isGreaterThan(100);
        }
        assertThat(MemorySegment.NULL.byteSize()).isZero();
    }
}
