package dev.lamina.server;

/**
 * An error answered in OpenAI's shape: {@code {"error": {"message", "type", "param", "code"}}}
 * with an HTTP status.
 */
public final class ApiException extends RuntimeException {
    private final int status;
    private final String type, param, code;

    public ApiException(int status, String type, String code, String param, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.code = code;
        this.param = param;
    }

    /** 400 invalid_request_error. */
    public static ApiException invalid(String param, String message) {
        return new ApiException(400, "invalid_request_error", null, param, message);
    }

    public int status() { return status; }
    public String type() { return type; }
    public String param() { return param; }
    public String code() { return code; }
}
