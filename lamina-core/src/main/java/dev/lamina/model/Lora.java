package dev.lamina.model;

import dev.lamina.io.LaminaException;
import dev.lamina.tensor.Rng;
import dev.lamina.tensor.Tensor;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * LoRA (low-rank adaptation) as Hugging Face PEFT defines it: beside a frozen linear map W, a
 * trainable update of rank r, y = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ with A [r, in], B [out, r] and
 * s = alpha / r (alpha / √r with rsLoRA). A starts Kaiming-uniform (PEFT's
 * {@code kaiming_uniform_(a=√5)}: U(−1/√in, 1/√in)) and B at zero, so training starts from the base
 * model exactly. The decoder carries the update as one branch of its linear layers
 * ({@link Decoder#withAdapter}); the training executor computes it, inference folds it into the
 * prepared weights.
 */
public final class Lora {
    private Lora() {}

    /** The linear maps an adapter may target (per layer; the head and embeddings are not). */
    public static final Set<Role> TARGETABLE = EnumSet.of(Role.Q, Role.K, Role.V, Role.O, Role.GATE, Role.UP, Role.DOWN);

    /** An adapter's shape: rank, alpha, dropout on the adapter's input, targeted maps, rsLoRA scaling. */
    public record Config(int rank, double alpha, double dropout, Set<Role> targets, boolean rslora) {
        public Config {
            if (rank < 1) throw LaminaException.field("rank", "rank must be >= 1, got " + rank);
            if (!(alpha > 0)) throw LaminaException.field("alpha", "alpha must be positive, got " + alpha);
            if (!(dropout >= 0 && dropout < 1)) throw LaminaException.field("dropout", "dropout must be in [0, 1), got " + dropout);
            if (targets.isEmpty()) throw LaminaException.field("targets", "targets: name at least one of q, k, v, o, gate, up, down");
            for (Role r : targets)
                if (!TARGETABLE.contains(r)) throw LaminaException.field("targets", "targets: " + r + " cannot carry a LoRA adapter");
            targets = Set.copyOf(targets);
        }

        /** The factor s of the update: alpha / r, or alpha / √r with rsLoRA. */
        public float scale() { return (float) (rslora ? alpha / Math.sqrt(rank) : alpha / rank); }

        /** "q,k,v,o,gate,up,down" (any subset) or "all-linear". */
        public static Set<Role> parseTargets(String csv) {
            if (csv.trim().equalsIgnoreCase("all-linear")) return EnumSet.copyOf(TARGETABLE);
            Set<Role> s = EnumSet.noneOf(Role.class);
            for (String t : csv.split(",")) {
                String n = t.trim().toLowerCase(Locale.ROOT);
                Role r = switch (n.endsWith("_proj") ? n.substring(0, n.length() - 5) : n) {
                    case "q" -> Role.Q; case "k" -> Role.K; case "v" -> Role.V; case "o" -> Role.O;
                    case "gate" -> Role.GATE; case "up" -> Role.UP; case "down" -> Role.DOWN;
                    default -> throw LaminaException.field("targets", "targets: unknown module '" + t.trim()
                            + "'; use q, k, v, o, gate, up, down or all-linear");
                };
                s.add(r);
            }
            return s;
        }
    }

    /** A trained (or fresh) adapter: its config and its own parameters, an A and a B per targeted map. */
    public record Adapter(Config config, Parameters params) {

        /** Whether the adapter holds factors for this linear weight. */
        public boolean covers(ParamKey weight) { return params.has(weight.lora(ParamKey.Factor.LORA_A).name()); }

        /**
         * The layout of an adapter on a model: for each layer, each targeted map the model has, A [r, in]
         * then B [out, r] (shapes from the model's config).
         */
        public static Parameters.Layout layout(Decoder model, Config c) {
            Parameters.Layout l = new Parameters.Layout();
            for (int layer = 0; layer < model.config().numHiddenLayers(); layer++)
                for (Role role : TARGETABLE) {
                    ParamKey w = ParamKey.of(role, layer);
                    int[] shape = Decoder.linearShape(model.config(), role);     // [out, in]; from the config, as an NF4 base holds no float weight
                    boolean denseMlp = role == Role.GATE || role == Role.UP || role == Role.DOWN;
                    if (!c.targets().contains(role) || shape == null || denseMlp && model.config().sparse(layer)) continue;   // a sparse layer has experts instead
                    l.add(w.lora(ParamKey.Factor.LORA_A), c.rank(), shape[1]);
                    l.add(w.lora(ParamKey.Factor.LORA_B), shape[0], c.rank());
                }
            return l;
        }

        /** A fresh adapter: A ~ U(−1/√in, 1/√in), B = 0. */
        public static Adapter create(Decoder model, Config c, long seed) {
            Parameters p = layout(model, c).build();
            if (p.count() == 0) throw LaminaException.field("targets", "targets: the model has none of " + c.targets());
            Rng rng = new Rng(seed);
            for (Parameters.Slot s : p.slots().values()) {
                Tensor t = p.value(s.name());
                if (s.key().factor() == ParamKey.Factor.LORA_B) { t.fill(0f); continue; }
                double bound = 1.0 / Math.sqrt(s.shape()[1]);
                for (int i = 0; i < t.size(); i++) t.set(i, (float) ((rng.nextDouble() * 2 - 1) * bound));
            }
            return new Adapter(c, p);
        }

        /** Trainable parameters. */
        public long size() { return params.count(); }
    }
}
