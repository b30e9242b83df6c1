package dev.lamina.gguf;

import dev.lamina.kernels.WeightFormat;
import java.lang.foreign.MemorySegment;

import dev.lamina.hf.HfArch;
import dev.lamina.hf.HfCheckpoint;
import dev.lamina.hf.HfConfig;
import dev.lamina.io.LaminaException;
import dev.lamina.model.Decoder;
import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.Kernels;
import dev.lamina.kernels.LinearWeights;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Role;
import dev.lamina.tensor.Tensor;
import dev.lamina.model.Parameters;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.train.Checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Models in GGUF files: llama.cpp's {@code llama} architecture (which also carries Mistral-style
 * sliding windows) and {@code gpt2}. Hyper-parameters come from the {@code {arch}.*} metadata,
 * tensors through the name table of {@link GgufNames}, the tokenizer from {@link GgufVocab}.
 * For inference the linear maps in any block type stay in their blocks ({@link GgufWeights}); F32
 * tensors, and every weight when loading for training, are float32. Writing follows llama.cpp's converter: the same keys, names and layouts.
 */
public final class GgufModel {
    private GgufModel() {}

    /** A model read from a GGUF file: the decoder, its tokenizer, special ids and chat template. */
    public record Loaded(Decoder decoder, Tokenizer tokenizer, GgufVocab.Specials specials) {}

    /**
     * {@link WeightFormat#BF16} or {@link WeightFormat#F16} when every matrix of the file (a tensor of
     * two or more dimensions) is stored in that type, as inference then keeps them; else {@link
     * WeightFormat#STORED} (quantized blocks as they are, float32 for the rest).
     */
    public static WeightFormat storedFormat(Path path) {
        try (GgufFile f = GgufFile.open(path)) {
            return storedFormat(f);
        }
    }

    private static WeightFormat storedFormat(GgufFile f) {
        return WeightFormat.ofMatrices(f.tensors().values().stream().filter(t -> t.ne().length >= 2).map(t -> t.type().name()));
    }

    /**
     * What a memory plan reads of a file before loading it, from one read of its header (a large
     * vocabulary takes a few hundred milliseconds to parse): the config, {@link #storedFormat} and
     * {@link #servedArrays} and the tokenizer's token and merge counts (its size in memory; 0 tokens: no tokenizer).
     */
    public record Header(ModelConfig config, WeightFormat stored, long[] servedArrays, long tokens, long merges) {
        /** The bytes of {@link #servedArrays}, −1 when nothing is kept. */
        public long servedBytes() { return total(servedArrays); }
    }

    /** The length of array key, 0 when the file has no such array. */
    private static long length(GgufFile f, String key) {
        return f.hasValue(key) && f.values().get(key).value() instanceof GgufValue.Array a ? a.items().size() : 0;
    }

    /** The file's {@link Header}. */
    public static Header header(Path path) {
        try (GgufFile f = GgufFile.open(path)) {
            return new Header(config(f), storedFormat(f), servedArrays(f), length(f, GgufVocab.TOKENS), length(f, GgufVocab.MERGES));
        }
    }

    /**
     * Bytes inference holds for the file's tensors when it is served as stored ({@link #load(Path,
     * boolean, boolean)} keeping blocks and 16-bit matrices): the total of {@link #servedArrays}. −1 when
     * no tensor is kept (a float32 file, loaded and packed as float32).
     */
    public static long servedBytes(Path path) { return total(servedArrays(path)); }

    private static long total(long[] arrays) { return arrays == null ? -1 : java.util.Arrays.stream(arrays).sum(); }

    /**
     * The arrays inference holds for the file's tensors served as stored, in bytes: each kept matrix's
     * (one per expert of a stacked tensor; {@link GgufWeights#heldArrays}, rows padded to this machine's
     * panels), then the one float32 array of everything else. A memory plan counts the heap's rounding of
     * each (large arrays take whole G1 regions). Null when nothing is kept (a float32 file).
     */
    public static long[] servedArrays(Path path) {
        try (GgufFile f = GgufFile.open(path)) {
            return servedArrays(f);
        }
    }

    private static long[] servedArrays(GgufFile f) {
        List<Long> arrays = new ArrayList<>();
        long rest = 0;
        for (GgufFile.Tensor t : f.tensors().values()) {
            long[] ne = t.ne();
            if (ne.length >= 2 && ne.length <= 3 && (GgufWeights.kept(t.type()) || GgufWeights.half(t.type()))) {
                long matrices = ne.length == 3 ? ne[2] : 1;          // ggml's order: [in, out(, experts)]
                for (long e = 0; e < matrices; e++)
                    for (long a : GgufWeights.heldArrays(t.type(), Math.toIntExact(ne[1]), Math.toIntExact(ne[0]))) arrays.add(a);
            } else if (!t.name().equals("rope_freqs.weight")) rest += t.count();   // read into the config, not held
        }
        if (arrays.isEmpty()) return null;
        arrays.add(4 * rest);
        return arrays.stream().mapToLong(Long::longValue).toArray();
    }

