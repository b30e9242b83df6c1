package dev.lamina.gguf;

import dev.lamina.io.LaminaException;
import dev.lamina.io.TensorReader;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A GGUF file (llama.cpp's format, versions 2 and 3, little-endian), memory-mapped.
 *
 * <pre>
 * "GGUF" u32 version u64 tensor_count u64 kv_count
 * kv_count × (string key, u32 value type, value)          string = u64 length + UTF-8 bytes
 * tensor_count × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset)
 * padding to general.alignment (default 32), then the data section; offsets are relative to it
 * </pre>
 *
 * ne[0] is the innermost (contiguous) dimension, so a [rows, cols] matrix has ne = {cols, rows};
 * {@link #shape} gives the row-major order, {@link Tensor#ne} the file's. {@link #open} validates
 * everything up front (structure, types, alignment, bounds, overlaps): a bad file fails at once with
 * a one-line {@link LaminaException} naming the field. {@link #raw} hands out a tensor's block bytes
 * in place, for kernels that compute on quantized weights.
 */
public final class GgufFile implements TensorReader {
    static final int MAGIC = 0x46554747;           // "GGUF" little-endian
    static final int DEFAULT_ALIGNMENT = 32;
    static final String ALIGNMENT_KEY = "general.alignment";
    static final int MAX_DIMS = 4;
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One tensor: ggml type, dimensions innermost first, and its byte range in the data section. */
    public record Tensor(String name, GgmlType type, long[] ne, long offset, long bytes) {
        public long count() {
            long n = 1;
            for (long d : ne) n *= d;
            return n;
        }

        /** Row-major shape (outermost first), as numpy and safetensors write it. */
        public int[] shape() {
            int[] s = new int[ne.length];
            for (int i = 0; i < ne.length; i++) s[i] = (int) ne[ne.length - 1 - i];
            return s;
        }
    }

    private final Path file;
    private final Arena arena;
    private final int version;
    private final long alignment;
    private final MemorySegment data;
    private final Map<String, GgufValue> metadata;
    private final Map<String, Tensor> tensors;

    private GgufFile(Path file, Arena arena, int version, long alignment, MemorySegment data,
                     Map<String, GgufValue> metadata, Map<String, Tensor> tensors) {
        this.file = file;
        this.arena = arena;
        this.version = version;
        this.alignment = alignment;
        this.data = data;
        this.metadata = metadata;
        this.tensors = tensors;
    }

    /** Maps and validates a file. Close it to unmap. */
    public static GgufFile open(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Arena arena = Arena.ofShared();
            try {
                MemorySegment all = ch.size() == 0 ? MemorySegment.NULL
                        : ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
                return parse(file, arena, all);
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

    /** Reads fields in order, refusing to run past the end. */
    private static final class Cursor {
        final Path file;
        final MemorySegment s;
        long pos;
        String context = "the header";

        Cursor(Path file, MemorySegment s) { this.file = file; this.s = s; }

        LaminaException bad(String what) { return new LaminaException(file + ": " + what); }

        void need(long n, String what) {
            if (n < 0 || n > s.byteSize() - pos)
                throw bad("truncated: " + what + " in " + context + " needs " + Long.toUnsignedString(n) + " bytes at offset " + pos
                        + " but the file has " + s.byteSize() + "; the file is incomplete or not GGUF");
        }

        int u32(String what) { need(4, what); int v = s.get(I32, pos); pos += 4; return v; }
        long u64(String what) { need(8, what); long v = s.get(I64, pos); pos += 8; return v; }

        String string(String what) {
            long n = u64(what + " length");
            need(n, what);
            if (n > Integer.MAX_VALUE - 8) throw bad(what + " in " + context + " is " + n + " bytes long, more than a string can hold");
            byte[] b = s.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE);
            pos += n;
            return new String(b, StandardCharsets.UTF_8);
        }

        long remaining() { return s.byteSize() - pos; }
    }

    private static GgufFile parse(Path file, Arena arena, MemorySegment all) {
        Cursor c = new Cursor(file, all);
        if (all.byteSize() < 4) throw c.bad("file is " + all.byteSize() + " bytes, too short for a GGUF header; not a GGUF file");
        int magic = c.u32("magic");
        if (magic != MAGIC) {
            byte[] m = all.asSlice(0, 4).toArray(ValueLayout.JAVA_BYTE);
            throw c.bad("magic is '" + printable(m) + "', not 'GGUF'; not a GGUF file");
        }
        int version = c.u32("version");
        if (version != 2 && version != 3) {
            if (Integer.reverseBytes(version) == 2 || Integer.reverseBytes(version) == 3)
                throw c.bad("version field is big-endian; Lamina reads little-endian GGUF files only");
            throw c.bad("unknown GGUF version " + Integer.toUnsignedString(version)
                    + (version == 1 ? " (version 1 predates 64-bit counts; re-convert the model)" : "") + "; Lamina reads versions 2 and 3");
        }
        long tensorCount = c.u64("tensor_count"), kvCount = c.u64("metadata_kv_count");
        // every entry takes at least 8 + 4 (+ 4) bytes, so a larger count cannot be right
        if (Long.compareUnsigned(kvCount, c.remaining() / 13) > 0)
            throw c.bad("metadata_kv_count " + Long.toUnsignedString(kvCount) + " does not fit in the file (" + all.byteSize()
                    + " bytes); the file is truncated or its header is corrupt");
        if (Long.compareUnsigned(tensorCount, c.remaining() / 24) > 0)
            throw c.bad("tensor_count " + Long.toUnsignedString(tensorCount) + " does not fit in the file (" + all.byteSize()
                    + " bytes); the file is truncated or its header is corrupt");

        Map<String, GgufValue> meta = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            c.context = "metadata entry " + i + " of " + kvCount;
            String key = c.string("key");
            c.context = "metadata '" + shown(key) + "'";
            int typeId = c.u32("value type");
            GgufValueType type = GgufValueType.of(typeId);
            if (type == null) throw c.bad("metadata '" + shown(key) + "' has unknown value type " + Integer.toUnsignedString(typeId));
            GgufValue v = new GgufValue(type, value(c, type, shown(key), 0));
            if (meta.put(key, v) != null) throw c.bad("metadata key '" + shown(key) + "' appears twice");
        }

        long alignment = DEFAULT_ALIGNMENT;
        GgufValue a = meta.get(ALIGNMENT_KEY);
        if (a != null) {
            if (a.type() != GgufValueType.UINT32)
                throw c.bad("metadata '" + ALIGNMENT_KEY + "' is " + a.type() + ", expected UINT32");
            alignment = (Long) a.value();
            if (alignment == 0 || Long.bitCount(alignment) != 1)
                throw c.bad("metadata '" + ALIGNMENT_KEY + "' is " + alignment + ", expected a power of two");
        }

        List<Tensor> infos = new ArrayList<>();
        Map<String, Tensor> byName = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            c.context = "tensor info " + i + " of " + tensorCount + " (tensor_count in the header)";
            String name = c.string("name");
            String t = "tensor '" + shown(name) + "' (info " + i + " of tensor_count " + tensorCount + "): ";
            int nDims = c.u32("n_dims");
            if (nDims < 1 || nDims > MAX_DIMS) throw c.bad(t + "n_dims is " + Integer.toUnsignedString(nDims) + ", expected 1 to " + MAX_DIMS);
            long[] ne = new long[nDims];
            long count = 1;
            for (int d = 0; d < nDims; d++) {
                ne[d] = c.u64("dimension " + d);
                if (ne[d] < 0 || ne[d] > Integer.MAX_VALUE)
                    throw c.bad(t + "dimension " + d + " is " + Long.toUnsignedString(ne[d]) + ", beyond what Lamina handles (2^31 - 1)");
                try {
                    count = Math.multiplyExact(count, ne[d]);
                } catch (ArithmeticException e) {
                    throw c.bad(t + "dimensions " + Arrays.toString(ne) + " are too large");
                }
            }
            int typeId = c.u32("type");
            GgmlType type = GgmlType.of(typeId);
            if (type == null) throw c.bad(t + "unknown ggml type " + Integer.toUnsignedString(typeId));
            if (ne[0] % type.blockSize != 0)
                throw c.bad(t + "row length " + ne[0] + " is not a multiple of the " + type + " block size " + type.blockSize);
            long offset = c.u64("offset");
            if (offset < 0 || offset % alignment != 0)
                throw c.bad(t + "data offset " + Long.toUnsignedString(offset) + " is not a multiple of the alignment " + alignment);
            Tensor info = new Tensor(name, type, ne, offset, count / type.blockSize * type.typeSize);
            if (byName.put(name, info) != null) throw c.bad("tensor name '" + shown(name) + "' appears twice");
            infos.add(info);
        }

        long dataStart = (c.pos + alignment - 1) / alignment * alignment;
        long dataBytes = Math.max(0, all.byteSize() - dataStart);
        for (Tensor info : infos) {
            if (info.offset > dataBytes || info.bytes > dataBytes - info.offset)
                throw c.bad("tensor '" + shown(info.name) + "' [" + info.offset + ", " + (info.offset + info.bytes) + ") runs past the end of the data section ("
                        + dataBytes + " bytes); the file is truncated");
        }
        List<Tensor> sorted = new ArrayList<>(infos);
        sorted.removeIf(x -> x.bytes == 0);
        sorted.sort(Comparator.comparingLong(Tensor::offset));
        for (int i = 1; i < sorted.size(); i++) {
            Tensor p = sorted.get(i - 1), q = sorted.get(i);
            if (q.offset < p.offset + p.bytes)
                throw c.bad("tensors '" + shown(p.name) + "' [" + p.offset + ", " + (p.offset + p.bytes) + ") and '" + shown(q.name) + "' ["
                        + q.offset + ", " + (q.offset + q.bytes) + ") overlap");
        }
        MemorySegment data = all.asSlice(Math.min(dataStart, all.byteSize()));
        return new GgufFile(file, arena, version, alignment, data, Collections.unmodifiableMap(meta), Collections.unmodifiableMap(byName));
    }

    private static final int MAX_NESTING = 8;

    private static Object value(Cursor c, GgufValueType type, String key, int depth) {
        return switch (type) {
            case UINT8 -> { c.need(1, "value"); yield (long) (c.s.get(ValueLayout.JAVA_BYTE, c.pos++) & 0xff); }
            case INT8 -> { c.need(1, "value"); yield (long) c.s.get(ValueLayout.JAVA_BYTE, c.pos++); }
            case UINT16 -> { c.need(2, "value"); long v = c.s.get(Dequantize.U16, c.pos) & 0xffff; c.pos += 2; yield v; }
            case INT16 -> { c.need(2, "value"); long v = c.s.get(Dequantize.U16, c.pos); c.pos += 2; yield v; }
            case UINT32 -> Integer.toUnsignedLong(c.u32("value"));
            case INT32 -> (long) c.u32("value");
            case UINT64, INT64 -> c.u64("value");
            case FLOAT32 -> Float.intBitsToFloat(c.u32("value"));
            case FLOAT64 -> Double.longBitsToDouble(c.u64("value"));
            case BOOL -> {
                c.need(1, "value");
                int b = c.s.get(ValueLayout.JAVA_BYTE, c.pos++);
                if (b != 0 && b != 1) throw c.bad("metadata '" + key + "': BOOL value is " + (b & 0xff) + ", expected 0 or 1");
                yield b == 1;
            }
            case STRING -> c.string("value");
            case ARRAY -> {
                if (depth >= MAX_NESTING) throw c.bad("metadata '" + key + "': arrays nested deeper than " + MAX_NESTING);
                int typeId = c.u32("array element type");
                GgufValueType et = GgufValueType.of(typeId);
                if (et == null) throw c.bad("metadata '" + key + "': array has unknown element type " + Integer.toUnsignedString(typeId));
                long n = c.u64("array length");
                long min = et.size > 0 ? et.size : et == GgufValueType.STRING ? 8 : 12;
                if (Long.compareUnsigned(n, c.remaining() / min) > 0)
                    throw c.bad("metadata '" + key + "': array length " + Long.toUnsignedString(n) + " runs past the end of the file; the file is truncated");
                List<Object> items = new ArrayList<>((int) Math.min(n, 1 << 16));
                for (long i = 0; i < n; i++) items.add(value(c, et, key, depth + 1));
                yield new GgufValue.Array(et, Collections.unmodifiableList(items));
            }
        };
    }

    /** A name from the file fit for a one-line message: control characters escaped, at most 80 characters. */
    static String shown(String name) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < name.length() && sb.length() < 80; i++) {
            char ch = name.charAt(i);
            if (Character.isISOControl(ch) || Character.getType(ch) == Character.LINE_SEPARATOR
                    || Character.getType(ch) == Character.PARAGRAPH_SEPARATOR) sb.append(String.format("\\x%02x", (int) ch & 0xff));
            else sb.append(ch);
        }
        return sb.length() < 80 || name.length() <= 80 ? sb.toString() : sb + "...";
    }

    private static String printable(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(x >= 32 && x < 127 ? String.valueOf((char) x) : String.format("\\x%02x", x & 0xff));
        return sb.toString();
    }

    // ---- the file ------------------------------------------------------------------------

    public Path file() { return file; }
    public int version() { return version; }
    public long alignment() { return alignment; }

    /** Every metadata entry, typed, in file order. */
    public Map<String, GgufValue> values() { return metadata; }

    /** Tensor infos in file order. */
    public Map<String, Tensor> tensors() { return tensors; }

    public Tensor info(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new LaminaException(file + ": no tensor '" + shown(name) + "' (" + tensors.size() + " tensors in the file)");
        return t;
    }

    /** The tensor's bytes in the mapping, blocks in file order (valid until close). */
    public MemorySegment raw(String name) {
        Tensor t = info(name);
        return data.asSlice(t.offset, t.bytes);
    }

    // ---- typed metadata ------------------------------------------------------------------

    public boolean hasValue(String key) { return metadata.containsKey(key); }

    private GgufValue need(String key) {
        GgufValue v = metadata.get(key);
        if (v == null) throw new LaminaException(file + ": metadata '" + key + "' is missing");
        return v;
    }

    private LaminaException wrongType(String key, GgufValue v, String expected) {
        String got = v.value() instanceof GgufValue.Array a ? "an array of " + a.elementType() : v.type().toString();
        return new LaminaException(file + ": metadata '" + key + "' is " + got + ", expected " + expected);
    }

    public String string(String key) {
        GgufValue v = need(key);
        if (v.type() != GgufValueType.STRING) throw wrongType(key, v, "a STRING");
        return (String) v.value();
    }

    /** An integer of any width, as a long (UINT64 beyond 2^63 is refused). */
    public long integer(String key) {
        GgufValue v = need(key);
        if (!v.type().isInteger()) throw wrongType(key, v, "an integer");
        long x = (Long) v.value();
        if (v.type() == GgufValueType.UINT64 && x < 0) throw new LaminaException(file + ": metadata '" + key + "' is " + v.describe() + ", too large");
        return x;
    }

    /** An integer that must fit in an int and be at least min. */
    public int intValue(String key, int min) {
        long x = integer(key);
        if (x < min || x > Integer.MAX_VALUE)
            throw new LaminaException(file + ": metadata '" + key + "' is " + x + ", expected an integer from " + min + " to " + Integer.MAX_VALUE);
        return (int) x;
    }

    /**
     * A FLOAT32 or FLOAT64 (integers are accepted too). A FLOAT32 is read as the shortest decimal
     * that rounds to it, so 1e-6 written as float32 reads back as 1e-6, not 9.99999997e-7.
     */
    public double number(String key) {
        GgufValue v = need(key);
        if (v.type() == GgufValueType.FLOAT32) return Double.parseDouble(Float.toString((Float) v.value()));
        if (v.type().isFloat()) return ((Number) v.value()).doubleValue();
        if (v.type().isInteger()) return integer(key);
        throw wrongType(key, v, "a number");
    }

    public boolean bool(String key) {
        GgufValue v = need(key);
        if (v.type() != GgufValueType.BOOL) throw wrongType(key, v, "a BOOL");
        return (Boolean) v.value();
    }

    private GgufValue.Array array(String key, String expected) {
        GgufValue v = need(key);
        if (!(v.value() instanceof GgufValue.Array a)) throw wrongType(key, v, expected);
        return a;
    }

    /** Whether the value is an array. */
    public boolean isArray(String key) { return need(key).value() instanceof GgufValue.Array; }

    @SuppressWarnings("unchecked")
    public List<Boolean> booleans(String key) {
        GgufValue.Array a = array(key, "an array of BOOL");
        if (a.elementType() != GgufValueType.BOOL) throw new LaminaException(file + ": metadata '" + key + "' is an array of " + a.elementType() + ", expected an array of BOOL");
        return (List<Boolean>) a.items();
    }

    @SuppressWarnings("unchecked")
    public List<String> strings(String key) {
        GgufValue.Array a = array(key, "an array of STRING");
        if (a.elementType() != GgufValueType.STRING) throw new LaminaException(file + ": metadata '" + key + "' is an array of " + a.elementType() + ", expected an array of STRING");
        return (List<String>) a.items();
    }

    public int[] intArray(String key) {
        GgufValue.Array a = array(key, "an array of integers");
        if (!a.elementType().isInteger()) throw new LaminaException(file + ": metadata '" + key + "' is an array of " + a.elementType() + ", expected an array of integers");
        int[] out = new int[a.items().size()];
        for (int i = 0; i < out.length; i++) {
            long x = (Long) a.items().get(i);
            if (x != (int) x) throw new LaminaException(file + ": metadata '" + key + "'[" + i + "] is " + x + ", beyond 32 bits");
            out[i] = (int) x;
        }
        return out;
    }

    public float[] floatArray(String key) {
        GgufValue.Array a = array(key, "an array of FLOAT32");
        if (!a.elementType().isFloat()) throw new LaminaException(file + ": metadata '" + key + "' is an array of " + a.elementType() + ", expected an array of FLOAT32");
        float[] out = new float[a.items().size()];
        for (int i = 0; i < out.length; i++) out[i] = ((Number) a.items().get(i)).floatValue();
        return out;
    }

    // ---- TensorReader ----------------------------------------------------------------------

    @Override public Set<String> names() { return tensors.keySet(); }
    @Override public boolean has(String name) { return tensors.containsKey(name); }
    @Override public int[] shape(String name) { return info(name).shape(); }
    @Override public String dtype(String name) { return info(name).type.name(); }

    /** Scalar metadata as text; arrays as "array of N TYPE". */
    @Override
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        metadata.forEach((k, v) -> m.put(k, v.describe()));
        return m;
    }

    @Override
    public float[] floats(String name) {
        Tensor t = info(name);
        if (t.count() > Integer.MAX_VALUE - 8)
            throw new LaminaException(file + ": tensor '" + shown(name) + "' has " + t.count() + " values, too many for one Java array");
        float[] out = new float[(int) t.count()];
        floatsInto(name, out, 0);
        return out;
    }

    /** Dequantized straight from the mapping into dst. */
    @Override
    public void floatsInto(String name, float[] dst, int off) {
        Tensor t = info(name);
        if (!t.type.canDequantize())
            throw new LaminaException(file + ": tensor '" + shown(name) + "' has type " + t.type + ", which Lamina cannot dequantize yet (it reads "
                    + Arrays.stream(GgmlType.values()).filter(GgmlType::canDequantize).map(Enum::name).toList() + ")");
        int n = Math.toIntExact(t.count());
        if (off < 0 || off + n > dst.length)
            throw new IndexOutOfBoundsException(name + ": " + n + " values do not fit at " + off + " in " + dst.length);
        t.type.dequantize(raw(name), dst, off, n);
    }

    @Override
    public int[] ints(String name) {
        Tensor t = info(name);
        MemorySegment s = raw(name);
        int n = Math.toIntExact(t.count());
        int[] out = new int[n];
        switch (t.type) {
            case I32 -> MemorySegment.copy(s, I32, 0, out, 0, n);
            case I16 -> { for (int i = 0; i < n; i++) out[i] = s.getAtIndex(Dequantize.U16, i); }
            case I8 -> { for (int i = 0; i < n; i++) out[i] = s.get(ValueLayout.JAVA_BYTE, i); }
            default -> throw new LaminaException(file + ": tensor '" + shown(name) + "' has type " + t.type + "; ints() reads I8, I16 or I32");
        }
        return out;
    }

    /** Unmaps the file; segments from {@link #raw} become invalid. */
    @Override public void close() { arena.close(); }
}
