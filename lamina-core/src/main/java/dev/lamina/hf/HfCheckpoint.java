package dev.lamina.hf;

import dev.lamina.kernels.WeightFormat;
import dev.lamina.infer.ChatTemplate;
import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.io.SafeTensors;
import dev.lamina.io.ShardedSafeTensors;
import dev.lamina.io.TensorReader;
import dev.lamina.model.Decoder;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Parameters;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Role;
import dev.lamina.kernels.HalfWeights;
import dev.lamina.kernels.KernelSet;
import dev.lamina.kernels.Kernels;
import dev.lamina.kernels.LinearWeights;
import dev.lamina.tensor.Precision;
import dev.lamina.tensor.Tensor;
import dev.lamina.tokenizer.BpeTokenizer;
import dev.lamina.tokenizer.ByteTokenizer;
import dev.lamina.tokenizer.MissingTokenizer;
import dev.lamina.tokenizer.PipelineTokenizer;
import dev.lamina.tokenizer.Tokenizer;
import dev.lamina.tokenizer.Tokenizers;
import dev.lamina.train.Checkpoint;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * Hugging Face checkpoint directories: {@code config.json} with a {@code model_type}, weights in
 * {@code model.safetensors} or shards with {@code model.safetensors.index.json}, and optionally
 * {@code tokenizer.json}. Loads them as Lamina models (through the name table of {@link HfNames}
 * and the field table of {@link HfConfig}), imports them into run directories, and exports run
 * directories as checkpoints that {@code transformers} loads with {@code AutoModelForCausalLM}.
 */
public final class HfCheckpoint {
    private HfCheckpoint() {}

    public static final String TOKENIZER_JSON = "tokenizer.json", TOKENIZER_CONFIG = "tokenizer_config.json",
            GENERATION_CONFIG = "generation_config.json", WEIGHTS = "model.safetensors";

    /** Whether dir holds a Hugging Face config.json (one with a model_type field). */
    public static boolean isHfDirectory(Path dir) {
        Path cfg = dir.resolve(HfConfig.FILE);
        if (!Files.isRegularFile(cfg)) return false;
        try {
            JsonNode o = Json.MAPPER.readTree(Files.readString(cfg));
            return o != null && o.isObject() && o.has("model_type");
        } catch (IOException | RuntimeException e) {
            return false;   // not readable as JSON: let the run-directory reader report it
        }
    }

    // ---- loading -------------------------------------------------------------------------

    /** Loads the model of a Hugging Face directory (weights converted to float32). */
    public static Decoder load(Path dir) {
        HfConfig.Imported cfg = HfConfig.read(dir.resolve(HfConfig.FILE));
        Parameters p = Decoder.layout(cfg.config()).build();
        try (TensorReader r = openWeights(dir)) {
            readWeights(r, weightsName(dir), cfg.arch(), cfg.config(), p);
        }
        return new Decoder(cfg.config(), p);
    }

    /**
     * {@link WeightFormat#BF16} or {@link WeightFormat#F16} when every matrix of the directory
     * ({@code *.weight} of two or more dimensions: the linear maps and tables; buffers such as GPT-2's
     * masks aside) is stored in that type (most published checkpoints are BF16, older ones F16), as
     * inference then keeps them ({@code WeightFormat.STORED}); else {@link WeightFormat#STORED} (float32).
     */
    public static WeightFormat storedFormat(Path dir) {
        try (TensorReader r = openWeights(dir)) {
            return WeightFormat.ofMatrices(r.names().stream().filter(n -> r.shape(n).length >= 2 && n.endsWith(".weight")).map(r::dtype));
        }
    }

    /** The directory's architecture and Lamina config, without reading weights. */
    public static HfConfig.Imported config(Path dir) { return HfConfig.read(dir.resolve(HfConfig.FILE)); }

