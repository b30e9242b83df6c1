package dev.lamina.hf;

import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.RopeScaling;
import dev.lamina.model.ModelConfig.Activation;
import dev.lamina.model.ModelConfig.Norm;
import dev.lamina.model.ModelConfig.Placement;
import dev.lamina.model.ModelConfig.Position;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Hugging Face {@code config.json} to and from {@link ModelConfig}, driven by one table of fields
 * per architecture. Each field is mapped onto a Lamina field, checked against the values Lamina
 * implements, or known to be harmless (bookkeeping, generation defaults, dropout); a field in none
 * of these is refused by name rather than ignored, since it may change the model.
 */
public final class HfConfig {
    private HfConfig() {}

    public static final String FILE = "config.json";

    /** A config read from a Hugging Face directory. */
    public record Imported(HfArch arch, ModelConfig config) {}

    // ---- the field tables ------------------------------------------------------------------

    /** What to do with one field's value (never null: absent fields are not visited). */
    @FunctionalInterface
    private interface Handler { void apply(Reading r, String field, JsonNode value); }

    /** One table entry: the field, what to do with it, and whether it must be present. */
    private record Field(String name, boolean required, Handler handler) {}

    /** Copies an integer field to a Lamina field. */
    private static Handler toInt(String lamina) {
        return (r, f, v) -> {
            if (v.isNull()) return;
            if (!v.isIntegralNumber() || !v.canConvertToInt()) throw r.bad(f + " must be an integer, got " + v);
            r.out.put(lamina, v.intValue());
        };
    }

    private static Handler toNum(String lamina) {
        return (r, f, v) -> {
            if (v.isNull()) return;
            if (!v.isNumber()) throw r.bad(f + " must be a number, got " + v);
            r.out.put(lamina, v.doubleValue());
        };
    }

    private static Handler toBool(String lamina) {
        return (r, f, v) -> {
            if (!v.isBoolean()) throw r.bad(f + " must be true or false, got " + v);
            r.out.put(lamina, v.booleanValue());
        };
    }

    /** Accepts only the given values (JSON text, e.g. "true", "\"silu\"", "null"); why says what Lamina implements. */
    private static Handler only(String why, String... allowed) {
        return (r, f, v) -> {
            for (String a : allowed) if (Json.MAPPER.readTree(a).equals(v) || numericEqual(a, v)) return;
            throw r.bad(f + " = " + v + " is not supported: " + why);
        };
    }

    private static boolean numericEqual(String a, JsonNode v) {
        JsonNode n = Json.MAPPER.readTree(a);
        return n.isNumber() && v.isNumber() && n.doubleValue() == v.doubleValue();
    }

    private static final Handler IGNORE = (r, f, v) -> { };

    private static Field req(String name, Handler h) { return new Field(name, true, h); }
    private static Field opt(String name, Handler h) { return new Field(name, false, h); }

    /** Fields every architecture may carry: bookkeeping, token ids, generation and training defaults. */
    private static final List<Field> COMMON = new ArrayList<>();
    static {
        for (String f : List.of("model_type", "architectures", "_name_or_path", "transformers_version", "torch_dtype", "dtype",
                "use_cache", "bos_token_id", "eos_token_id", "pad_token_id", "sep_token_id", "decoder_start_token_id",
                "initializer_range", "id2label", "label2id", "num_labels", "output_attentions", "output_hidden_states",
                "return_dict", "problem_type", "chunk_size_feed_forward", "tokenizer_class", "prefix", "task_specific_params",
                "finetuning_task", "torchscript", "is_decoder", "max_length", "min_length", "do_sample", "early_stopping",
                "num_beams", "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p", "typical_p",
                "repetition_penalty", "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size",
                "bad_words_ids", "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
                "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
                "begin_suppress_tokens", "tf_legacy_loss", "use_bfloat16", "_attn_implementation_autoset",
                "attn_implementation"))
            COMMON.add(opt(f, IGNORE));
        COMMON.add(opt("is_encoder_decoder", only("Lamina models are decoder-only", "false")));
        COMMON.add(opt("add_cross_attention", only("Lamina models have no cross-attention", "false")));
        COMMON.add(opt("tie_encoder_decoder", only("Lamina models are decoder-only", "false")));
        COMMON.add(opt("cross_attention_hidden_size", only("Lamina models have no cross-attention", "null")));
        COMMON.add(opt("pruned_heads", only("pruned attention heads are not supported", "{}")));
        COMMON.add(opt("quantization_config", (r, f, v) -> {
            if (!v.isNull()) throw r.bad("quantization_config is set: quantized checkpoints are not supported; use float weights");
        }));
        COMMON.add(opt("auto_map", (r, f, v) -> {
            if (!v.isNull()) throw r.bad("auto_map is set: the model needs custom modelling code, which Lamina cannot run");
        }));
    }

