package dev.lamina.gguf;

import dev.lamina.io.AtomicFiles;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF version 3 files: metadata in insertion order, then tensor infos, then the tensors,
 * each at an offset aligned to general.alignment (32 unless set). Float tensors are encoded into
 * their block type as they are written, one at a time; the arrays are referenced, not copied.
 * The file appears whole or not at all (temp file, then rename).
 */
public final class GgufWriter {
    private record Pending(String name, GgmlType type, long[] ne, float[] values, MemorySegment raw) {
        long bytes() { return type.bytes(Arrays.stream(ne).reduce(1, Math::multiplyExact)); }
    }

    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final Map<String, Pending> tensors = new LinkedHashMap<>();

    public GgufWriter put(String key, GgufValue value) {
        if (key == null || key.isEmpty()) throw new IllegalArgumentException("empty metadata key");
        metadata.put(key, value);
        return this;
    }

    public GgufWriter putString(String key, String v) { return put(key, GgufValue.string(v)); }
    public GgufWriter putUint32(String key, long v) { return put(key, GgufValue.uint32(v)); }
    public GgufWriter putFloat32(String key, double v) { return put(key, GgufValue.float32((float) v)); }
    public GgufWriter putBool(String key, boolean v) { return put(key, GgufValue.bool(v)); }
    public GgufWriter putStrings(String key, List<String> v) { return put(key, GgufValue.array(GgufValueType.STRING, v)); }

    public GgufWriter putInt32s(String key, int[] v) {
        return put(key, GgufValue.array(GgufValueType.INT32, Arrays.stream(v).mapToObj(x -> (long) x).toList()));
    }

    public GgufWriter putFloat32s(String key, float[] v) {
        List<Float> items = new ArrayList<>(v.length);
        for (float x : v) items.add(x);
        return put(key, GgufValue.array(GgufValueType.FLOAT32, items));
    }

    /** A float tensor of row-major shape, stored as type (encoded when the file is written). */
    public GgufWriter addTensor(String name, GgmlType type, float[] values, int... shape) {
        long[] ne = ne(name, type, shape);
        if (Arrays.stream(ne).reduce(1, Math::multiplyExact) != values.length)
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " does not hold " + values.length + " values");
        if (!type.canQuantize()) throw new IllegalArgumentException("tensor '" + name + "': Lamina cannot encode " + type);
        return add(new Pending(name, type, ne, values, null));
    }

    /** A tensor whose encoded bytes are given (for instance copied from another GGUF file). */
    public GgufWriter addRaw(String name, GgmlType type, MemorySegment bytes, int... shape) {
        Pending p = new Pending(name, type, ne(name, type, shape), null, bytes);
        if (p.bytes() != bytes.byteSize())
            throw new IllegalArgumentException("tensor '" + name + "': " + type + " " + Arrays.toString(shape) + " takes " + p.bytes() + " bytes, got " + bytes.byteSize());
        return add(p);
    }

    private GgufWriter add(Pending p) {
        if (tensors.putIfAbsent(p.name, p) != null) throw new IllegalArgumentException("tensor '" + p.name + "' was already added");
        return this;
    }

    private static long[] ne(String name, GgmlType type, int[] shape) {
        if (shape.length < 1 || shape.length > GgufFile.MAX_DIMS)
            throw new IllegalArgumentException("tensor '" + name + "': GGUF tensors have 1 to 4 dimensions, got " + shape.length);
        long[] ne = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
            ne[i] = shape[shape.length - 1 - i];
        }
        if (ne[0] % type.blockSize != 0)
            throw new IllegalArgumentException("tensor '" + name + "': rows of " + ne[0] + " are not whole " + type + " blocks of " + type.blockSize);
        return ne;
    }

    private long alignment() {
        GgufValue a = metadata.get(GgufFile.ALIGNMENT_KEY);
        return a == null ? GgufFile.DEFAULT_ALIGNMENT : (Long) a.value();
    }

    /** Writes the file atomically. */
    public void write(Path file) {
        long align = alignment();
        AtomicFiles.write(file, out -> {
            Bytes b = new Bytes(out);
            b.u32(GgufFile.MAGIC);
            b.u32(3);
            b.u64(tensors.size());
            b.u64(metadata.size());
            for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
                b.string(e.getKey());
                b.u32(e.getValue().type().id);
                value(b, e.getValue().type(), e.getValue().value());
            }
            long offset = 0;
            for (Pending p : tensors.values()) {
                b.string(p.name);
                b.u32(p.ne.length);
                for (long d : p.ne) b.u64(d);
                b.u32(p.type.id);
                b.u64(offset);
                offset = pad(offset + p.bytes(), align);
            }
            b.zeros(pad(b.written, align) - b.written);
            for (Pending p : tensors.values()) {
                byte[] bytes = new byte[Math.toIntExact(p.bytes())];
                MemorySegment seg = MemorySegment.ofArray(bytes);
                if (p.raw != null) MemorySegment.copy(p.raw, 0, seg, 0, bytes.length);
                else p.type.quantize(p.values, 0, p.values.length, seg);
                b.bytes(bytes);
                b.zeros(pad(b.written, align) - b.written);
            }
        });
    }

    private static long pad(long n, long align) { return (n + align - 1) / align * align; }

    private static void value(Bytes b, GgufValueType type, Object v) throws IOException {
        switch (type) {
            case UINT8, INT8 -> b.u8(((Long) v).intValue());
            case BOOL -> b.u8((Boolean) v ? 1 : 0);
            case UINT16, INT16 -> { b.u8(((Long) v).intValue()); b.u8(((Long) v).intValue() >> 8); }
            case UINT32, INT32 -> b.u32(((Long) v).intValue());
            case UINT64, INT64 -> b.u64((Long) v);
            case FLOAT32 -> b.u32(Float.floatToRawIntBits((Float) v));
            case FLOAT64 -> b.u64(Double.doubleToRawLongBits((Double) v));
            case STRING -> b.string((String) v);
            case ARRAY -> {
                GgufValue.Array a = (GgufValue.Array) v;
                b.u32(a.elementType().id);
                b.u64(a.items().size());
                for (Object item : a.items()) value(b, a.elementType(), item);
            }
        }
    }

    /** Little-endian output that counts bytes (for the padding). */
    private static final class Bytes {
        final OutputStream out;
        final byte[] buf = new byte[8];
        final MemorySegment seg = MemorySegment.ofArray(buf);
        long written;

        Bytes(OutputStream out) { this.out = out; }

        void u8(int v) throws IOException { out.write(v); written += 1; }
        void u32(int v) throws IOException { seg.set(GgufFile.I32, 0, v); out.write(buf, 0, 4); written += 4; }
        void u64(long v) throws IOException { seg.set(GgufFile.I64, 0, v); out.write(buf, 0, 8); written += 8; }
        void bytes(byte[] b) throws IOException { out.write(b); written += b.length; }
        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes(b);
        }
        void zeros(long n) throws IOException { for (long i = 0; i < n; i++) out.write(0); written += n; }
    }

}