    /**
     * The tokenizer of a Hugging Face directory, read from its tokenizer.json. When there is none,
     * or it has a component Lamina does not implement, the result is a tokenizer that fails on
     * first use with that reason, so the model still loads for uses that need no text.
     */
    public static Tokenizer tokenizer(Path dir) {
        Path file = dir.resolve(TOKENIZER_JSON);
        if (!Files.isRegularFile(file))
            return new MissingTokenizer(dir + ": no " + TOKENIZER_JSON + "; the model loads, but text needs a tokenizer: "
                    + "copy the model's " + TOKENIZER_JSON + " there");
        try {
            return Tokenizers.readTokenizerJson(file);
        } catch (LaminaException e) {
            return new MissingTokenizer(e.getMessage());
        }
    }

    private static String weightsName(Path dir) {
        return Files.exists(dir.resolve(ShardedSafeTensors.INDEX)) ? dir.resolve(ShardedSafeTensors.INDEX).toString()
                : dir.resolve(WEIGHTS).toString();
    }

    private static TensorReader openWeights(Path dir) {
        if (Files.exists(dir.resolve(ShardedSafeTensors.INDEX))) return ShardedSafeTensors.open(dir);
        if (Files.exists(dir.resolve(WEIGHTS))) return SafeTensors.open(dir.resolve(WEIGHTS));
        if (Files.exists(dir.resolve("pytorch_model.bin")) || Files.exists(dir.resolve("pytorch_model.bin.index.json")))
            throw new LaminaException(dir + ": has only pytorch_model.bin weights; Lamina reads safetensors: re-save the model "
                    + "with save_pretrained(..., safe_serialization=True)");
        throw new LaminaException(dir + ": no " + WEIGHTS + " and no " + ShardedSafeTensors.INDEX + " (the weights are missing)");
    }

    /** A checkpoint's tensors bound to the config's slots, checked; tiedHead when lm_head.weight is a tied copy to compare. */
    private record Checked(Map<String, HfNames.Bound> bound, boolean tiedHead) {}

    /**
     * Fills p from a Hugging Face checkpoint: every tensor the config needs must be present with
     * its shape, and every tensor present must be one the config needs (or a known buffer).
     */
    static void readWeights(TensorReader r, String where, HfArch arch, ModelConfig c, Parameters p) {
        Checked k = check(r, where, arch, c, p.slots());
        for (HfNames.Bound b : k.bound().values()) {
            float[] v = r.floats(b.hfName());
            shiftNorm(arch, b, v, 1);                                   // Gemma: (1 + w) as Lamina's gain
            HfNames.unpack(b, v, p);
        }
        if (k.tiedHead()) checkTiedHead(r, where, p.value("embed_tokens.weight"));
    }

    private static Checked check(TensorReader r, String where, HfArch arch, ModelConfig c, Map<String, Parameters.Slot> slots) {
        boolean prefixed = r.names().stream().anyMatch(n -> n.startsWith(arch.prefix));
        String prefix = prefixed ? arch.prefix : "";
        Map<String, HfNames.Bound> bound = HfNames.bind(arch, c, slots, prefix);

        List<String> unexpected = new ArrayList<>();
        boolean tiedHead = false;
        for (String n : r.names()) {
            if (bound.containsKey(n)) continue;
            String bare = prefixed && n.startsWith(prefix) ? n.substring(prefix.length()) : n;
            if (HfNames.isDropped(arch, bare)) continue;
            if (n.equals("lm_head.weight") && c.tieWordEmbeddings()) { tiedHead = true; continue; }
            unexpected.add(n);
        }
        if (!unexpected.isEmpty())
            throw new LaminaException(where + ": " + list(unexpected) + (unexpected.size() == 1 ? " is" : " are")
                    + " not part of a " + arch + " model with this config.json (" + describe(c)
                    + "); the config and the weights disagree");
        List<String> missing = new ArrayList<>();
        for (String n : bound.keySet()) if (!r.has(n)) missing.add(n);
        if (!missing.isEmpty())
            throw new LaminaException(where + ": missing tensor" + (missing.size() == 1 ? " " : "s ") + list(missing)
                    + ", needed by config.json (" + describe(c) + ")");
        for (HfNames.Bound b : bound.values()) {
            int[] shape = r.shape(b.hfName());
            if (!Arrays.equals(shape, b.hfShape()))
                throw new LaminaException(where + ": tensor " + b.hfName() + " has shape " + Arrays.toString(shape)
                        + " but config.json (" + describe(c) + ") needs " + Arrays.toString(b.hfShape()));
        }
        return new Checked(bound, tiedHead);
    }