    private static final List<Field> GPT2 = List.of(
            req("vocab_size", toInt("vocab_size")),
            req("n_embd", toInt("hidden_size")),
            req("n_layer", toInt("num_hidden_layers")),
            req("n_head", toInt("num_attention_heads")),
            req("n_positions", toInt("max_position_embeddings")),
            opt("n_inner", toInt("intermediate_size")),           // null: 4 · n_embd
            opt("n_ctx", IGNORE),                                 // legacy alias of n_positions, unused by transformers
            opt("activation_function", only("Lamina's GELU is the tanh approximation (gelu_new, gelu_pytorch_tanh)",
                    "\"gelu_new\"", "\"gelu_pytorch_tanh\"")),
            opt("layer_norm_epsilon", toNum("norm_eps")),
            opt("tie_word_embeddings", toBool("tie_word_embeddings")),
            opt("scale_attn_weights", only("Lamina scales attention scores by 1/sqrt(head_dim)", "true")),
            opt("scale_attn_by_inverse_layer_idx", only("per-layer attention scaling is not implemented", "false")),
            opt("reorder_and_upcast_attn", only("the reordered, upcast attention variant is not implemented", "false")),
            opt("resid_pdrop", IGNORE), opt("embd_pdrop", IGNORE), opt("attn_pdrop", IGNORE),   // dropout: training only
            opt("summary_type", IGNORE), opt("summary_use_proj", IGNORE), opt("summary_activation", IGNORE),
            opt("summary_proj_to_labels", IGNORE), opt("summary_first_dropout", IGNORE));    // GPT2DoubleHeadsModel only

    /**
     * rope_scaling (transformers 4) or rope_parameters (transformers 5): plain RoPE, or a scaling
     * type (read once every field is known, since yarn may fall back on max_position_embeddings).
     */
    private static final Handler ROPE = (r, f, v) -> {
        if (v.isNull()) return;
        if (!v.isObject()) throw r.bad(f + " must be an object or null, got " + v);
        String type = v.has("rope_type") ? v.get("rope_type").asString() : v.has("type") ? v.get("type").asString() : "default";
        if (v.has("rope_theta")) toNum("rope_theta").apply(r, f + ".rope_theta", v.get("rope_theta"));
        if (v.has("partial_rotary_factor"))
            only("RoPE on part of the head is not implemented", "1").apply(r, f + ".partial_rotary_factor", v.get("partial_rotary_factor"));
        if (!type.equals("default")) {
            r.rope = v;
            r.ropeType = type;
            r.ropeField = f;
            return;
        }
        for (Map.Entry<String, JsonNode> e : v.properties())
            if (!Set.of("rope_type", "type", "rope_theta", "partial_rotary_factor").contains(e.getKey()))
                throw r.bad(f + "." + e.getKey() + " is not supported with plain RoPE");
    };

    private static List<Field> llamaLike(boolean mistral) {
        List<Field> l = new ArrayList<>(List.of(
                req("vocab_size", toInt("vocab_size")),
                req("hidden_size", toInt("hidden_size")),
                req("num_hidden_layers", toInt("num_hidden_layers")),
                req("num_attention_heads", toInt("num_attention_heads")),
                req("intermediate_size", toInt("intermediate_size")),
                req("max_position_embeddings", toInt("max_position_embeddings")),
                opt("num_key_value_heads", toInt("num_key_value_heads")),   // null: num_attention_heads
                opt("head_dim", (r, f, v) -> { if (!v.isNull()) r.headDim = v; }),
                opt("hidden_act", only((mistral ? "mistral" : "llama") + " in Lamina uses SwiGLU with silu", "\"silu\"")),
                opt("rms_norm_eps", toNum("norm_eps")),
                opt("rope_theta", toNum("rope_theta")),
                opt("rope_scaling", ROPE),
                opt("rope_parameters", ROPE),
                opt("partial_rotary_factor", only("RoPE on part of the head is not implemented", "1", "null")),
                opt("tie_word_embeddings", toBool("tie_word_embeddings")),
                opt("attention_dropout", IGNORE)));                   // dropout: training only
        if (mistral) {
            l.add(opt("sliding_window", (r, f, v) -> {
                if (v.isNull()) r.out.putNull("sliding_window");
                else toInt("sliding_window").apply(r, f, v);
            }));
            l.add(opt("layer_types", (r, f, v) -> r.layerTypes = v));
        } else {
            l.add(opt("attention_bias", toBool("bias")));
            l.add(opt("mlp_bias", only("Lamina's SwiGLU MLP has no biases", "false")));
            l.add(opt("pretraining_tp", IGNORE));                    // splits matmuls in training; the same function
        }
        return List.copyOf(l);
    }

    private static final List<Field> LLAMA = llamaLike(false), MISTRAL = llamaLike(true), QWEN2 = qwen2(), QWEN3 = qwen3(), GEMMA = gemma(),
            GEMMA2 = gemma2(), GEMMA3 = gemma3(), PHI3 = phi3(), MIXTRAL = mixtral(), QWEN2_MOE = qwen2Moe();