    /** Whether path is a file that starts with the GGUF magic. */
    public static boolean isGguf(Path path) {
        if (!Files.isRegularFile(path)) return false;
        try (InputStream in = Files.newInputStream(path)) {
            byte[] m = in.readNBytes(4);
            return m.length == 4 && m[0] == 'G' && m[1] == 'G' && m[2] == 'U' && m[3] == 'F';
        } catch (IOException e) {
            return false;
        }
    }

    /** The model with every weight dequantized to float32 (to train or convert it). */
    public static Loaded load(Path file) { return load(file, false); }

    /**
     * The model; with keepBlocks (for inference) the linear maps stored in a type the kernels read
     * ({@link GgufWeights#kept}) keep their blocks and no float32 copy of them is made.
     */
    public static Loaded load(Path file, boolean keepBlocks) { return load(file, keepBlocks, false); }

    /**
     * As {@link #load(Path, boolean)}; with keepHalf too, a file's F16 and BF16 linear maps stay in
     * 16 bits even when no quantized block sits beside them (a plain F16 or BF16 file served as it is,
     * never through a float32 copy). Without it such a file loads as float32, for the uses that need
     * float weights (pruning, merging, training).
     */
    public static Loaded load(Path file, boolean keepBlocks, boolean keepHalf) {
        try (GgufFile f = GgufFile.open(file)) {
            return new Loaded(decoder(f, keepBlocks, keepHalf), GgufVocab.read(f), GgufVocab.specials(f));
        }
    }

    /** The Lamina config of a GGUF model, from its metadata (and, for sizes metadata may omit, its tensors). */
    public static ModelConfig config(GgufFile f) {
        GgufArch arch = GgufArch.of(f.string("general.architecture"), f.file());
        String expert = arch.key("expert_count"), used = arch.key("expert_used_count");
        int experts = f.hasValue(expert) ? f.intValue(expert, 0) : 0;
        if (experts > 0 && arch != GgufArch.LLAMA)
            throw new LaminaException(f.file() + ": metadata '" + expert + "' is " + experts + ": Lamina reads experts in llama files "
                    + "(Mixtral's layout), not " + arch.name);
        if (experts > 0 && !f.hasValue(used))
            throw new LaminaException(f.file() + ": metadata '" + expert + "' is " + experts + " but '" + used + "' is missing");
        if (!f.has("token_embd.weight")) throw new LaminaException(f.file() + ": no tensor 'token_embd.weight'; not a complete model");
        int[] embd = f.shape("token_embd.weight");
        int d = f.intValue(arch.key("embedding_length"), 1), heads = f.intValue(arch.key("attention.head_count"), 1);
        if (embd.length != 2 || embd[1] != d)
            throw new LaminaException(f.file() + ": tensor 'token_embd.weight' has shape " + Arrays.toString(embd) + " but metadata '"
                    + arch.key("embedding_length") + "' is " + d);
        int kv = f.hasValue(arch.key("attention.head_count_kv")) ? f.intValue(arch.key("attention.head_count_kv"), 1) : heads;
        String keyLength = arch.key("attention.key_length"), valueLength = arch.key("attention.value_length");
        Integer explicitHd = null;
        if (f.hasValue(keyLength)) {                          // a head size of its own (Qwen3, Gemma: 128 or 256 on any width)
            int k = f.intValue(keyLength, 1);
            if (f.hasValue(valueLength) && f.integer(valueLength) != k)
                throw new LaminaException(f.file() + ": metadata '" + valueLength + "' is " + f.integer(valueLength) + " but '" + keyLength
                        + "' is " + k + "; Lamina needs keys and values of one head size");
            if (d % heads != 0 || k != d / heads) explicitHd = k;
        } else if (d % heads != 0)
            throw new LaminaException(f.file() + ": metadata '" + arch.key("embedding_length") + "' " + d + " is not a multiple of '"
                    + arch.key("attention.head_count") + "' " + heads + " and there is no '" + keyLength + "'");
        int hd = explicitHd != null ? explicitHd : d / heads;
        ModelConfig.Builder b = ModelConfig.builder()
                .vocabSize(embd[0]).hiddenSize(d).numHiddenLayers(f.intValue(arch.key("block_count"), 1))
                .numAttentionHeads(heads).numKeyValueHeads(kv).headDim(explicitHd)
                .intermediateSize(f.intValue(arch.key("feed_forward_length"), 1))
                .maxPositionEmbeddings(f.intValue(arch.key("context_length"), 1))
                .tieWordEmbeddings(!f.has("output.weight"));
        if (experts > 0) b.numExperts(experts).expertsPerToken(f.intValue(used, 1));
        if (arch == GgufArch.GPT2) {
            b.gpt2Style().tieWordEmbeddings(!f.has("output.weight")).normEps(f.number(arch.key("attention.layer_norm_epsilon")));
        } else {
            b.normEps(f.number(arch.key("attention.layer_norm_rms_epsilon")))
                    .bias(f.has("blk.0.attn_q.bias"));
            if (f.hasValue(arch.key("rope.freq_base"))) b.ropeTheta(f.number(arch.key("rope.freq_base")));
            String dims = arch.key("rope.dimension_count");
            if (f.hasValue(dims) && f.integer(dims) != hd)
                throw new LaminaException(f.file() + ": metadata '" + dims + "' is " + f.integer(dims) + " but heads have " + hd
                        + " dimensions; rotary embeddings on part of a head are not supported");
            String scaling = arch.key("rope.scaling.type");
            if (f.hasValue(scaling) && f.string(scaling).equals("linear"))      // Gemma 3's global layers
                b.ropeScaling(dev.lamina.model.RopeScaling.linear(f.number(arch.key("rope.scaling.factor"))));
            else if (f.hasValue(scaling) && !f.string(scaling).equals("none"))
                throw new LaminaException(f.file() + ": metadata '" + scaling + "' is '" + f.string(scaling) + "'; Lamina reads none and linear");
            if (f.has("rope_freqs.weight")) {                    // Llama 3's scaling, as llama.cpp's converter stores it
                float[] factors = f.floats("rope_freqs.weight");
                if (factors.length != hd / 2)
                    throw new LaminaException(f.file() + ": tensor 'rope_freqs.weight' has " + factors.length + " values for heads of "
                            + hd + " dimensions (needs " + hd / 2 + ")");
                java.util.List<Double> list = new java.util.ArrayList<>();
                for (float v : factors) list.add((double) v);
                b.ropeScaling(dev.lamina.model.RopeScaling.factors(list));
            }
            String window = arch.key("attention.sliding_window");
            if (arch.gemma()) gemma(f, arch, b, d, heads, hd);
            else if (f.hasValue(window) && f.integer(window) > 0) b.slidingWindow(f.intValue(window, 1));
            if (arch == GgufArch.QWEN3) b.qkNorm(true);
        }
        ModelConfig c;
        try {
            c = b.build();
        } catch (LaminaException e) {
            throw new LaminaException(f.file() + ": " + e.getMessage());
        }
        checkAgainstTensors(f, arch, c);
        return c;
    }

