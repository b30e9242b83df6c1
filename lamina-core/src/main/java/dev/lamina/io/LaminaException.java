package dev.lamina.io;

/**
 * A user-facing error: the message is one line naming the file or field and what to do.
 * The CLI prints it without a stack trace (unless --debug).
 *
 * <p>An error about a setting names it by the library's own name ({@link #field()}, e.g. {@code seq} or
 * {@code weightDecay}); the library never speaks of command-line flags. The CLI puts its flag
 * ({@code --seq}, {@code --weight-decay}) in the field's place.
 */
public class LaminaException extends RuntimeException {
    private final String field;

    public LaminaException(String message) { this(null, message, null); }
    public LaminaException(String message, Throwable cause) { this(null, message, cause); }

    private LaminaException(String field, String message, Throwable cause) {
        super(message, cause);
        this.field = field;
    }

    /** An error about the setting field; the message usually starts with the field's name. */
    public static LaminaException field(String field, String message) { return new LaminaException(field, message, null); }

    /** The setting this error is about (a record component or parameter name), or null. */
    public String field() { return field; }
}
