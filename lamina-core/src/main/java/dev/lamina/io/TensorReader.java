package dev.lamina.io;

import dev.lamina.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * Read access to named tensors: one safetensors file ({@link SafeTensors}) or a sharded
 * checkpoint ({@link ShardedSafeTensors}). Errors are {@link LaminaException}s naming the file.
 */
public interface TensorReader extends AutoCloseable {

    /** Tensor names in header (or index) order. */
    Set<String> names();

    boolean has(String name);

    int[] shape(String name);

    /** The stored dtype, e.g. "F32" or "BF16". */
    String dtype(String name);

    /** The values as float32 (F32, F16, BF16 and F64 are converted). */
    float[] floats(String name);

    /** floats(name) written into dst from off, without an intermediate array where the format allows. */
    default void floatsInto(String name, float[] dst, int off) {
        float[] v = floats(name);
        System.arraycopy(v, 0, dst, off, v.length);
    }

    /** The values as int (I32, I64 when every value fits, I8, U8, BOOL). */
    int[] ints(String name);

    /** The {@code __metadata__} string map (empty if none). */
    Map<String, String> metadata();

    /** floats(name) wrapped with its shape. */
    default Tensor tensor(String name) { return Tensor.of(floats(name), shape(name)); }

    /** Releases the mapping; arrays already returned stay valid. */
    @Override void close();

    /**
     * Opens a .safetensors file, or a directory holding model.safetensors.index.json (sharded) or
     * model.safetensors.
     */
    static TensorReader open(Path path) {
        if (!Files.isDirectory(path)) return SafeTensors.open(path);
        if (Files.exists(path.resolve(ShardedSafeTensors.INDEX))) return ShardedSafeTensors.open(path);
        if (Files.exists(path.resolve("model.safetensors"))) return SafeTensors.open(path.resolve("model.safetensors"));
        throw new LaminaException(path + ": no model.safetensors or " + ShardedSafeTensors.INDEX + " in this directory");
    }
}