    /**
     * The Gemma family as llama.cpp runs it: GeGLU, embeddings times sqrt(d), a tied head; Gemma 2
     * and 3 with sandwich norms and windowed layers (llama.cpp's default pattern 2 and 6 unless the
     * file says), Gemma 2's soft caps (defaults 50 and 30), Gemma 3's q/k norms, its optional logit
     * cap and the windowed layers' RoPE base (freq_base_swa, default 10000). Scores are scaled as
     * llama.cpp does, the file carrying no query_pre_attn_scalar: 1/sqrt(head size), or
     * 1/sqrt(d/heads) for the 27B models (46 and 62 layers).
     */
    private static void gemma(GgufFile f, GgufArch arch, ModelConfig.Builder b, int d, int heads, int hd) {
        b.activation(ModelConfig.Activation.GEGLU).scaleEmbeddings(true).tieWordEmbeddings(true);
        if (arch == GgufArch.GEMMA) return;
        b.sandwichNorms(true);
        int layers = f.intValue(arch.key("block_count"), 1);
        String windowKey = arch.key("attention.sliding_window");
        int window = f.hasValue(windowKey) ? f.intValue(windowKey, 0) : arch == GgufArch.GEMMA2 ? 4096 : 0;
        if (window > 0) {
            b.slidingWindow(window);
            int pattern = slidingPattern(f, arch.key("attention.sliding_window_pattern"), arch == GgufArch.GEMMA2 ? 2 : 6, layers);
            if (pattern > 1 && pattern <= layers) b.slidingWindowPattern(pattern);
            if (arch == GgufArch.GEMMA3)
                b.ropeLocalBaseFreq(f.hasValue(arch.key("rope.freq_base_swa")) ? f.number(arch.key("rope.freq_base_swa")) : 10000.0);
        }
        String attnCap = arch.key("attn_logit_softcapping"), finalCap = arch.key("final_logit_softcapping");
        if (arch == GgufArch.GEMMA2) {
            b.attnLogitSoftcapping(f.hasValue(attnCap) ? f.number(attnCap) : 50.0);
            b.finalLogitSoftcapping(f.hasValue(finalCap) ? f.number(finalCap) : 30.0);
        } else {
            b.qkNorm(true);
            if (f.hasValue(finalCap) && f.number(finalCap) > 0) b.finalLogitSoftcapping(f.number(finalCap));
        }
        boolean large = layers == (arch == GgufArch.GEMMA2 ? 46 : 62);
        if (large && d / heads != hd) b.queryPreAttnScalar((double) (d / heads));
    }

    /**
     * A window pattern n from metadata: an integer, or a list of booleans (true: windowed) that must
     * repeat with a global layer every n-th; absent, the default.
     */
    private static int slidingPattern(GgufFile f, String key, int fallback, int layers) {
        if (!f.hasValue(key)) return fallback;
        if (f.isArray(key)) {
            List<Boolean> windowed = f.booleans(key);
            int n = 1;
            while (n <= windowed.size() && windowed.get(n - 1)) n++;
            for (int l = 0; l < windowed.size(); l++)
                if (windowed.get(l) != ((l + 1) % n != 0))
                    throw new LaminaException(f.file() + ": metadata '" + key + "' " + windowed + " has no period: Lamina implements a "
                            + "global layer every n-th layer, the others windowed");
            return n;
        }
        return f.intValue(key, 1);
    }

