package dev.lamina.chat;

import dev.lamina.gguf.GgufFile;
import dev.lamina.infer.ChatTemplate;
import dev.lamina.io.Json;
import dev.lamina.io.LaminaException;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A model's chat template: the Jinja {@code chat_template} a Hugging Face model ships, rendered as
 * transformers' {@code apply_chat_template(messages, tools=..., add_generation_prompt=...,
 * tokenize=False)} renders it, or Lamina's built-in {@link ChatTemplate} for a model with none.
 *
 * <p>Where a tokenizer directory's template is found, in transformers' order: {@code
 * chat_template.jinja} (and named ones in {@code additional_chat_templates/NAME.jinja}), else
 * {@code tokenizer_config.json}'s {@code chat_template}, a string or a list of {name, template}.
 * With several templates, "tool_use" renders a conversation with tools and "default" the rest.
 * The special tokens (bos_token, eos_token ...) come from tokenizer_config.json or
 * special_tokens_map.json.
 *
 * <p>Messages and tools are JSON-shaped values (Map, List, String, numbers, Boolean, null), as
 * OpenAI's API and transformers take them: {@code {"role": "user", "content": "Hi"}}, assistant
 * messages with {@code tool_calls}, {@code {"role": "tool", ...}} results.
 */
public final class ModelChatTemplate {
    private static final List<String> SPECIAL_TOKENS = List.of("bos_token", "eos_token", "unk_token", "sep_token",
            "pad_token", "cls_token", "mask_token");

    private final Map<String, JinjaTemplate> templates; // by name; empty for the built-in template
    private final Map<String, String> specialTokens;
    private final String origin;
    private final Clock clock;

    private ModelChatTemplate(Map<String, JinjaTemplate> templates, Map<String, String> specialTokens, String origin, Clock clock) {
        this.templates = templates;
        this.specialTokens = specialTokens;
        this.origin = origin;
        this.clock = clock;
    }

    /** Lamina's built-in template ({@link ChatTemplate}). */
    public static ModelChatTemplate builtIn() {
        return new ModelChatTemplate(Map.of(), Map.of(), "Lamina's built-in chat template", Clock.systemDefaultZone());
    }

    /**
     * One Jinja template, e.g. GGUF's {@code tokenizer.chat_template}.
     *
     * @param origin        where it comes from, named in errors
     * @param specialTokens bos_token, eos_token ... as the template sees them
     */
    public static ModelChatTemplate of(String source, String origin, Map<String, String> specialTokens) {
        return new ModelChatTemplate(Map.of("default", JinjaTemplate.parse(source, origin)), Map.copyOf(specialTokens), origin,
                Clock.systemDefaultZone());
    }

    /** The template of a GGUF file (tokenizer.chat_template, with its bos and eos tokens); the built-in one when it has none. */
    public static ModelChatTemplate ofGguf(Path file) {
        try (GgufFile f = GgufFile.open(file)) {
            if (!f.hasValue("tokenizer.chat_template") || f.string("tokenizer.chat_template").equals(ChatTemplate.JINJA)) return builtIn();
            Map<String, String> tokens = new LinkedHashMap<>();
            List<String> vocab = f.hasValue("tokenizer.ggml.tokens") ? f.strings("tokenizer.ggml.tokens") : List.of();
            for (String name : List.of("bos", "eos", "unknown", "padding")) {
                String key = "tokenizer.ggml." + name + "_token_id";
                if (!f.hasValue(key)) continue;
                long id = f.integer(key);
                if (id >= 0 && id < vocab.size()) tokens.put(name.equals("unknown") ? "unk_token" : name.equals("padding") ? "pad_token" : name + "_token", vocab.get((int) id));
            }
            return of(f.string("tokenizer.chat_template"), file + " tokenizer.chat_template", tokens);
        }
    }

