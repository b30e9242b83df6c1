package dev.lamina.hf;

import dev.lamina.io.LaminaException;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Parameters;
import dev.lamina.model.Role;

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

    /** A canonical tensor of a rule: a role's weight or bias, in layer l for per-layer roles. */
    public record Target(Role role, boolean bias) {
        public ParamKey at(int layer) { return new ParamKey(role, role.perLayer() ? layer : -1, bias); }

        /** An expert's tensor of a per-expert role (the plain one otherwise). */
        public ParamKey at(int layer, int expert) {
            return role.perExpert() ? ParamKey.expert(role, layer, expert) : at(layer);
        }
    }

    /**
     * One mapping rule.
     *
     * @param hf         the Hugging Face name without the base-model prefix, {@code {l}} for the layer
     * @param prefixed   whether the name carries the prefix ({@code transformer.}, {@code model.}); lm_head does not
     * @param transposed whether the Hugging Face tensor is stored [in, out]
     * @param canonical  the canonical tensors, concatenated in this order along dim 0
     */
    public record Rule(String hf, boolean prefixed, boolean transposed, List<Target> canonical) {
        boolean perLayer() { return hf.contains("{l}"); }
        /** Whether the rule names one tensor per expert ({e} in its name). */
        boolean perExpert() { return hf.contains("{e}"); }
    }

    /** A rule instantiated for one layer of one config, with shapes. */
    public record Bound(String hfName, Rule rule, List<Parameters.Slot> slots, int[] hfShape) {}

    private static Target w(Role r) { return new Target(r, false); }
    private static Target b(Role r) { return new Target(r, true); }
    private static Rule r(String hf, Target... canonical) { return new Rule(hf, true, false, List.of(canonical)); }
    private static Rule t(String hf, Target... canonical) { return new Rule(hf, true, true, List.of(canonical)); }
    private static Rule head() { return new Rule("lm_head.weight", false, false, List.of(w(Role.HEAD))); }

    private static final List<Rule> GPT2 = List.of(
            r("wte.weight", w(Role.EMBEDDING)),
            r("wpe.weight", w(Role.POSITIONS)),
            r("h.{l}.ln_1.weight", w(Role.INPUT_NORM)),
            r("h.{l}.ln_1.bias", b(Role.INPUT_NORM)),
            t("h.{l}.attn.c_attn.weight", w(Role.Q), w(Role.K), w(Role.V)),
            r("h.{l}.attn.c_attn.bias", b(Role.Q), b(Role.K), b(Role.V)),
            t("h.{l}.attn.c_proj.weight", w(Role.O)),
            r("h.{l}.attn.c_proj.bias", b(Role.O)),
            r("h.{l}.ln_2.weight", w(Role.POST_NORM)),
            r("h.{l}.ln_2.bias", b(Role.POST_NORM)),
            t("h.{l}.mlp.c_fc.weight", w(Role.UP)),
            r("h.{l}.mlp.c_fc.bias", b(Role.UP)),
            t("h.{l}.mlp.c_proj.weight", w(Role.DOWN)),
            r("h.{l}.mlp.c_proj.bias", b(Role.DOWN)),
            r("ln_f.weight", w(Role.FINAL_NORM)),
            r("ln_f.bias", b(Role.FINAL_NORM)),
            head());

    /** Llama's names are Lamina's canonical ones: one rule per role's weight and bias. */
    private static final List<Rule> LLAMA = llama();

    private static List<Rule> llama() {
        List<Rule> rules = new java.util.ArrayList<>();
        for (Role role : Role.values()) {
            if (role == Role.POSITIONS || role == Role.HEAD || role.sparse()) continue;
            for (Target target : List.of(w(role), b(role))) {
                if (target.bias() && role.kind() != Role.Kind.LINEAR) continue;     // Llama's norms have no bias
                if (target.bias() && (role == Role.GATE || role == Role.UP || role == Role.DOWN)) continue;
                rules.add(r(target.at(0).name().replace("layers.0.", "layers.{l}."), target));
            }
        }
        rules.add(head());
        return List.copyOf(rules);
    }

    /** Buffers that hold no parameters, matched against the name without prefix. */
    private static final List<Pattern> GPT2_DROPPED = List.of(Pattern.compile("h\\.\\d+\\.attn\\.(bias|masked_bias)"));
    private static final List<Pattern> LLAMA_DROPPED = List.of(Pattern.compile("layers\\.\\d+\\.self_attn\\.rotary_emb\\.inv_freq"));

    /** Qwen2's: Llama's without an o_proj bias. */
    private static final List<Rule> QWEN2 = LLAMA.stream()
            .filter(r -> !(r.canonical().size() == 1 && r.canonical().getFirst().role() == Role.O && r.canonical().getFirst().bias()))
            .toList();

    /** Phi-3's: Llama's with q, k, v fused into qkv_proj and gate, up into gate_up_proj (stacked along dim 0). */
    private static final List<Rule> PHI3 = phi3();

    private static List<Rule> phi3() {
        java.util.Set<Role> fused = java.util.EnumSet.of(Role.Q, Role.K, Role.V, Role.GATE, Role.UP);
        List<Rule> rules = new java.util.ArrayList<>(LLAMA.stream()
                .filter(r -> !(r.canonical().size() == 1 && fused.contains(r.canonical().getFirst().role()))).toList());
        rules.add(r("layers.{l}.self_attn.qkv_proj.weight", w(Role.Q), w(Role.K), w(Role.V)));
        rules.add(r("layers.{l}.mlp.gate_up_proj.weight", w(Role.GATE), w(Role.UP)));
        return List.copyOf(rules);
    }

    /**
     * Gemma 2's and Gemma 3's: Llama's, except that its post_attention_layernorm is the norm on the attention's
     * output, and the MLP's input norm is pre_feedforward_layernorm (post_feedforward_layernorm on its output).
     */
    private static final List<Rule> GEMMA2 = gemma2();

    private static List<Rule> gemma2() {
        java.util.Set<Role> renamed = java.util.EnumSet.of(Role.POST_NORM, Role.ATTN_OUT_NORM, Role.MLP_OUT_NORM);
        List<Rule> rules = new java.util.ArrayList<>(LLAMA.stream()
                .filter(r -> !renamed.contains(r.canonical().getFirst().role())).toList());
        rules.add(r("layers.{l}.post_attention_layernorm.weight", w(Role.ATTN_OUT_NORM)));
        rules.add(r("layers.{l}.pre_feedforward_layernorm.weight", w(Role.POST_NORM)));
        rules.add(r("layers.{l}.post_feedforward_layernorm.weight", w(Role.MLP_OUT_NORM)));
        return List.copyOf(rules);
    }

    /** Mixtral's: Llama's with each layer's MLP a block_sparse_moe of a router (gate) and experts w1 (gate), w3 (up), w2 (down). */
    private static final List<Rule> MIXTRAL = mixtral();

    private static List<Rule> mixtral() {
        List<Rule> rules = new java.util.ArrayList<>(LLAMA);
        rules.add(r("layers.{l}.block_sparse_moe.gate.weight", w(Role.ROUTER)));
        rules.add(r("layers.{l}.block_sparse_moe.experts.{e}.w1.weight", w(Role.EXPERT_GATE)));
        rules.add(r("layers.{l}.block_sparse_moe.experts.{e}.w3.weight", w(Role.EXPERT_UP)));
        rules.add(r("layers.{l}.block_sparse_moe.experts.{e}.w2.weight", w(Role.EXPERT_DOWN)));
        return List.copyOf(rules);
    }

    /** Qwen2-MoE's: Qwen2's, and the sparse layers' tensors under Lamina's own names (the router mlp.gate, experts, shared expert). */
    private static final List<Rule> QWEN2_MOE = qwen2Moe();

    private static List<Rule> qwen2Moe() {
        List<Rule> rules = new java.util.ArrayList<>(QWEN2);
        rules.add(r("layers.{l}.mlp.gate.weight", w(Role.ROUTER)));
        for (Role role : List.of(Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN))
            rules.add(r("layers.{l}.mlp.experts.{e}." + role.module(0, 0).substring(role.module(0, 0).lastIndexOf('.') + 1) + ".weight", w(role)));
        for (Role role : List.of(Role.SHARED_GATE, Role.SHARED_UP, Role.SHARED_DOWN, Role.SHARED_EXPERT_GATE))
            rules.add(r("layers.{l}." + role.module(0).substring("layers.0.".length()) + ".weight", w(role)));
        return List.copyOf(rules);
    }

    /** The rule table of an architecture (Mistral, Qwen3 and Gemma share Llama's names). */
    public static List<Rule> rules(HfArch arch) {
        return switch (arch) {
            case GPT2 -> GPT2;
            case QWEN2 -> QWEN2;
            case PHI3 -> PHI3;
            case GEMMA2, GEMMA3 -> GEMMA2;
            case MIXTRAL -> MIXTRAL;
            case QWEN2_MOE -> QWEN2_MOE;
            default -> LLAMA;
        };
    }

    /** Canonical tensors an architecture does not have, which stay zero in Lamina (Qwen2's o_proj bias). */
    private static boolean implicitZero(HfArch arch, String canonical) {
        return (arch == HfArch.QWEN2 || arch == HfArch.QWEN2_MOE) && canonical.matches("layers\\.\\d+\\.self_attn\\.o_proj\\.bias");
    }

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
        return bind(arch, config, layout.slots(), prefix);
    }

    /** As above, over a layout's slots (no values needed: a loader may keep some maps outside the parameters). */
    public static Map<String, Bound> bind(HfArch arch, ModelConfig config, Map<String, Parameters.Slot> layout, String prefix) {
        Map<String, Bound> out = new LinkedHashMap<>();
        Map<String, String> covered = new LinkedHashMap<>();
        for (Rule rule : rules(arch)) {
            int n = rule.perLayer() ? config.numHiddenLayers() : 1, experts = rule.perExpert() ? config.numExperts() : 1;
            for (int l = 0; l < n; l++)
                for (int e = 0; e < experts; e++) {
                    int li = l, ei = e;
                    List<String> names = rule.canonical().stream().map(c -> c.at(li, ei).name()).toList();
                    long present = names.stream().filter(layout::containsKey).count();
                    if (present == 0) continue;
                    if (present != names.size())
                        throw new IllegalStateException("rule " + rule.hf() + " is partly active: " + names);
                    List<Parameters.Slot> slots = names.stream().map(layout::get).toList();
                    String hfName = (rule.prefixed() ? prefix : "") + rule.hf().replace("{l}", Integer.toString(l)).replace("{e}", Integer.toString(e));
                    out.put(hfName, new Bound(hfName, rule, slots, hfShape(rule, slots)));
                    for (String c : names)
                        if (covered.put(c, hfName) != null) throw new IllegalStateException(c + " is mapped twice");
                }
        }
        for (String c : layout.keySet())
            if (!covered.containsKey(c) && !implicitZero(arch, c))
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
        float[] rows = rows(b, hf);
        int at = 0;
        for (Parameters.Slot s : b.slots()) {
            System.arraycopy(rows, at, p.data(), p.slot(s.key().name()).offset(), s.size());
            at += s.size();
        }
    }

    /** The Hugging Face tensor's values for b as its canonical slots' rows, stacked ([out, in] for a Conv1D's [in, out]). */
    static float[] rows(Bound b, float[] hf) {
        return b.rule().transposed() && b.hfShape().length == 2 ? transpose(hf, b.hfShape()[0], b.hfShape()[1]) : hf;
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