    /** Rotary tables are computed for the whole context up front, so a larger one is refused rather than allocated. */
    static final int MAX_CONTEXT = 1 << 21;

    /**
     * The sizes in the metadata agree with the tensors the file holds, before anything is
     * allocated for them: a corrupt count cannot ask for gigabytes.
     */
    private static void checkAgainstTensors(GgufFile f, GgufArch arch, ModelConfig c) {
        String last = "blk." + (c.numHiddenLayers() - 1) + ".attn_norm.weight", beyond = "blk." + c.numHiddenLayers() + ".attn_norm.weight";
        if (!f.has(last) || f.has(beyond))
            throw new LaminaException(f.file() + ": metadata '" + arch.key("block_count") + "' is " + c.numHiddenLayers()
                    + " but the file " + (f.has(beyond) ? "has more blocks" : "has no tensor '" + last + "'"));
        String up = "blk.0.ffn_up.weight";
        if (f.has(up) && f.shape(up)[0] != c.intermediateSize())
            throw new LaminaException(f.file() + ": tensor '" + up + "' has shape " + Arrays.toString(f.shape(up)) + " but metadata '"
                    + arch.key("feed_forward_length") + "' is " + c.intermediateSize());
        if (c.maxPositionEmbeddings() > MAX_CONTEXT)
            throw new LaminaException(f.file() + ": metadata '" + arch.key("context_length") + "' is " + c.maxPositionEmbeddings()
                    + ", beyond the " + MAX_CONTEXT + " positions Lamina supports; the file may be corrupt");
    }

    /** The file's model with every weight dequantized to float32. */
    public static Decoder decoder(GgufFile f) { return decoder(f, false); }

    /** The file's model, its kept linear maps in their blocks when keepBlocks. */
    public static Decoder decoder(GgufFile f, boolean keepBlocks) { return decoder(f, keepBlocks, false); }

    /** The file's model, its kept linear maps in their blocks when keepBlocks, its 16-bit ones too when keepHalf. */
    public static Decoder decoder(GgufFile f, boolean keepBlocks, boolean keepHalf) {
        ModelConfig c = config(f);
        GgufArch arch = GgufArch.of(f.string("general.architecture"), f.file());
        Parameters.Layout layout = Decoder.layout(c);
        Map<String, GgufNames.Bound> bound = GgufNames.bind(arch, c, layout.slots());
        List<String> unexpected = new ArrayList<>(), missing = new ArrayList<>();
        for (String n : f.names()) if (!bound.containsKey(n) && !n.equals("rope_freqs.weight")) unexpected.add(n);   // read into the config
        for (String n : bound.keySet()) if (!f.has(n)) missing.add(n);
        if (!unexpected.isEmpty())
            throw new LaminaException(f.file() + ": tensor(s) " + list(unexpected) + " are not part of a " + arch + " model with this metadata");
        if (!missing.isEmpty()) throw new LaminaException(f.file() + ": missing tensor(s) " + list(missing) + " needed by the metadata");
        for (GgufNames.Bound b : bound.values()) {
            int[] shape = f.shape(b.name());
            boolean vector = b.shape().length == 1;   // llama.cpp also stores [n] vectors as [1, n]
            if (!Arrays.equals(shape, b.shape()) && !(vector && shape.length == 2 && shape[0] == 1 && shape[1] == b.shape()[0]))
                throw new LaminaException(f.file() + ": tensor '" + b.name() + "' has shape " + Arrays.toString(shape)
                        + " but the metadata implies " + Arrays.toString(b.shape()));
        }
        List<GgufNames.Bound> blocks = new ArrayList<>();
        if (keepBlocks) {
            for (GgufNames.Bound b : bound.values())
                if (!b.bias() && linear(b) && GgufWeights.kept(f.info(b.name()).type())) blocks.add(b);
            if (!blocks.isEmpty() || keepHalf)   // a quantized file's 16-bit matrices (a width the blocks do not divide) stay 16-bit too
                for (GgufNames.Bound b : bound.values())
                    if (!b.bias() && linear(b) && GgufWeights.half(f.info(b.name()).type())) blocks.add(b);
        }
        if (blocks.isEmpty()) {
            Parameters p = layout.build();
            for (GgufNames.Bound b : bound.values()) GgufNames.unpack(b, f.floats(b.name()), c, p);
            return new Decoder(c, p);
        }
        java.util.Set<ParamKey> kept = new java.util.HashSet<>();
        for (GgufNames.Bound b : blocks) for (Parameters.Slot s : b.slots()) kept.add(s.key());
        Parameters.Layout restLayout = new Parameters.Layout();           // the table's lookups read rows of its blocks
        for (Parameters.Slot s : layout.slots().values()) if (!kept.contains(s.key())) restLayout.add(s.key(), s.shape());
        Parameters rest = restLayout.build();
        for (GgufNames.Bound b : bound.values())
            if (!b.slots().stream().allMatch(s -> kept.contains(s.key()))) GgufNames.unpack(b, f.floats(b.name()), c, rest);
        KernelSet kernels = Kernels.defaults();
        Map<ParamKey, LinearWeights> stored = new java.util.LinkedHashMap<>();
        for (GgufNames.Bound b : blocks) {
            GgmlType type = f.info(b.name()).type();
            for (int i = 0; i < b.slots().size(); i++) {
                Parameters.Slot s = b.slots().get(i);
                int slot = i;
                String bias = s.key().biasOf().name();
                try {
                    stored.put(s.key(), GgufWeights.of(kernels.parallel(), type, f.raw(b.name()), s.shape()[0], s.shape()[1],
                            r -> GgufNames.fileRow(b, slot, r, c), rest.has(bias) ? Tensor.of(rest.value(bias).toArray(), s.shape()[0]) : null));
                } catch (LaminaException e) {
                    throw new LaminaException(f.file() + ": tensor '" + b.name() + "': " + e.getMessage());
                }
            }
        }
        return Decoder.withStored(c, rest, stored, kernels);
    }

