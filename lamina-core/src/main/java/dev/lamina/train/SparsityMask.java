package dev.lamina.train;

import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.model.Parameters;
import dev.lamina.research.Pruning;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;

/**
 * The pruned weights of a sparse model (lamina prune --sparsity), held at zero while it trains on:
 * after each backward their gradients are zeroed (so they neither move the clip nor the moments) and
 * after each step the weights themselves. A run that holds a mask says so in {@value #FILE}; the mask
 * is the model's zeros in the sparsifiable maps, so it needs no file of its own and a resume finds
 * the same one.
 */
public final class SparsityMask {
    /** Marks a run whose zeros are a mask: {"pattern": ..., "sparsity": ...}. */
    public static final String FILE = "sparsity.json";

    private final BitSet zeros;     // over Parameters.data()
    private final String pattern;
    private final double sparsity;

    private SparsityMask(BitSet zeros, String pattern, double sparsity) {
        this.zeros = zeros;
        this.pattern = pattern;
        this.sparsity = sparsity;
    }

    /** The mask of model's current zeros in its sparsifiable maps, made by pruning to sparsity with pattern (as the CLI names it). */
    public static SparsityMask of(Decoder model, String pattern, double sparsity) {
        Parameters p = model.params();
        float[] d = p.data();
        BitSet z = new BitSet(d.length);
        for (Parameters.Slot s : p.slots().values())
            if (Pruning.sparsifiable(s.key()))
                for (int i = s.offset(); i < s.offset() + s.size(); i++) if (d[i] == 0f) z.set(i);
        return new SparsityMask(z, pattern, sparsity);
    }

    /** The mask a run (or model directory) records in {@value #FILE}, taken from model's zeros; null when it records none. */
    public static SparsityMask read(Path dir, Decoder model) {
        Path f = dir.resolve(FILE);
        if (!Files.isRegularFile(f)) return null;
        try {
            var j = Json.MAPPER.readTree(Files.readString(f));
            return of(model, j.path("pattern").asString("unstructured"), j.path("sparsity").asDouble());
        } catch (IOException | RuntimeException e) {
            throw new LaminaException(f + ": not a readable sparsity record (" + e.getMessage() + "); restore it from the pruned model");
        }
    }

    /** Records the mask in dir (the marker a resume or a further run reads). */
    public void write(Path dir) {
        AtomicFiles.writeString(dir.resolve(FILE), Json.MAPPER.createObjectNode().put("pattern", pattern).put("sparsity", sparsity).toPrettyString());
    }

    /** "2:4 sparsity 0.5": the pattern and sparsity, as recorded. */
    public String describe() { return pattern + " sparsity " + sparsity; }

    /** How many weights are held at zero. */
    public long count() { return zeros.cardinality(); }

    /** Zeroes the masked gradients. */
    public void maskGradients(Parameters p) { clear(p.gradData()); }

    /** The masked positions of the flat parameter buffers. */
    BitSet zeros() { return zeros; }

    /** Zeroes the masked weights. */
    public void maskWeights(Parameters p) { clear(p.data()); }

    private void clear(float[] a) {
        for (int i = zeros.nextSetBit(0); i >= 0; i = zeros.nextSetBit(i + 1)) a[i] = 0f;
    }
}