    /** The template of a tokenizer (or model) directory; the built-in one when it has none. */
    public static ModelChatTemplate of(Path dir) {
        Path configFile = dir.resolve("tokenizer_config.json");
        JsonNode config = Files.exists(configFile) ? readJson(configFile) : null;
        Map<String, String> tokens = new LinkedHashMap<>();
        Path mapFile = dir.resolve("special_tokens_map.json");
        if (Files.exists(mapFile)) specialTokens(readJson(mapFile), mapFile, tokens);
        if (config != null) specialTokens(config, configFile, tokens);

        Map<String, JinjaTemplate> templates = new TreeMap<>();
        Path file = dir.resolve("chat_template.jinja");
        Path extra = dir.resolve("additional_chat_templates");
        if (Files.exists(file)) templates.put("default", JinjaTemplate.parse(read(file), file.toString()));
        if (Files.isDirectory(extra)) {
            try (var files = Files.list(extra)) {
                for (Path p : files.filter(p -> p.getFileName().toString().endsWith(".jinja")).sorted().toList()) {
                    templates.put(p.getFileName().toString().replaceFirst("\\.jinja$", ""), JinjaTemplate.parse(read(p), p.toString()));
                }
            } catch (IOException e) {
                throw new LaminaException("cannot list " + extra + ": " + e.getMessage(), e);
            }
        }
        String where = configFile + " chat_template";
        JsonNode field = config == null ? null : config.get("chat_template");
        if (templates.isEmpty() && field != null && !field.isNull()) {
            if (field.isString() && field.stringValue().equals(ChatTemplate.JINJA)) {
                return builtIn();      // an exported Lamina model: keep the built-in template's stop sequence
            } else if (field.isString()) {
                templates.put("default", JinjaTemplate.parse(field.stringValue(), where));
            } else if (field.isArray()) {
                for (JsonNode t : field.values()) {
                    JsonNode name = t.get("name"), template = t.get("template");
                    if (name == null || !name.isString() || template == null || !template.isString()) {
                        throw new LaminaException(where + ": each entry must be {\"name\": ..., \"template\": ...} with string values");
                    }
                    templates.put(name.stringValue(), JinjaTemplate.parse(template.stringValue(), where + " '" + name.stringValue() + "'"));
                }
            } else {
                throw new LaminaException(where + " must be a string or a list of {name, template} (fix the tokenizer config)");
            }
        }
        if (templates.isEmpty()) return builtIn();
        String origin = Files.exists(file) ? file.toString() : where;
        return new ModelChatTemplate(Map.copyOf(templates), Map.copyOf(tokens), origin, Clock.systemDefaultZone());
    }

    /**
     * The Jinja text of the default template, as a GGUF file's tokenizer.chat_template holds it:
     * the model's own, or the built-in template written as Jinja ({@link ChatTemplate#JINJA}).
     */
    public String jinja() {
        if (templates.isEmpty()) return ChatTemplate.JINJA;
        JinjaTemplate t = templates.getOrDefault("default", templates.values().iterator().next());
        return t.source();
    }

    /** The same template with strftime_now reading this clock. */
    public ModelChatTemplate withClock(Clock clock) {
        return new ModelChatTemplate(templates, specialTokens, origin, clock);
    }

    /** True when the model has no template of its own and Lamina's built-in one is used. */
    public boolean isBuiltIn() {
        return templates.isEmpty();
    }

    /** The model's special tokens as the template sees them (bos_token, eos_token ...). */
    public Map<String, String> specialTokens() {
        return specialTokens;
    }

    /** Where the template comes from. */
    public String origin() {
        return origin;
    }

    /** Texts that end the assistant's turn: the built-in template's header, else the model's end-of-sequence token. */
    public List<String> stop() {
        if (isBuiltIn()) return ChatTemplate.STOP;
        String eos = specialTokens.get("eos_token");
        return eos == null || eos.isEmpty() ? List.of() : List.of(eos);
    }

