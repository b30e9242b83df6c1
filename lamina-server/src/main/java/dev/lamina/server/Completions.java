package dev.lamina.server;

import com.sun.net.httpserver.HttpExchange;
import dev.lamina.chat.ModelChatTemplate;
import dev.lamina.eval.TokenScorer;
import dev.lamina.infer.BatchEngine;
import dev.lamina.infer.BatchEngine.FinishReason;
import dev.lamina.infer.ChatTemplate;
import dev.lamina.infer.Logprobs;
import dev.lamina.infer.PreparedAdapter;
import dev.lamina.infer.SamplingParams;
import dev.lamina.io.LaminaException;
import dev.lamina.structured.JsonConstraint;
import dev.lamina.structured.Schema;
import dev.lamina.tokenizer.Tokenizer;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;

/** POST /v1/completions and /v1/chat/completions, plain and streamed (Server-Sent Events). */
final class Completions {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Set<String> UNSUPPORTED = Set.of("functions", "function_call", "suffix",
            "logit_bias", "audio", "prediction");

    private final ServerOptions options;
    private final BatchEngine engine;
    private final Tokenizer tokenizer;
    private final ModelChatTemplate chatTemplate;
    private final long created;
    private final Map<String, PreparedAdapter> adapters;      // LoRA adapters by the model name that picks them
    private final Map<String, TokenScorer> scorers = new ConcurrentHashMap<>();   // prompt scorers for echo, per model name, made on first use

    private final Metrics metrics;

    Completions(ServerOptions options, BatchEngine engine, ModelChatTemplate chatTemplate, long created, Map<String, PreparedAdapter> adapters,
                Metrics metrics) {
        this.metrics = metrics;
        this.chatTemplate = chatTemplate;
        this.adapters = Map.copyOf(adapters);
        this.options = options;
        this.engine = engine;
        this.tokenizer = engine.tokenizer();
        this.created = created;
    }

    /** The base first, then each adapter (vLLM's shape: an adapter's parent is the base). */
    List<ObjectNode> modelObjects() {
        List<ObjectNode> list = new ArrayList<>();
        list.add(modelObject(options.modelName()));
        adapters.keySet().stream().sorted().forEach(name -> list.add(modelObject(name)));
        return list;
    }

    /** The model object of a name this server serves, or null. */
    ObjectNode modelObject(String id) {
        if (!id.equals(options.modelName()) && !adapters.containsKey(id)) return null;
        ObjectNode m = LaminaServer.JSON.createObjectNode();
        m.put("id", id).put("object", "model").put("created", created).put("owned_by", "lamina");
        m.put("root", options.modelName());
        if (id.equals(options.modelName())) m.putNull("parent"); else m.put("parent", options.modelName());
        int ctx = engine.contextLimit();
        if (ctx != Integer.MAX_VALUE) m.put("max_model_len", ctx);
        return m;
    }

    /** A 404 in OpenAI's words, listing what this server serves. */
    ApiException modelNotFound(String id) {
        List<String> names = new ArrayList<>();
        for (ObjectNode m : modelObjects()) names.add("'" + m.get("id").asString() + "'");
        return new ApiException(404, "invalid_request_error", "model_not_found", "model",
                "The model '" + id + "' does not exist; this server serves " + String.join(", ", names) + ".");
    }

    // ---- parsed request ----------------------------------------------------------------------

    /** Everything both endpoints share, validated. */
    private record Common(String model, PreparedAdapter adapter, int maxTokens, boolean explicitMaxTokens, SamplingParams sampling,
                          int n, boolean stream, boolean includeUsage, List<String> stop, int logprobs, boolean ignoreEos, JsonConstraint json) {
        Common withJson(JsonConstraint j) {
            return new Common(model, adapter, maxTokens, explicitMaxTokens, sampling, n, stream, includeUsage, stop, logprobs, ignoreEos, j);
        }
    }

