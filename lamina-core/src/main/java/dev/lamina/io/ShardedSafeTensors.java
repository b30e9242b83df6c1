package dev.lamina.io;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A checkpoint split over several safetensors files, Hugging Face style: a directory with
 * {@code model.safetensors.index.json} = {@code {"metadata": {...}, "weight_map": {name: shard file}}}.
 * Reads like one file; every error names the index file.
 */
public final class ShardedSafeTensors implements TensorReader {
    public static final String INDEX = "model.safetensors.index.json";

    private final Path index;
    private final Map<String, SafeTensors> byName;  // weight_map order
    private final List<SafeTensors> shards;
    private final Map<String, String> metadata;

    private ShardedSafeTensors(Path index, Map<String, SafeTensors> byName, List<SafeTensors> shards, Map<String, String> metadata) {
        this.index = index;
        this.byName = byName;
        this.shards = shards;
        this.metadata = metadata;
    }

    /** Opens every shard the index names (and checks that each holds the tensors mapped to it). */
    public static ShardedSafeTensors open(Path dirOrIndex) {
        Path index = Files.isDirectory(dirOrIndex) ? dirOrIndex.resolve(INDEX) : dirOrIndex;
        Path dir = index.toAbsolutePath().normalize().getParent();   // normalized: shard paths are compared with it
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(Files.readString(index));
        } catch (NoSuchFileException e) {
            throw new LaminaException(index + ": file not found (a sharded checkpoint needs " + INDEX + ")");
        } catch (IOException e) {
            throw new LaminaException(index + ": cannot read (" + e.getMessage() + ")", e);
        } catch (JacksonException e) {
            throw new LaminaException(index + ": malformed JSON (" + SafeTensors.oneLine(e.getOriginalMessage()) + ")");
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty())
            throw new LaminaException(index + ": expected a non-empty \"weight_map\" object {tensor name: shard file}");

        Map<String, SafeTensors> open = new LinkedHashMap<>();  // shard file name -> reader
        Map<String, SafeTensors> byName = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, JsonNode> e : map.properties()) {
                String name = e.getKey();
                JsonNode f = e.getValue();
                if (!f.isString())
                    throw new LaminaException(index + ": weight_map entry '" + name + "' must be a shard file name, got " + f);
                Path shard = dir.resolve(f.stringValue()).normalize();
                if (!dir.equals(shard.getParent()))
                    throw new LaminaException(index + ": weight_map entry '" + name + "' names '" + f.stringValue()
                            + "', which is not a file in the index's directory");
                SafeTensors st = open.get(f.stringValue());
                if (st == null) {
                    try {
                        st = SafeTensors.open(shard);
                    } catch (LaminaException ex) {
                        throw new LaminaException(index + ": shard " + ex.getMessage(), ex);
                    }
                    open.put(f.stringValue(), st);
                }
                if (!st.has(name))
                    throw new LaminaException(index + ": tensor '" + name + "' is mapped to '" + f.stringValue()
                            + "' but that shard does not hold it");
                byName.put(name, st);
            }
        } catch (RuntimeException ex) {
            open.values().forEach(SafeTensors::close);
            throw ex;
        }
        Map<String, String> meta = new LinkedHashMap<>();
        JsonNode m = root.get("metadata");
        if (m != null && m.isObject()) m.properties().forEach(kv -> meta.put(kv.getKey(), kv.getValue().asString()));
        return new ShardedSafeTensors(index, Collections.unmodifiableMap(byName), new ArrayList<>(open.values()),
                Collections.unmodifiableMap(meta));
    }

    public Path index() { return index; }
    @Override public Set<String> names() { return byName.keySet(); }
    @Override public boolean has(String name) { return byName.containsKey(name); }
    @Override public int[] shape(String name) { return shard(name).shape(name); }
    @Override public String dtype(String name) { return shard(name).dtype(name); }
    @Override public float[] floats(String name) { return shard(name).floats(name); }
    @Override public void floatsInto(String name, float[] dst, int off) { shard(name).floatsInto(name, dst, off); }
    @Override public int[] ints(String name) { return shard(name).ints(name); }

    /** The index's "metadata" (e.g. total_size), values as text. */
    @Override public Map<String, String> metadata() { return metadata; }

    @Override public void close() { shards.forEach(SafeTensors::close); }

    private SafeTensors shard(String name) {
        SafeTensors s = byName.get(name);
        if (s == null) throw new LaminaException(index + ": no tensor '" + name + "'" + SafeTensors.suggest(name, byName.keySet()));
        return s;
    }
}
