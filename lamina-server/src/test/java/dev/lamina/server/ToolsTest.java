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
}
