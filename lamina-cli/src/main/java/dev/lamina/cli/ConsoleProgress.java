package dev.lamina.cli;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;

/**
 * Progress for long work: a bar with ETA on a terminal, plain log lines (about every 5%) otherwise,
 * so CI logs stay readable.
 */
final class ConsoleProgress implements AutoCloseable {
    private final ProgressBar bar;
    private final PrintStream log;
    private final String task;
    private final long total;
    private long lastLogged = -1;
    private final long t0 = System.nanoTime();

    ConsoleProgress(String task, long total, PrintStream log) {
        this.task = task;
        this.total = total;
        this.log = log;
        this.bar = System.console() != null && !Boolean.getBoolean("lamina.noProgress")
                ? new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                        .setUpdateIntervalMillis(250).continuousUpdate().build()
                : null;
    }

    /** Sets progress to done (of total) with a short message such as "loss 3.21". */
    void update(long done, String message) {
        if (bar != null) {
            bar.stepTo(done);
            bar.setExtraMessage(message);
            return;
        }
        long every = Math.max(1, total / 20);
        if (done == total || done / every != lastLogged / every || lastLogged < 0) {
            double s = (System.nanoTime() - t0) / 1e9;
            log.printf("%s %d/%d %s (%.0fs)%n", task, done, total, message, s);
            lastLogged = done;
        }
    }

    /** A line that must show even with a bar on screen (e.g. an evaluation). */
    void println(String line) {
        if (bar != null) System.err.print("\r\033[K");
        log.println(line);
    }

    @Override public void close() { if (bar != null) bar.close(); }
}
