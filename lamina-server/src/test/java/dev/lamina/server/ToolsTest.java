package dev.lamina.server;

import dev.lamina.io.Json;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Replies parsed into calls: Hermes/Qwen tags, Llama 3.1 JSON, and what is not a call. */
class ToolsTest {
    static Tools tools(boolean parallel) {
        return Tools.of(Json.MAPPER.readTree("{\"tools\":[" + LaminaServerTest.WEATHER + "," + LaminaServerTest.TIME + "],\"parallel_tool_calls\":" + parallel + "}"));
    }

    @Test
    void hermesTagsLlamaJsonAndNonCalls() {
        Tools t = tools(true);
        List<Tools.Call> two = t.parse("Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"days\": 2}}\n</tool_call>"
                + "<tool_call>{\"name\":\"get_time\",\"arguments\":{}}</tool_call>");
        assertThat(two).extracting(Tools.Call::name).containsExactly("get_weather", "get_time");
        assertThat(two.getFirst().arguments()).isEqualTo("{\"city\": \"Oslo\", \"days\": 2}");   // as the model wrote them
        assertThat(two.get(0).id()).isNotEqualTo(two.get(1).id());
        assertThat(tools(false).parse("<tool_call>{\"name\":\"get_time\",\"arguments\":{}}</tool_call><tool_call>{\"name\":\"get_time\",\"arguments\":{}}</tool_call>"))
                .hasSize(1);                                                   // parallel_tool_calls false: the first
        assertThat(t.parse("<|python_tag|>{\"name\": \"get_time\", \"parameters\": {\"zone\": \"UTC\"}}")).singleElement()
                .extracting(Tools.Call::arguments).isEqualTo("{\"zone\": \"UTC\"}");
        assertThat(t.parse("{\"name\": \"get_time\", \"parameters\": {\"zone\": \"UTC\"}}")).hasSize(1);
        assertThat(t.parse("<tool_call>{\"name\":\"launch_rocket\",\"arguments\":{}}</tool_call>")).isEmpty();   // not declared
        assertThat(t.parse("<tool_call>{\"name\":\"get_time\",\"arguments\":\"zone=UTC\"}</tool_call>")).isEmpty(); // arguments not an object
        assertThat(t.parse("<tool_call>{\"name\":\"get_time\"</tool_call>")).isEmpty();                          // not JSON
        assertThat(t.parse("It is sunny in Oslo.")).isEmpty();
    }

    /** Feeds pieces to a ReplyStream; returns what each released, then the rest, joined by "|". */
    static String stream(String... pieces) {
        Tools.ReplyStream r = new Tools.ReplyStream();
        StringBuilder out = new StringBuilder();
        for (String p : pieces) out.append(r.add(p)).append('|');
        return out.append("rest=").append(r.rest()).toString();
    }

    @Test
    void autoRepliesStreamTextAndHoldWhatCouldBeACall() {
        assertThat(stream("Hello ", "wor", "ld")).isEqualTo("Hello |wor|ld|rest=");
        // a partial tag waits; once the tag is whole, the rest is held for the end
        assertThat(stream("The answer <to", "ol_call>{\"name\":", "\"get_time\",\"arguments\":{}}</tool_call>"))
                .isEqualTo("The answer |||rest=<tool_call>{\"name\":\"get_time\",\"arguments\":{}}</tool_call>");
        assertThat(stream("x <", "b> y")).isEqualTo("x |<b> y|rest=");           // not a tag after all: released
        assertThat(stream("  ", "{\"name\": \"get_time\"", ", \"parameters\": {}}")).isEqualTo("|||rest=  {\"name\": \"get_time\", \"parameters\": {}}");
        assertThat(stream("<|py", "thon_tag|>{}")).isEqualTo("||rest=<|python_tag|>{}");
        assertThat(stream("<", "p>")).isEqualTo("|<p>|rest=");
        // whatever is released plus the rest is the reply, piece by piece
        String reply = "Sure. <tool_call>{\"name\":\"get_time\",\"arguments\":{}}</tool_call>";
        java.util.Random random = new java.util.Random(4);
        for (int trial = 0; trial < 200; trial++) {
            Tools.ReplyStream r = new Tools.ReplyStream();
            StringBuilder got = new StringBuilder();
            for (int i = 0; i < reply.length(); ) {
                int j = Math.min(reply.length(), i + 1 + random.nextInt(5));
                got.append(r.add(reply.substring(i, j)));
                i = j;
            }
            assertThat(got.toString()).isEqualTo("Sure. ");
            assertThat(got + r.rest()).isEqualTo(reply);
            assertThat(tools(true).parse(r.text())).hasSize(1);
        }
    }
}
