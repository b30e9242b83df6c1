package dev.lamina.io;

import dev.lamina.tensor.Tensor;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectReader;
import tools.jackson.databind.ObjectWriter;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The safetensors format: an 8-byte little-endian header length n, n bytes of UTF-8 JSON
 * {@code {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {k: v}}}, then the raw
 * little-endian data, offsets relative to the end of the header.
 *
 * <p>{@link #open} memory-maps the file and validates the whole header up front, so a bad file
 * fails at once with a one-line message rather than later inside the model. {@link Writer} writes
 * files atomically, streaming the data.
 */
public final class SafeTensors implements TensorReader {

    /** Element types of the format with their byte sizes. */
    public enum DType {
        F32(4), F16(2), BF16(2), I32(4), I64(8), I8(1), U8(1), BOOL(1), F64(8);

        public final int size;
        DType(int size) { this.size = size; }

        static DType parse(String s) {
            for (DType d : values()) if (d.name().equals(s)) return d;
            return null;
        }

        static String known() { return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(" ")); }
    }

    /** One header entry; its bytes are [begin, end) past the header. */
    private record Entry(String name, DType dtype, int[] shape, long begin, long end) {
        long count() { return Tensor.count(shape); }
    }

    static final long MAX_HEADER = 100L << 20;
    static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ObjectReader HEADER_READER = Json.MAPPER.reader()
            .with(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final ObjectWriter HEADER_WRITER = Json.MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT);

    private final Path file;
    private final Arena arena;
    private final MemorySegment data;          // the data section, after the header
    private final Map<String, Entry> entries;  // header order
    private final Map<String, String> metadata;

    private SafeTensors(Path file, Arena arena, MemorySegment data, Map<String, Entry> entries, Map<String, String> metadata) {
        this.file = file;
        this.arena = arena;
        this.data = data;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Maps and validates a file. Close it to unmap. */
    public static SafeTensors open(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8)
                throw bad(file, "file is " + size + " bytes, shorter than the 8-byte header length; not a safetensors file");
            Arena arena = Arena.ofShared();
            try {
                MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                long n = all.get(I64_LE, 0);
                if (n < 0 || n > MAX_HEADER)
                    throw bad(file, "header length " + Long.toUnsignedString(n) + " is absurd (limit 100 MB); not a safetensors file");
                if (8 + n > size)
                    throw bad(file, "header length " + n + " runs past the end of the file (" + size + " bytes); the file is truncated");
                JsonNode root = parseHeader(file, all.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE));
                MemorySegment data = all.asSlice(8 + n);
                Map<String, String> meta = new LinkedHashMap<>();
                Map<String, Entry> entries = new LinkedHashMap<>();
                for (Map.Entry<String, JsonNode> e : root.properties()) {
                    if (e.getKey().equals("__metadata__")) readMetadata(file, e.getValue(), meta);
                    else entries.put(e.getKey(), entry(file, e.getKey(), e.getValue(), data.byteSize()));
                }
                checkOverlaps(file, entries.values());
                return new SafeTensors(file, arena, data, Collections.unmodifiableMap(entries), Collections.unmodifiableMap(meta));
            } catch (RuntimeException e) {
                arena.close();
                throw e;
            }
        } catch (NoSuchFileException e) {
            throw new LaminaException(file + ": file not found");
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    /** Opens a sharded checkpoint: a directory (or its index file) with model.safetensors.index.json. */
    public static ShardedSafeTensors openSharded(Path dirOrIndex) { return ShardedSafeTensors.open(dirOrIndex); }

    private static JsonNode parseHeader(Path file, byte[] bytes) {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = dec.decode(in, out, true);
        if (r.isError()) throw bad(file, "header is not valid UTF-8 (bad byte at header offset " + in.position() + ")");
        JsonNode root;
        try {
            root = HEADER_READER.readTree(out.flip().toString());
        } catch (JacksonException e) {
            throw bad(file, "header is not valid JSON (" + oneLine(e.getOriginalMessage()) + ")");
        }
        if (root == null || !root.isObject()) throw bad(file, "header is not a JSON object");
        return root;
    }

    private static void readMetadata(Path file, JsonNode m, Map<String, String> out) {
        if (!m.isObject()) throw bad(file, "__metadata__ must be an object of strings, got " + abbrev(m));
        for (Map.Entry<String, JsonNode> kv : m.properties()) {
            if (!kv.getValue().isString())
                throw bad(file, "__metadata__ value of '" + kv.getKey() + "' is not a string: " + abbrev(kv.getValue()));
            out.put(kv.getKey(), kv.getValue().stringValue());
        }
    }

    private static Entry entry(Path file, String name, JsonNode v, long dataBytes) {
        String t = "tensor '" + name + "': ";
        if (!v.isObject()) throw bad(file, t + "expected an object with dtype, shape and data_offsets, got " + abbrev(v));
        JsonNode dt = v.get("dtype");
        if (dt == null || !dt.isString()) throw bad(file, t + "missing dtype");
        DType dtype = DType.parse(dt.stringValue());
        if (dtype == null) throw bad(file, t + "unknown dtype '" + dt.stringValue() + "' (known: " + DType.known() + ")");
        JsonNode sh = v.get("shape");
        if (sh == null || !sh.isArray()) throw bad(file, t + "shape must be an array of integers, got " + abbrev(sh));
        int[] shape = new int[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToInt()) throw bad(file, t + "shape " + sh + " has a non-integer dimension");
            if (d.intValue() < 0) throw bad(file, t + "negative dimension " + d.intValue() + " in shape " + sh);
            shape[i] = d.intValue();
        }
        JsonNode off = v.get("data_offsets");
        if (off == null || !off.isArray() || off.size() != 2 || !isLong(off.get(0)) || !isLong(off.get(1))
                || off.get(0).longValue() < 0 || off.get(1).longValue() < off.get(0).longValue())
            throw bad(file, t + "data_offsets must be two ascending integers [begin, end], got " + abbrev(off));
        long begin = off.get(0).longValue(), end = off.get(1).longValue();
        if (end > dataBytes)
            throw bad(file, t + "data_offsets end " + end + " is beyond the file (the data section has " + dataBytes + " bytes)");
        long need;
        try {
            long count = 1;
            for (int d : shape) count = Math.multiplyExact(count, (long) d);
            need = Math.multiplyExact(count, (long) dtype.size);
        } catch (ArithmeticException e) {
            throw bad(file, t + "shape " + sh + " is too large");
        }
        if (end - begin != need)
            throw bad(file, t + "holds " + (end - begin) + " bytes but dtype " + dtype + " with shape " + sh + " needs " + need);
        return new Entry(name, dtype, shape, begin, end);
    }

    private static boolean isLong(JsonNode n) { return n.isIntegralNumber() && n.canConvertToLong(); }

    private static void checkOverlaps(Path file, Collection<Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.removeIf(e -> e.begin == e.end);  // empty tensors occupy no bytes
        sorted.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < sorted.size(); i++) {
            Entry a = sorted.get(i - 1), b = sorted.get(i);
            if (b.begin < a.end)
                throw bad(file, "tensors '" + a.name + "' [" + a.begin + ", " + a.end + ") and '" + b.name
                        + "' [" + b.begin + ", " + b.end + ") overlap");
        }
    }

    // ---- reading ------------------------------------------------------------------------

    @Override public Set<String> names() { return entries.keySet(); }
    @Override public boolean has(String name) { return entries.containsKey(name); }
    @Override public int[] shape(String name) { return entry(name).shape.clone(); }
    @Override public String dtype(String name) { return entry(name).dtype.name(); }
    @Override public Map<String, String> metadata() { return metadata; }
    public Path file() { return file; }

    @Override
    public float[] floats(String name) {
        float[] out = new float[length(entry(name))];
        floatsInto(name, out, 0);
        return out;
    }

    /** Straight from the mapping into dst: a multi-GB checkpoint never passes through a second heap copy. */
    @Override
    public void floatsInto(String name, float[] out, int off) {
        Entry e = entry(name);
        MemorySegment s = slice(e);
        int n = length(e);
        if (off < 0 || off + n > out.length)
            throw new IndexOutOfBoundsException(name + ": " + n + " values do not fit at " + off + " in " + out.length);
        switch (e.dtype) {
            case F32 -> MemorySegment.copy(s, F32_LE, 0, out, off, n);
            case F16 -> { for (int i = 0; i < n; i++) out[off + i] = Float.float16ToFloat(s.getAtIndex(I16_LE, i)); }
            case BF16 -> { for (int i = 0; i < n; i++) out[off + i] = Float.intBitsToFloat(s.getAtIndex(I16_LE, i) << 16); }
            case F64 -> { for (int i = 0; i < n; i++) out[off + i] = (float) s.getAtIndex(F64_LE, i); }
            default -> throw new LaminaException(file + ": tensor '" + name + "' has dtype " + e.dtype
                    + "; floats() reads F32, F16, BF16 or F64");
        }
    }

    @Override
    public int[] ints(String name) {
        Entry e = entry(name);
        if (e.dtype == DType.I32) {
            int[] out = new int[length(e)];
            MemorySegment.copy(slice(e), I32_LE, 0, out, 0, out.length);
            return out;
        }
        long[] wide = integers(e, name, "ints()");
        int[] out = new int[wide.length];
        for (int i = 0; i < out.length; i++) {
            if (wide[i] != (int) wide[i])
                throw new LaminaException(file + ": tensor '" + name + "' (" + e.dtype + ") value " + wide[i]
                        + " at index " + i + " does not fit in a 32-bit int");
            out[i] = (int) wide[i];
        }
        return out;
    }

    /** The values of an integer tensor as longs: I64 exactly, I32, I8, U8 and BOOL widened. */
    public long[] longs(String name) { return integers(entry(name), name, "longs()"); }

    private long[] integers(Entry e, String name, String caller) {
        MemorySegment s = slice(e);
        long[] out = new long[length(e)];
        switch (e.dtype) {
            case I64 -> MemorySegment.copy(s, I64_LE, 0, out, 0, out.length);
            case I32 -> { for (int i = 0; i < out.length; i++) out[i] = s.getAtIndex(I32_LE, i); }
            case I8, BOOL -> { for (int i = 0; i < out.length; i++) out[i] = s.get(ValueLayout.JAVA_BYTE, i); }
            case U8 -> { for (int i = 0; i < out.length; i++) out[i] = s.get(ValueLayout.JAVA_BYTE, i) & 0xff; }
            default -> throw new LaminaException(file + ": tensor '" + name + "' has dtype " + e.dtype
                    + "; " + caller + " reads I32, I64, I8, U8 or BOOL");
        }
        return out;
    }

    /** Unmaps the file; any later read fails. */
    @Override public void close() { arena.close(); }

    private MemorySegment slice(Entry e) { return data.asSlice(e.begin, e.end - e.begin); }

    private int length(Entry e) {
        long n = e.count();
        if (n > Integer.MAX_VALUE - 8)
            throw new LaminaException(file + ": tensor '" + e.name + "' has " + n + " elements, too many for one Java array");
        return (int) n;
    }

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new LaminaException(file + ": no tensor '" + name + "'" + suggest(name, entries.keySet()));
        return e;
    }

    /** " (N tensors, e.g. a, b, c)": the names sharing the longest prefix with the one asked for. */
    static String suggest(String name, Set<String> names) {
        if (names.isEmpty()) return " (the file has no tensors)";
        List<String> near = names.stream()
                .sorted(Comparator.comparingInt((String n) -> -commonPrefix(n, name)))
                .limit(5).toList();
        return " (" + names.size() + " tensors, e.g. " + String.join(", ", near) + (names.size() > 5 ? ", …" : "") + ")";
    }

    private static int commonPrefix(String a, String b) {
        int n = Math.min(a.length(), b.length()), i = 0;
        while (i < n && a.charAt(i) == b.charAt(i)) i++;
        return i;
    }

    static LaminaException bad(Path file, String what) { return new LaminaException(file + ": " + what); }

    static String oneLine(String s) { return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ").trim(); }

    private static String abbrev(JsonNode n) {
        String s = n == null ? "nothing" : oneLine(n.toString());
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    // ---- writing ------------------------------------------------------------------------

    /**
     * Collects tensors and writes them in insertion order. The arrays are referenced, not copied
     * (a checkpoint may be hundreds of MB): do not change them before {@link #write}.
     */
    public static final class Writer {
        private record Pending(String name, DType dtype, int[] shape, Object array, int offset, int count) {}

        private final Map<String, Pending> tensors = new LinkedHashMap<>();
        private final Map<String, String> metadata = new LinkedHashMap<>();

        public Writer putFloats(String name, float[] data, int... shape) { return add(name, DType.F32, shape, data, 0, data.length); }

        public Writer putTensor(String name, Tensor t) { return add(name, DType.F32, t.shape(), t.data(), t.offset(), t.size()); }

        /** Stored as IEEE half precision, rounded to nearest even (overflow becomes ±infinity). */
        public Writer putF16(String name, float[] data, int... shape) { return add(name, DType.F16, shape, data, 0, data.length); }

        /** Stored as bfloat16 (the top 16 bits of float32), rounded to nearest even. */
        public Writer putBF16(String name, float[] data, int... shape) { return add(name, DType.BF16, shape, data, 0, data.length); }

        public Writer putInts(String name, int[] data, int... shape) { return add(name, DType.I32, shape, data, 0, data.length); }

        /** Stored as I64, e.g. token ids or positions as PyTorch saves them; read back with {@link SafeTensors#longs}. */
        public Writer putLongs(String name, long[] data, int... shape) { return add(name, DType.I64, shape, data, 0, data.length); }

        public Writer metadata(String key, String value) {
            metadata.put(key, Objects.requireNonNull(value, "metadata value"));
            return this;
        }

        private Writer add(String name, DType dtype, int[] shape, Object array, int offset, int count) {
            if (name == null || name.isEmpty() || name.equals("__metadata__"))
                throw new IllegalArgumentException("invalid tensor name '" + name + "'");
            if (tensors.containsKey(name)) throw new IllegalArgumentException("tensor '" + name + "' was already added");
            for (int d : shape) if (d < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
            if (Tensor.count(shape) != count)
                throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " holds "
                        + Tensor.count(shape) + " values but the data has " + count);
            tensors.put(name, new Pending(name, dtype, shape.clone(), array, offset, count));
            return this;
        }

        /** Writes the file atomically (temp file in the same directory, then rename). */
        public void write(Path file) {
            ObjectNode header = Json.MAPPER.createObjectNode();
            if (!metadata.isEmpty()) {
                ObjectNode m = header.putObject("__metadata__");
                metadata.forEach(m::put);
            }
            long off = 0;
            for (Pending p : tensors.values()) {
                ObjectNode e = header.putObject(p.name);
                e.put("dtype", p.dtype.name());
                ArrayNode s = e.putArray("shape");
                for (int d : p.shape) s.add(d);
                long len = (long) p.count * p.dtype.size;
                e.putArray("data_offsets").add(off).add(off + len);
                off += len;
            }
            byte[] json = HEADER_WRITER.writeValueAsBytes(header);
            int padded = (json.length + 7) & ~7;  // keeps the data 8-byte aligned
            AtomicFiles.write(file, out -> {
                byte[] buf = new byte[1 << 16];
                MemorySegment seg = MemorySegment.ofArray(buf);
                seg.set(I64_LE, 0, padded);
                out.write(buf, 0, 8);
                out.write(json);
                for (int i = json.length; i < padded; i++) out.write(' ');
                for (Pending p : tensors.values()) writeData(out, p, buf, seg);
            });
        }

        private static void writeData(OutputStream out, Pending p, byte[] buf, MemorySegment seg) throws IOException {
            int chunk = buf.length / p.dtype.size;
            for (int done = 0; done < p.count; ) {
                int n = Math.min(chunk, p.count - done), from = p.offset + done;
                switch (p.dtype) {
                    case F32 -> MemorySegment.copy(p.array, from, seg, F32_LE, 0, n);
                    case I32 -> MemorySegment.copy(p.array, from, seg, I32_LE, 0, n);
                    case I64 -> MemorySegment.copy(p.array, from, seg, I64_LE, 0, n);
                    case F16 -> {
                        float[] a = (float[]) p.array;
                        for (int i = 0; i < n; i++) seg.setAtIndex(I16_LE, i, Float.floatToFloat16(a[from + i]));
                    }
                    case BF16 -> {
                        float[] a = (float[]) p.array;
                        for (int i = 0; i < n; i++) seg.setAtIndex(I16_LE, i, toBFloat16(a[from + i]));
                    }
                    default -> throw new IllegalStateException(p.dtype.name());
                }
                out.write(buf, 0, n * p.dtype.size);
                done += n;
            }
        }
    }

    /** float32 → bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN. */
    static short toBFloat16(float f) { return dev.lamina.tensor.Precision.bf16Bits(f); }
}
