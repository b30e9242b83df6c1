package dev.lamina.eval;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.io.TextFiles;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * A task: the examples of one JSONL file, all of one kind, one JSON object a line.
 *
 * <pre>
 * {"context": "The jury said", "choices": [" that", " what"], "gold": 0}     multiple choice (loglikelihood)
 * {"prompt": "2+2=", "reference": "4", "stop": ["\n"]}                       generation (exact match; stop optional)
 * </pre>
 *
 * Choices are appended to the context as written (give them their leading space). Blank lines are
 * skipped; every other line must be a complete example.
 */
public record Task(String name, String source, List<Example> examples) {
    /** One line of a task file; line is its 1-based line number. */
    public sealed interface Example {
        int line();
    }

    /** A multiple-choice example: the choice with the highest log-likelihood after context should be gold. */
    public record Choice(int line, String context, List<String> choices, int gold) implements Example {}

    /** A generation example: greedy output after prompt, cut at the first stop sequence, should equal reference. */
    public record Generation(int line, String prompt, String reference, List<String> stop) implements Example {}

    /** The built-in tasks, by name (resources under dev/lamina/eval/). */
    public static final List<String> BUILTIN = List.of("brown-cloze");

    public boolean multipleChoice() { return examples.getFirst() instanceof Choice; }

    /**
     * A built-in task by name, a JSONL file (the task is named after it) or a directory (every
     * *.jsonl in it, by name).
     */
    public static List<Task> load(String spec) {
        if (BUILTIN.contains(spec)) return List.of(builtin(spec));
        Path p = Path.of(spec);
        if (Files.isDirectory(p)) {
            List<Path> files;
            try (Stream<Path> s = Files.list(p)) {
                files = s.filter(f -> f.getFileName().toString().endsWith(".jsonl")).sorted().toList();
            } catch (IOException e) {
                throw new LaminaException(p + ": cannot list the directory (" + e.getMessage() + ")");
            }
            if (files.isEmpty()) throw new LaminaException(p + ": no .jsonl task files in the directory");
            return files.stream().map(Task::read).toList();
        }
        if (!Files.exists(p))
            throw new LaminaException(spec + ": no such task file or directory; built-in tasks: " + String.join(", ", BUILTIN));
        return List.of(read(p));
    }

    /** A built-in task. */
    public static Task builtin(String name) {
        InputStream in = Task.class.getResourceAsStream(name + ".jsonl");
        if (in == null) throw new IllegalStateException("resource dev/lamina/eval/" + name + ".jsonl is missing from the build");
        try (in) {
            return parse(name, name, new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new LaminaException(name + ": cannot read the built-in task (" + e.getMessage() + ")");
        }
    }

    /** A task file. */
    public static Task read(Path file) {
        String text = TextFiles.read(file);
        String name = file.getFileName().toString().replaceFirst("\\.jsonl$", "");
        return parse(name, file.toString(), text);
    }

    /** Parses JSONL text; source names it in errors (source:line). */
    public static Task parse(String name, String source, String text) {
        List<Example> examples = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new StringReader(text))) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                if (line.isBlank()) continue;
                Example e = example(source + ":" + n, n, line);
                if (!examples.isEmpty() && e.getClass() != examples.getFirst().getClass())
                    throw new LaminaException(source + ":" + n + ": a " + kind(e) + " example in a task of " + kind(examples.getFirst())
                            + " examples; put each kind in its own file");
                examples.add(e);
            }
        } catch (IOException e) {
            throw new LaminaException(source + ": cannot read (" + e.getMessage() + ")");
        }
        if (examples.isEmpty()) throw new LaminaException(source + ": the task has no examples");
        return new Task(name, source, List.copyOf(examples));
    }

    private static String kind(Example e) { return e instanceof Choice ? "multiple-choice" : "generation"; }

    private static Example example(String where, int line, String json) {
        JsonNode o;
        try {
            o = Json.MAPPER.readTree(json);
        } catch (JacksonException e) {
            throw new LaminaException(where + ": not a JSON object (" + e.getOriginalMessage() + ")");
        }
        if (o == null || !o.isObject()) throw new LaminaException(where + ": not a JSON object");
        if (o.has("choices") || o.has("context")) {
            String context = string(o, "context", where);
            JsonNode cs = o.get("choices");
            if (cs == null || !cs.isArray() || cs.size() < 2)
                throw new LaminaException(where + ": \"choices\" must be an array of at least two strings");
            List<String> choices = new ArrayList<>();
            for (JsonNode c : cs) {
                if (!c.isString() || c.stringValue().isEmpty())
                    throw new LaminaException(where + ": every choice must be a non-empty string, got " + c);
                choices.add(c.stringValue());
            }
            JsonNode g = o.get("gold");
            if (g == null || g.isNull()) throw new LaminaException(where + ": no \"gold\" (the index of the right choice)");
            if (!g.isIntegralNumber() || !g.canConvertToInt())
                throw new LaminaException(where + ": \"gold\" must be an integer index into choices, got " + g);
            int gold = g.intValue();
            if (gold < 0 || gold >= choices.size())
                throw new LaminaException(where + ": gold " + gold + " is out of range for " + choices.size() + " choices (0 to " + (choices.size() - 1) + ")");
            return new Choice(line, context, List.copyOf(choices), gold);
        }
        if (o.has("prompt") || o.has("reference")) {
            String prompt = string(o, "prompt", where), reference = string(o, "reference", where);
            List<String> stop = new ArrayList<>();
            JsonNode s = o.get("stop");
            if (s != null && !s.isNull()) {
                if (s.isString()) stop.add(s.stringValue());
                else if (s.isArray()) for (JsonNode x : s) {
                    if (!x.isString() || x.stringValue().isEmpty()) throw new LaminaException(where + ": every stop must be a non-empty string, got " + x);
                    stop.add(x.stringValue());
                }
                else throw new LaminaException(where + ": \"stop\" must be a string or an array of strings");
            }
            return new Generation(line, prompt, reference, List.copyOf(stop));
        }
        throw new LaminaException(where + ": neither a multiple-choice example (context, choices, gold) nor a generation example (prompt, reference)");
    }

    private static String string(JsonNode o, String field, String where) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) throw new LaminaException(where + ": no \"" + field + "\"");
        if (!v.isString()) throw new LaminaException(where + ": \"" + field + "\" must be a string, got " + v);
        return v.stringValue();
    }
}