    /** A tied checkpoint's lm_head.weight must equal the token embeddings. */
    private static void checkTiedHead(TensorReader r, String where, Tensor table) {
        if (!Arrays.equals(r.shape("lm_head.weight"), table.shape()) || !Arrays.equals(r.floats("lm_head.weight"), table.toArray()))
            throw new LaminaException(where + ": lm_head.weight differs from the token embeddings but config.json says "
                    + "tie_word_embeddings true; set it to false if the head is separate");
    }

    /**
     * The model of a Hugging Face directory for inference. When every matrix is stored in BF16 or
     * in F16 ({@link #storedFormat}), its linear maps and token table are read tensor by tensor into
     * 16-bit weights ({@link HalfWeights}, the values as stored) and only the rest (norms, biases,
     * GPT-2's position table) into float32 parameters, so no float32 copy of the model exists on the
     * way; otherwise as {@link #load}.
     */
    public static Decoder loadStored(Path dir) {
        WeightFormat as = storedFormat(dir);
        if (as != WeightFormat.BF16 && as != WeightFormat.F16) return load(dir);
        Precision precision = as == WeightFormat.BF16 ? Precision.BF16 : Precision.FP16;
        HfConfig.Imported cfg = HfConfig.read(dir.resolve(HfConfig.FILE));
        ModelConfig c = cfg.config();
        Parameters.Layout layout = Decoder.layout(c);
        KernelSet kernels = Kernels.defaults();
        Map<ParamKey, LinearWeights> stored = new LinkedHashMap<>();
        Parameters rest;
        try (TensorReader r = openWeights(dir)) {
            String where = weightsName(dir);
            Checked k = check(r, where, cfg.arch(), c, layout.slots());
            List<HfNames.Bound> maps = k.bound().values().stream().filter(HfCheckpoint::halfMap).toList();
            java.util.Set<String> kept = new java.util.HashSet<>();
            for (HfNames.Bound b : maps) for (Parameters.Slot s : b.slots()) kept.add(s.name());
            Parameters.Layout restLayout = new Parameters.Layout();
            for (Parameters.Slot s : layout.slots().values()) if (!kept.contains(s.name())) restLayout.add(s.key(), s.shape());
            rest = restLayout.build();
            for (HfNames.Bound b : k.bound().values())
                if (!kept.contains(b.slots().getFirst().name())) {
                    float[] v = r.floats(b.hfName());
                    shiftNorm(cfg.arch(), b, v, 1);
                    HfNames.unpack(b, v, rest);
                }
            for (HfNames.Bound b : maps) {                            // one tensor's float32 values at a time
                float[] rows = HfNames.rows(b, r.floats(b.hfName()));
                int at = 0;
                for (Parameters.Slot s : b.slots()) {
                    String bias = s.key().biasOf().name();
                    stored.put(s.key(), HalfWeights.pack(kernels.parallel(), new Tensor(rows, at, s.shape()),
                            rest.has(bias) ? Tensor.of(rest.value(bias).toArray(), s.shape()[0]) : null, precision));
                    at += s.size();
                }
                if (k.tiedHead() && b.slots().getFirst().role() == Role.EMBEDDING) checkTiedHead(r, where, Tensor.of(rows, b.slots().getFirst().shape()));
            }
        }
        return Decoder.withStored(c, rest, stored, kernels);
    }

