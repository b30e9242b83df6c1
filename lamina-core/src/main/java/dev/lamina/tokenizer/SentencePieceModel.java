package dev.lamina.tokenizer;

import dev.lamina.io.LaminaException;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads SentencePiece's {@code tokenizer.model} (a ModelProto protobuf) into a
 * {@link PipelineTokenizer} that encodes as SentencePiece does: the whole text normalized at once
 * (dummy prefix, extra spaces, "▁"), user-defined pieces kept whole, then BPE by piece score or
 * Unigram by Viterbi, with byte fallback. Only the identity normalization rule is read; a
 * precompiled character map (nmt_nfkc) is refused.
 */
final class SentencePieceModel {
    private SentencePieceModel() {}

    static final String FILE = "tokenizer.model";

    /** SentencePiece.Type of the proto. */
    static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;
    /** TrainerSpec.ModelType of the proto. */
    static final int UNIGRAM = 1, BPE = 2;

    /** What the proto holds that encoding needs. */
    record Spec(List<String> pieces, List<Float> scores, List<Integer> types, int modelType, boolean byteFallback,
                int unkId, int bosId, int eosId, boolean treatWhitespaceAsSuffix, String normalizerName, int charsmapBytes,
                boolean addDummyPrefix, boolean removeExtraWhitespaces, boolean escapeWhitespaces) {}

    static PipelineTokenizer read(Path file) {
        byte[] bytes = TokenizerFiles.readBytes(file, "SentencePiece model");
        Spec spec;
        try {
            spec = parse(bytes);
        } catch (RuntimeException e) {
            throw new LaminaException(file + ": not a SentencePiece model (" + e.getMessage() + "); replace it with an intact tokenizer.model");
        }
        if (spec.pieces().isEmpty()) throw new LaminaException(file + ": has no pieces; replace it with an intact tokenizer.model");
        if (spec.charsmapBytes() > 0)
            throw new LaminaException(file + ": normalizer_spec \"" + spec.normalizerName() + "\" (a precompiled character map) is not supported; "
                    + "only the identity rule is (use the model's tokenizer.json instead)");
        if (spec.treatWhitespaceAsSuffix()) throw new LaminaException(file + ": trainer_spec.treat_whitespace_as_suffix is not supported");
        try {
            return build(spec, new PipelineTokenizer.Source(FILE, bytes));
        } catch (IllegalArgumentException e) {
            throw new LaminaException(file + ": " + e.getMessage() + "; replace it with an intact tokenizer.model");
        }
    }

    static PipelineTokenizer build(Spec spec, PipelineTokenizer.Source source) {
        int n = spec.pieces().size();
        String[] pieces = spec.pieces().toArray(String[]::new);
        List<AddedToken> userDefined = new ArrayList<>();
        for (int id = 0; id < n; id++)
            if (spec.types().get(id) == USER_DEFINED) userDefined.add(new AddedToken(id, pieces[id], false, false, false, false, true));
        SubwordModel model = switch (spec.modelType()) {
            case BPE -> scoredBpe(pieces, spec.scores(), spec.types(), spec.unkId(), spec.byteFallback(), true);
            case UNIGRAM -> {
                double[] scores = new double[n];
                boolean[] matchable = new boolean[n];
                for (int id = 0; id < n; id++) {
                    scores[id] = spec.scores().get(id);
                    matchable[id] = spec.types().get(id) == NORMAL || spec.types().get(id) == USER_DEFINED;
                }
                yield new UnigramModel(pieces, scores, matchable, spec.unkId(), spec.byteFallback());
            }
            default -> throw new IllegalArgumentException("trainer_spec.model_type " + spec.modelType() + " is not supported (only UNIGRAM and BPE)");
        };
        var normalizer = new Normalizer.SentencePiece(spec.addDummyPrefix(), spec.removeExtraWhitespaces(), spec.escapeWhitespaces());
        List<TokenDecoder> decoders = new ArrayList<>();
        if (spec.addDummyPrefix() || spec.removeExtraWhitespaces())
            decoders.add(new TokenDecoder.SentencePieceStart('\u2581', spec.removeExtraWhitespaces()));
        decoders.add(new TokenDecoder.Replace(TextPattern.literal("\u2581"), " "));
        decoders.add(new TokenDecoder.ByteFallback());
        decoders.add(new TokenDecoder.Fuse());
        int bos = validId(spec.bosId(), n), eos = validId(spec.eosId(), n);
        PostProcessor post = bos < 0 ? null : new PostProcessor.Template(List.of(new PostProcessor.Item(new int[] {bos}), PostProcessor.Item.SEQUENCE));
        var parts = new PipelineTokenizer.Parts(normalizer, null, model, new TokenDecoder.Sequence(decoders), post, userDefined);
        String kind = spec.modelType() == BPE ? "sentencepiece-bpe" : "sentencepiece-unigram";
        return new PipelineTokenizer(parts, false, eos, bos, source, kind);
    }

