package dev.lamina.gguf;

import dev.lamina.io.LaminaException;
import dev.lamina.model.ModelConfig;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Parameters;
import dev.lamina.model.Role;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tensor names of llama.cpp's {@code llama}, {@code gpt2}, {@code qwen2/3} and {@code gemma/2/3} architectures, mapped onto
 * parameter roles: one table of rules per architecture, each rule naming a GGUF tensor
 * ({@code blk.{l}.attn_q}, with {@code .weight} and {@code .bias}) and the canonical tensors it
 * holds, stacked along the rows (GPT-2's {@code attn_qkv} is q, k and v).
 *
 * <p>llama.cpp's converter reorders the rows of llama's q and k weights (and biases) within each
 * head, from the half-split rotary layout of Hugging Face (first half of the head dimension, then
 * second half) to interleaved pairs: GGUF row h·hd + 2i + j holds canonical row h·hd + j·hd/2 + i.
 * {@link #unpermute} undoes that on reading and {@link #permute} applies it on writing.
 */
final class GgufNames {
    private GgufNames() {}

    /** Which head count a rule's rows are permuted over. */
    enum Permute { NONE, QUERY_HEADS, KV_HEADS }

    record Rule(String name, Permute permute, List<Role> roles) {
        boolean perLayer() { return name.contains("{l}"); }
    }

    /** A rule for one layer and suffix: the GGUF name, the canonical slots (stacked), the row-major GGUF shape. */
    record Bound(String name, Rule rule, List<Parameters.Slot> slots, int[] shape, boolean bias) {}

    private static Rule r(String name, Role... roles) { return new Rule(name, Permute.NONE, List.of(roles)); }

    static final List<Rule> LLAMA = List.of(
            r("token_embd", Role.EMBEDDING),
            r("blk.{l}.attn_norm", Role.INPUT_NORM),
            new Rule("blk.{l}.attn_q", Permute.QUERY_HEADS, List.of(Role.Q)),
            new Rule("blk.{l}.attn_k", Permute.KV_HEADS, List.of(Role.K)),
            r("blk.{l}.attn_v", Role.V),
            r("blk.{l}.attn_output", Role.O),
            r("blk.{l}.ffn_norm", Role.POST_NORM),
            r("blk.{l}.ffn_gate", Role.GATE),
            r("blk.{l}.ffn_up", Role.UP),
            r("blk.{l}.ffn_down", Role.DOWN),
            r("blk.{l}.ffn_gate_inp", Role.ROUTER),          // a sparse layer's router [E, d] and its experts stacked [E, out, in]
            r("blk.{l}.ffn_gate_exps", Role.EXPERT_GATE),
            r("blk.{l}.ffn_up_exps", Role.EXPERT_UP),
            r("blk.{l}.ffn_down_exps", Role.EXPERT_DOWN),
            r("output_norm", Role.FINAL_NORM),
            r("output", Role.HEAD));

    static final List<Rule> GPT2 = List.of(
            r("token_embd", Role.EMBEDDING),
            r("position_embd", Role.POSITIONS),
            r("blk.{l}.attn_norm", Role.INPUT_NORM),
            r("blk.{l}.attn_qkv", Role.Q, Role.K, Role.V),
            r("blk.{l}.attn_output", Role.O),
            r("blk.{l}.ffn_norm", Role.POST_NORM),
            r("blk.{l}.ffn_up", Role.UP),
            r("blk.{l}.ffn_down", Role.DOWN),
            r("output_norm", Role.FINAL_NORM),
            r("output", Role.HEAD));

    /** qwen2: llama's rules with q and k unpermuted (llama.cpp rotates qwen2 in the NeoX order, as Hugging Face does). */
    static final List<Rule> QWEN2 = LLAMA.stream()
            .map(r -> r.permute() == Permute.NONE ? r : new Rule(r.name(), Permute.NONE, r.roles())).toList();

    /** qwen3: qwen2's rules and the q/k norms. */
    static final List<Rule> QWEN3 = with(QWEN2, r("blk.{l}.attn_q_norm", Role.Q_NORM), r("blk.{l}.attn_k_norm", Role.K_NORM));

    /** gemma: qwen2's (unpermuted) rules; its head is the token table. gemma2 adds the sandwich norms, gemma3 also the q/k norms. */
    static final List<Rule> GEMMA = QWEN2;
    static final List<Rule> GEMMA2 = with(GEMMA, r("blk.{l}.post_attention_norm", Role.ATTN_OUT_NORM), r("blk.{l}.post_ffw_norm", Role.MLP_OUT_NORM));
    static final List<Rule> GEMMA3 = with(GEMMA2, r("blk.{l}.attn_q_norm", Role.Q_NORM), r("blk.{l}.attn_k_norm", Role.K_NORM));

    private static List<Rule> with(List<Rule> base, Rule... more) {
        List<Rule> l = new ArrayList<>(base);
        l.addAll(List.of(more));
        return List.copyOf(l);
    }

    static List<Rule> rules(GgufArch arch) {
        return switch (arch) {
            case GPT2 -> GPT2;
            case QWEN2 -> QWEN2;
            case QWEN3 -> QWEN3;
            case GEMMA -> GEMMA;
            case GEMMA2 -> GEMMA2;
            case GEMMA3 -> GEMMA3;
            case LLAMA -> LLAMA;
        };
    }

    /** The active rules for a layout, keyed by GGUF name; every canonical tensor is covered exactly once. */
    static Map<String, Bound> bind(GgufArch arch, ModelConfig c, Parameters layout) { return bind(arch, c, layout.slots()); }

    /** As {@link #bind(GgufArch, ModelConfig, Parameters)} over a layout's slots (nothing allocated). */
    static Map<String, Bound> bind(GgufArch arch, ModelConfig c, Map<String, Parameters.Slot> layout) {
        Map<String, Bound> out = new LinkedHashMap<>();
        int covered = 0;
        for (Rule rule : rules(arch)) {
            for (int l = 0; l < (rule.perLayer() ? c.numHiddenLayers() : 1); l++) {
                for (boolean bias : new boolean[] {false, true}) {
                    List<Parameters.Slot> slots = new ArrayList<>();
                    boolean experts = rule.roles().getFirst().perExpert();
                    for (Role role : rule.roles()) {
                        if (experts) {                       // every expert's tensor, stacked: [E, out, in]
                            for (int e = 0; e < c.numExperts() && !bias; e++) {
                                ParamKey k = ParamKey.expert(role, l, e);
                                if (layout.containsKey(k.name())) slots.add(layout.get(k.name()));
                            }
                            continue;
                        }
                        ParamKey k = new ParamKey(role, role.perLayer() ? l : -1, bias);
                        if (layout.containsKey(k.name())) slots.add(layout.get(k.name()));
                    }
                    if (slots.isEmpty()) continue;
                    if (slots.size() != (experts ? c.numExperts() : rule.roles().size()))
                        throw new IllegalStateException("rule " + rule + " is partly active");
                    if (arch == GgufArch.QWEN2 && bias && rule.roles().equals(List.of(Role.O))) {   // qwen2 has no o bias: it stays zero
                        covered += slots.size();
                        continue;
                    }
                    String name = rule.name().replace("{l}", Integer.toString(l)) + (bias ? ".bias" : ".weight");
                    int[] shape = slots.getFirst().shape().clone();
                    for (int i = 1; i < slots.size(); i++) shape[0] += slots.get(i).shape()[0];
                    if (experts) shape = new int[] {slots.size(), slots.getFirst().shape()[0], slots.getFirst().shape()[1]};
                    out.put(name, new Bound(name, rule, List.copyOf(slots), shape, bias));
                    covered += slots.size();
                }
            }
        }
        if (covered != layout.size())
            throw new LaminaException("the GGUF " + arch + " mapping does not cover every parameter of this model; it cannot be written as " + arch);
        return out;
    }

    /** Fills the canonical slots from a GGUF tensor's values (row-major, shape already checked). */
    static void unpack(Bound b, float[] values, ModelConfig c, Parameters p) {
        float[] rows = permuted(b, values, c, false);
        int at = 0;
        for (Parameters.Slot s : b.slots()) {
            dev.lamina.tensor.Tensor dst = p.value(s.name());          // by name: p may hold only some of the layout's slots
            System.arraycopy(rows, at, dst.data(), dst.offset(), s.size());
            at += s.size();
        }
    }

    /**
     * The file's row of canonical row r of one slot of a bound tensor: past the rows of the slots
     * before it (a fused tensor), through llama.cpp's q/k permutation when the rule has one.
     */
    static int fileRow(Bound b, int slot, int r, ModelConfig c) {
        int first = 0;
        for (int i = 0; i < slot; i++) first += b.slots().get(i).shape()[0];
        int hd = c.headDim(), half = hd / 2;
        int fr = switch (b.rule().permute()) {
            case NONE -> r;
            case QUERY_HEADS, KV_HEADS -> (r / hd) * hd + 2 * (r % hd % half) + (r % hd) / half;   // inverse of unpermute
        };
        return first + fr;
    }

    /** The GGUF tensor's values from the canonical slots. */
    static float[] pack(Bound b, ModelConfig c, Parameters p) {
        int total = 0;
        for (Parameters.Slot s : b.slots()) total += s.size();
        float[] rows = new float[total];
        int at = 0;
        for (Parameters.Slot s : b.slots()) {
            System.arraycopy(p.data(), s.offset(), rows, at, s.size());
            at += s.size();
        }
        return permuted(b, rows, c, true);
    }

    /** Row-major arrays in the slots' order (one row per output, any width: a calibrated tensor's scales) in the GGUF tensor's row order. */
    static float[] packRows(Bound b, ModelConfig c, float[] rows) { return permuted(b, rows, c, true); }

    private static float[] permuted(Bound b, float[] v, ModelConfig c, boolean toGguf) {
        return switch (b.rule().permute()) {
            case NONE -> v;
            case QUERY_HEADS -> toGguf ? permute(v, c.numAttentionHeads(), c.headDim()) : unpermute(v, c.numAttentionHeads(), c.headDim());
            case KV_HEADS -> toGguf ? permute(v, c.numKeyValueHeads(), c.headDim()) : unpermute(v, c.numKeyValueHeads(), c.headDim());
        };
    }

    /** Canonical (half-split) rows [heads·hd, in] → llama.cpp's interleaved order. */
    static float[] permute(float[] w, int heads, int hd) {
        float[] out = new float[w.length];
        int in = w.length / (heads * hd), half = hd / 2;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                    System.arraycopy(w, (h * hd + j * half + i) * in, out, (h * hd + 2 * i + j) * in, in);
        return out;
    }

    /** llama.cpp's interleaved rows → canonical half-split order. */
    static float[] unpermute(float[] w, int heads, int hd) {
        float[] out = new float[w.length];
        int in = w.length / (heads * hd), half = hd / 2;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                    System.arraycopy(w, (h * hd + 2 * i + j) * in, out, (h * hd + j * half + i) * in, in);
        return out;
    }
}
