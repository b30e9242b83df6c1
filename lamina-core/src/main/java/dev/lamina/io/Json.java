package dev.lamina.io;

import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.SerializationFeature;

/** The one shared, thread-safe JSON mapper. */
public final class Json {
    private Json() {}

    public static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();
}