    /** {@link #render(List, List, boolean, Map)} with no tools and no extra variables. */
    public String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt) {
        return render(messages, null, addGenerationPrompt, Map.of());
    }

    /**
     * The prompt text for a conversation.
     *
     * @param tools               tool definitions (JSON schemas), or null for none
     * @param addGenerationPrompt end with the start of the assistant's turn (the built-in template always does)
     * @param variables           further template variables (e.g. Qwen3's enable_thinking); they override the special tokens
     * @throws LaminaException when the template refuses the conversation (its raise_exception message) or cannot render it
     */
    public String render(List<? extends Map<String, ?>> messages, List<? extends Map<String, ?>> tools, boolean addGenerationPrompt,
                         Map<String, ?> variables) {
        if (isBuiltIn()) {
            if (tools != null && !tools.isEmpty()) throw new LaminaException("tools need a model chat template; " + origin + " has none");
            List<ChatTemplate.Message> plain = new ArrayList<>();
            for (Map<String, ?> m : messages) {
                Object content = m.get("content");
                if (content != null && !(content instanceof String)) {
                    throw new LaminaException("message content must be a string for " + origin);
                }
                plain.add(new ChatTemplate.Message(String.valueOf(m.get("role")), content == null ? "" : (String) content));
            }
            return ChatTemplate.render(plain);
        }
        Map<String, Object> vars = new LinkedHashMap<>(specialTokens);
        vars.put("messages", messages);
        vars.put("tools", tools);
        vars.put("documents", null);
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.putAll(variables);
        return pick(tools != null).render(vars, clock);
    }

    private JinjaTemplate pick(boolean withTools) {
        if (templates.size() == 1) return templates.values().iterator().next();
        if (withTools && templates.containsKey("tool_use")) return templates.get("tool_use");
        JinjaTemplate template = templates.get("default");
        if (template == null) {
            throw new LaminaException(origin + " has several chat templates " + templates.keySet() + " and none named 'default'");
        }
        return template;
    }

    /**
     * Messages from JSON (an array of objects with a string "role").
     *
     * @param where the file or field they come from, named in errors
     */
    @SuppressWarnings("unchecked")
    public static List<Map<String, Object>> messages(JsonNode array, String where) {
        if (array == null || !array.isArray() || array.isEmpty()) throw new LaminaException(where + " must be a non-empty array of messages");
        List<Map<String, Object>> out = new ArrayList<>();
        int i = 0;
        for (JsonNode m : array.values()) {
            JsonNode role = m.get("role");
            if (!m.isObject() || role == null || !role.isString()) {
                throw new LaminaException(where + "[" + i + "] must be an object with a string \"role\"");
            }
            out.add((Map<String, Object>) plain(m));
            i++;
        }
        return out;
    }

    /** Tool definitions from JSON (an array of objects), or null for a missing or null node. */
    @SuppressWarnings("unchecked")
    public static List<Map<String, Object>> tools(JsonNode array, String where) {
        if (array == null || array.isNull()) return null;
        if (!array.isArray()) throw new LaminaException(where + " must be an array of tool definitions");
        List<Map<String, Object>> out = new ArrayList<>();
        for (JsonNode t : array.values()) {
            if (!t.isObject()) throw new LaminaException(where + " must hold objects (JSON schemas of functions)");
            out.add((Map<String, Object>) plain(t));
        }
        return out;
    }

    /** A JSON node as a plain Java value: Map, List, String, Long, Double, Boolean, null. */
    public static Object plain(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) return null;
        if (n.isObject()) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> e : n.properties()) out.put(e.getKey(), plain(e.getValue()));
            return out;
        }
        if (n.isArray()) {
            List<Object> out = new ArrayList<>();
            for (JsonNode v : n.values()) out.add(plain(v));
            return out;
        }
        if (n.isString()) return n.stringValue();
        if (n.isBoolean()) return n.booleanValue();
        if (n.isIntegralNumber() && n.canConvertToLong()) return n.longValue();
        if (n.isNumber()) return n.doubleValue();
        return n.toString();
    }

    private static void specialTokens(JsonNode config, Path file, Map<String, String> out) {
        for (String name : SPECIAL_TOKENS) {
            JsonNode v = config.get(name);
            if (v == null || v.isNull()) continue;
            if (v.isString()) out.put(name, v.stringValue());
            else if (v.isObject() && v.get("content") != null && v.get("content").isString()) out.put(name, v.get("content").stringValue());
            else throw new LaminaException(file + ": " + name + " must be a string or {\"content\": ...}");
        }
    }

    private static JsonNode readJson(Path file) {
        try {
            return Json.MAPPER.readTree(read(file));
        } catch (JacksonException e) {
            throw new LaminaException(file + " is not valid JSON: " + e.getOriginalMessage());
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new LaminaException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