    /** Qwen2-MoE: Qwen2's fields (q/k/v biases as qkv_bias) and the sparse layers', the shared expert's included. */
    private static List<Field> qwen2Moe() {
        List<Field> l = new ArrayList<>(qwen2());
        l.removeIf(f -> f.name().equals("hidden_act"));
        l.add(opt("hidden_act", only("qwen2_moe in Lamina uses SwiGLU with silu", "\"silu\"")));
        l.add(opt("qkv_bias", toBool("bias")));
        l.add(req("num_experts", toInt("num_experts")));
        l.add(req("num_experts_per_tok", toInt("experts_per_token")));
        l.add(opt("moe_intermediate_size", toInt("moe_intermediate_size")));
        l.add(opt("shared_expert_intermediate_size", toInt("shared_expert_intermediate_size")));
        l.add(opt("norm_topk_prob", toBool("norm_topk_prob")));
        l.add(opt("decoder_sparse_step", toInt("moe_every")));
        l.add(opt("mlp_only_layers", (r, f, v) -> {
            if (!v.isNull() && !v.isEmpty())
                throw r.bad("mlp_only_layers is " + v + ": Lamina places sparse layers by decoder_sparse_step alone");
        }));
        l.add(opt("router_aux_loss_coef", toNum("router_aux_loss_coef")));
        l.add(opt("output_router_logits", IGNORE));
        return List.copyOf(l);
    }

    /** Mixtral: Mistral's fields and the experts: how many, how many per token, the load-balancing loss's weight. */
    private static List<Field> mixtral() {
        List<Field> l = new ArrayList<>(llamaLike(true));
        l.removeIf(f -> f.name().equals("hidden_act"));
        l.add(opt("hidden_act", only("mixtral in Lamina uses SwiGLU experts with silu", "\"silu\"")));
        l.add(req("num_local_experts", toInt("num_experts")));
        l.add(req("num_experts_per_tok", toInt("experts_per_token")));
        l.add(opt("router_aux_loss_coef", toNum("router_aux_loss_coef")));
        l.add(opt("output_router_logits", IGNORE));              // whether transformers adds the aux loss; Lamina always does in training
        l.add(opt("router_jitter_noise", IGNORE));               // multiplicative noise on the router's input in training only
        return List.copyOf(l);
    }

    /** Phi-3: Mistral's fields (a sliding window) and its dropout rates; original_max_position_embeddings serves only longrope. */
    private static List<Field> phi3() {
        List<Field> l = new ArrayList<>(llamaLike(true));
        l.removeIf(f -> f.name().equals("hidden_act") || f.name().equals("layer_types"));
        l.add(opt("hidden_act", only("phi3 in Lamina uses SwiGLU with silu", "\"silu\"")));
        l.add(opt("resid_pdrop", IGNORE));
        l.add(opt("embd_pdrop", IGNORE));
        l.add(opt("original_max_position_embeddings", (r, f, v) -> r.originalMax = v));   // longrope's, when its dict has none
        return List.copyOf(l);
    }

    /** Gemma: Llama's fields with the tanh GELU gate (GeGLU) and no MLP bias or pretraining_tp. */
    private static List<Field> gemma() {
        List<Field> l = new ArrayList<>(llamaLike(false));
        l.removeIf(f -> f.name().equals("hidden_act") || f.name().equals("mlp_bias") || f.name().equals("pretraining_tp"));
        String why = "gemma in Lamina uses GeGLU with the tanh GELU (gelu_pytorch_tanh)";
        l.add(opt("hidden_act", only(why, "\"gelu_pytorch_tanh\"", "\"gelu_new\"")));
        l.add(opt("hidden_activation", only(why, "\"gelu_pytorch_tanh\"", "\"gelu_new\"", "null")));
        l.add(opt("use_bidirectional_attention", only("Lamina's attention is causal", "false", "null")));
        return List.copyOf(l);
    }

    /**
     * Gemma 2: Gemma's fields with the sliding window and which layers use it (layer_types, or
     * transformers' default: every other layer from the first), the scores' scale and both soft caps.
     */
    private static List<Field> gemma2() {
        List<Field> l = new ArrayList<>(gemma());
        l.add(opt("query_pre_attn_scalar", toNum("query_pre_attn_scalar")));
        l.add(opt("attn_logit_softcapping", nullableNum("attn_logit_softcapping")));
        l.add(opt("final_logit_softcapping", nullableNum("final_logit_softcapping")));
        l.add(opt("sliding_window", (r, f, v) -> {
            if (v.isNull()) r.out.putNull("sliding_window");
            else toInt("sliding_window").apply(r, f, v);
        }));
        l.add(opt("layer_types", (r, f, v) -> r.layerTypes = v));
        l.add(opt("cache_implementation", IGNORE));               // how transformers caches keys (hybrid); the same function
        return List.copyOf(l);
    }