    /** Whether a bound tensor is kept in its blocks or 16 bits ({@link dev.lamina.model.Role#heldAsStored}). */
    private static boolean linear(GgufNames.Bound b) {
        return b.slots().stream().allMatch(s -> s.role().heldAsStored());
    }

    private static String list(List<String> names) {
        List<String> shown = names.stream().map(GgufFile::shown).toList();
        return shown.size() <= 5 ? String.join(", ", shown) : String.join(", ", shown.subList(0, 5)) + " and " + (shown.size() - 5) + " more";
    }

    // ---- writing -------------------------------------------------------------------------------

    /** What an export wrote: the architecture, the format, and the block type of each tensor. */
    /** vocabularyNote: null when the file holds the tokenizer, else why it does not (llama.cpp needs one to run the file). */
    public record Exported(String arch, GgufQuantType type, Map<String, GgmlType> tensorTypes, String vocabularyNote) {
        public Exported withNote(String note) { return note == null ? this : new Exported(arch, type, tensorTypes, note); }
    }

    /** Exports the model of a run directory or Hugging Face directory (or a GGUF file) as one GGUF file. */
    public static Exported export(Path model, Path out, GgufQuantType type) {
        Source src = source(model);
        return write(src.decoder(), src.tokenizer(), src.chatTemplate(), out, type, Map.of()).withNote(src.note());
    }

    /**
     * A model to export: its weights, the tokenizer a GGUF file can hold (null when none can be
     * written), its chat template's Jinja text (null when it has none that can be read), and what
     * the file will lack and why.
     */
    public record Source(Decoder decoder, Tokenizer tokenizer, String chatTemplate, String note) {}

    /** The model of a run directory, Hugging Face directory or GGUF file, with its writable tokenizer and chat template. */
    public static Source source(Path model) {
        Decoder d;
        Tokenizer tok;
        String template = null, note = null;
        if (isGguf(model)) {
            Loaded l = load(model);
            d = l.decoder();
            tok = l.tokenizer();
            template = l.specials().chatTemplate();
        } else {
            d = Checkpoint.loadModel(model);
            boolean hf = HfCheckpoint.isHfDirectory(model);
            Path dir = hf ? model : model.resolve(Checkpoint.TOKENIZER);
            tok = HfCheckpoint.runTokenizer(model);
            try {
                var t = dev.lamina.chat.ModelChatTemplate.of(dir);
                // a Hugging Face model without a template gets none; a run chats with the built-in one unless it has its own
                template = hf && t.isBuiltIn() ? null : t.jinja();
            } catch (LaminaException e) {
                note = "the chat template is not written: " + e.getMessage();
            }
        }
        try {
            if (tok != null) GgufVocab.vocabulary(tok, d.config().vocabSize());
        } catch (LaminaException e) {
            // a Hugging Face directory without a readable tokenizer.json, or a tokenizer llama.cpp cannot express
            note = e.getMessage() + ": the file holds the weights alone (llama.cpp cannot run it; for text with Lamina, use the "
                    + "model's directory, or `lamina export hf`)";
            tok = null;
        }
        return new Source(d, tok, template, note);
    }

    /** The GGUF type {@link #write} gives each parameter of a model of config c written as type. */
    public static Map<dev.lamina.model.ParamKey, GgmlType> types(ModelConfig c, dev.lamina.model.Parameters p, GgufQuantType type) {
        Map<dev.lamina.model.ParamKey, GgmlType> m = new java.util.HashMap<>();
        for (GgufNames.Bound b : GgufNames.bind(archFor(c), c, p).values()) {
            GgmlType t = typeOf(b, c, type);
            for (var s : b.slots()) m.put(s.key(), t);
        }
        return m;
    }

