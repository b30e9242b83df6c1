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

    private SafeTensors(Path file, ByteBuffer data) { this.file = file; this.data = data; }

    public static SafeTensors open(Path file) {
        try {
            byte[] all = Files.readAllBytes(file);
            ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
            long hl = bb.getLong(0);
            JsonNode h = Json.MAPPER.readTree(new String(all, 8, (int) hl, StandardCharsets.UTF_8));
            SafeTensors st = new SafeTensors(file, bb.slice(8 + (int) hl, all.length - 8 - (int) hl).order(ByteOrder.LITTLE_ENDIAN));
            for (String name : h.propertyNames()) {
                if (name.equals("__metadata__")) continue;
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
}
