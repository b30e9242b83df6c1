package dev.lamina.io;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ShardedSafeTensorsTest {
    @TempDir Path dir;
    Path index;

    @BeforeEach
    void twoShards() {
        new SafeTensors.Writer().putFloats("a", new float[] {1, 2}, 2).putInts("ids", new int[] {7}, 1)
                .write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafeTensors.Writer().putBF16("b", new float[] {3, 4, 5, 6}, 2, 2)
                .write(dir.resolve("model-00002-of-00002.safetensors"));
        index = dir.resolve(ShardedSafeTensors.INDEX);
        writeIndex("""
                {"metadata": {"total_size": 20},
                 "weight_map": {"b": "model-00002-of-00002.safetensors", "a": "model-00001-of-00002.safetensors",
                                "ids": "model-00001-of-00002.safetensors"}}""");
    }

    private void writeIndex(String json) { AtomicFiles.writeString(index, json); }

    @Test
    void readsAcrossShards() {
        try (TensorReader r = TensorReader.open(dir)) {
            assertThat(r).isInstanceOf(ShardedSafeTensors.class);
            assertThat(r.names()).containsExactly("b", "a", "ids");
            assertThat(r.floats("a")).containsExactly(1, 2);
            assertThat(r.dtype("b")).isEqualTo("BF16");
            assertThat(r.tensor("b").shape()).containsExactly(2, 2);
            assertThat(r.tensor("b").toArray()).containsExactly(3, 4, 5, 6);
            assertThat(r.ints("ids")).containsExactly(7);
            assertThat(r.metadata()).containsEntry("total_size", "20");
            assertThatThrownBy(() -> r.floats("c")).hasMessageContaining(ShardedSafeTensors.INDEX).hasMessageContaining("no tensor 'c'");
        }
        try (ShardedSafeTensors s = SafeTensors.openSharded(index)) {
            assertThat(s.has("a")).isTrue();
        }
    }

    @Test
    void missingIndex() throws IOException {
        Files.delete(index);
        assertThatThrownBy(() -> SafeTensors.openSharded(dir)).hasMessageContaining(ShardedSafeTensors.INDEX).hasMessageContaining("not found");
    }

    @Test
    void malformedIndex() {
        writeIndex("{\"weight_map\": ");
        assertThatThrownBy(() -> SafeTensors.openSharded(dir)).hasMessageStartingWith(index.toString()).hasMessageContaining("malformed JSON");
        writeIndex("{\"metadata\": {}}");
        assertThatThrownBy(() -> SafeTensors.openSharded(dir)).hasMessageStartingWith(index.toString()).hasMessageContaining("weight_map");
        writeIndex("{\"weight_map\": {\"a\": 3}}");
        assertThatThrownBy(() -> SafeTensors.openSharded(dir)).hasMessageContaining("entry 'a' must be a shard file name");
    }

    @Test
    void missingOrBadShard() throws IOException {
        writeIndex("{\"weight_map\": {\"a\": \"nope.safetensors\"}}");
        assertThatThrownBy(() -> SafeTensors.openSharded(dir)).hasMessageStartingWith(index.toString())
                .hasMessageContaining("nope.safetensors").hasMessageContaining("file not found");
        Files.write(dir.resolve("bad.safetensors"), new byte[3]);
        writeIndex("{\"weight_map\": {\"a\": \"bad.safetensors\"}}");
        assertThatThrownBy(() -> SafeTensors.openSharded(dir)).hasMessageStartingWith(index.toString())
                .hasMessageContaining("bad.safetensors").hasMessageContaining("shorter than the 8-byte header");
    }

    @Test
    void tensorNotInItsShard() {
        writeIndex("{\"weight_map\": {\"b\": \"model-00001-of-00002.safetensors\"}}");
        assertThatThrownBy(() -> SafeTensors.openSharded(dir)).hasMessageStartingWith(index.toString())
                .hasMessageContaining("tensor 'b' is mapped to 'model-00001-of-00002.safetensors' but that shard does not hold it");
    }

    @Test
    void shardOutsideTheDirectory() {
        writeIndex("{\"weight_map\": {\"a\": \"../model-00001-of-00002.safetensors\"}}");
        assertThatThrownBy(() -> SafeTensors.openSharded(dir)).hasMessageContaining("not a file in the index's directory");
    }

    @Test
    void openPicksTheSingleFileInADirectory() throws IOException {
        Path single = dir.resolve("single");
        new SafeTensors.Writer().putFloats("x", new float[] {1}, 1).write(single.resolve("model.safetensors"));
        try (TensorReader r = TensorReader.open(single)) {
            assertThat(r).isInstanceOf(SafeTensors.class);
            assertThat(r.floats("x")).containsExactly(1);
        }
        Files.createDirectories(dir.resolve("emptydir"));
        assertThatThrownBy(() -> TensorReader.open(dir.resolve("emptydir"))).hasMessageContaining("no model.safetensors");
    }
}
