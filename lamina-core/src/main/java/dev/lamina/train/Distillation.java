package dev.lamina.train;

import dev.lamina.autograd.Tape;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.tensor.Tensor;
import dev.lamina.tokenizer.Tokenizer;

/**
 * A teacher for knowledge distillation: its logits for each batch the student trains on, and the
 * weights of the loss α·τ²·KL(softmax(t/τ) ‖ softmax(z/τ)) + (1−α)·CE (Ops.linearDistill). The
 * teacher is frozen and runs forward only, on a tape of its own reused every step.
 */
public final class Distillation {
    private final Decoder teacher;              // null when the teacher's top-K come from a cache
    private final TeacherCache cache;
    private final int vocab;
    private final float alpha, tau;
    private final Tape tape;

    private Distillation(Decoder teacher, TeacherCache cache, int vocab, float alpha, float tau) {
        this.teacher = teacher;
        this.cache = cache;
        this.vocab = vocab;
        this.alpha = alpha;
        this.tau = tau;
        this.tape = teacher == null ? null : Tape.inference(teacher.kernels());
    }

    /** Distillation from a teacher's top-K cached on disk (TeacherCache), made at temperature tau; α as {@link #of}. */
    public static Distillation cached(TeacherCache cache, int studentVocab, double alpha, double tau) {
        check(alpha, tau);
        if ((float) tau != cache.tau())
            throw LaminaException.field("temperature", "temperature " + tau + " differs from the teacher cache's " + cache.tau()
                    + " (its probabilities were taken at that temperature); use " + cache.tau() + " or cache the teacher again");
        return new Distillation(null, cache, studentVocab, (float) alpha, (float) tau);
    }

    /** Refuses α outside [0, 1] and τ ≤ 0 (callers check before they write anything). */
    public static void check(double alpha, double tau) {
        if (!(alpha >= 0 && alpha <= 1)) throw LaminaException.field("alpha", "alpha must be in [0, 1] (the soft term's weight), got " + alpha);
        if (!(tau > 0)) throw LaminaException.field("temperature", "temperature must be > 0, got " + tau);
    }

    /**
     * A teacher for a student of studentVocab logits over texts tokenized by studentTokens: the
     * teacher must share the tokenizer (else its logits speak of other tokens), α lie in [0, 1] and
     * τ be positive.
     */
    public static Distillation of(Decoder teacher, Tokenizer teacherTokens, Tokenizer studentTokens, int studentVocab, double alpha, double tau) {
        check(alpha, tau);
        String differs = differs(teacherTokens, studentTokens);
        if (differs != null)
            throw new LaminaException("the teacher's tokenizer is not the student's (" + differs + "); distill from a teacher with the same "
                    + "tokenizer, or prepare the data with the teacher's");
        if (teacher.config().vocabSize() != studentVocab)
            throw new LaminaException("the teacher has " + teacher.config().vocabSize() + " logits a position and the student " + studentVocab
                    + "; give the student the teacher's vocab_size");
        return new Distillation(teacher, null, studentVocab, (float) alpha, (float) tau);
    }

    /** Why two tokenizers differ (null when they agree on every id and on how a probe text splits). */
    static String differs(Tokenizer a, Tokenizer b) {
        if (a.vocabSize() != b.vocabSize()) return a.vocabSize() + " tokens against " + b.vocabSize();
        if (a.eotId() != b.eotId()) return "end-of-text id " + a.eotId() + " against " + b.eotId();
        int[] one = new int[1];
        for (int id = 0; id < a.vocabSize(); id++) {
            one[0] = id;
            if (!a.decode(one).equals(b.decode(one))) return "token " + id + " is '" + a.decode(one) + "' against '" + b.decode(one) + "'";
        }
        String probe = "The jury said it did find that many of Georgia's registration laws are outmoded, 1962. Ünïcode — ok?";
        if (!java.util.Arrays.equals(a.encode(probe), b.encode(probe))) return "they split the same text differently";
        return null;
    }

    /** Batches the teacher's cache holds (-1 for a live teacher). */
    public long cachedBatches() { return cache == null ? -1 : cache.batches(); }

    /** The teacher model (null when its top-K come from a cache). */
    public Decoder teacher() { return teacher; }
    public float alpha() { return alpha; }
    public float tau() { return tau; }

    /** The teacher's logits [B·T, V] for ids (valid until the next call); a live teacher's only. */
    public Tensor logits(int[] ids, int B, int T) {
        if (teacher == null) throw new IllegalStateException("a cached teacher has no logits, only its top-K");
        tape.reset();
        return teacher.forward(tape, ids, B, T).value();
    }

    /** The teacher's soft targets for the run's micro-batch number `batch`, of tokens ids (B x T). */
    public dev.lamina.autograd.Ops.SoftTargets targets(int[] ids, int B, int T, long batch) {
        return cache != null ? cache.targets(batch, B * T, vocab) : dev.lamina.autograd.Ops.logits(logits(ids, B, T));
    }
}
