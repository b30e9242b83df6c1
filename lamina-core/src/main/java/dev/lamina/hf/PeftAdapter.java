package dev.lamina.hf;

import dev.lamina.io.AtomicFiles;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import dev.lamina.io.SafeTensors;
import dev.lamina.model.Decoder;
import dev.lamina.model.Lora;
import dev.lamina.model.ParamKey;
import dev.lamina.model.Parameters;
import dev.lamina.model.Role;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * LoRA adapters in Hugging Face PEFT's files: {@code adapter_config.json} and
 * {@code adapter_model.safetensors}, tensors named as PEFT names them on a Llama-family model
 * ({@code base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight}), so an adapter trained
 * here loads with {@code PeftModel.from_pretrained} and one trained with PEFT loads here.
 */
public final class PeftAdapter {
    private PeftAdapter() {}

    public static final String CONFIG = "adapter_config.json", WEIGHTS = "adapter_model.safetensors";
    static final String PREFIX = "base_model.model.model.";

    private static final Map<Role, String> MODULES = Map.of(Role.Q, "q_proj", Role.K, "k_proj", Role.V, "v_proj",
            Role.O, "o_proj", Role.GATE, "gate_proj", Role.UP, "up_proj", Role.DOWN, "down_proj");

    /** Whether dir holds a PEFT adapter. */
    public static boolean isAdapter(Path dir) { return Files.isRegularFile(dir.resolve(CONFIG)); }

    /** Writes the adapter into dir (created if needed), each file atomically. baseModel (may be null) is recorded as PEFT does. */
    public static void save(Lora.Adapter a, Path dir, String baseModel) { save(a, dir, baseModel, -1); }

    /** As {@link #save(Lora.Adapter, Path, String)}, recording a training step (>= 0) in the weights' metadata, which PEFT ignores. */
    public static void save(Lora.Adapter a, Path dir, String baseModel, int step) {
        Lora.Config c = a.config();
        ObjectNode j = Json.MAPPER.createObjectNode();
        j.put("peft_type", "LORA");
        j.put("task_type", "CAUSAL_LM");
        if (baseModel == null) j.putNull("base_model_name_or_path"); else j.put("base_model_name_or_path", baseModel);
        j.put("r", c.rank());
        j.put("lora_alpha", c.alpha());
        j.put("lora_dropout", c.dropout());
        ArrayNode t = j.putArray("target_modules");
        for (Role r : EnumSet.copyOf(c.targets())) t.add(MODULES.get(r));
        j.put("use_rslora", c.rslora());
        j.put("use_dora", false);
        j.put("bias", "none");
        j.put("fan_in_fan_out", false);
        j.put("init_lora_weights", true);
        j.put("inference_mode", true);
        j.putNull("modules_to_save");
        j.putNull("layers_to_transform");
        j.putObject("rank_pattern");
        j.putObject("alpha_pattern");
        SafeTensors.Writer w = new SafeTensors.Writer().metadata("format", "pt");
        if (step >= 0) w.metadata("step", Integer.toString(step));
        for (Parameters.Slot s : a.params().slots().values()) w.putTensor(PREFIX + s.name(), a.params().value(s.name()));
        try {
            Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new LaminaException(dir + ": cannot create (" + e.getMessage() + ")");
        }
        w.write(dir.resolve(WEIGHTS));
        AtomicFiles.writeString(dir.resolve(CONFIG), Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(j) + "\n");
    }