    /** Values of the directory's largest tensor: {@link #loadStored} holds one tensor at a time in float32. */
    public static long largestTensor(Path dir) {
        try (TensorReader r = openWeights(dir)) {
            long most = 0;
            for (String n : r.names()) most = Math.max(most, Tensor.count(r.shape(n)));
            return most;
        }
    }

    /** Whether b is kept in 16 bits by {@link #loadStored}: a weight whose role inference holds as stored ({@link Role#heldAsStored}). */
    private static boolean halfMap(HfNames.Bound b) {
        return b.slots().stream().allMatch(s -> s.name().endsWith(".weight") && s.role().heldAsStored());
    }

    /** Adds sign · the architecture's norm offset to a norm weight's values (Gemma stores w for a gain of 1 + w). */
    private static void shiftNorm(HfArch arch, HfNames.Bound b, float[] v, int sign) {
        if (arch.normOffset() == 0 || b.rule().canonical().getFirst().role().kind() != dev.lamina.model.Role.Kind.NORM) return;
        for (int i = 0; i < v.length; i++) v[i] += sign * arch.normOffset();
    }

    private static String list(List<String> names) {
        return names.size() <= 5 ? String.join(", ", names)
                : String.join(", ", names.subList(0, 5)) + " and " + (names.size() - 5) + " more";
    }

    private static String describe(ModelConfig c) {
        return "hidden " + c.hiddenSize() + ", " + c.numHiddenLayers() + " layers, " + c.numAttentionHeads() + " heads, "
                + c.numKeyValueHeads() + " kv heads, ff " + c.intermediateSize() + ", vocab " + c.vocabSize()
                + (c.bias() ? ", biases" : "") + (c.tieWordEmbeddings() ? ", tied head" : "");
    }

    // ---- import --------------------------------------------------------------------------

    /** What an import did; tokenizerNote is null when the tokenizer was imported, else why not. */
    public record Imported(HfArch arch, ModelConfig config, long parameters, String tokenizerNote) {}

    /**
     * Converts a Hugging Face directory into a new Lamina run directory (config.json,
     * model.safetensors with canonical names, tokenizer/ when the source has a readable
     * tokenizer.json). The run appears whole or not at all.
     */
    public static Imported importTo(Path hfDir, Path run) {
        if (!isHfDirectory(hfDir))
            throw new LaminaException(hfDir + ": not a Hugging Face model directory (needs " + HfConfig.FILE + " with a model_type)");
        checkFreshTarget(run);
        HfConfig.Imported cfg = HfConfig.read(hfDir.resolve(HfConfig.FILE));
        Decoder model = load(hfDir);
        Tokenizer tok = tokenizer(hfDir);
        String note = tok instanceof MissingTokenizer m ? m.reason() + " (generation from " + run + " needs a "
                + TOKENIZER_JSON + " in " + run.resolve(Checkpoint.TOKENIZER) + ")" : null;
        writeDirectory(run, tmp -> {
            Checkpoint.saveModel(tmp, model, 0);
            if (note == null) {
                Files.createDirectories(tmp.resolve(Checkpoint.TOKENIZER));
                Files.copy(hfDir.resolve(TOKENIZER_JSON), tmp.resolve(Checkpoint.TOKENIZER).resolve(TOKENIZER_JSON));
            }
        });
        return new Imported(cfg.arch(), cfg.config(), model.parameterCount(), note);
    }

    // ---- export --------------------------------------------------------------------------

    /** Weight formats of an export. */
    public enum DType {
        F32("float32"), F16("float16"), BF16("bfloat16");

        /** The torch_dtype written to config.json. */
        public final String torch;
        DType(String torch) { this.torch = torch; }

        public static DType parse(String s) {
            for (DType d : values()) if (d.name().equalsIgnoreCase(s)) return d;
            throw LaminaException.field("dtype", "dtype must be f32, f16 or bf16, got '" + s + "'");
        }
    }

