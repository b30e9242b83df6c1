package dev.lamina.cli;

import dev.lamina.eval.Comparison;

import java.util.Locale;

/**
 * A comparison as one self-contained HTML page (inline style, no scripts or external resources, so
 * it works offline): a row per prompt, a column per model with its continuation and its perplexity
 * of the prompt; the lowest perplexity of a row is marked.
 */
final class ComparePage {
    private ComparePage() {}

    static String html(Comparison c) {
        StringBuilder s = new StringBuilder(4096);
        s.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Lamina: ")
                .append(escape(String.join(" vs ", c.models()))).append("</title>\n<style>\n")
                .append("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}\n")
                .append("th,td{border:1px solid #ccc;padding:.5em;vertical-align:top;text-align:left}th{background:#f3f3f3}\n")
                .append(".prompt{font-weight:600}.out{white-space:pre-wrap}.ppl{color:#555;font-size:.9em}.best{color:#0a6b2d;font-weight:600}\n")
                .append("</style></head><body>\n<h1>Side by side</h1>\n<p id=\"settings\">")
                .append(c.rows().size()).append(" prompts; up to ").append(c.maxTokens()).append(" tokens each at temperature ")
                .append(fmt(c.sampling().temperature())).append(", top-k ").append(c.sampling().topK()).append(", top-p ")
                .append(fmt(c.sampling().topP())).append(", seed ").append(c.sampling().seed())
                .append(". Perplexity is each model's of the prompt itself (lower: less surprised).</p>\n<table>\n<tr><th>prompt</th>");
        for (String m : c.models()) s.append("<th class=\"model\">").append(escape(m)).append("</th>");
        s.append("</tr>\n");
        for (Comparison.Row r : c.rows()) {
            double best = Double.POSITIVE_INFINITY;
            for (Comparison.Cell cell : r.cells()) if (cell.perplexity() < best) best = cell.perplexity();
            s.append("<tr><td class=\"prompt\">").append(escape(r.prompt().text())).append("</td>");
            for (Comparison.Cell cell : r.cells()) {
                boolean lowest = cell.perplexity() == best && r.cells().size() > 1;
                s.append("<td><div class=\"out\"><span class=\"prompt\">").append(escape(r.prompt().text())).append("</span>")
                        .append(escape(cell.continuation())).append("</div><div class=\"ppl").append(lowest ? " best" : "")
                        .append("\">perplexity ").append(Double.isNaN(cell.perplexity()) ? "n/a (one token)" : fmt(cell.perplexity()))
                        .append("</div></td>");
            }
            s.append("</tr>\n");
        }
        return s.append("</table>\n</body></html>\n").toString();
    }

    private static String fmt(double v) { return String.format(Locale.ROOT, "%.4g", v); }

    static String escape(String t) {
        StringBuilder s = new StringBuilder(t.length() + 16);
        for (int i = 0; i < t.length(); i++) {
            char ch = t.charAt(i);
            switch (ch) {
                case '<' -> s.append("&lt;");
                case '>' -> s.append("&gt;");
                case '&' -> s.append("&amp;");
                case '"' -> s.append("&quot;");
                case '\'' -> s.append("&#39;");
                default -> s.append(ch);
            }
        }
        return s.toString();
    }
}
