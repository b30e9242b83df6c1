package dev.lamina.io;

import dev.lamina.model.ModelConfig;
import dev.lamina.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafeTensorsTest {
    @TempDir Path dir;

    static Path resource(String name) {
        try {
            return Path.of(SafeTensorsTest.class.getResource("/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("test resource " + name + " missing", e);
        }
    }

    @Test
    void roundTripsEveryWrittenDtypeInOrderWithMetadata() throws IOException {
        float[] f = {1.5f, -2.25f, 0f, 3.0e-3f, 1e4f, -0f};
        int[] ints = {Integer.MIN_VALUE, -1, 0, 1, 42, Integer.MAX_VALUE};
        long[] longs = {Long.MIN_VALUE, Integer.MIN_VALUE - 1L, -1, 0, Integer.MAX_VALUE + 1L, 0x0102030405060708L, Long.MAX_VALUE, 7};
        long[] smallLongs = {-3, 0, 50_256};
        Tensor big = Tensor.of(new float[] {9, 9, 1, 2, 3, 4, 5, 6, 9}, 3, 3);
        Tensor view = big.rows(0, 3).view(9).rows(2, 8).view(2, 3);  // floats 1..6 at offset 2
        Path file = dir.resolve("all.safetensors");
        new SafeTensors.Writer()
                .putFloats("z.f32", f, 2, 3)
                .putF16("a.f16", f, 6)
                .putBF16("m.bf16", f, 3, 2)
                .putInts("ids", ints, 1, 6)
                .putLongs("pos.i64", longs, 2, 4)
                .putLongs("small.i64", smallLongs, 3)
                .putTensor("view", view)
                .putFloats("scalar", new float[] {7f})
                .putFloats("empty", new float[0], 0, 5)
                .metadata("format", "pt").metadata("step", "12")
                .write(file);

        try (SafeTensors st = SafeTensors.open(file)) {
            assertThat(st.names()).containsExactly("z.f32", "a.f16", "m.bf16", "ids", "pos.i64", "small.i64", "view", "scalar", "empty");
            assertThat(st.dtype("z.f32")).isEqualTo("F32");
            assertThat(st.dtype("a.f16")).isEqualTo("F16");
            assertThat(st.dtype("m.bf16")).isEqualTo("BF16");
            assertThat(st.dtype("ids")).isEqualTo("I32");
            assertThat(st.dtype("pos.i64")).isEqualTo("I64");
            assertThat(st.shape("pos.i64")).containsExactly(2, 4);
            assertThat(st.shape("m.bf16")).containsExactly(3, 2);
            assertThat(st.shape("scalar")).isEmpty();
            assertThat(st.shape("empty")).containsExactly(0, 5);
            assertThat(st.floats("z.f32")).containsExactly(f);
            assertThat(st.floats("a.f16")).containsExactly(1.5f, -2.25f, 0f, Float.float16ToFloat(Float.floatToFloat16(3.0e-3f)), 1e4f, -0f);
            assertThat(st.floats("m.bf16")).containsExactly(1.5f, -2.25f, 0f, Float.intBitsToFloat(0x3B45 << 16), 9984f, -0f);
            assertThat(st.ints("ids")).containsExactly(ints);
            assertThat(st.longs("pos.i64")).containsExactly(longs);
            assertThat(st.longs("ids")).containsExactly(-2147483648L, -1, 0, 1, 42, 2147483647L);
            assertThat(st.ints("small.i64")).containsExactly(-3, 0, 50_256);
            assertThatThrownBy(() -> st.ints("pos.i64")).hasMessageContaining("(I64) value " + Long.MIN_VALUE + " at index 0")
                    .hasMessageContaining("does not fit in a 32-bit int");
            assertThat(st.tensor("view").shape()).containsExactly(2, 3);
            assertThat(st.tensor("view").toArray()).containsExactly(1, 2, 3, 4, 5, 6);
            assertThat(st.floats("scalar")).containsExactly(7f);
            assertThat(st.floats("empty")).isEmpty();
            assertThat(st.metadata()).containsExactly(Map.entry("format", "pt"), Map.entry("step", "12"));
            assertThat(st.has("ids")).isTrue();
            assertThat(st.has("nope")).isFalse();
        }
        // I64 is little-endian on disk: pos.i64 starts after 24 + 12 + 12 + 24 bytes of data; element 5 is 0x0102030405060708
        byte[] raw = Files.readAllBytes(file);
        long header = ByteBuffer.wrap(raw, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        int at = (int) (8 + header + 72 + 5 * 8);
        assertThat(Arrays.copyOfRange(raw, at, at + 8)).containsExactly(8, 7, 6, 5, 4, 3, 2, 1);
    }

    @Test
    void headerIsPaddedToEightBytes() throws IOException {
        Path file = dir.resolve("p.safetensors");
        new SafeTensors.Writer().putFloats("x", new float[] {1}, 1).write(file);
        long n = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(n % 8).isZero();
        assertThat(Files.size(file)).isEqualTo(8 + n + 4);
    }

    @Test
    void f16AndBf16RoundToNearestEvenWithinTheirPrecision() {
        SplittableRandom r = new SplittableRandom(3);
        float[] x = new float[4000];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-4, 5)));
        Path file = dir.resolve("h.safetensors");
        new SafeTensors.Writer().putF16("h", x, x.length).putBF16("b", x, x.length).write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            float[] h = st.floats("h"), b = st.floats("b");
            for (int i = 0; i < x.length; i++) {
                float a = Math.abs(x[i]);
                if (a >= 0x1p-14f && a <= 65504f)  // normal half range: 11 significant bits
                    assertThat((double) Math.abs(h[i] - x[i])).isLessThanOrEqualTo(a * 0x1p-11);
                assertThat(b[i]).isEqualTo(bf16Reference(x[i]));
                assertThat((double) Math.abs(b[i] - x[i])).isLessThanOrEqualTo(a * 0x1p-8);
            }
        }
    }

    /** The nearer of the two bfloat16 neighbours of x, ties to the even one. */
    private static float bf16Reference(float x) {
        int lo = Float.floatToRawIntBits(x) & 0xFFFF0000;
        float a = Float.intBitsToFloat(lo), c = Float.intBitsToFloat(lo + 0x10000);
        double da = Math.abs((double) x - a), dc = Math.abs((double) c - x);
        if (da != dc) return da < dc ? a : c;
        return (lo & 0x10000) == 0 ? a : c;
    }

    @Test
    void readsTheOfficialLibrarysFileAndMatchesTorchRounding() {
        try (SafeTensors st = SafeTensors.open(resource("safetensors/dtypes.safetensors"))) {
            float[] src = st.floats("src_f32");
            assertThat(st.shape("f16")).containsExactly(2, 3, 12);
            assertThat(st.floats("f16")).containsExactly(st.floats("f16_as_f32"));
            assertThat(st.floats("bf16")).containsExactly(st.floats("bf16_as_f32"));
            assertThat(st.floats("f64")).containsExactly(src);
            assertThat(st.ints("i64")).containsExactly(0, 1, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, 12345);
            assertThat(st.ints("i32")).containsExactly(-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6);
            assertThat(st.ints("i8")).containsExactly(-128, -1, 0, 127);
            assertThat(st.ints("u8")).containsExactly(0, 1, 200, 255);
            assertThat(st.ints("bool")).containsExactly(1, 0, 1);
            assertThat(st.shape("scalar")).isEmpty();
            assertThat(st.floats("scalar")).containsExactly(2.5f);
            assertThat(st.shape("empty")).containsExactly(0, 4);
            assertThat(st.metadata()).containsEntry("format", "pt");
            assertThatThrownBy(() -> st.ints("i64_big"))
                    .isInstanceOf(LaminaException.class)
                    .hasMessageContaining("dtypes.safetensors").hasMessageContaining("i64_big")
                    .hasMessageContaining("1099511627776").hasMessageContaining("does not fit");

            // our writer rounds exactly as torch does
            Path file = dir.resolve("mine.safetensors");
            new SafeTensors.Writer().putF16("h", src, 2, 3, 12).putBF16("b", src, 2, 3, 12).write(file);
            try (SafeTensors mine = SafeTensors.open(file)) {
                assertThat(mine.floats("h")).containsExactly(st.floats("f16_as_f32"));
                assertThat(mine.floats("b")).containsExactly(st.floats("bf16_as_f32"));
            }
        }
    }

    @Test
    void readsTheSharedTestVectors() {
        try (SafeTensors st = SafeTensors.open(resource("testvectors/llama_pre.safetensors"))) {
            assertThat(st.dtype("input_ids")).isEqualTo("I32");
            assertThat(st.shape("input_ids")).containsExactly(2, 16);
            assertThat(java.util.Arrays.stream(st.ints("input_ids"))).allSatisfy(id -> assertThat(id).isBetween(0, 66));
            assertThat(st.dtype("logits")).isEqualTo("F32");
            assertThat(st.tensor("logits").shape()).containsExactly(2, 16, 67);
            assertThat(st.shape("loss")).containsExactly(1);
            assertThat(st.floats("loss")[0]).isBetween(3f, 6f);
            assertThat(st.shape("param.layers.0.self_attn.q_proj.weight")).containsExactly(32, 32);
        }
    }

    /** Every fixture (shared and extra) is well formed: config parses, params have grads, shapes agree. */
    @Test
    void everyParityFixtureIsConsistent() throws IOException {
        for (String folder : List.of("testvectors", "testvectors-extra")) {
            List<Path> jsons;
            try (Stream<Path> s = Files.list(resource(folder))) {
                jsons = s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
            }
            assertThat(jsons).hasSizeGreaterThanOrEqualTo(7);
            for (Path json : jsons) {
                ModelConfig cfg = ModelConfig.read(json);
                Path st = json.resolveSibling(json.getFileName().toString().replace(".json", ".safetensors"));
                assertThat(Files.size(st)).isLessThan(1 << 20);
                try (TensorReader r = TensorReader.open(st)) {
                    int[] ids = r.shape("input_ids");
                    assertThat(r.shape("logits")).containsExactly(ids[0], ids[1], cfg.vocabSize());
                    assertThat(r.shape("param.embed_tokens.weight")).containsExactly(cfg.vocabSize(), cfg.hiddenSize());
                    assertThat(r.has("param.lm_head.weight")).isEqualTo(!cfg.tieWordEmbeddings());
                    assertThat(r.has("param.layers." + (cfg.numHiddenLayers() - 1) + ".input_layernorm.weight")).isTrue();
                    assertThat(r.shape("param.layers.0.self_attn.k_proj.weight")).containsExactly(cfg.kvDim(), cfg.hiddenSize());
                    for (String n : r.names())
                        if (n.startsWith("param.")) assertThat(r.shape("grad." + n.substring(6))).containsExactly(r.shape(n));
                }
            }
        }
    }

    @Test
    void missingNameListsSomeNames() {
        try (SafeTensors st = SafeTensors.open(resource("testvectors/llama_pre.safetensors"))) {
            assertThatThrownBy(() -> st.floats("param.layers.0.attn.q_proj.weight"))
                    .isInstanceOf(LaminaException.class)
                    .hasMessageContaining("llama_pre.safetensors")
                    .hasMessageContaining("no tensor 'param.layers.0.attn.q_proj.weight'")
                    .hasMessageContaining("param.layers.0.");
        }
    }

    @Test
    void wrongAccessorSaysWhatTheDtypeIs() {
        try (SafeTensors st = SafeTensors.open(resource("testvectors/llama_pre.safetensors"))) {
            assertThatThrownBy(() -> st.ints("logits")).hasMessageContaining("'logits' has dtype F32");
            assertThatThrownBy(() -> st.floats("input_ids")).hasMessageContaining("'input_ids' has dtype I32");
        }
    }

    @Test
    void writerRejectsBadInput() {
        SafeTensors.Writer w = new SafeTensors.Writer().putFloats("a", new float[2], 2);
        assertThatThrownBy(() -> w.putFloats("a", new float[2], 2)).hasMessageContaining("already added");
        assertThatThrownBy(() -> w.putFloats("b", new float[2], 3)).hasMessageContaining("holds 3 values but the data has 2");
        assertThatThrownBy(() -> w.putFloats("__metadata__", new float[1], 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void failedWriteLeavesNoTempFile() throws IOException {
        Path target = dir.resolve("out.safetensors");
        Files.createDirectories(target.resolve("occupied"));  // a non-empty directory: the final rename fails
        assertThatThrownBy(() -> new SafeTensors.Writer().putFloats("x", new float[100], 100).write(target))
                .isInstanceOf(LaminaException.class).hasMessageContaining("out.safetensors");
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactly("out.safetensors");
        }
    }

    // ---- malformed files: one case each; the message names the file and the problem ----------

    private Path raw(byte[] bytes) throws IOException {
        Path p = dir.resolve("bad.safetensors");
        Files.write(p, bytes);
        return p;
    }

    /** A file with the given header (unpadded) followed by dataBytes zero bytes. */
    private Path withHeader(byte[] header, int dataBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        return raw(b.array());
    }

    private static void assertBad(Path file, String... fragments) {
        assertThatThrownBy(() -> SafeTensors.open(file).close())
                .isInstanceOf(LaminaException.class)
                .satisfies(e -> {
                    assertThat(e.getMessage()).startsWith(file.toString() + ": ").doesNotContain("\n");
                    for (String f : fragments) assertThat(e.getMessage()).contains(f);
                });
    }

    @Test
    void fileShorterThanEightBytes() throws IOException {
        assertBad(raw(new byte[] {1, 2, 3}), "3 bytes", "shorter than the 8-byte header length");
    }

    @Test
    void headerLengthBeyondTheFile() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000);
        assertBad(raw(b.array()), "header length 1000 runs past the end of the file (16 bytes)");
    }

    @Test
    void absurdHeaderLength() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(200L << 20);
        assertBad(raw(b.array()), "header length 209715200 is absurd");
        ByteBuffer neg = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1);
        assertBad(raw(neg.array()), "header length 18446744073709551615 is absurd");
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[] h = "{\"a\u00ff\":1}".getBytes(StandardCharsets.ISO_8859_1);
        assertBad(withHeader(h, 0), "header is not valid UTF-8", "offset 3");
    }

    @Test
    void missingFile() {
        assertBad(dir.resolve("none.safetensors"), "file not found");
    }

    static Stream<Arguments> badHeaders() {
        String ok = "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]";
        return Stream.of(
                Arguments.of("not JSON", "{\"a\": ", 0, List.of("header is not valid JSON")),
                Arguments.of("duplicate name", "{\"a\":{" + ok + "},\"a\":{" + ok + "}}", 8, List.of("header is not valid JSON", "a")),
                Arguments.of("not an object", "[1, 2]", 0, List.of("header is not a JSON object")),
                Arguments.of("entry not an object", "{\"w\": 5}", 0, List.of("tensor 'w'", "expected an object")),
                Arguments.of("unknown dtype", "{\"w\":{\"dtype\":\"F8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2,
                        List.of("tensor 'w'", "unknown dtype 'F8'", "F32 F16 BF16 I32 I64 I8 U8 BOOL F64")),
                Arguments.of("missing dtype", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, List.of("tensor 'w'", "missing dtype")),
                Arguments.of("negative dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", 8,
                        List.of("tensor 'w'", "negative dimension -1")),
                Arguments.of("shape not array", "{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8,
                        List.of("tensor 'w'", "shape must be an array")),
                Arguments.of("offsets descending", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8,
                        List.of("tensor 'w'", "data_offsets must be two ascending integers", "[8,0]")),
                Arguments.of("offsets not integers", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.5,8]}}", 8,
                        List.of("tensor 'w'", "data_offsets must be two ascending integers")),
                Arguments.of("one offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", 8,
                        List.of("tensor 'w'", "data_offsets must be two ascending integers")),
                Arguments.of("end beyond file", "{\"w\":{" + ok + "}}", 4, List.of("tensor 'w'", "end 8 is beyond the file")),
                Arguments.of("size mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                        List.of("tensor 'w'", "holds 8 bytes but dtype F32 with shape [3] needs 12")),
                Arguments.of("overlap", "{\"a\":{" + ok + "},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                        List.of("'a' [0, 8)", "'b' [4, 12)", "overlap")),
                Arguments.of("metadata value not a string", "{\"__metadata__\":{\"step\":5}}", 0,
                        List.of("__metadata__ value of 'step' is not a string")),
                Arguments.of("metadata not an object", "{\"__metadata__\":[1]}", 0, List.of("__metadata__ must be an object")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badHeaders")
    void malformedHeader(String name, String header, int dataBytes, List<String> fragments) throws IOException {
        assertBad(withHeader(header.getBytes(StandardCharsets.UTF_8), dataBytes), fragments.toArray(String[]::new));
    }
}
