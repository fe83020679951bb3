package dev.tollgate.proxy.inspect;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;

class JsonRpcParserTest {
    static final JsonRpcParser PARSER = new JsonRpcParser(new JsonRpcParser.Limits(1024 * 1024, 32, 64, 256 * 1024));

    static JsonRpcParser.Result parse(String s) {
        return PARSER.parse(s.getBytes(StandardCharsets.UTF_8));
    }

    static InspectionReason refused(String s) {
        JsonRpcParser.Result r = parse(s);
        assertThat(r).as(s).isInstanceOf(JsonRpcParser.Refused.class);
        return ((JsonRpcParser.Refused) r).reason();
    }

    static JsonRpcBody parsed(String s) {
        JsonRpcParser.Result r = parse(s);
        assertThat(r).as(String.valueOf(r)).isInstanceOf(JsonRpcParser.Parsed.class);
        return ((JsonRpcParser.Parsed) r).body();
    }

    @Test
    void readsAToolCallKeepingOnlyNameAndArguments() {
        JsonRpcBody b = parsed("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"crm.read\","
                + "\"arguments\":{\"id\":\"c-1\",\"deep\":[1,{\"x\":null}]},\"_meta\":{\"progressToken\":1}},\"x\":[1,2]}");
        assertThat(b.batch()).isFalse();
        JsonRpcMessage m = b.messages().get(0);
        assertThat(m.kind()).isEqualTo(JsonRpcMessage.Kind.REQUEST);
        assertThat(m.isToolCall()).isTrue();
        assertThat(m.id().asLong()).isEqualTo(7);
        assertThat(m.toolName()).isEqualTo("crm.read");
        assertThat(m.arguments().toString()).isEqualTo("{\"id\":\"c-1\",\"deep\":[1,{\"x\":null}]}");
    }

    @Test
    void readsBatchesNotificationsAndResponses() {
        JsonRpcBody b = parsed("[{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/list\"},"
                + "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
                + "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"anything\":[1]}}]");
        assertThat(b.batch()).isTrue();
        assertThat(b.messages()).extracting(JsonRpcMessage::kind).containsExactly(JsonRpcMessage.Kind.REQUEST,
                JsonRpcMessage.Kind.NOTIFICATION, JsonRpcMessage.Kind.RESPONSE);
        assertThat(b.anyToolsList()).isTrue();
        assertThat(b.messages().get(0).id().asText()).isEqualTo("a");
    }

    @Test
    void keepsAHugeIntegerIdExactly() {
        JsonRpcBody b = parsed("{\"jsonrpc\":\"2.0\",\"id\":123456789012345678901234567890,\"method\":\"ping\"}");
        assertThat(b.messages().get(0).id().toString()).isEqualTo("123456789012345678901234567890");
    }

