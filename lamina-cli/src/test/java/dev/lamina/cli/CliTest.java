package dev.lamina.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Base of the CLI tests: captures what a command prints while it runs through {@link Main#run}. */
abstract class CliTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
    private PrintStream oldOut, oldErr;

    @BeforeEach
    void capture() {
        oldOut = System.out;
        oldErr = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setOut(oldOut);
        System.setErr(oldErr);
    }

    /** What was printed to stdout so far. */
    String out() { return out.toString(StandardCharsets.UTF_8); }

    /** What was printed to stderr so far. */
    String err() { return err.toString(StandardCharsets.UTF_8); }

    /** Forgets what was printed so far. */
    void clearOutput() {
        out.reset();
        err.reset();
    }
}