    private static int validId(int id, int n) { return id >= 0 && id < n ? id : -1; }

    /**
     * SentencePiece's BPE as a {@link BpeModel}: every way to split a normal or user-defined piece
     * into two such pieces is a merge, ranked by the merged piece's score (highest first; equal
     * scores share a rank, so the leftmost pair goes first, as in SentencePiece).
     */
    static BpeModel scoredBpe(String[] pieces, List<Float> scores, List<Integer> types, int unkId, boolean byteFallback, boolean fuseUnk) {
        int n = pieces.length;
        Map<String, Integer> mergeable = new HashMap<>(n * 2);
        for (int id = 0; id < n; id++) {
            int t = types.get(id);
            if (t == NORMAL || t == USER_DEFINED) mergeable.putIfAbsent(pieces[id], id);
        }
        float[] distinct = new float[n];
        for (int id = 0; id < n; id++) distinct[id] = scores.get(id);
        Arrays.sort(distinct);
        IntList left = new IntList(n * 2), right = new IntList(n * 2), prio = new IntList(n * 2);
        for (int id = 0; id < n; id++) {
            String p = pieces[id];
            if (!mergeable.containsKey(p) || mergeable.get(p) != id || p.codePointCount(0, p.length()) < 2) continue;
            int rank = n - 1 - upperIndex(distinct, scores.get(id));   // higher score, lower rank
            for (int k = p.offsetByCodePoints(0, 1); k < p.length(); k = p.offsetByCodePoints(k, 1)) {
                Integer a = mergeable.get(p.substring(0, k)), b = mergeable.get(p.substring(k));
                if (a == null || b == null) continue;
                left.add(a);
                right.add(b);
                prio.add(rank);
            }
        }
        String[] tokens = pieces.clone();
        // pieces may repeat across types (a control "<s>" and a normal one); keep the first id for each text
        Map<String, Integer> seen = new HashMap<>();
        for (int id = 0; id < n; id++) if (seen.putIfAbsent(tokens[id], id) != null) tokens[id] = null;
        var options = new BpeModel.Options(validId(unkId, n), fuseUnk, false, byteFallback, null, null);
        return new BpeModel(tokens, left.toArray(), right.toArray(), prio.toArray(), options);
    }

