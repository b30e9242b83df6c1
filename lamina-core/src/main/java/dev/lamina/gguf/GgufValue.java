package dev.lamina.gguf;

import java.util.List;

/**
 * One typed metadata value. value is a Long for the integer types (UINT64 as its two's-complement
 * bits), Float, Double, Boolean, String, or for ARRAY an {@link Array}.
 */
public record GgufValue(GgufValueType type, Object value) {

    /** An array's element type and its elements, each represented as a scalar value is (nested arrays as Array). */
    public record Array(GgufValueType elementType, List<?> items) {}

    public static GgufValue string(String s) { return new GgufValue(GgufValueType.STRING, s); }
    public static GgufValue uint32(long v) { return new GgufValue(GgufValueType.UINT32, v); }
    public static GgufValue int32(long v) { return new GgufValue(GgufValueType.INT32, v); }
    public static GgufValue float32(float v) { return new GgufValue(GgufValueType.FLOAT32, v); }
    public static GgufValue bool(boolean v) { return new GgufValue(GgufValueType.BOOL, v); }
    public static GgufValue array(GgufValueType elementType, List<?> items) {
        return new GgufValue(GgufValueType.ARRAY, new Array(elementType, List.copyOf(items)));
    }

    /** A short rendering for messages and {@link GgufFile#metadata()}: scalars as text, arrays as their type and length. */
    public String describe() {
        if (value instanceof Array a) return "array of " + a.items().size() + " " + a.elementType();
        if (type == GgufValueType.UINT64) return Long.toUnsignedString((Long) value);
        return String.valueOf(value);
    }
}
