package dev.lamina.tensor;

import java.util.Arrays;

/**
 * A float32 tensor: a view of {@code size()} contiguous floats at {@code offset} in {@code data},
 * row-major with the given shape. Views share storage; nothing here copies unless it says so.
 */
public record Tensor(float[] data, int offset, int[] shape) {

    public Tensor {
        long n = 1;
        for (int s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n *= s;
        }
        if (offset < 0 || offset + n > data.length)
            throw new IllegalArgumentException("view of " + n + " floats at " + offset + " exceeds storage of " + data.length);
        shape = shape.clone();
    }

    /** A new zero-filled tensor. */
    public static Tensor zeros(int... shape) { return new Tensor(new float[Math.toIntExact(count(shape))], 0, shape); }

    /** Wraps an array (no copy) with the given shape. */
    public static Tensor of(float[] data, int... shape) { return new Tensor(data, 0, shape); }

    public static long count(int... shape) {
        long n = 1;
        for (int s : shape) n *= s;
        return n;
    }

    public int size() { return (int) count(shape); }
    public int rank() { return shape.length; }
    public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }
    public int[] shape() { return shape.clone(); }

    /** The same storage seen with another shape of equal size. */
    public Tensor view(int... newShape) {
        if (count(newShape) != size())
            throw new IllegalArgumentException("cannot view " + Arrays.toString(shape) + " as " + Arrays.toString(newShape));
        return new Tensor(data, offset, newShape);
    }

    /** Rows [from, to) along the first dimension. */
    public Tensor rows(int from, int to) {
        int row = size() / shape[0];
        int[] s = shape.clone();
        s[0] = to - from;
        return new Tensor(data, offset + from * row, s);
    }

    public float get(int i) { return data[offset + i]; }
    public void set(int i, float v) { data[offset + i] = v; }
    public void fill(float v) { Arrays.fill(data, offset, offset + size(), v); }

    /** A copy of the viewed floats. */
    public float[] toArray() { return Arrays.copyOfRange(data, offset, offset + size()); }

    /** Copies src's floats into this view (sizes must match). */
    public void copyFrom(Tensor src) {
        if (src.size() != size()) throw new IllegalArgumentException("size mismatch " + src.size() + " vs " + size());
        System.arraycopy(src.data, src.offset, data, offset, size());
    }

    @Override public String toString() { return "Tensor" + Arrays.toString(shape); }
    @Override public boolean equals(Object o) { return this == o; }
    @Override public int hashCode() { return System.identityHashCode(this); }
}
