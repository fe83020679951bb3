package dev.tollgate.proxy.inspect;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Without {@code JAZZER_FUZZ=1} jazzer-junit runs this once per file in {@code JsonRpcParserFuzzTestInputs/
 * parsesOrRefusesWithAReason/} as a regression test; with it, it fuzzes.
 */
class JsonRpcParserFuzzTest {
    private static final JsonRpcParser PARSER = new JsonRpcParser(new JsonRpcParser.Limits(64 * 1024, 16, 8, 4096));

    @FuzzTest
    void parsesOrRefusesWithAReason(FuzzedDataProvider data) {
        byte[] body = data.consumeRemainingAsBytes();
        JsonRpcParser.Result r = PARSER.parse(body);
        assertThat(r).isNotNull();
        if (r instanceof JsonRpcParser.Refused refused) {
            assertThat(refused.reason()).isNotEqualTo(InspectionReason.NONE);
            assertThat(refused.reason().status()).isBetween(400, 499);
            return;
        }
        JsonRpcBody parsed = ((JsonRpcParser.Parsed) r).body();
        assertThat(parsed.messages()).isNotEmpty().hasSizeLessThanOrEqualTo(8);
        assertThat(Utf8.firstInvalid(body, 0, body.length)).isEqualTo(-1);
        for (JsonRpcMessage m : parsed.messages()) {
            if (m.kind() == JsonRpcMessage.Kind.NOTIFICATION) {
                assertThat(m.method()).isNotEqualTo(JsonRpcMessage.TOOLS_CALL);
                assertThat(m.id()).isNull();
            } else {
                assertThat(m.id()).isNotNull();
                assertThat(m.id().isTextual() || m.id().isIntegralNumber()).isTrue();
            }
            if (m.isToolCall()) {
                assertThat(m.toolName()).isNotNull();
            }
            if (m.arguments() != null) {
                assertThat(m.arguments().isObject()).isTrue();
            }
        }
        // the same bytes give the same answer
        assertThat(PARSER.parse(body)).isEqualTo(r);
    }
}