    /**
     * Gemma 3: Gemma 2's fields with q/k norms (implied) and RoPE per kind of layer: rope_parameters
     * {full_attention: {...}, sliding_attention: {...}} (transformers 5), or rope_theta, rope_scaling
     * and rope_local_base_freq (older files); sliding_window_pattern is the older form of layer_types.
     */
    private static List<Field> gemma3() {
        List<Field> l = new ArrayList<>(gemma2());
        l.removeIf(f -> f.name().equals("rope_parameters"));
        l.add(opt("rope_parameters", (r, f, v) -> {
            if (v.isNull()) return;
            if (!v.isObject()) throw r.bad(f + " must be an object or null, got " + v);
            if (!v.has("full_attention") && !v.has("sliding_attention")) { ROPE.apply(r, f, v); return; }   // one for all layers
            for (Map.Entry<String, JsonNode> e : v.properties())
                switch (e.getKey()) {
                    case "full_attention" -> ROPE.apply(r, f + ".full_attention", e.getValue());
                    case "sliding_attention" -> {
                        JsonNode s = e.getValue();
                        String type = s.has("rope_type") ? s.get("rope_type").asString() : "default";
                        if (!type.equals("default"))
                            throw r.bad(f + ".sliding_attention has rope_type '" + type + "': Lamina gives the sliding layers plain RoPE");
                        for (Map.Entry<String, JsonNode> x : s.properties())
                            if (!Set.of("rope_type", "rope_theta").contains(x.getKey()))
                                throw r.bad(f + ".sliding_attention." + x.getKey() + " is not supported with plain RoPE");
                        if (s.has("rope_theta")) toNum("rope_local_base_freq").apply(r, f + ".sliding_attention.rope_theta", s.get("rope_theta"));
                    }
                    default -> throw r.bad(f + "." + e.getKey() + " is not a kind of layer Lamina knows (full_attention, sliding_attention)");
                }
        }));
        l.add(opt("rope_local_base_freq", toNum("rope_local_base_freq")));
        Handler pattern = (r, f, v) -> {
            if (!v.isNull() && (!v.isIntegralNumber() || v.intValue() < 1)) throw r.bad(f + " must be a positive integer, got " + v);
            if (!v.isNull()) r.slidingWindowPattern = v.intValue();
        };
        l.add(opt("sliding_window_pattern", pattern));     // read only without layer_types, as transformers does
        l.add(opt("_sliding_window_pattern", pattern));    // what transformers 5 writes beside layer_types
        return List.copyOf(l);
    }

    /** A number, or null (which sets the Lamina field to null). */
    private static Handler nullableNum(String lamina) {
        return (r, f, v) -> {
            if (v.isNull()) r.out.putNull(lamina);
            else toNum(lamina).apply(r, f, v);
        };
    }

    /** Qwen3: Qwen2's fields with attention_bias (q, k, v and o alike) instead of the implied q/k/v biases. */
    private static List<Field> qwen3() {
        List<Field> l = new ArrayList<>(qwen2());
        l.removeIf(f -> f.name().equals("hidden_act"));
        l.add(opt("hidden_act", only("qwen3 in Lamina uses SwiGLU with silu", "\"silu\"")));
        l.add(opt("attention_bias", toBool("bias")));
        return List.copyOf(l);
    }

    /** Qwen2/Qwen2.5: Llama's fields (its biases are implied), and a sliding window Lamina reads only when it is off. */
    private static List<Field> qwen2() {
        List<Field> l = new ArrayList<>(llamaLike(false));
        l.removeIf(f -> f.name().equals("attention_bias") || f.name().equals("mlp_bias") || f.name().equals("pretraining_tp")
                || f.name().equals("hidden_act"));
        l.add(opt("hidden_act", only("qwen2 in Lamina uses SwiGLU with silu", "\"silu\"")));
        l.add(opt("use_sliding_window", only("Qwen2's per-layer sliding window (max_window_layers) is not implemented", "false")));
        l.add(opt("sliding_window", IGNORE));                     // read by transformers only with use_sliding_window
        l.add(opt("max_window_layers", IGNORE));                  // likewise
        l.add(opt("layer_types", (r, f, v) -> {
            if (v.isNull()) return;
            for (JsonNode t : v)
                if (!t.isString() || !t.stringValue().equals("full_attention"))
                    throw r.bad("layer_types has " + t + ": Lamina reads qwen2 with full attention in every layer");
        }));
        return List.copyOf(l);
    }

    private static List<Field> table(HfArch arch) {
        return switch (arch) {
            case GPT2 -> GPT2;
            case LLAMA -> LLAMA;
            case MISTRAL -> MISTRAL;
            case QWEN2 -> QWEN2;
            case QWEN3 -> QWEN3;
            case GEMMA -> GEMMA;
            case GEMMA2 -> GEMMA2;
            case GEMMA3 -> GEMMA3;
            case PHI3 -> PHI3;
            case MIXTRAL -> MIXTRAL;
            case QWEN2_MOE -> QWEN2_MOE;
        };
    }

