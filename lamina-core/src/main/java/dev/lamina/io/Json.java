package dev.lamina.io;

import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.SerializationFeature;

/** The one shared, thread-safe JSON mapper. */
public final class Json {
    private Json() {}

    public static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    private static final tools.jackson.databind.ObjectWriter COMPACT = MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT);

    /** value as JSON on one line (a JSONL record, a cache key). */
    public static String compact(Object value) { return COMPACT.writeValueAsString(value); }
}
