package dev.lamina.io;

/**
 * A user-facing error: the message is one line naming the file or field and what to do.
 * The CLI prints it without a stack trace (unless --debug).
 */
public class LaminaException extends RuntimeException {
    public LaminaException(String message) { super(message); }
    public LaminaException(String message, Throwable cause) { super(message, cause); }
}