    /** The block type of one GGUF tensor of a model of config c written as type. */
    private static GgmlType typeOf(GgufNames.Bound b, ModelConfig c, GgufQuantType type) {
        return type.typeFor(b.name(), b.shape(), b.slots().getFirst().layer(), c.numHiddenLayers(), c.tieWordEmbeddings());
    }

    /** llama for Pre-LN RMSNorm + RoPE + SwiGLU (with biases, a sliding window or both), else gpt2 where Hugging Face's gpt2 fits. */
    private static GgufArch archFor(ModelConfig c) {
        if (c.moe() && (c.moeEvery() != 1 || !c.normTopkProb() || c.sharedExpertIntermediateSize() > 0 || c.moeIntermediateSize() != null
                || c.activation() != ModelConfig.Activation.SWIGLU || c.sandwichNorms() || c.qkNorm()
                || c.norm() != ModelConfig.Norm.RMSNORM || c.position() != ModelConfig.Position.ROPE || c.normPlacement() != ModelConfig.Placement.PRE))
            throw new LaminaException("cannot export to GGUF: llama.cpp reads experts in llama files (Mixtral's layout: every layer sparse, "
                    + "renormalised top-k, swiglu, rmsnorm, rope, Pre-LN); this model differs; export it with `lamina export hf`");
        if (c.activation() == ModelConfig.Activation.GEGLU || c.sandwichNorms()) return gemmaArch(c);
        if (c.slidingWindowPattern() != null || c.queryPreAttnScalar() != null || c.ropeLocalBaseFreq() != null
                || c.attnLogitSoftcapping() != null || c.finalLogitSoftcapping() != null || c.scaleEmbeddings())
            throw new LaminaException("cannot export to GGUF: the model has Gemma's attention or embedding parts without the rest of "
                    + "a Gemma; no llama.cpp architecture computes it; export it with `lamina export hf`");
        if (c.qkNorm()) {
            if (c.bias() || c.slidingWindow() != null || c.ropeScaling() != null || c.norm() != ModelConfig.Norm.RMSNORM
                    || c.activation() != ModelConfig.Activation.SWIGLU || c.normPlacement() != ModelConfig.Placement.PRE || c.layernormScaling())
                throw new LaminaException("cannot export to GGUF: the model has q/k norms but not the rest of Qwen3 (rmsnorm, swiglu, "
                        + "Pre-LN, no biases, no window, plain RoPE); export it with `lamina export hf`");
            return GgufArch.QWEN3;
        }
        if (c.ropeScaling() != null && (c.ropeScaling().type() == dev.lamina.model.RopeScaling.Type.YARN
                || c.ropeScaling().type() == dev.lamina.model.RopeScaling.Type.LONGROPE))
            throw new LaminaException("cannot export to GGUF: the model's RoPE scaling ("
                    + c.ropeScaling().type().name().toLowerCase(java.util.Locale.ROOT) + ") is not written to GGUF yet; "
                    + "export it with `lamina export hf`");
        if (c.norm() == ModelConfig.Norm.RMSNORM && c.position() == ModelConfig.Position.ROPE && c.activation() == ModelConfig.Activation.SWIGLU
                && c.normPlacement() == ModelConfig.Placement.PRE && !c.layernormScaling()) return GgufArch.LLAMA;
        try {
            return HfConfig.archFor(c) == HfArch.GPT2 ? GgufArch.GPT2 : GgufArch.LLAMA;
        } catch (LaminaException e) {
            throw new LaminaException("cannot export to GGUF: " + e.getMessage());
        }
    }

    /** gemma, gemma2 or gemma3 for a model llama.cpp computes as one of them, else a refusal naming what differs. */
    private static GgufArch gemmaArch(ModelConfig c) {
        String why = null;
        if (c.activation() != ModelConfig.Activation.GEGLU || !c.scaleEmbeddings() || !c.tieWordEmbeddings() || c.bias()
                || c.norm() != ModelConfig.Norm.RMSNORM || c.position() != ModelConfig.Position.ROPE
                || c.normPlacement() != ModelConfig.Placement.PRE || c.layernormScaling())
            why = "it is not a Gemma (geglu, embeddings scaled by sqrt(d), a tied head, rmsnorm, rope, Pre-LN, no biases)";
        GgufArch arch = !c.sandwichNorms() ? GgufArch.GEMMA : c.qkNorm() ? GgufArch.GEMMA3 : GgufArch.GEMMA2;
        if (why == null && arch == GgufArch.GEMMA && (c.qkNorm() || c.slidingWindow() != null || c.ropeScaling() != null
                || c.attnLogitSoftcapping() != null || c.finalLogitSoftcapping() != null || c.queryPreAttnScalar() != null))
            why = "llama.cpp's gemma has no q/k norms, window, RoPE scaling, soft caps or score scalar";
        if (why == null && arch == GgufArch.GEMMA2 && (c.ropeScaling() != null || c.ropeLocalBaseFreq() != null
                || c.attnLogitSoftcapping() == null || c.finalLogitSoftcapping() == null || c.slidingWindow() == null))
            why = "llama.cpp's gemma2 has plain RoPE, a sliding window and always soft-caps scores and logits";
        if (why == null && arch == GgufArch.GEMMA3 && (c.attnLogitSoftcapping() != null
                || c.ropeScaling() != null && c.ropeScaling().type() != dev.lamina.model.RopeScaling.Type.LINEAR
                || c.slidingWindow() != null && c.ropeLocalBaseFreq() == null && c.ropeScaling() != null))
            why = "llama.cpp's gemma3 has no score soft cap, only linear RoPE scaling, and its windowed layers' RoPE unscaled";
        if (why == null && arch != GgufArch.GEMMA && c.attentionScale() != llamaCppScale(c, arch))
            why = "its scores are scaled by 1/sqrt(" + (c.queryPreAttnScalar() != null ? c.queryPreAttnScalar() : c.headDim())
                    + "), not as llama.cpp scales a GGUF file's (the head size, or d/heads for the 27B models), and the file has no place for it";
        if (why != null) throw new LaminaException("cannot export to GGUF as " + arch + ": " + why + "; export it with `lamina export hf`");
        return arch;
    }