    /** Reads the adapter in dir for model, checking that its targets and shapes fit the model. */
    public static Lora.Adapter load(Path dir, Decoder model) {
        Path cf = dir.resolve(CONFIG);
        if (!Files.isRegularFile(cf)) throw new LaminaException(dir + ": no " + CONFIG + "; give a directory saved by PEFT or Lamina");
        JsonNode j;
        try {
            j = Json.MAPPER.readTree(cf.toFile());
        } catch (RuntimeException e) {
            throw new LaminaException(cf + ": not valid JSON (" + e.getMessage() + ")");
        }
        String type = text(j, "peft_type", cf);
        if (!type.equals("LORA")) throw new LaminaException(cf + ": peft_type " + type + " is not supported; only LORA adapters are");
        refuseIfSet(j, cf, "use_dora", "modules_to_save", "layers_to_transform", "rank_pattern", "alpha_pattern", "fan_in_fan_out",
                "use_qalora");
        String bias = j.has("bias") ? j.get("bias").asString() : "none";
        if (!bias.equals("none")) throw new LaminaException(cf + ": bias \"" + bias + "\" is not supported; only \"none\"");
        JsonNode tm = j.get("target_modules");
        if (tm == null || !tm.isArray())
            throw new LaminaException(cf + ": target_modules must be a list of module names (a regular expression is not supported)");
        Set<Role> targets = EnumSet.noneOf(Role.class);
        for (JsonNode m : tm) {
            String name = m.asString();
            Role role = MODULES.entrySet().stream().filter(e -> e.getValue().equals(name)).map(Map.Entry::getKey).findFirst()
                    .orElseThrow(() -> new LaminaException(cf + ": target module '" + name + "' is not one Lamina adapts (q_proj, k_proj, "
                            + "v_proj, o_proj, gate_proj, up_proj, down_proj)"));
            targets.add(role);
        }
        Lora.Config c;
        try {
            c = new Lora.Config(intValue(j, "r", cf), number(j, "lora_alpha", cf), j.has("lora_dropout") ? j.get("lora_dropout").asDouble() : 0,
                    targets, j.has("use_rslora") && j.get("use_rslora").asBoolean());
        } catch (LaminaException e) {
            throw new LaminaException(cf + ": " + e.getMessage());
        }
        Parameters p = Lora.Adapter.layout(model, c).build();
        Path wf = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(wf)) throw new LaminaException(dir + ": no " + WEIGHTS);
        try (SafeTensors st = SafeTensors.open(wf)) {
            Set<String> expected = new HashSet<>();
            for (Parameters.Slot s : p.slots().values()) {
                String n = PREFIX + s.name();
                expected.add(n);
                if (!st.has(n)) throw new LaminaException(wf + ": tensor " + n + " is missing (the config targets " + targets + ")");
                if (!Arrays.equals(st.shape(n), s.shape()))
                    throw new LaminaException(wf + ": " + n + " has shape " + Arrays.toString(st.shape(n)) + ", the model needs "
                            + Arrays.toString(s.shape()) + "; the adapter was trained on another base model");
                st.floatsInto(n, p.data(), s.offset());
            }
            for (String n : st.names())
                if (!expected.contains(n))
                    throw new LaminaException(wf + ": tensor " + n + " does not fit this model (" + model.config().numHiddenLayers()
                            + " layers, targets " + targets + ")");
        }
        return new Lora.Adapter(c, p);
    }

    private static void refuseIfSet(JsonNode j, Path cf, String... fields) {
        for (String f : fields) {
            JsonNode v = j.get(f);
            if (v == null || v.isNull() || (v.isBoolean() && !v.asBoolean()) || ((v.isObject() || v.isArray()) && v.isEmpty())) continue;
            throw new LaminaException(cf + ": " + f + " = " + v + " is not supported");
        }
    }

    private static String text(JsonNode j, String f, Path cf) {
        JsonNode v = j.get(f);
        if (v == null || !v.isString()) throw new LaminaException(cf + ": " + f + " is missing or not a string");
        return v.asString();
    }

    private static int intValue(JsonNode j, String f, Path cf) {
        JsonNode v = j.get(f);
        if (v == null || !v.isIntegralNumber()) throw new LaminaException(cf + ": " + f + " is missing or not an integer");
        return v.asInt();
    }

    private static double number(JsonNode j, String f, Path cf) {
        JsonNode v = j.get(f);
        if (v == null || !v.isNumber()) throw new LaminaException(cf + ": " + f + " is missing or not a number");
        return v.asDouble();
    }
}
