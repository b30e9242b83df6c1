package dev.lamina.data;

import dev.lamina.io.LaminaException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Plain-text corpora split into documents. A document is a run of non-blank lines; one or more
 * blank (or whitespace-only) lines separate documents. This is the Brown corpus layout (one
 * paragraph a line, samples separated by a blank line), so each Brown sample is one document.
 * Lines inside a document are joined with '\n'.
 */
public final class Corpus {
    private Corpus() {}

    /** The documents of one source (a file, or the bundled corpus); bytes is the UTF-8 size of the text. */
    public record Source(String name, List<String> documents, long bytes) {
        public Source { documents = List.copyOf(documents); }
    }

    /** Reads a UTF-8 text file (a leading BOM is skipped). */
    public static Source read(Path file) {
        if (Files.isDirectory(file)) throw new LaminaException(file + ": is a directory; give text files");
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new LaminaException(file + ": corpus file not found");
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        Source s = of(file.toString(), decode(file, bytes));
        if (s.documents().isEmpty()) throw new LaminaException(file + ": no text (the file is empty or only blank lines)");
        return s;
    }

    /** Documents of a text held in memory. */
    public static Source of(String name, String text) {
        return new Source(name, documents(text), text.getBytes(StandardCharsets.UTF_8).length);
    }

    /** Splits text into documents at blank lines. */
    public static List<String> documents(String text) {
        List<String> docs = new ArrayList<>();
        StringBuilder doc = new StringBuilder();
        text.lines().forEach(line -> {
            if (line.isBlank()) {
                if (!doc.isEmpty()) docs.add(doc.toString());
                doc.setLength(0);
            } else {
                if (!doc.isEmpty()) doc.append('\n');
                doc.append(line);
            }
        });
        if (!doc.isEmpty()) docs.add(doc.toString());
        return docs;
    }

    /** Strict UTF-8: the error names the byte offset so the bad spot can be found. */
    static String decode(Path file, byte[] bytes) {
        int start = bytes.length >= 3 && (bytes[0] & 0xff) == 0xEF && (bytes[1] & 0xff) == 0xBB && (bytes[2] & 0xff) == 0xBF ? 3 : 0;
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes, start, bytes.length - start);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = dec.decode(in, out, true);
        if (!r.isError()) r = dec.flush(out);
        if (r.isError())
            throw new LaminaException(file + ": invalid UTF-8 at byte offset " + in.position() + "; the corpus must be UTF-8 text");
        return out.flip().toString();
    }
}