    /** The score scale llama.cpp gives a Gemma 2/3 GGUF file: 1/sqrt(head size), 1/sqrt(d/heads) for the 27B models. */
    private static float llamaCppScale(ModelConfig c, GgufArch arch) {
        boolean large = c.numHiddenLayers() == (arch == GgufArch.GEMMA2 ? 46 : 62);
        return (float) (1.0 / Math.sqrt(large ? c.hiddenSize() / c.numAttentionHeads() : c.headDim()));
    }

    /**
     * llama.cpp's rope_freqs for a scaled model: each frequency's divisor (plain θ^(−2i/hd) over the
     * scaled one), as its converter writes Llama 3's; linear scaling is the same divisor everywhere.
     * Null for plain (and dynamic, plain within the context) RoPE.
     */
    private static float[] ropeFreqs(ModelConfig c) {
        var s = c.ropeScaling();
        if (s == null || s.type() == dev.lamina.model.RopeScaling.Type.DYNAMIC) return null;
        int hd = c.headDim();
        double[] plain = dev.lamina.model.RopeScaling.plain(c.ropeTheta(), hd), scaled = s.invFreq(c.ropeTheta(), hd);
        float[] f = new float[hd / 2];
        for (int i = 0; i < f.length; i++) f[i] = (float) (plain[i] / scaled[i]);
        return f;
    }

    /** Writes model (and tok, may be null) as a GGUF file in llama.cpp's layout, atomically. */
    public static Exported write(Decoder model, Tokenizer tok, Path out, GgufQuantType type) { return write(model, tok, null, out, type, Map.of()); }

