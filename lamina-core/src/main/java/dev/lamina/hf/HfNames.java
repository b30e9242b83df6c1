package dev.lamina.hf;

import dev.lamina.io.LaminaException;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.Parameters;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The tensor-name mapping between Hugging Face checkpoints and Lamina's canonical names, as one
 * table of rules per architecture. A rule ties one Hugging Face tensor to one or more canonical
 * tensors: the canonical tensors (each [out, in] or [n]) are concatenated along their first
 * dimension, and the Hugging Face tensor is that, or its transpose for GPT-2's Conv1D layers, which
 * store [in, out]. GPT-2's fused {@code c_attn} is thus the transpose of q, k and v stacked.
 *
 * <p>{@code {l}} in a name stands for the layer index. A rule is active for a config when the
 * config's layout ({@link dev.lamina.model.Decoder#layout}) has its canonical tensors: biases
 * only with {@code bias}, {@code lm_head.weight} only when the head is not tied, and so on.
 * Tensors matched by a "dropped" pattern are buffers that hold no parameters (GPT-2's causal-mask
 * buffers, Llama's cached rotary frequencies); every other tensor must be matched by a rule.
 */
public final class HfNames {
    private HfNames() {}

    /**
     * One mapping rule.
     *
     * @param hf         the Hugging Face name without the base-model prefix, {@code {l}} for the layer
     * @param prefixed   whether the name carries the prefix ({@code transformer.}, {@code model.}); lm_head does not
     * @param transposed whether the Hugging Face tensor is stored [in, out]
     * @param canonical  the canonical names, concatenated in this order along dim 0
     */
    public record Rule(String hf, boolean prefixed, boolean transposed, List<String> canonical) {
        boolean perLayer() { return hf.contains("{l}"); }
    }

    /** A rule instantiated for one layer of one config, with shapes. */
    public record Bound(String hfName, Rule rule, List<Parameters.Slot> slots, int[] hfShape) {}

    private static Rule r(String hf, String... canonical) { return new Rule(hf, true, false, List.of(canonical)); }
    private static Rule t(String hf, String... canonical) { return new Rule(hf, true, true, List.of(canonical)); }
    private static Rule head() { return new Rule("lm_head.weight", false, false, List.of("lm_head.weight")); }

    private static final List<Rule> GPT2 = List.of(
            r("wte.weight", "embed_tokens.weight"),
            r("wpe.weight", "embed_positions.weight"),
            r("h.{l}.ln_1.weight", "layers.{l}.input_layernorm.weight"),
            r("h.{l}.ln_1.bias", "layers.{l}.input_layernorm.bias"),
            t("h.{l}.attn.c_attn.weight",
                    "layers.{l}.self_attn.q_proj.weight", "layers.{l}.self_attn.k_proj.weight", "layers.{l}.self_attn.v_proj.weight"),
            r("h.{l}.attn.c_attn.bias",
                    "layers.{l}.self_attn.q_proj.bias", "layers.{l}.self_attn.k_proj.bias", "layers.{l}.self_attn.v_proj.bias"),
            t("h.{l}.attn.c_proj.weight", "layers.{l}.self_attn.o_proj.weight"),
            r("h.{l}.attn.c_proj.bias", "layers.{l}.self_attn.o_proj.bias"),
            r("h.{l}.ln_2.weight", "layers.{l}.post_attention_layernorm.weight"),
            r("h.{l}.ln_2.bias", "layers.{l}.post_attention_layernorm.bias"),
            t("h.{l}.mlp.c_fc.weight", "layers.{l}.mlp.up_proj.weight"),
            r("h.{l}.mlp.c_fc.bias", "layers.{l}.mlp.up_proj.bias"),
            t("h.{l}.mlp.c_proj.weight", "layers.{l}.mlp.down_proj.weight"),
            r("h.{l}.mlp.c_proj.bias", "layers.{l}.mlp.down_proj.bias"),
            r("ln_f.weight", "norm.weight"),
            r("ln_f.bias", "norm.bias"),
            head());

    private static final List<Rule> LLAMA = List.of(
            r("embed_tokens.weight", "embed_tokens.weight"),
            r("layers.{l}.input_layernorm.weight", "layers.{l}.input_layernorm.weight"),
            r("layers.{l}.self_attn.q_proj.weight", "layers.{l}.self_attn.q_proj.weight"),
            r("layers.{l}.self_attn.q_proj.bias", "layers.{l}.self_attn.q_proj.bias"),
            r("layers.{l}.self_attn.k_proj.weight", "layers.{l}.self_attn.k_proj.weight"),
            r("layers.{l}.self_attn.k_proj.bias", "layers.{l}.self_attn.k_proj.bias"),
            r("layers.{l}.self_attn.v_proj.weight", "layers.{l}.self_attn.v_proj.weight"),
            r("layers.{l}.self_attn.v_proj.bias", "layers.{l}.self_attn.v_proj.bias"),
            r("layers.{l}.self_attn.o_proj.weight", "layers.{l}.self_attn.o_proj.weight"),
            r("layers.{l}.self_attn.o_proj.bias", "layers.{l}.self_attn.o_proj.bias"),
            r("layers.{l}.post_attention_layernorm.weight", "layers.{l}.post_attention_layernorm.weight"),
            r("layers.{l}.mlp.gate_proj.weight", "layers.{l}.mlp.gate_proj.weight"),
            r("layers.{l}.mlp.up_proj.weight", "layers.{l}.mlp.up_proj.weight"),
            r("layers.{l}.mlp.down_proj.weight", "layers.{l}.mlp.down_proj.weight"),
            r("norm.weight", "norm.weight"),
            head());

    /** Buffers that hold no parameters, matched against the name without prefix. */
    private static final List<Pattern> GPT2_DROPPED = List.of(Pattern.compile("h\\.\\d+\\.attn\\.(bias|masked_bias)"));
    private static final List<Pattern> LLAMA_DROPPED = List.of(Pattern.compile("layers\\.\\d+\\.self_attn\\.rotary_emb\\.inv_freq"));

    /** The rule table of an architecture (Mistral shares Llama's names). */
    public static List<Rule> rules(HfArch arch) { return arch == HfArch.GPT2 ? GPT2 : LLAMA; }

    static List<Pattern> dropped(HfArch arch) { return arch == HfArch.GPT2 ? GPT2_DROPPED : LLAMA_DROPPED; }

    /** Whether name (without prefix) is a parameter-free buffer the importer skips. */
    static boolean isDropped(HfArch arch, String unprefixed) {
        for (Pattern p : dropped(arch)) if (p.matcher(unprefixed).matches()) return true;
        return false;
    }

    /**
     * The active rules for a config, instantiated per layer, keyed by Hugging Face name (with
     * prefix when prefix is non-empty). Every canonical tensor of the layout is covered exactly once.
     */
    public static Map<String, Bound> bind(HfArch arch, ModelConfig config, Parameters layout, String prefix) {
        Map<String, Bound> out = new LinkedHashMap<>();
        Map<String, String> covered = new LinkedHashMap<>();
        for (Rule rule : rules(arch)) {
            int n = rule.perLayer() ? config.numHiddenLayers() : 1;
            for (int l = 0; l < n; l++) {
                String layer = Integer.toString(l);
                List<String> names = rule.canonical().stream().map(c -> c.replace("{l}", layer)).toList();
                long present = names.stream().filter(layout::has).count();
                if (present == 0) continue;
                if (present != names.size())
                    throw new IllegalStateException("rule " + rule.hf() + " is partly active: " + names);
                List<Parameters.Slot> slots = names.stream().map(layout::slot).toList();
                String hfName = (rule.prefixed() ? prefix : "") + rule.hf().replace("{l}", layer);
                out.put(hfName, new Bound(hfName, rule, slots, hfShape(rule, slots)));
                for (String c : names)
                    if (covered.put(c, hfName) != null) throw new IllegalStateException(c + " is mapped twice");
            }
        }
        for (String c : layout.slots().keySet())
            if (!covered.containsKey(c))
                throw new LaminaException("the " + arch + " mapping has no Hugging Face name for " + c
                        + "; this config cannot be expressed as " + arch);
        return out;
    }

    /** Canonical shapes stacked along dim 0, transposed for Conv1D. */
    private static int[] hfShape(Rule rule, List<Parameters.Slot> slots) {
        int[] first = slots.getFirst().shape();
        int[] shape = first.clone();
        shape[0] = 0;
        for (Parameters.Slot s : slots) {
            int[] sh = s.shape();
            if (sh.length != first.length || !Arrays.equals(Arrays.copyOfRange(sh, 1, sh.length), Arrays.copyOfRange(first, 1, first.length)))
                throw new IllegalStateException("cannot stack " + slots);
            shape[0] += sh[0];
        }
        if (rule.transposed() && shape.length == 2) return new int[] {shape[1], shape[0]};
        return shape;
    }

    /** Fills the canonical slots of b from the Hugging Face tensor's values (shape already checked). */
    static void unpack(Bound b, float[] hf, Parameters p) {
        float[] rows = b.rule().transposed() && b.hfShape().length == 2 ? transpose(hf, b.hfShape()[0], b.hfShape()[1]) : hf;
        int at = 0;
        for (Parameters.Slot s : b.slots()) {
            System.arraycopy(rows, at, p.data(), s.offset(), s.size());
            at += s.size();
        }
    }

    /** The Hugging Face tensor's values for b, from the canonical slots. */
    static float[] pack(Bound b, Parameters p) {
        int total = 0;
        for (Parameters.Slot s : b.slots()) total += s.size();
        float[] rows = new float[total];
        int at = 0;
        for (Parameters.Slot s : b.slots()) {
            System.arraycopy(p.data(), s.offset(), rows, at, s.size());
            at += s.size();
        }
        // rows is [out, in]; the Hugging Face tensor is [in, out] = hfShape
        return b.rule().transposed() && b.hfShape().length == 2 ? transpose(rows, b.hfShape()[1], b.hfShape()[0]) : rows;
    }

    /** a[r, c] → [c, r]. */
    static float[] transpose(float[] a, int r, int c) {
        float[] t = new float[a.length];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) t[j * r + i] = a[i * c + j];
        return t;
    }
}