    /** Lamina's fixed choices and transformers' defaults for absent optional fields, per architecture. */
    private static ObjectNode defaults(HfArch arch) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("norm_placement", "pre");
        o.put("layernorm_scaling", false);
        if (arch == HfArch.GPT2) {
            o.put("norm", "layernorm").put("position", "learned").put("activation", "gelu").put("bias", true)
                    .put("norm_eps", 1e-5).put("tie_word_embeddings", true);
        } else {
            o.put("norm", "rmsnorm").put("position", "rope").put("activation", "swiglu").put("bias", false)
                    .put("norm_eps", 1e-6).put("rope_theta", 10000.0).put("tie_word_embeddings", false);
            if (arch == HfArch.MISTRAL) o.put("sliding_window", 4096);
            if (arch == HfArch.MIXTRAL) o.put("rope_theta", 1_000_000.0).putNull("sliding_window").put("router_aux_loss_coef", 0.001);
            if (arch == HfArch.PHI3) o.put("norm_eps", 1e-5);
            if (arch == HfArch.QWEN2) o.put("bias", true);         // q, k, v (o's stays zero)
            if (arch == HfArch.QWEN2_MOE) o.put("bias", true).put("rope_theta", 1_000_000.0).put("norm_eps", 1e-6)
                    .put("norm_topk_prob", false).put("moe_every", 1).put("router_aux_loss_coef", 0.001);
            if (arch == HfArch.QWEN3) o.put("qk_norm", true);
            if (arch == HfArch.GEMMA || arch == HfArch.GEMMA2 || arch == HfArch.GEMMA3)
                o.put("activation", "geglu").put("scale_embeddings", true).put("tie_word_embeddings", true);
            if (arch == HfArch.GEMMA3)                             // transformers' Gemma3TextConfig defaults
                o.put("sandwich_norms", true).put("qk_norm", true).put("sliding_window", 4096).put("query_pre_attn_scalar", 256.0)
                        .put("rope_theta", 1_000_000.0).put("rope_local_base_freq", 10_000.0);
            if (arch == HfArch.GEMMA2)                             // transformers' Gemma2Config defaults
                o.put("sandwich_norms", true).put("sliding_window", 4096).put("query_pre_attn_scalar", 256.0)
                        .put("attn_logit_softcapping", 50.0).put("final_logit_softcapping", 30.0);
        }
        return o;
    }

    /** State while one config is read. */
    private static final class Reading {
        final String source;
        final ObjectNode out;
        JsonNode headDim, layerTypes, rope, originalMax;
        String ropeType, ropeField;
        int slidingWindowPattern = 2;          // Gemma 2's alternation; Gemma 3's files say 6 (or list layer_types)

        Reading(String source, ObjectNode out) {
            this.source = source;
            this.out = out;
        }

        LaminaException bad(String what) { return new LaminaException(source + ": " + what); }
    }

    // ---- import ---------------------------------------------------------------------------

    /** Reads dir/config.json (or the given file). */
    public static Imported read(Path file) {
        return fromJson(readJson(file), file.toString());
    }

    static JsonNode readJson(Path file) {
        try {
            return Json.MAPPER.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new LaminaException(file + ": file not found");
        } catch (IOException e) {
            throw new LaminaException(file + ": cannot read (" + e.getMessage() + ")");
        } catch (JacksonException e) {
            throw new LaminaException(file + ": malformed JSON (" + e.getOriginalMessage() + ")");
        }
    }

    /** Maps a Hugging Face config onto a ModelConfig; source names the file in errors. */
    public static Imported fromJson(JsonNode o, String source) {
        if (o == null || !o.isObject()) throw new LaminaException(source + ": expected a JSON object");
        JsonNode mt = o.get("model_type");
        if (mt == null || !mt.isString())
            throw new LaminaException(source + ": no model_type; not a Hugging Face config (Lamina reads gpt2, llama, mistral, qwen2)");
        HfArch arch = HfArch.of(mt.stringValue(), source);
        Reading r = new Reading(source, defaults(arch));
        Map<String, Field> fields = new HashMap<>();
        for (Field f : COMMON) fields.put(f.name(), f);
        for (Field f : table(arch)) fields.put(f.name(), f);

        for (Field f : table(arch))
            if (f.required() && (!o.has(f.name()) || o.get(f.name()).isNull()))
                throw r.bad("missing required field '" + f.name() + "' for model_type " + arch);
        Set<String> unknown = new TreeSet<>();
        for (Map.Entry<String, JsonNode> e : o.properties()) {
            Field f = fields.get(e.getKey());
            if (f == null) unknown.add(e.getKey());
            else f.handler().apply(r, e.getKey(), e.getValue());
        }
        if (!unknown.isEmpty())
            throw r.bad("field(s) " + unknown + " are not supported for model_type " + arch
                    + " (Lamina cannot tell whether they change the model; see docs/INTEROP.md)");

        ObjectNode out = r.out;
        if (r.rope != null) {
            JsonNode rope = r.rope;
            if (r.ropeType.equals("longrope") && !rope.has("original_max_position_embeddings") && r.originalMax != null)
                rope = ((ObjectNode) rope.deepCopy()).set("original_max_position_embeddings", r.originalMax);   // transformers 4 files
            out.set("rope_scaling", RopeScaling.fromJson(r.ropeType, rope, out.get("max_position_embeddings").intValue(),
                    source + ": " + r.ropeField).toJson());
        }
        if (out.has("sliding_window") && !out.get("sliding_window").isNull()
                && out.get("sliding_window").intValue() >= out.get("max_position_embeddings").intValue())
            out.putNull("sliding_window");           // a window as long as the context masks nothing (Phi-3.5's 262144)
        int hidden = out.get("hidden_size").intValue(), heads = out.get("num_attention_heads").intValue();
        if (!out.has("num_key_value_heads")) out.put("num_key_value_heads", heads);
        if (arch == HfArch.GPT2 && !out.has("intermediate_size")) out.put("intermediate_size", 4 * hidden);
        if (r.headDim != null) {
            if (!r.headDim.isIntegralNumber() || r.headDim.intValue() < 1) throw r.bad("head_dim must be a positive integer, got " + r.headDim);
            if (hidden % heads != 0 || r.headDim.intValue() != hidden / heads) out.put("head_dim", r.headDim.intValue());   // attention H·hd wide
        }
        if (arch == HfArch.GEMMA3 && !o.has("sliding_window_pattern") && !o.has("_sliding_window_pattern"))
            r.slidingWindowPattern = 6;                                                            // Gemma3TextConfig's default
        if (arch == HfArch.GEMMA2 || arch == HfArch.GEMMA3) slidingPattern(r, out);
        else if (r.layerTypes != null && !r.layerTypes.isNull()) {
            String want = out.get("sliding_window").isNull() ? "full_attention" : "sliding_attention";
            for (JsonNode t : r.layerTypes)
                if (!t.isString() || !t.stringValue().equals(want))
                    throw r.bad("layer_types mixes attention kinds (" + t + "); Lamina applies one kind to every layer, here "
                            + want + " as sliding_window is " + out.get("sliding_window"));
        }
        if (out.has("rope_local_base_freq")) {
            boolean noWindow = out.get("sliding_window").isNull();
            boolean same = out.get("rope_local_base_freq").doubleValue() == out.get("rope_theta").doubleValue() && r.rope == null;
            if (noWindow || same) out.remove("rope_local_base_freq");   // no windowed layer, or its RoPE is every layer's: one table
        }
        return new Imported(arch, ModelConfig.fromJson(out, source));
    }

    /**
     * Gemma 2's and 3's layer_types as Lamina's sliding_window_pattern n (layer l global when l + 1 is
     * a multiple of n); absent, transformers' default (Gemma 2: alternating, n = 2; Gemma 3:
     * sliding_window_pattern, 6). Types that follow no such pattern are refused.
     */
    private static void slidingPattern(Reading r, ObjectNode out) {
        int L = out.get("num_hidden_layers").intValue();
        boolean[] global = new boolean[L];
        if (r.layerTypes == null || r.layerTypes.isNull()) for (int l = 0; l < L; l++) global[l] = (l + 1) % r.slidingWindowPattern == 0;
        else {
            if (!r.layerTypes.isArray() || r.layerTypes.size() != L)
                throw r.bad("layer_types must list one type for each of the " + L + " layers, got " + r.layerTypes);
            for (int l = 0; l < L; l++) {
                JsonNode t = r.layerTypes.get(l);
                if (!t.isString() || !Set.of("sliding_attention", "full_attention").contains(t.stringValue()))
                    throw r.bad("layer_types[" + l + "] is " + t + "; Lamina implements sliding_attention and full_attention");
                global[l] = t.stringValue().equals("full_attention");
            }
        }
        int firstGlobal = 0;
        while (firstGlobal < L && !global[firstGlobal]) firstGlobal++;
        boolean anySliding = false;
        for (boolean g : global) anySliding |= !g;
        if (!anySliding || out.get("sliding_window").isNull()) {      // no layer uses a window
            out.putNull("sliding_window");
            return;
        }
        if (firstGlobal == L) return;                                 // every layer uses the window
        int n = firstGlobal + 1;
        for (int l = 0; l < L; l++)
            if (global[l] != ((l + 1) % n == 0))
                throw r.bad("layer_types " + r.layerTypes + " has no period: Lamina implements a global layer every n-th layer "
                        + "(layer l global when l + 1 is a multiple of n), the others sliding");
        out.put("sliding_window_pattern", n);
    }

    // ---- export ---------------------------------------------------------------------------

    /** The Hugging Face architecture that computes exactly this model, or a LaminaException saying why none does. */
    public static HfArch archFor(ModelConfig c) {
        if (c.ropeScaling() != null && c.ropeScaling().type() == dev.lamina.model.RopeScaling.Type.FREQ_FACTORS)
            throw new LaminaException("the model's RoPE scaling came from a GGUF file's rope_freqs tensor (one divisor per frequency), "
                    + "which has no Hugging Face form; export it with `lamina export gguf`");
        if (c.normPlacement() != Placement.PRE)
            throw new LaminaException("the model is " + (c.normPlacement() == Placement.POST ? "Post-LN" : "Mix-LN")
                    + ": no Hugging Face architecture normalises after the residual add (gpt2, llama and mistral are Pre-LN)");
        if (c.layernormScaling())
            throw new LaminaException("the model uses LayerNorm Scaling: no Hugging Face architecture scales the norm outputs "
                    + "by 1/sqrt(layer+1)");
        String combo = "norm " + lower(c.norm()) + ", position " + lower(c.position()) + ", activation " + lower(c.activation());
        if (c.moe() && (c.sharedExpertIntermediateSize() > 0 || !c.normTopkProb() || c.moeEvery() != 1 || c.moeIntermediateSize() != null)) {
            if (c.norm() != Norm.RMSNORM || c.position() != Position.ROPE || c.activation() != Activation.SWIGLU || c.qkNorm()
                    || c.sandwichNorms() || c.scaleEmbeddings() || c.slidingWindow() != null || c.ropeScaling() != null)
                throw new LaminaException("the model has Qwen-MoE's experts but not the rest of Qwen2 (rmsnorm, rope, swiglu, no window, "
                        + "plain RoPE): no Hugging Face architecture matches");
            if (c.sharedExpertIntermediateSize() == 0)
                throw new LaminaException("the model has sparse layers that only qwen2_moe describes (" + (c.moeEvery() != 1 ? "moe_every "
                        + c.moeEvery() : !c.normTopkProb() ? "unnormalised top-k" : "moe_intermediate_size") + ") but no shared expert, "
                        + "which qwen2_moe always has");
            return HfArch.QWEN2_MOE;
        }
        if (c.moe()) {
            if (c.moeEvery() != 1)
                throw new LaminaException("the model has sparse layers every " + c.moeEvery() + " layers: Mixtral's are all sparse "
                        + "(moe_every 1); no Hugging Face architecture Lamina writes alternates them");
            if (!c.normTopkProb())
                throw new LaminaException("the model keeps its experts' probabilities unnormalised (norm_topk_prob false): Mixtral "
                        + "renormalises the chosen ones; no Hugging Face architecture Lamina writes matches");
            if (c.norm() != Norm.RMSNORM || c.position() != Position.ROPE || c.activation() != Activation.SWIGLU || c.bias()
                    || c.qkNorm() || c.sandwichNorms() || c.scaleEmbeddings() || c.slidingWindowPattern() != null)
                throw new LaminaException("the model has experts but not the rest of Mixtral (rmsnorm, rope, swiglu, no biases, "
                        + "no q/k or sandwich norms): no Hugging Face architecture matches");
            return HfArch.MIXTRAL;
        }
        if (c.sandwichNorms()) {
            if (c.norm() != Norm.RMSNORM || c.position() != Position.ROPE || c.activation() != Activation.GEGLU || !c.scaleEmbeddings())
                throw new LaminaException("the model has sandwich norms but not the rest of Gemma 2/3 (rmsnorm, rope, geglu, embeddings "
                        + "scaled by sqrt(d)): no Hugging Face architecture matches");
            if (c.qkNorm()) {
                boolean windowed = false;
                for (int l = 0; l < c.numHiddenLayers(); l++) windowed |= c.window(l) > 0;
                if (c.ropeLocalBaseFreq() == null && c.ropeScaling() != null && windowed)
                    throw new LaminaException("the model scales the RoPE of its windowed layers: Gemma 3 scales only its global layers' "
                            + "(set rope_local_base_freq for the windowed ones)");
                return HfArch.GEMMA3;
            }
            if (c.ropeScaling() != null || c.ropeLocalBaseFreq() != null)
                throw new LaminaException("the model has Gemma 2's sandwich norms with RoPE scaling or a local RoPE base: Gemma 2 has "
                        + "plain RoPE (Gemma 3 has both, with q/k norms)");
            return HfArch.GEMMA2;
        }
        if (c.slidingWindowPattern() != null || c.queryPreAttnScalar() != null || c.attnLogitSoftcapping() != null
                || c.finalLogitSoftcapping() != null || c.ropeLocalBaseFreq() != null)
            throw new LaminaException("the model has Gemma 2/3's attention (alternating windows, query_pre_attn_scalar, soft caps or "
                    + "a local RoPE base) without their sandwich norms: no Hugging Face architecture matches");
        if (c.norm() == Norm.RMSNORM && c.position() == Position.ROPE && c.activation() == Activation.GEGLU) {
            if (!c.scaleEmbeddings() || c.qkNorm() || c.slidingWindow() != null || c.ropeScaling() != null)
                throw new LaminaException("the model has GeGLU but not the rest of Gemma (embeddings scaled by sqrt(d), no q/k norms, "
                        + "no sliding window, plain RoPE): no Hugging Face architecture matches");
            return HfArch.GEMMA;
        }
        if (c.scaleEmbeddings()) throw new LaminaException("the model scales its embeddings by sqrt(d) without GeGLU: only gemma does that");
        if (c.norm() == Norm.RMSNORM && c.position() == Position.ROPE && c.activation() == Activation.SWIGLU) {
            if (c.qkNorm()) {
                if (c.slidingWindow() != null) throw new LaminaException("the model has q/k norms and a sliding window: Lamina writes qwen3 without one");
                return HfArch.QWEN3;
            }
            if (c.slidingWindow() == null) return HfArch.LLAMA;
            if (c.bias()) throw new LaminaException("the model has a sliding window and biases: Mistral has no attention biases "
                    + "and Llama no sliding window");
            return HfArch.MISTRAL;
        }
        if (c.norm() == Norm.LAYERNORM && c.position() == Position.LEARNED && c.activation() == Activation.GELU) {
            if (!c.bias()) throw new LaminaException("the model is GPT-2 style without biases: Hugging Face gpt2 always has biases");
            if (c.numKeyValueHeads() != c.numAttentionHeads())
                throw new LaminaException("the model is GPT-2 style with grouped-query attention (" + c.numKeyValueHeads()
                        + " key/value heads for " + c.numAttentionHeads() + "): Hugging Face gpt2 has multi-head attention only");
            if (c.slidingWindow() != null)
                throw new LaminaException("the model is GPT-2 style with a sliding window: Hugging Face gpt2 has none");
            return HfArch.GPT2;
        }
        throw new LaminaException("the model has " + combo + ": no Hugging Face architecture matches (llama/mistral need "
                + "rmsnorm, rope and swiglu; gpt2 needs layernorm, learned and gelu with biases)");
    }

    /**
     * The config.json of an export. torchDtype is float32, float16 or bfloat16; eot the
     * tokenizer's end-of-text id (bos and eos), or -1 for none.
     */
    public static ObjectNode toJson(ModelConfig c, HfArch arch, String torchDtype, int eot) { return toJson(c, arch, torchDtype, eot, eot); }

    /** As above, with bos and eos ids apart (-1: none). */
    public static ObjectNode toJson(ModelConfig c, HfArch arch, String torchDtype, int bos, int eos) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.putArray("architectures").add(arch.causalLm);
        o.put("model_type", arch.modelType);
        o.put("vocab_size", c.vocabSize());
        if (arch == HfArch.GPT2) {
            o.put("n_embd", c.hiddenSize());
            o.put("n_layer", c.numHiddenLayers());
            o.put("n_head", c.numAttentionHeads());
            o.put("n_inner", c.intermediateSize());
            o.put("n_positions", c.maxPositionEmbeddings());
            o.put("activation_function", "gelu_new");
            o.put("layer_norm_epsilon", c.normEps());
            o.put("scale_attn_weights", true);
            o.put("scale_attn_by_inverse_layer_idx", false);
            o.put("reorder_and_upcast_attn", false);
            o.put("resid_pdrop", 0.0).put("embd_pdrop", 0.0).put("attn_pdrop", 0.0);
        } else {
            o.put("hidden_size", c.hiddenSize());
            o.put("num_hidden_layers", c.numHiddenLayers());
            o.put("num_attention_heads", c.numAttentionHeads());
            o.put("num_key_value_heads", c.numKeyValueHeads());
            o.put("head_dim", c.headDim());
            o.put("intermediate_size", c.intermediateSize());
            o.put("max_position_embeddings", c.maxPositionEmbeddings());
            boolean gemma = arch == HfArch.GEMMA || arch == HfArch.GEMMA2 || arch == HfArch.GEMMA3;
            o.put("hidden_act", gemma ? "gelu_pytorch_tanh" : "silu");
            o.put("rms_norm_eps", c.normEps());
            o.put("rope_theta", c.ropeTheta());
            if (c.ropeScaling() == null) o.putNull("rope_scaling");
            else o.set("rope_scaling", c.ropeScaling().toJson());
            o.put("attention_dropout", 0.0);
            if (arch == HfArch.LLAMA) {
                o.put("attention_bias", c.bias());
                o.put("mlp_bias", false);
            } else if (arch == HfArch.GEMMA) {
                o.put("attention_bias", c.bias());
            } else if (arch == HfArch.GEMMA2 || arch == HfArch.GEMMA3) {
                o.put("attention_bias", c.bias());
                if (arch == HfArch.GEMMA3)
                    o.put("rope_local_base_freq", c.ropeLocalBaseFreq() != null ? c.ropeLocalBaseFreq() : c.ropeTheta());
                double scalar = c.queryPreAttnScalar() != null ? c.queryPreAttnScalar() : c.headDim();
                if (scalar == Math.rint(scalar)) o.put("query_pre_attn_scalar", (long) scalar);   // transformers wants an int
                else o.put("query_pre_attn_scalar", scalar);
                putOrNull(o, "attn_logit_softcapping", c.attnLogitSoftcapping());
                putOrNull(o, "final_logit_softcapping", c.finalLogitSoftcapping());
                o.put("sliding_window", c.slidingWindow());
                var types = o.putArray("layer_types");
                for (int l = 0; l < c.numHiddenLayers(); l++)
                    types.add(c.window(l) == 0 ? "full_attention" : "sliding_attention");
            } else if (arch == HfArch.MIXTRAL) {
                o.put("sliding_window", c.slidingWindow());
                o.put("num_local_experts", c.numExperts());
                o.put("num_experts_per_tok", c.expertsPerToken());
                o.put("router_aux_loss_coef", c.routerAuxLossCoef());
                o.put("output_router_logits", false);
                o.put("router_jitter_noise", 0.0);
            } else if (arch == HfArch.QWEN2_MOE) {
                o.put("qkv_bias", c.bias());
                o.put("use_sliding_window", false);
                o.put("num_experts", c.numExperts());
                o.put("num_experts_per_tok", c.expertsPerToken());
                o.put("moe_intermediate_size", c.expertSize());
                o.put("shared_expert_intermediate_size", c.sharedExpertIntermediateSize());
                o.put("norm_topk_prob", c.normTopkProb());
                o.put("decoder_sparse_step", c.moeEvery());
                o.putArray("mlp_only_layers");
                o.put("router_aux_loss_coef", c.routerAuxLossCoef());
                o.put("output_router_logits", false);
            } else if (arch == HfArch.QWEN3) {
                o.put("attention_bias", c.bias());
                o.put("use_sliding_window", false);
            } else {
                o.put("sliding_window", c.slidingWindow());
            }
        }
        o.put("tie_word_embeddings", c.tieWordEmbeddings());
        o.put("torch_dtype", torchDtype);
        // null, not transformers' defaults (gpt2: 50256), when there is none
        if (bos >= 0) o.put("bos_token_id", bos); else o.putNull("bos_token_id");
        if (eos >= 0) o.put("eos_token_id", eos); else o.putNull("eos_token_id");
        o.put("use_cache", true);
        return o;
    }

    private static void putOrNull(ObjectNode o, String field, Double v) {
        if (v == null) o.putNull(field); else o.put(field, v);
    }

    private static String lower(Enum<?> e) { return e.name().toLowerCase(java.util.Locale.ROOT); }
}