    /**
     * As above, with calibrated weights (quant.Ptq, or quantization-aware training: the model holds ŵ,
     * calibrated their grids): a tensor calibrated on a 32-weight block type's grid is written in that
     * type, packed from the calibration's scales and levels instead of being rounded again; every
     * other tensor gets its type from type as usual. general.file_type names the calibrated type
     * when every calibrated tensor has the same one (the file is mostly that type). chatTemplate
     * (may be null) becomes tokenizer.chat_template.
     */
    public static Exported write(Decoder model, Tokenizer tok, String chatTemplate, Path out, GgufQuantType type,
                                 Map<dev.lamina.model.ParamKey, dev.lamina.quant.Calibrate.Quantized> calibrated) {
        ModelConfig c = model.config();
        GgufArch arch = archFor(c);
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", arch.name);
        w.putString("general.type", "model");
        w.putString("general.name", "lamina");
        w.putUint32(arch.key("block_count"), c.numHiddenLayers());
        w.putUint32(arch.key("context_length"), c.maxPositionEmbeddings());
        w.putUint32(arch.key("embedding_length"), c.hiddenSize());
        w.putUint32(arch.key("feed_forward_length"), c.intermediateSize());
        w.putUint32(arch.key("attention.head_count"), c.numAttentionHeads());
        w.putUint32(arch.key("attention.head_count_kv"), c.numKeyValueHeads());
        if (arch != GgufArch.GPT2) {
            w.putFloat32(arch.key("rope.freq_base"), c.ropeTheta());
            w.putFloat32(arch.key("attention.layer_norm_rms_epsilon"), c.normEps());
            w.putUint32(arch.key("attention.key_length"), c.headDim());
            w.putUint32(arch.key("attention.value_length"), c.headDim());
            if (c.slidingWindow() != null) w.putUint32(arch.key("attention.sliding_window"), c.slidingWindow());
            if (arch == GgufArch.LLAMA) {
                w.putUint32(arch.key("vocab_size"), c.vocabSize());
                w.putUint32(arch.key("rope.dimension_count"), c.headDim());
                if (c.moe()) {
                    w.putUint32(arch.key("expert_count"), c.numExperts());
                    w.putUint32(arch.key("expert_used_count"), c.expertsPerToken());
                }
            }
            if (arch == GgufArch.GEMMA2 || arch == GgufArch.GEMMA3) {
                if (c.slidingWindow() != null)           // one global layer every n-th (1: none), as llama.cpp reads it
                    w.putUint32(arch.key("attention.sliding_window_pattern"),
                            c.slidingWindowPattern() != null ? c.slidingWindowPattern() : c.numHiddenLayers() + 1);
                if (c.attnLogitSoftcapping() != null) w.putFloat32(arch.key("attn_logit_softcapping"), c.attnLogitSoftcapping());
                if (c.finalLogitSoftcapping() != null) w.putFloat32(arch.key("final_logit_softcapping"), c.finalLogitSoftcapping());
            }
            if (arch == GgufArch.GEMMA3) {
                if (c.slidingWindow() != null)
                    w.putFloat32(arch.key("rope.freq_base_swa"), c.ropeLocalBaseFreq() != null ? c.ropeLocalBaseFreq() : c.ropeTheta());
                if (c.ropeScaling() != null) {
                    w.putString(arch.key("rope.scaling.type"), "linear");
                    w.putFloat32(arch.key("rope.scaling.factor"), c.ropeScaling().factor());
                }
            }
        } else {
            w.putFloat32(arch.key("attention.layer_norm_epsilon"), c.normEps());
        }
        w.putUint32("general.file_type", mostly(type, calibrated).fileType);
        w.putUint32("general.quantization_version", 2);
        if (tok != null) GgufVocab.write(GgufVocab.vocabulary(tok, c.vocabSize()), w);
        if (tok != null && chatTemplate != null) w.putString(GgufVocab.CHAT_TEMPLATE, chatTemplate);

        Map<String, GgmlType> types = new java.util.LinkedHashMap<>();
        float[] freqs = arch == GgufArch.GEMMA3 ? null : ropeFreqs(c);    // gemma3 keeps its scaling in metadata
        if (freqs != null) {
            w.addTensor("rope_freqs.weight", GgmlType.F32, freqs, freqs.length);
            types.put("rope_freqs.weight", GgmlType.F32);
        }
        for (GgufNames.Bound b : GgufNames.bind(arch, c, model.params()).values()) {
            GgmlType t = typeOf(b, c, type);
            GgmlType own = b.bias() ? null : typeOf(calibrated.get(b.slots().getFirst().key()));
            if (own != null) t = own;
            float[] values = GgufNames.pack(b, c, model.params());
            MemorySegment blocks = packCalibrated(b, c, t, values, calibrated);
            if (blocks != null) w.addRaw(b.name(), t, blocks, b.shape());
            else w.addTensor(b.name(), t, values, b.shape());
            types.put(b.name(), t);
        }
        w.write(out);
        return new Exported(arch.name, type, types, tok != null ? null
                : "no tokenizer was found beside the model: the file holds the weights alone, which llama.cpp cannot run");
    }

    /** The 32-weight block type whose grid z was calibrated on (null: z null, or a grid of no such type). */
    private static GgmlType typeOf(dev.lamina.quant.Calibrate.Quantized z) {
        if (z == null) return null;
        for (GgmlType t : GgmlType.values()) if (z.grid().equals(dev.lamina.quant.Grid.of(t))) return t;
        return null;
    }

    /** The plain format of the calibrated tensors' one block type, else type. */
    private static GgufQuantType mostly(GgufQuantType type, Map<dev.lamina.model.ParamKey, dev.lamina.quant.Calibrate.Quantized> calibrated) {
        java.util.Set<GgmlType> ts = new java.util.HashSet<>();
        for (var z : calibrated.values()) ts.add(typeOf(z));
        if (ts.size() != 1 || ts.contains(null)) return type;
        for (GgufQuantType q : GgufQuantType.values()) if (q.base == ts.iterator().next() && !q.isMix()) return q;
        return type;
    }

    /** The calibrated blocks of b packed as t, or null when b is not (wholly) calibrated on t's grid. */
    private static MemorySegment packCalibrated(GgufNames.Bound b, ModelConfig c, GgmlType t, float[] values,
                                                Map<dev.lamina.model.ParamKey, dev.lamina.quant.Calibrate.Quantized> calibrated) {
        dev.lamina.quant.Grid grid = dev.lamina.quant.Grid.of(t);
        if (grid == null || calibrated.isEmpty() || b.bias()) return null;
        int blocks = values.length / 32, at = 0;
        float[] d = new float[blocks], m = new float[blocks];
        for (var s : b.slots()) {
            var z = calibrated.get(s.key());
            if (z == null || !z.grid().equals(grid)) return null;
            System.arraycopy(z.d(), 0, d, at, z.d().length);
            System.arraycopy(z.m(), 0, m, at, z.m().length);
            at += z.d().length;
        }
        d = GgufNames.packRows(b, c, d);
        m = GgufNames.packRows(b, c, m);
        MemorySegment seg = java.lang.foreign.Arena.ofAuto().allocate(t.bytes(values.length), 16);
        Quantize.pack(t, values, d, m, seg);
        return seg;
    }
}