    /** What an export did; tokenizerNote is null when tokenizer files were written, else why not. */
    public record Exported(HfArch arch, DType dtype, String tokenizerNote) {}

    /**
     * Writes the model of a run directory (or of a Hugging Face directory) as a new Hugging Face
     * directory: config.json, model.safetensors, generation_config.json, and tokenizer.json with
     * tokenizer_config.json when the run has a tokenizer. Refuses models no Hugging Face
     * architecture computes. The directory appears whole or not at all.
     */
    public static Exported export(Path model, Path out, DType dtype) {
        checkFreshTarget(out);
        Decoder m = Checkpoint.loadModel(model);
        Path dir = isHfDirectory(model) ? model : model.resolve(Checkpoint.TOKENIZER);
        String template;
        try {
            template = dev.lamina.chat.ModelChatTemplate.of(dir).jinja();
        } catch (LaminaException e) {
            template = ChatTemplate.JINJA;     // a template that does not parse is not carried over; the built-in one serves
        }
        return export(m, runTokenizer(model), template, out, dtype);
    }

    /** Exports a loaded model with Lamina's built-in chat template; tok may be null (no tokenizer files). */
    public static Exported export(Decoder model, Tokenizer tok, Path out, DType dtype) { return export(model, tok, ChatTemplate.JINJA, out, dtype); }

