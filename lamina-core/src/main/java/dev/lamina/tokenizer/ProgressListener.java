package dev.lamina.tokenizer;

/**
 * Training progress, so a caller (the CLI's progress bar) can show it without the library
 * depending on a UI. Called on the training thread; keep it cheap.
 */
@FunctionalInterface
public interface ProgressListener {
    /** The stages of {@link BpeTrainer#train}, in order. */
    enum Phase {
        /** Reading and pre-tokenizing the corpus; units are bytes of the files (texts for in-memory training). */
        COUNT,
        /** Learning merges; units are vocabulary entries. */
        MERGE
    }

    /** done of total units of phase are finished (done == total once at the end of each phase). */
    void progress(Phase phase, long done, long total);

    ProgressListener NONE = (phase, done, total) -> {};
}
