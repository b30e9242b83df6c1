package dev.lamina.gguf;

/** The metadata value types of GGUF, with their ids and the byte size of fixed-size ones (0 otherwise). */
public enum GgufValueType {
    UINT8(0, 1), INT8(1, 1), UINT16(2, 2), INT16(3, 2), UINT32(4, 4), INT32(5, 4), FLOAT32(6, 4), BOOL(7, 1),
    STRING(8, 0), ARRAY(9, 0), UINT64(10, 8), INT64(11, 8), FLOAT64(12, 8);

    public final int id;
    public final int size;

    GgufValueType(int id, int size) {
        this.id = id;
        this.size = size;
    }

    /** The type of an id, or null when unknown. */
    public static GgufValueType of(int id) {
        for (GgufValueType t : values()) if (t.id == id) return t;
        return null;
    }

    public boolean isInteger() { return this != FLOAT32 && this != FLOAT64 && size > 0 && this != BOOL; }

    public boolean isFloat() { return this == FLOAT32 || this == FLOAT64; }
}