    /**
     * Exports a loaded model; tok may be null (no tokenizer files). A tokenizer read from a
     * tokenizer.json or tokenizer.model is written back as that file; chatTemplate is the Jinja
     * text tokenizer_config.json gets.
     */
    public static Exported export(Decoder model, Tokenizer tok, String chatTemplate, Path out, DType dtype) {
        ModelConfig c = model.config();
        HfArch arch;
        try {
            arch = HfConfig.archFor(c);
        } catch (LaminaException e) {
            throw new LaminaException("cannot export to Hugging Face: " + e.getMessage());
        }
        checkFreshTarget(out);
        if (arch == HfArch.QWEN2_MOE && c.bias())           // q/k/v biases only: an o bias the file cannot hold must be zero
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                String name = dev.lamina.model.ParamKey.of(dev.lamina.model.Role.O, l).biasOf().name();
                for (float v : model.params().value(name).toArray())
                    if (v != 0) throw new LaminaException("cannot export to Hugging Face: " + name + " is not zero, and qwen2_moe has "
                            + "biases on q, k and v only; no Hugging Face architecture with experts holds it");
            }
        Map<String, HfNames.Bound> bound = HfNames.bind(arch, c, model.params(), arch.prefix);
        SafeTensors.Writer w = new SafeTensors.Writer().metadata("format", "pt");
        for (HfNames.Bound b : bound.values()) {
            float[] v = HfNames.pack(b, model.params());
            shiftNorm(arch, b, v, -1);
            switch (dtype) {
                case F32 -> w.putFloats(b.hfName(), v, b.hfShape());
                case F16 -> w.putF16(b.hfName(), v, b.hfShape());
                case BF16 -> w.putBF16(b.hfName(), v, b.hfShape());
            }
        }
        String note;
        boolean fileOfItsOwn = tok instanceof PipelineTokenizer p && p.savable();   // read from a tokenizer.json or tokenizer.model
        if (tok == null) note = "the model has no tokenizer, so no tokenizer.json was written";
        else if (tok instanceof MissingTokenizer m) note = m.reason();
        else if (tok instanceof BpeTokenizer || tok instanceof ByteTokenizer || fileOfItsOwn) note = null;
        else note = "tokenizer " + tok.describe() + " has no Hugging Face form, so no tokenizer.json was written";
        int eot = tok == null || tok instanceof MissingTokenizer ? -1 : tok.eotId();
        int bos = fileOfItsOwn ? ((PipelineTokenizer) tok).bosId() : eot;
        ObjectNode config = HfConfig.toJson(c, arch, dtype.torch, bos, eot);
        writeDirectory(out, tmp -> {
            AtomicFiles.writeString(tmp.resolve(HfConfig.FILE), Json.MAPPER.writeValueAsString(config));
            w.write(tmp.resolve(WEIGHTS));
            if (eot >= 0) {
                ObjectNode g = Json.MAPPER.createObjectNode();
                if (bos >= 0) g.put("bos_token_id", bos);
                g.put("eos_token_id", eot);
                AtomicFiles.writeString(tmp.resolve(GENERATION_CONFIG), Json.MAPPER.writeValueAsString(g));
            }
            if (note == null) {
                if (tok instanceof BpeTokenizer bpe) bpe.save(tmp);
                else if (fileOfItsOwn) tok.save(tmp);
                else AtomicFiles.writeString(tmp.resolve(TOKENIZER_JSON), ByteLevelJson.byteTokenizerJson());
                AtomicFiles.writeString(tmp.resolve(TOKENIZER_CONFIG), Json.MAPPER.writeValueAsString(tokenizerConfig(tok, c, chatTemplate)));
            }
        });
        return new Exported(arch, dtype, note);
    }

    /** The tokenizer beside a model: tokenizer/ in a run directory, tokenizer.json in a Hugging Face one; null if none. */
    public static Tokenizer runTokenizer(Path model) {
        if (isHfDirectory(model)) return tokenizer(model);
        Path dir = model.resolve(Checkpoint.TOKENIZER);
        return Files.isDirectory(dir) ? Tokenizers.load(dir) : null;
    }

    private static ObjectNode tokenizerConfig(Tokenizer tok, ModelConfig c, String chatTemplate) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("tokenizer_class", "PreTrainedTokenizerFast");
        if (tok instanceof PipelineTokenizer p) {
            if (p.bosId() >= 0) o.put("bos_token", p.tokenString(p.bosId()));
            if (p.eotId() >= 0) o.put("eos_token", p.tokenString(p.eotId()));
        } else if (tok.eotId() >= 0) {
            String eot = tok instanceof BpeTokenizer b ? b.tokenString(tok.eotId()) : BpeTokenizer.EOT;
            o.put("bos_token", eot).put("eos_token", eot).put("unk_token", eot);
        }
        o.put("model_max_length", c.maxPositionEmbeddings());
        o.put("clean_up_tokenization_spaces", false);
        o.put("chat_template", chatTemplate);       // the template serve and finetune use for this model
        return o;
    }

    // ---- whole directories ----------------------------------------------------------------

    @FunctionalInterface
    interface DirBody { void write(Path tmp) throws IOException; }

    private static void checkFreshTarget(Path target) {
        if (Files.exists(target)) {
            boolean empty;
            try (Stream<Path> s = Files.list(target)) {
                empty = s.findAny().isEmpty();
            } catch (IOException e) {
                throw new LaminaException(target + ": exists and cannot be read (" + e.getMessage() + ")");
            }
            if (!empty) throw new LaminaException(target + ": already exists and is not empty; choose a new directory");
        }
    }

    /** Writes a directory under a hidden temporary name beside target, then renames it into place. */
    static void writeDirectory(Path target, DirBody body) {
        Path abs = target.toAbsolutePath().normalize();
        Path tmp = abs.resolveSibling("." + abs.getFileName() + "." + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()) + ".tmp");
        boolean done = false;
        try {
            Files.createDirectories(abs.getParent());
            Files.createDirectory(tmp);
            body.write(tmp);
            checkFreshTarget(abs);
            Files.deleteIfExists(abs);   // an empty directory only
            Files.move(tmp, abs, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            done = true;
        } catch (IOException e) {
            throw new LaminaException(target + ": cannot write (" + e + ")", e);
        } finally {
            if (!done) deleteTree(tmp);
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> {
                try { Files.deleteIfExists(f); } catch (IOException ignored) { /* best effort */ }
            });
        } catch (IOException ignored) { /* best effort */ }
    }
}