    @Test
    void refusesDuplicateKeysAtEveryLevel() {
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"method\":\"ping\"}"))
                .isEqualTo(InspectionReason.DUPLICATE_KEY);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\","
                + "\"name\":\"b\"}}")).isEqualTo(InspectionReason.DUPLICATE_KEY);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\","
                + "\"arguments\":{\"amount\":1,\"amount\":1000}}}")).isEqualTo(InspectionReason.DUPLICATE_KEY);
        // also inside parts that are skipped, not built
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":{\"y\":{\"k\":1,\"k\":2}}}"))
                .isEqualTo(InspectionReason.DUPLICATE_KEY);
    }

    @Test
    void refusesAMemberItReadsSpelledInAnotherCase() {
        String call = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"crm.read\"";
        // Go's encoding/json reads it as the member, the last one winning: a tools/call of crm.delete there
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"METHOD\":\"tools/call\","
                + "\"params\":{\"name\":\"crm.delete\"}}")).isEqualTo(InspectionReason.INVALID_REQUEST);
        assertThat(refused(call + ",\"NAME\":\"crm.delete\"}}")).isEqualTo(InspectionReason.INVALID_REQUEST);
        assertThat(refused(call + ",\"arguments\":{},\"Arguments\":{\"amount\":1000}}}"))
                .isEqualTo(InspectionReason.INVALID_REQUEST);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"Params\":{}}"))
                .isEqualTo(InspectionReason.INVALID_REQUEST);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"ID\":2,\"id\":1,\"method\":\"ping\"}"))
                .isEqualTo(InspectionReason.INVALID_REQUEST);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"Error\":{}}"))
                .isEqualTo(InspectionReason.INVALID_REQUEST);
        // the folds Go makes beyond ASCII: K (Kelvin) is k, ſ (long s) is s
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"j\u017Fonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}"))
                .isEqualTo(InspectionReason.INVALID_REQUEST);
        assertThat(refused(call + ",\"arguments\":{},\"Argument\u017F\":{}}}")).isEqualTo(InspectionReason.INVALID_REQUEST);
        // keys that only resemble members, keys in arguments or skipped parts that differ only in case: read as sent
        // (a constraint reading such a key does not hold: ArgumentMatcherTest)
        JsonRpcBody b = parsed(call + ",\"arguments\":{\"amount\":1,\"Amount\":1000,\"env\":{\"Path\":1,\"PATH\":2}},"
                + "\"names\":[],\"_meta\":{\"Name\":1,\"name\":2}},\"methods\":1}");
        assertThat(b.messages().get(0).toolName()).isEqualTo("crm.read");
        assertThat(b.messages().get(0).arguments().get("Amount").asInt()).isEqualTo(1000);
    }

    @Test
    void refusesABodyThatAParserGuessingItsEncodingWouldReadAsUtf16Or32() {
        String call = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\"}}";
        for (java.nio.charset.Charset cs : List.of(StandardCharsets.UTF_16BE, StandardCharsets.UTF_16LE,
                java.nio.charset.Charset.forName("UTF-32BE"), java.nio.charset.Charset.forName("UTF-32LE"))) {
            assertThat(PARSER.parse(call.getBytes(cs))).as(cs.name())
                    .isEqualTo(new JsonRpcParser.Refused(InspectionReason.MALFORMED_JSON, "a zero byte at the start"));
        }
        assertThat(parsed(" \n" + call).messages()).hasSize(1);
    }

    @Test
    void refusesTheSameRequestIdTwiceInABatch() {
        String list = "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"tools/list\"}";
        assertThat(refused("[" + list.formatted("7") + "," + list.formatted("7") + "]"))
                .isEqualTo(InspectionReason.DUPLICATE_ID);
        assertThat(refused("[" + list.formatted("\"a\"") + "," + list.formatted("\"a\"") + "]"))
                .isEqualTo(InspectionReason.DUPLICATE_ID);
        // a number and a string are different ids; a response may reuse a request's id
        assertThat(parsed("[" + list.formatted("7") + "," + list.formatted("\"7\"") + ","
                + "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}]").messages()).hasSize(3);
    }

    @Test
    void refusesTrailingData() {
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} {\"jsonrpc\":\"2.0\"}"))
                .isEqualTo(InspectionReason.TRAILING_DATA);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}x"))
                .isIn(InspectionReason.TRAILING_DATA, InspectionReason.MALFORMED_JSON);
    }

    @Test
    void refusesInvalidUtf8EvenInSkippedStrings() {
        byte[] head = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":\"".getBytes(StandardCharsets.UTF_8);
        byte[] tail = "\"}".getBytes(StandardCharsets.UTF_8);
        for (byte[] bad : new byte[][] {{(byte) 0xc0, (byte) 0xaf}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
                {(byte) 0xff}, {(byte) 0xe2, (byte) 0x82}}) {
            byte[] body = new byte[head.length + bad.length + tail.length];
            System.arraycopy(head, 0, body, 0, head.length);
            System.arraycopy(bad, 0, body, head.length, bad.length);
            System.arraycopy(tail, 0, body, head.length + bad.length, tail.length);
            JsonRpcParser.Result r = PARSER.parse(body);
            assertThat(r).isEqualTo(new JsonRpcParser.Refused(InspectionReason.INVALID_UTF8, "at byte " + head.length));
        }
    }

    @Test
    void refusesDeepNesting() {
        String deep = "[".repeat(40) + "]".repeat(40);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":" + deep + "}"))
                .isEqualTo(InspectionReason.TOO_DEEP);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\","
                + "\"arguments\":{\"a\":" + deep + "}}}")).isEqualTo(InspectionReason.TOO_DEEP);
    }

    @Test
    void refusesHugeArguments() {
        String big = "x".repeat(300 * 1024);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\","
                + "\"arguments\":{\"blob\":\"" + big + "\"}}}")).isEqualTo(InspectionReason.ARGUMENTS_TOO_LARGE);
    }

    @Test
    void refusesABodyOverTheLimit() {
        JsonRpcParser small = new JsonRpcParser(new JsonRpcParser.Limits(64, 32, 64, 64));
        assertThat(small.parse(("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"p\":\"" + "y".repeat(64) + "\"}")
                .getBytes(StandardCharsets.UTF_8))).extracting(r -> ((JsonRpcParser.Refused) r).reason())
                .isEqualTo(InspectionReason.BODY_TOO_LARGE);
    }

    @Test
    void refusesOtherVersionsAndWrongTypes() {
        assertThat(refused("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}")).isEqualTo(InspectionReason.INVALID_VERSION);
        assertThat(refused("{\"id\":1,\"method\":\"ping\"}")).isEqualTo(InspectionReason.INVALID_VERSION);
        assertThat(refused("{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}")).isEqualTo(InspectionReason.INVALID_TYPE);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}")).isEqualTo(InspectionReason.INVALID_TYPE);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}")).isEqualTo(InspectionReason.INVALID_TYPE);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}")).isEqualTo(InspectionReason.INVALID_TYPE);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}")).isEqualTo(InspectionReason.INVALID_TYPE);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":\"x\"}"))
                .isEqualTo(InspectionReason.INVALID_TYPE);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":[\"a\"]}}"))
                .isEqualTo(InspectionReason.INVALID_TYPE);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\","
                + "\"arguments\":[1]}}")).isEqualTo(InspectionReason.INVALID_TYPE);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{}}"))
                .isEqualTo(InspectionReason.MISSING_TOOL_NAME);
        assertThat(refused("\"just a string\"")).isEqualTo(InspectionReason.INVALID_REQUEST);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1}")).isEqualTo(InspectionReason.INVALID_REQUEST);
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"result\":{}}"))
                .isEqualTo(InspectionReason.INVALID_REQUEST);
        assertThat(refused("")).isEqualTo(InspectionReason.MALFORMED_JSON);
        assertThat(refused("{\"jsonrpc\":\"2.0\",")).isEqualTo(InspectionReason.MALFORMED_JSON);
    }

    @Test
    void refusesToolsCallSentAsANotification() {
        assertThat(refused("{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":\"crm.read\"}}"))
                .isEqualTo(InspectionReason.TOOL_CALL_WITHOUT_ID);
        assertThat(refused("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":\"2.0\","
                + "\"method\":\"tools/call\",\"params\":{\"name\":\"crm.read\"}}]"))
                .isEqualTo(InspectionReason.TOOL_CALL_WITHOUT_ID);
    }

    @Test
    void boundsBatches() {
        assertThat(refused("[]")).isEqualTo(InspectionReason.EMPTY_BATCH);
        assertThat(refused("[1]")).isEqualTo(InspectionReason.INVALID_REQUEST);
        assertThat(refused("[[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]]"))
                .isEqualTo(InspectionReason.INVALID_REQUEST);
        String one = "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}";
        assertThat(parsed("[" + String.join(",", java.util.Collections.nCopies(64, one)) + "]").messages()).hasSize(64);
        assertThat(refused("[" + String.join(",", java.util.Collections.nCopies(65, one)) + "]"))
                .isEqualTo(InspectionReason.BATCH_TOO_LARGE);
    }

    @Test
    void keepsToolNamesExactly() {
        for (String name : new String[] {"CRM.read", "crm.re\u0430d", " crm.read", "crm.read\t", "crm.read\u200b"}) {
            String escaped = name.replace("\t", "\\t");
            JsonRpcBody b = parsed("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\""
                    + escaped + "\"}}");
            assertThat(b.messages().get(0).toolName()).isEqualTo(name);
        }
    }
}