    private Common common(JsonNode body, boolean chat) {
        for (String f : UNSUPPORTED)
            if (body.has(f) && !body.get(f).isNull() && !(body.get(f).isContainer() && body.get(f).isEmpty()))
                throw ApiException.invalid(f, "'" + f + "' is not supported by this server.");
        String model = Params.string(body, "model", null);
        if (model == null) throw ApiException.invalid("model", "you must provide a model parameter");
        PreparedAdapter adapter = adapters.get(model);         // the base's own name picks no adapter
        if (adapter == null && !model.equals(options.modelName())) throw modelNotFound(model);
        JsonConstraint json = chat ? responseFormat(body.get("response_format")) : null;
        Integer maxTokens = Params.integer(body, chat && body.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens", null);
        int least = chat ? 1 : 0;                       // a completion may ask for none: the prompt's log-probabilities only (echo)
        if (maxTokens != null && maxTokens < least) throw ApiException.invalid("max_tokens", "max_tokens must be at least " + least + ", got " + maxTokens);
        if (maxTokens != null && maxTokens > options.maxTokens())
            throw ApiException.invalid("max_tokens", "max_tokens is " + maxTokens + "; this server allows at most " + options.maxTokens());
        double temperature = Params.number(body, "temperature", 1.0, 0, 2);
        double topP = Params.number(body, "top_p", 1.0, 0, 1);
        if (topP == 0) throw ApiException.invalid("top_p", "top_p must be greater than 0");
        int topK = Params.integer(body, "top_k", -1);
        if (topK < -1) throw ApiException.invalid("top_k", "top_k must be -1 (off) or at least 1, got " + topK);
        double minP = Params.number(body, "min_p", 0, 0, 1);
        double presence = Params.number(body, "presence_penalty", 0, -2, 2);
        double frequency = Params.number(body, "frequency_penalty", 0, -2, 2);
        double repetition = Params.number(body, "repetition_penalty", 1, 0, 10);
        if (repetition == 0) throw ApiException.invalid("repetition_penalty", "repetition_penalty must be greater than 0");
        int n = Params.integer(body, "n", 1);
        if (n < 1 || n > options.maxConcurrent())
            throw ApiException.invalid("n", "n must be between 1 and " + options.maxConcurrent() + " (the server's concurrency), got " + n);
        if (body.has("best_of") && !body.get("best_of").isNull() && Params.integer(body, "best_of", 1) != n)
            throw ApiException.invalid("best_of", "best_of other than n is not supported");
        Long seed = Params.longValue(body, "seed");
        boolean stream = Params.bool(body, "stream", false);
        boolean includeUsage = false;
        JsonNode so = body.get("stream_options");
        if (so != null && !so.isNull()) {
            if (!so.isObject()) throw ApiException.invalid("stream_options", "stream_options must be an object");
            if (!stream) throw ApiException.invalid("stream_options", "stream_options is only allowed when stream is true");
            includeUsage = Params.bool(so, "include_usage", false);
        }
        List<String> stop = Params.stop(body);
        boolean ignoreEos = Params.bool(body, "ignore_eos", false);      // vLLM's extension: generate past end-of-text
        int logprobs;
        if (chat) {
            boolean lp = Params.bool(body, "logprobs", false);
            Integer top = Params.integer(body, "top_logprobs", null);
            if (top != null && (top < 0 || top > 20)) throw ApiException.invalid("top_logprobs", "top_logprobs must be between 0 and 20, got " + top);
            if (top != null && !lp) throw ApiException.invalid("top_logprobs", "top_logprobs needs logprobs set to true");
            logprobs = lp ? (top == null ? 0 : top) : -1;
        } else {
            Integer lp = Params.integer(body, "logprobs", null);
            if (lp != null && (lp < 0 || lp > 5)) throw ApiException.invalid("logprobs", "logprobs must be between 0 and 5, got " + lp);
            logprobs = lp == null ? -1 : lp;
        }
        SamplingParams sampling;
        try {
            sampling = new SamplingParams(temperature, Math.max(0, topK), topP, minP, repetition, presence, frequency,
                    seed != null ? seed : RANDOM.nextLong());
        } catch (LaminaException e) {
            throw ApiException.invalid(null, e.getMessage());
        }
        if (json != null && maxTokens != null && maxTokens < JsonConstraint.minTokens(json.schema()))
            throw ApiException.invalid("max_tokens", "max_tokens " + maxTokens + " cannot hold the shortest response the response_format allows ("
                    + JsonConstraint.minTokens(json.schema()) + " tokens)");
        return new Common(model, adapter, maxTokens == null ? options.maxTokens() : maxTokens, maxTokens != null, sampling, n, stream,
                includeUsage, stop, logprobs, ignoreEos, json);
    }

    /**
     * response_format: text (null), json_object or json_schema ({"json_schema": {"name", "schema", "strict"}}),
     * compiled to a constraint the decoder enforces; a schema it cannot enforce, or text the model's
     * vocabulary cannot spell, is a 400 naming the field.
     */
    private JsonConstraint responseFormat(JsonNode rf) {
        if (rf == null || rf.isNull()) return null;
        if (!rf.isObject()) throw ApiException.invalid("response_format", "response_format must be an object");
        String type = Params.string(rf, "type", "text");
        Schema schema = switch (type) {
            case "text" -> null;
            case "json_object" -> Schema.anyObject();
            case "json_schema" -> {
                JsonNode js = rf.get("json_schema");
                if (js == null || !js.isObject()) throw ApiException.invalid("response_format", "response_format json_schema needs a \"json_schema\" object");
                JsonNode sc = js.get("schema");
                if (sc == null) throw ApiException.invalid("response_format", "response_format.json_schema needs a \"schema\"");
                try {
                    yield Schema.compile(sc);
                } catch (LaminaException e) {
                    throw ApiException.invalid("response_format", "response_format.json_schema." + e.getMessage());
                }
            }
            default -> throw ApiException.invalid("response_format", "response_format type must be text, json_object or json_schema, got '" + type + "'");
        };
        if (schema == null) return null;
        try {
            return JsonConstraint.of(schema, tokenizer);
        } catch (LaminaException e) {
            throw ApiException.invalid("response_format", e.getMessage());
        }
    }

    /** Prompt ids checked against the context; max_tokens defaulted to what fits. */
    private BatchEngine.Request request(int[] ids, Common c, List<String> extraStops, String promptParam) {
        int ctx = engine.contextLimit();
        ids = nonEmpty(ids, promptParam);
        if (ids.length >= ctx)
            throw new ApiException(400, "invalid_request_error", "context_length_exceeded", promptParam,
                    "This model's maximum context length is " + ctx + " tokens. However, your prompt has " + ids.length
                            + " tokens, leaving no room for a completion. Please shorten the prompt.");
        int max = c.maxTokens();
        if ((long) ids.length + max > ctx) {
            if (c.explicitMaxTokens())
                throw new ApiException(400, "invalid_request_error", "context_length_exceeded", "max_tokens",
                        "This model's maximum context length is " + ctx + " tokens. However, you requested " + ((long) ids.length + max)
                                + " tokens (" + ids.length + " in the prompt, " + max + " for the completion). Please reduce the prompt or max_tokens.");
            max = ctx - ids.length;
        }
        List<String> stops = new ArrayList<>(c.stop());
        stops.addAll(extraStops);
        if (c.json() != null && max < JsonConstraint.minTokens(c.json().schema()))
            throw ApiException.invalid("max_tokens", "only " + max + " tokens fit after the prompt; the response_format needs at least "
                    + JsonConstraint.minTokens(c.json().schema()));
        return new BatchEngine.Request(ids, max, c.sampling(), c.n(), stops, c.logprobs(), c.ignoreEos(), c.adapter(), c.json());
    }

    /** An empty prompt stands for end-of-text (the start of a document). */
    private int[] nonEmpty(int[] ids, String promptParam) {
        if (ids.length > 0) return ids;
        if (tokenizer.eotId() < 0) throw ApiException.invalid(promptParam, "the prompt is empty");
        return new int[]{tokenizer.eotId()};
    }

    // ---- endpoints ---------------------------------------------------------------------------

    void completions(HttpExchange ex, JsonNode body) throws IOException {
        Common c = common(body, false);
        boolean echo = Params.bool(body, "echo", false);
        if (c.stream() && (echo || c.maxTokens() == 0))
            throw ApiException.invalid(echo ? "echo" : "max_tokens", (echo ? "echo" : "max_tokens 0") + " is not supported with stream");
        List<int[]> prompts = Params.prompts(body, tokenizer);
        if (c.maxTokens() == 0) {
            promptOnly(ex, prompts, echo, c);
            return;
        }
        List<BatchEngine.Request> requests = new ArrayList<>();
        for (int[] p : prompts) requests.add(request(p, c, List.of(), "prompt"));
        List<Echo> echoes = null;
        if (echo) {
            echoes = new ArrayList<>();
            for (BatchEngine.Request r : requests) echoes.add(echo(r.prompt(), c));
        }
        run(ex, requests, c, false, "cmpl-", echoes, null);
    }

    // ---- echo: the prompt's text and log-probabilities (what lm-evaluation-harness scores with) ----

    /** The prompt as echoed: its text and, when logprobs were asked for, each token's log-probability (the first has none). */
    private record Echo(String text, int[] ids, Logprobs.Choice[] logprobs) {}

    private TokenScorer scorer(Common c) {
        return scorers.computeIfAbsent(c.model(), name ->
                new TokenScorer(c.adapter() == null ? engine.model() : engine.model().withAdapter(c.adapter().adapter())));
    }

    private Echo echo(int[] ids, Common c) {
        int logprobs = c.logprobs();
        if (logprobs < 0) return new Echo(tokenizer.decode(ids), ids, null);
        int limit = scorer(c).contextLimit() + 1;              // the last token is only scored, never read
        if (ids.length > limit)
            throw new ApiException(400, "invalid_request_error", "context_length_exceeded", "prompt",
                    "This model's maximum context length is " + (limit - 1) + " tokens; scoring a prompt reads all but its last token, "
                            + "so it may have at most " + limit + ", but it has " + ids.length + ". Please shorten the prompt.");
        Logprobs.Choice[] lp = ids.length < 2 ? new Logprobs.Choice[0] : scorer(c).score(ids, 1, logprobs);
        return new Echo(tokenizer.decode(ids), ids, lp);
    }

    /** max_tokens 0: nothing generated; with echo, the prompt and its log-probabilities. */
    private void promptOnly(HttpExchange ex, List<int[]> prompts, boolean echo, Common c) throws IOException {
        ObjectNode o = LaminaServer.JSON.createObjectNode();
        o.put("id", "cmpl-" + HexFormat.of().formatHex(RANDOM.generateSeed(12))).put("object", "text_completion")
                .put("created", System.currentTimeMillis() / 1000).put("model", c.model());
        ArrayNode choices = o.putArray("choices");
        int promptTokens = 0;
        for (int p = 0; p < prompts.size(); p++) {
            int[] ids = nonEmpty(prompts.get(p), "prompt");
            promptTokens += ids.length;
            Echo e = echo ? echo(ids, c) : null;
            for (int k = 0; k < c.n(); k++) {
                ObjectNode ch = choices.addObject();
                ch.put("index", p * c.n() + k).put("text", e == null ? "" : e.text());
                if (c.logprobs() >= 0) echoLogprobs(ch.putObject("logprobs"), e, List.of());
                else ch.putNull("logprobs");
                ch.put("finish_reason", "length");
            }
        }
        usage(o.putObject("usage"), promptTokens, 0);
        count(false, c.model(), promptTokens, 0);
        LaminaServer.sendJson(ex, 200, o);
    }

    /** The legacy logprobs object: the echoed prompt's tokens (first logprob and top null), then the generated ones. */
    private void echoLogprobs(ObjectNode lp, Echo e, List<Logprobs.Choice> generated) {
        int offset = 0;
        if (e != null) {
            ArrayNode tokens = lp.putArray("tokens"), values = lp.putArray("token_logprobs"),
                    tops = lp.putArray("top_logprobs"), offsets = lp.putArray("text_offset");
            for (int i = 0; i < e.ids().length; i++) {
                String s = tokenText(e.ids()[i]);
                tokens.add(s);
                offsets.add(offset);
                offset += s.length();
                if (i == 0) {
                    values.addNull();
                    tops.addNull();
                    continue;
                }
                Logprobs.Choice c = e.logprobs()[i - 1];
                values.add(c.chosen().logprob());
                ObjectNode top = tops.addObject();
                for (Logprobs.Entry t : c.top()) {
                    String k = tokenText(t.token());
                    if (!top.has(k)) top.put(k, t.logprob());
                }
            }
            offset = e.text().length();
        }
        completionLogprobs(lp, generated, offset);
    }

    void chat(HttpExchange ex, JsonNode body) throws IOException {
        Common c = common(body, true);
        Tools tools = Tools.of(body);
        if (tools != null && tools.choice() == Tools.Choice.NONE) tools = null;      // described to no one: a plain reply
        if (tools != null && c.json() != null) throw ApiException.invalid("response_format", "response_format cannot be combined with tools");
        String prompt;
        if (chatTemplate.isBuiltIn()) {
            prompt = ChatTemplate.render(tools != null ? tools.builtIn(body) : Params.messages(body));
        } else {
            try {
                prompt = chatTemplate.render(Params.templateMessages(body), tools == null ? null : tools.forTemplate(), true, Map.of());
            } catch (LaminaException e) {
                throw ApiException.invalid("messages", e.getMessage());
            }
        }
        if (tools != null && (tools.choice() == Tools.Choice.REQUIRED || tools.choice() == Tools.Choice.NAMED)) {
            boolean hermes = Tools.hermes(prompt);                // the call in the form the prompt asks for, constrained
            if (hermes) prompt += "<tool_call>\n";
            try {
                c = c.withJson(JsonConstraint.of(tools.callSchema(hermes), tokenizer));
            } catch (LaminaException e) {
                throw ApiException.invalid("tools", e.getMessage());
            }
        }
        int[] ids = tokenizer.encodePrompt(prompt);
        run(ex, List.of(request(ids, c, chatTemplate.stop(), "messages")), c, true, "chatcmpl-", null, tools);
    }

    /** One engine event for a stream. */
    private record Event(int choice, String text, Logprobs.Choice logprobs, FinishReason finish, Throwable error, boolean done,
                         BatchEngine.Result result) {
        Event(int choice, String text, Logprobs.Choice logprobs, FinishReason finish) { this(choice, text, logprobs, finish, null, false, null); }
    }

    /** Submits the requests and answers; echoes (null: none) are the completions' prompts, one per request. */
    /** Generates requests and answers: a response, or a stream. With tools (may be null) replies become tool calls where they are. */
    private void run(HttpExchange ex, List<BatchEngine.Request> requests, Common c, boolean chat, String idPrefix, List<Echo> echoes, Tools tools)
            throws IOException {
        String id = idPrefix + HexFormat.of().formatHex(RANDOM.generateSeed(12));
        long now = System.currentTimeMillis() / 1000;
        LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
        List<BatchEngine.Handle> handles = new ArrayList<>();
        try {
            for (int p = 0; p < requests.size(); p++) {
                int base = p * c.n();
                // a stream with tools sends text as it comes; a call goes out as OpenAI streams one (Tools.CallStream, ReplyStream)
                BatchEngine.Listener listener = !c.stream() ? null : new BatchEngine.Listener() {
                    @Override public void onToken(int choice, int token, String text, Logprobs.Choice lp) { events.add(new Event(base + choice, text, lp, null)); }
                    @Override public void onText(int choice, String text) { events.add(new Event(base + choice, text, null, null)); }
                    @Override public void onChoiceFinished(int choice, FinishReason r) { events.add(new Event(base + choice, null, null, r)); }
                    @Override public void onComplete(BatchEngine.Result r) { events.add(new Event(-1, null, null, null, null, true, r)); }
                    @Override public void onError(Throwable e) { events.add(new Event(-1, null, null, null, e, true, null)); }
                };
                handles.add(engine.submit(requests.get(p), listener));
            }
        } catch (BatchEngine.QueueFullException e) {
            handles.forEach(BatchEngine.Handle::cancel);
            throw new ApiException(429, "rate_limit_exceeded", "rate_limit_exceeded", null,
                    "The server is busy: " + e.getMessage() + ". Retry later.");
        } catch (IllegalArgumentException | IllegalStateException e) {
            handles.forEach(BatchEngine.Handle::cancel);
            throw ApiException.invalid(null, e.getMessage());
        }
        if (c.stream()) stream(ex, events, handles, requests, c, chat, id, now, tools);
        else respond(ex, handles, requests, c, chat, id, now, echoes, tools);
    }

    private static BatchEngine.Result await(List<BatchEngine.Handle> handles, int p) throws IOException {
        try {
            return handles.get(p).result().get();
        } catch (InterruptedException e) {
            handles.forEach(BatchEngine.Handle::cancel);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (ExecutionException e) {
            throw new ApiException(500, "server_error", null, null, "Generation failed: " + e.getCause());
        }
    }

    private void respond(HttpExchange ex, List<BatchEngine.Handle> handles, List<BatchEngine.Request> requests, Common c,
                         boolean chat, String id, long now, List<Echo> echoes, Tools tools) throws IOException {
        ObjectNode o = LaminaServer.JSON.createObjectNode();
        o.put("id", id).put("object", chat ? "chat.completion" : "text_completion").put("created", now).put("model", c.model());
        ArrayNode choices = o.putArray("choices");
        int promptTokens = 0, completionTokens = 0;
        for (int p = 0; p < handles.size(); p++) {
            BatchEngine.Result r = await(handles, p);
            promptTokens += r.promptTokens();
            completionTokens += r.completionTokens();
            for (BatchEngine.ChoiceResult cr : r.choices()) {
                ObjectNode ch = choices.addObject();
                ch.put("index", p * c.n() + cr.index());
                List<Tools.Call> calls = tools == null ? List.of() : tools.parse(cr.text());
                if (chat) {
                    ObjectNode msg = ch.putObject("message").put("role", "assistant");
                    if (calls.isEmpty()) msg.put("content", cr.text());
                    else Tools.json(calls, msg.putNull("content").putArray("tool_calls"), false);
                    if (cr.logprobs() != null) chatLogprobs(ch.putObject("logprobs"), cr.logprobs());
                    else ch.putNull("logprobs");
                } else {
                    Echo e = echoes == null ? null : echoes.get(p);
                    ch.put("text", e == null ? cr.text() : e.text() + cr.text());
                    if (cr.logprobs() != null) echoLogprobs(ch.putObject("logprobs"), e, cr.logprobs());
                    else ch.putNull("logprobs");
                }
                ch.put("finish_reason", !calls.isEmpty() ? "tool_calls" : cr.finish().openAi());
            }
        }
        usage(o.putObject("usage"), promptTokens, completionTokens);
        count(chat, c.model(), promptTokens, completionTokens);
        LaminaServer.sendJson(ex, 200, o);
    }

    /**
     * A stream of text; with tools (may be null), a constrained call's text as OpenAI streams a call, or
     * an unconstrained reply's text as it comes and its calls at the end.
     */
    private void stream(HttpExchange ex, LinkedBlockingQueue<Event> events, List<BatchEngine.Handle> handles,
                        List<BatchEngine.Request> requests, Common c, boolean chat, String id, long now, Tools tools) throws IOException {
        boolean calls = tools != null && tools.constrained();
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        int total = requests.size() * c.n();
        int[] textOffset = new int[total];
        Tools.CallStream[] callStreams = new Tools.CallStream[calls ? total : 0];
        for (int i = 0; i < callStreams.length; i++) callStreams[i] = new Tools.CallStream();
        Tools.ReplyStream[] replies = new Tools.ReplyStream[tools != null && !calls ? total : 0];
        for (int i = 0; i < replies.length; i++) replies[i] = new Tools.ReplyStream();
        int pending = handles.size(), promptTokens = 0, completionTokens = 0;
        try {
            if (chat)
                for (int i = 0; i < total; i++) {
                    ObjectNode chunk = chunk(id, now, true, c.model());
                    ObjectNode ch = chunk.putArray("choices").addObject();
                    ch.put("index", i);
                    ch.putObject("delta").put("role", "assistant").put("content", "");
                    ch.putNull("logprobs");
                    ch.putNull("finish_reason");
                    send(out, chunk);
                }
            while (pending > 0) {
                Event e = events.take();
                if (e.done()) {
                    pending--;
                    if (e.result() != null) {
                        promptTokens += e.result().promptTokens();
                        completionTokens += e.result().completionTokens();
                    }
                    if (e.error() != null) {
                        send(out, LaminaServer.errorBody(new ApiException(500, "server_error", null, null, "Generation failed: " + e.error())));
                        break;
                    }
                    continue;
                }
                if (e.finish() == null && e.text().isEmpty() && e.logprobs() == null) continue;
                if (calls) {
                    Tools.CallStream cs = callStreams[e.choice()];
                    ArrayNode deltas = e.finish() == null ? cs.add(e.text()) : cs.finish();
                    if (!deltas.isEmpty() || e.finish() != null) {
                        ObjectNode chunk = chunk(id, now, true, c.model());
                        ObjectNode ch = chunk.putArray("choices").addObject();
                        ch.put("index", e.choice());
                        ObjectNode delta = ch.putObject("delta");
                        if (!deltas.isEmpty()) delta.set("tool_calls", deltas);
                        ch.putNull("logprobs");
                        if (e.finish() == null) ch.putNull("finish_reason");
                        else ch.put("finish_reason", cs.started() ? "tool_calls" : streamed(e.finish()));
                        send(out, chunk);
                    }
                    continue;
                }
                if (replies.length > 0) {
                    autoReply(out, replies[e.choice()], e, tools, id, now, c.model());
                    continue;
                }
                ObjectNode chunk = chunk(id, now, chat, c.model());
                ObjectNode ch = chunk.putArray("choices").addObject();
                ch.put("index", e.choice());
                if (chat) {
                    ObjectNode delta = ch.putObject("delta");
                    if (e.finish() == null) delta.put("content", e.text());
                    if (e.logprobs() != null) chatLogprobs(ch.putObject("logprobs"), List.of(e.logprobs()));
                    else ch.putNull("logprobs");
                } else {
                    ch.put("text", e.finish() == null ? e.text() : "");
                    if (e.logprobs() != null) completionLogprobs(ch.putObject("logprobs"), List.of(e.logprobs()), textOffset[e.choice()]);
                    else ch.putNull("logprobs");
                    if (e.text() != null) textOffset[e.choice()] += e.text().length();
                }
                if (e.finish() == null) ch.putNull("finish_reason");
                else ch.put("finish_reason", streamed(e.finish()));
                send(out, chunk);
            }
            count(chat, c.model(), promptTokens, completionTokens);
            if (c.includeUsage()) {
                ObjectNode chunk = chunk(id, now, chat, c.model());
                chunk.putArray("choices");
                usage(chunk.putObject("usage"), promptTokens, completionTokens);
                send(out, chunk);
            }
            out.write("data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            out.close();
        } catch (IOException | InterruptedException e) {
            // the client disconnected (or we are shutting down): stop generating at once
            handles.forEach(BatchEngine.Handle::cancel);
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            throw e instanceof IOException io ? io : new IOException(e);
        }
    }

    /** One event of a reply under tool_choice auto: the content it releases; at its finish, the rest as content or as calls. */
    private void autoReply(OutputStream out, Tools.ReplyStream r, Event e, Tools tools, String id, long now, String model) throws IOException {
        List<Tools.Call> calls = e.finish() == null ? List.of() : tools.parse(r.text());
        String content = e.finish() == null ? r.add(e.text()) : calls.isEmpty() ? r.rest() : "";
        if (!content.isEmpty() || !calls.isEmpty()) {
            ObjectNode chunk = chunk(id, now, true, model);
            ObjectNode ch = chunk.putArray("choices").addObject().put("index", e.choice());
            ObjectNode delta = ch.putObject("delta");
            if (!content.isEmpty()) delta.put("content", content);
            else Tools.json(calls, delta.putArray("tool_calls"), true);
            ch.putNull("logprobs");
            ch.putNull("finish_reason");
            send(out, chunk);
        }
        if (e.finish() == null) return;
        ObjectNode chunk = chunk(id, now, true, model);
        ObjectNode ch = chunk.putArray("choices").addObject().put("index", e.choice());
        ch.putObject("delta");
        ch.putNull("logprobs");
        ch.put("finish_reason", !calls.isEmpty() ? "tool_calls" : streamed(e.finish()));
        send(out, chunk);
    }

    /** A stream's finish_reason: OpenAI's, a cancelled sequence ending as "stop". */
    private static String streamed(FinishReason f) { return f == FinishReason.CANCELLED ? "stop" : f.openAi(); }

    private ObjectNode chunk(String id, long now, boolean chat, String model) {
        ObjectNode o = LaminaServer.JSON.createObjectNode();
        o.put("id", id).put("object", chat ? "chat.completion.chunk" : "text_completion").put("created", now).put("model", model);
        return o;
    }

    /** One Server-Sent Event carrying a JSON object, flushed. */
    static void send(OutputStream out, JsonNode event) throws IOException {
        byte[] json = LaminaServer.JSON.writeValueAsBytes(event);
        byte[] frame = new byte[json.length + 8];
        System.arraycopy("data: ".getBytes(StandardCharsets.US_ASCII), 0, frame, 0, 6);
        System.arraycopy(json, 0, frame, 6, json.length);
        frame[frame.length - 2] = '\n';
        frame[frame.length - 1] = '\n';
        out.write(frame);
        out.flush();
    }

    /** One answered request and its tokens, for /metrics. */
    private void count(boolean chat, String model, long prompt, long completion) {
        metrics.add("lamina_requests_total", 1, "endpoint", chat ? "chat/completions" : "completions", "model", model, "status", "200");
        metrics.add("lamina_prompt_tokens_total", prompt, "model", model);
        metrics.add("lamina_completion_tokens_total", completion, "model", model);
    }

    private static void usage(ObjectNode u, int prompt, int completion) {
        u.put("prompt_tokens", prompt).put("completion_tokens", completion).put("total_tokens", prompt + completion);
    }

    private static ArrayNode array(ObjectNode o, String key) {
        return o.get(key) instanceof ArrayNode a ? a : o.putArray(key);
    }

    private String tokenText(int token) { return tokenizer.decode(new int[]{token}); }

    private void chatLogprobs(ObjectNode lp, List<Logprobs.Choice> list) {
        ArrayNode content = lp.putArray("content");
        for (Logprobs.Choice c : list) {
            ObjectNode t = content.addObject();
            tokenEntry(t, c.chosen());
            ArrayNode top = t.putArray("top_logprobs");
            for (Logprobs.Entry e : c.top()) tokenEntry(top.addObject(), e);
        }
        lp.putNull("refusal");
    }

    private void tokenEntry(ObjectNode t, Logprobs.Entry e) {
        String s = tokenText(e.token());
        t.put("token", s).put("logprob", e.logprob());
        ArrayNode bytes = t.putArray("bytes");
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) bytes.add(b & 0xff);
    }

    /** The legacy logprobs object for generated tokens, appended to the arrays lp may already hold (an echoed prompt's). */
    private void completionLogprobs(ObjectNode lp, List<Logprobs.Choice> list, int offset) {
        ArrayNode tokens = array(lp, "tokens"), values = array(lp, "token_logprobs"),
                tops = array(lp, "top_logprobs"), offsets = array(lp, "text_offset");
        for (Logprobs.Choice c : list) {
            String s = tokenText(c.chosen().token());
            tokens.add(s);
            values.add(c.chosen().logprob());
            ObjectNode top = tops.addObject();
            for (Logprobs.Entry e : c.top()) {
                String k = tokenText(e.token());
                if (!top.has(k)) top.put(k, e.logprob());
            }
            offsets.add(offset);
            offset += s.length();
        }
    }
}