    /** The index of the last element equal to x in sorted a (x is present). */
    private static int upperIndex(float[] a, float x) {
        int lo = 0, hi = a.length - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (a[mid] <= x) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    // ---- protobuf: just the fields of ModelProto that matter here ----

    static Spec parse(byte[] b) {
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        int[] trainer = {UNIGRAM, 0, 0, 1, 2, 0};   // model_type, byte_fallback, unk_id, bos_id, eos_id, treat_ws_as_suffix
        Object[] norm = {"", 0, true, true, true};    // name, charsmap bytes, add_dummy_prefix, remove_extra_ws, escape_ws
        Proto p = new Proto(b, 0, b.length);
        while (p.more()) {
            int tag = p.tag();
            switch (tag) {
                case 1 << 3 | 2 -> {   // pieces
                    Proto q = p.message();
                    String piece = "";
                    float score = 0;
                    int type = NORMAL;
                    while (q.more()) {
                        int t = q.tag();
                        if (t == (1 << 3 | 2)) piece = q.string();
                        else if (t == (2 << 3 | 5)) score = q.fixed32();
                        else if (t == (3 << 3)) type = (int) q.varint();
                        else q.skip(t);
                    }
                    pieces.add(piece);
                    scores.add(score);
                    types.add(type);
                }
                case 2 << 3 | 2 -> {   // trainer_spec
                    Proto q = p.message();
                    while (q.more()) {
                        int t = q.tag();
                        switch (t) {
                            case 3 << 3 -> trainer[0] = (int) q.varint();
                            case 35 << 3 -> trainer[1] = (int) q.varint();
                            case 40 << 3 -> trainer[2] = (int) q.varint();
                            case 41 << 3 -> trainer[3] = (int) q.varint();
                            case 42 << 3 -> trainer[4] = (int) q.varint();
                            case 24 << 3 -> trainer[5] = (int) q.varint();
                            default -> q.skip(t);
                        }
                    }
                }
                case 3 << 3 | 2 -> {   // normalizer_spec
                    Proto q = p.message();
                    while (q.more()) {
                        int t = q.tag();
                        switch (t) {
                            case 1 << 3 | 2 -> norm[0] = q.string();
                            case 2 << 3 | 2 -> norm[1] = q.message().length();
                            case 3 << 3 -> norm[2] = q.varint() != 0;
                            case 4 << 3 -> norm[3] = q.varint() != 0;
                            case 5 << 3 -> norm[4] = q.varint() != 0;
                            default -> q.skip(t);
                        }
                    }
                }
                default -> p.skip(tag);
            }
        }
        return new Spec(pieces, scores, types, trainer[0], trainer[1] != 0, trainer[2], trainer[3], trainer[4], trainer[5] != 0,
                (String) norm[0], (Integer) norm[1], (Boolean) norm[2], (Boolean) norm[3], (Boolean) norm[4]);
    }

    /** A protobuf reader over b[pos, end). */
    private static final class Proto {
        private final byte[] b;
        private int pos;
        private final int end;

        Proto(byte[] b, int pos, int end) { this.b = b; this.pos = pos; this.end = end; }

        boolean more() { return pos < end; }
        int length() { return end - pos; }

        int tag() { return (int) varint(); }

        long varint() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) throw new IllegalArgumentException("truncated varint at byte " + pos);
                int x = b[pos++];
                v |= (long) (x & 0x7f) << shift;
                if (x >= 0) return v;
            }
            throw new IllegalArgumentException("bad varint at byte " + pos);
        }

        float fixed32() {
            if (pos + 4 > end) throw new IllegalArgumentException("truncated float at byte " + pos);
            int v = (b[pos] & 0xff) | (b[pos + 1] & 0xff) << 8 | (b[pos + 2] & 0xff) << 16 | (b[pos + 3] & 0xff) << 24;
            pos += 4;
            return Float.intBitsToFloat(v);
        }

        Proto message() {
            long len = varint();
            if (len < 0 || pos + len > end) throw new IllegalArgumentException("field of " + len + " bytes overruns its message at byte " + pos);
            Proto q = new Proto(b, pos, pos + (int) len);
            pos += (int) len;
            return q;
        }

        String string() {
            Proto q = message();
            return new String(b, q.pos, q.end - q.pos, StandardCharsets.UTF_8);
        }

        void skip(int tag) {
            switch (tag & 7) {
                case 0 -> varint();
                case 1 -> pos += 8;
                case 2 -> message();
                case 5 -> pos += 4;
                default -> throw new IllegalArgumentException("unknown wire type " + (tag & 7) + " at byte " + pos);
            }
            if (pos > end) throw new IllegalArgumentException("truncated field at byte " + pos);
        }
    }
}
