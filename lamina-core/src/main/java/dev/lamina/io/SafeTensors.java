package dev.lamina.io;

import dev.lamina.tensor.Tensor;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** Minimal safetensors reader (F32, I32, I64). */
public final class SafeTensors implements AutoCloseable {
    private record Entry(String dtype, int[] shape, long begin, long end) {}
    private final Path file;
    private final ByteBuffer data;
    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    private SafeTensors(Path file, ByteBuffer data) { this.file = file; this.data = data; }

    public static SafeTensors open(Path file) {
        try {
            byte[] all = Files.readAllBytes(file);
            ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
            long hl = bb.getLong(0);
            JsonNode h = Json.MAPPER.readTree(new String(all, 8, (int) hl, StandardCharsets.UTF_8));
            SafeTensors st = new SafeTensors(file, bb.slice(8 + (int) hl, all.length - 8 - (int) hl).order(ByteOrder.LITTLE_ENDIAN));
            for (String name : h.propertyNames()) {
                if (name.equals("__metadata__")) { for (String k : h.get(name).propertyNames()) st.metadata.put(k, h.get(name).get(k).stringValue()); continue; }
                JsonNode e = h.get(name);
                int[] shape = new int[e.get("shape").size()];
                for (int i = 0; i < shape.length; i++) shape[i] = e.get("shape").get(i).intValue();
                st.entries.put(name, new Entry(e.get("dtype").stringValue(), shape,
                        e.get("data_offsets").get(0).longValue(), e.get("data_offsets").get(1).longValue()));
            }
            return st;
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    public Map<String, String> metadata() { return metadata; }
    public Set<String> names() { return entries.keySet(); }
    public boolean has(String name) { return entries.containsKey(name); }
    public int[] shape(String name) { return entry(name).shape.clone(); }

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new LaminaException(file + ": no tensor named " + name);
        return e;
    }

    public float[] floats(String name) {
        Entry e = entry(name);
        float[] out = new float[(int) ((e.end - e.begin) / 4)];
        for (int i = 0; i < out.length; i++) out[i] = data.getFloat((int) e.begin + 4 * i);
        return out;
    }

    public Tensor tensor(String name) { return Tensor.of(floats(name), shape(name)); }

    public int[] ints(String name) {
        Entry e = entry(name);
        int w = e.dtype.equals("I64") ? 8 : 4;
        int[] out = new int[(int) ((e.end - e.begin) / w)];
        for (int i = 0; i < out.length; i++)
            out[i] = w == 8 ? (int) data.getLong((int) e.begin + 8 * i) : data.getInt((int) e.begin + 4 * i);
        return out;
    }

    @Override public void close() {}

    /** Minimal writer: F32 and I32, atomic. */
    public static final class Writer {
        private record Item(String name, String dtype, int[] shape, float[] f, int[] i) {}
        private final java.util.List<Item> items = new java.util.ArrayList<>();
        private final Map<String, String> meta = new LinkedHashMap<>();

        public Writer putFloats(String name, float[] data, int... shape) { items.add(new Item(name, "F32", shape, data, null)); return this; }
        public Writer putTensor(String name, Tensor t) { return putFloats(name, t.toArray(), t.shape()); }
        public Writer putInts(String name, int[] data, int... shape) { items.add(new Item(name, "I32", shape, null, data)); return this; }
        public Writer metadata(String k, String v) { meta.put(k, v); return this; }

        public void write(Path file) {
            var header = Json.MAPPER.createObjectNode();
            if (!meta.isEmpty()) { var m = header.putObject("__metadata__"); meta.forEach(m::put); }
            long off = 0;
            for (Item it : items) {
                var e = header.putObject(it.name);
                e.put("dtype", it.dtype);
                var sh = e.putArray("shape"); for (int d : it.shape) sh.add(d);
                long len = 4L * (it.f != null ? it.f.length : it.i.length);
                var o = e.putArray("data_offsets"); o.add(off); o.add(off + len);
                off += len;
            }
            byte[] h = Json.MAPPER.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
            int pad = (8 - h.length % 8) % 8;
            AtomicFiles.write(file, out -> {
                var dout = new java.io.DataOutputStream(new java.io.BufferedOutputStream(out, 1 << 16));
                ByteBuffer lb = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length + pad);
                dout.write(lb.array());
                dout.write(h);
                for (int i = 0; i < pad; i++) dout.write(' ');
                ByteBuffer buf = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
                for (Item it : items) {
                    int n = it.f != null ? it.f.length : it.i.length;
                    for (int i = 0; i < n; i++) {
                        buf.clear();
                        if (it.f != null) buf.putFloat(it.f[i]); else buf.putInt(it.i[i]);
                        dout.write(buf.array());
                    }
                }
                dout.flush();
            });
        }
    }
}
