package dev.tollgate.proxy.inspect;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.forward.ResponseInterceptor;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/** The response side of an MCP request on its own: session owners, and tools/list filtering however chunks fall. */
class McpResponseInterceptorTest {
    static final SpiffeId BOT = SpiffeId.parse("spiffe://test.example/agent/bot");
    static final String RESULT = "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[{\"name\":\"a.read\"},"
            + "{\"name\":\"b.write\"},{\"name\":\"A.READ\"}]}}";

    final ToolCallInspection in;
    final ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), Clock.systemUTC());

    McpResponseInterceptorTest() throws Exception {
        in = new ToolCallInspection(ConfigLoader.parse("listeners: {admin: {}}\ntls: {cert: a, key: b, bundle: c}\n"
                + "inspection: {max-sse-event: 1KiB}\n", null), metrics, Clock.systemUTC(), Optional::empty,
                dev.tollgate.proxy.decision.DecisionLog.localOnly());
    }

    /** What the client gets, and how many times something was handed on. */
    static final class Out implements ResponseInterceptor.Sink {
        final StringBuilder body = new StringBuilder();
        final List<HttpResponse> heads = new ArrayList<>();
        int parts;
        boolean last;
        String failed;

        @Override
        public void accept(HttpObject msg) {
            parts++;
            if (msg instanceof HttpResponse r) {
                heads.add(r);
            }
            if (msg instanceof HttpContent c) {
                body.append(c.content().toString(StandardCharsets.UTF_8));
                last |= msg instanceof LastHttpContent;
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void fail(String why) {
            failed = why;
        }
    }

    McpResponseInterceptor interceptor() {
        return interceptor(true);
    }

    /** An interceptor for the answer to a tools/list request, or (false) to any other request or a GET stream. */
    McpResponseInterceptor interceptor(boolean toolsList) {
        return new McpResponseInterceptor(in, Direction.EGRESS, "crm", BOT, true, toolsList, Set.of("a.read"));
    }

    static HttpResponse head(String type) {
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        r.headers().set("content-type", type);
        return r;
    }

    @Test
    void filtersTheResultEventWhereverTheChunksAreCut() {
        String stream = "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\n\r\n"
                + ": a comment\nevent: message\nid: 3\ndata: " + RESULT + "\n\n"
                + "data: {\"jsonrpc\":\"2.0\",\"method\":\"late\"}\n\n";
        String expected = "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\n\r\n"
                + ": a comment\nevent: message\nid: 3\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":"
                + "[{\"name\":\"a.read\"}]}}\n\n"
                + "data: {\"jsonrpc\":\"2.0\",\"method\":\"late\"}\n\n";
        byte[] bytes = stream.getBytes(StandardCharsets.UTF_8);
        for (int cut = 1; cut < bytes.length; cut++) {
            McpResponseInterceptor i = interceptor();
            Out out = new Out();
            i.onResponse(head("text/event-stream"), out);
            i.onResponse(new DefaultHttpContent(Unpooled.copiedBuffer(bytes, 0, cut)), out);
            i.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer(bytes, cut, bytes.length - cut)), out);
            i.release();
            assertThat(out.body.toString()).as("cut at %d", cut).isEqualTo(expected);
            assertThat(out.last).isTrue();
            assertThat(out.failed).isNull();
        }
    }

    @Test
    void forwardsEachEventAsSoonAsItIsCompleteAndDropsAnEventTheStreamEndsIn() {
        McpResponseInterceptor i = interceptor();
        Out out = new Out();
        i.onResponse(head("text/event-stream"), out);
        i.onResponse(new DefaultHttpContent(Unpooled.copiedBuffer("data: {\"n\":1}\n\ndata: {\"n\"",
                StandardCharsets.UTF_8)), out);
        assertThat(out.body.toString()).isEqualTo("data: {\"n\":1}\n\n");
        i.onResponse(new DefaultHttpContent(Unpooled.copiedBuffer(":2}\n\ndata: " + RESULT + "\n\npartial",
                StandardCharsets.UTF_8)), out);
        assertThat(out.body.toString()).endsWith("{\"name\":\"a.read\"}]}}\n\n");
        i.onResponse(new DefaultHttpContent(Unpooled.copiedBuffer(" more", StandardCharsets.UTF_8)), out);
        assertThat(out.body.toString()).endsWith("{\"name\":\"a.read\"}]}}\n\n");
        i.onResponse(LastHttpContent.EMPTY_LAST_CONTENT, out);
        assertThat(out.body.toString()).endsWith("{\"name\":\"a.read\"}]}}\n\n");
        assertThat(out.last).isTrue();
        i.release();
        assertThat(metrics.toolsFilteredCount(Direction.EGRESS)).isEqualTo(2);
        assertThat(out.heads.get(0).headers().contains("content-length")).isFalse();
    }

    @Test
    void anEventOverTheBoundCutsTheStream() {
        McpResponseInterceptor i = interceptor();
        Out out = new Out();
        i.onResponse(head("text/event-stream"), out);
        i.onResponse(new DefaultHttpContent(Unpooled.copiedBuffer("data: " + "x".repeat(2000),
                StandardCharsets.UTF_8)), out);
        assertThat(out.failed).contains("1024");
        i.onResponse(LastHttpContent.EMPTY_LAST_CONTENT, out);
        i.release();
        assertThat(out.last).isFalse();
    }

    @Test
    void aJsonResultIsRewrittenOnlyWhenAToolIsRemoved() {
        McpResponseInterceptor i = interceptor();
        Out out = new Out();
        i.onResponse(head("application/json"), out);
        i.onResponse(new DefaultHttpContent(Unpooled.copiedBuffer(RESULT.substring(0, 10), StandardCharsets.UTF_8)),
                out);
        assertThat(out.parts).isZero();
        i.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer(RESULT.substring(10), StandardCharsets.UTF_8)),
                out);
        assertThat(out.body.toString()).isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":"
                + "[{\"name\":\"a.read\"}]}}");
        assertThat(out.heads.get(0)).isInstanceOf(FullHttpResponse.class);
        assertThat(out.heads.get(0).headers().getInt("content-length")).isEqualTo(out.body.length());

        String untouched = "{ \"jsonrpc\":\"2.0\", \"id\":5, \"result\":{\"tools\":[{\"name\":\"a.read\"}]} }";
        McpResponseInterceptor j = interceptor();
        Out same = new Out();
        j.onResponse(head("application/json"), same);
        j.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer(untouched, StandardCharsets.UTF_8)), same);
        assertThat(same.body.toString()).isEqualTo(untouched);
    }

    @Test
    void anEncodedResultIsNotRelayed() {
        McpResponseInterceptor i = interceptor();
        Out out = new Out();
        HttpResponse h = head("application/json");
        h.headers().set("content-encoding", "gzip");
        i.onResponse(h, out);
        i.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer("\u001f\u008b...", StandardCharsets.ISO_8859_1)),
                out);
        i.release();
        assertThat(out.heads.get(0).status().code()).isEqualTo(502);
        assertThat(out.body.toString()).contains("unfilterable_response");
    }

    @Test
    void theIdentityAnsweredWithASessionIdOwnsIt() {
        McpResponseInterceptor i = new McpResponseInterceptor(in, Direction.INGRESS, "app", BOT, true, false, Set.of());
        Out out = new Out();
        HttpResponse h = head("application/json");
        h.headers().set("mcp-session-id", "s-9");
        i.onResponse(h, out);
        i.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer("{}", StandardCharsets.UTF_8)), out);
        assertThat(in.sessionOwner(Direction.INGRESS, "app", "s-9")).contains(BOT);
        assertThat(in.sessionOwner(Direction.EGRESS, "app", "s-9")).isEmpty();
        // a later answer naming the same session does not move it to another identity
        SpiffeId other = SpiffeId.parse("spiffe://test.example/agent/other");
        McpResponseInterceptor j = new McpResponseInterceptor(in, Direction.INGRESS, "app", other, true, false, Set.of());
        j.onResponse(h, new Out());
        assertThat(in.sessionOwner(Direction.INGRESS, "app", "s-9")).contains(BOT);
    }

    @Test
    void onlyTheAnswerToARequestWithoutASessionIdCreatesOne() {
        // the TS SDK names the session on every answer: a request that carried an id creates nothing
        McpResponseInterceptor i = new McpResponseInterceptor(in, Direction.INGRESS, "app", BOT, false, false, Set.of());
        HttpResponse h = head("application/json");
        h.headers().set("mcp-session-id", "s-10");
        i.onResponse(h, new Out());
        i.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer("{}", StandardCharsets.UTF_8)), new Out());
        i.release();
        assertThat(in.sessionOwner(Direction.INGRESS, "app", "s-10")).isEmpty();
    }

    static final String BIG_ID_RESULT = "{\"jsonrpc\":\"2.0\",\"id\":18446744073709552000,\"result\":{\"tools\":"
            + "[{\"name\":\"a.read\"},{\"name\":\"b.write\"}]}}";

    @Test
    void aToolsResultIsFilteredWhateverItsIdAndInAnyEventStream() {
        // an id echoed differently (a JS server rounds 18446744073709551617), twice in a batch, and results
        // replayed on a GET stream (Last-Event-ID) or answered to another request
        McpResponseInterceptor i = interceptor(true);
        Out out = new Out();
        i.onResponse(head("application/json"), out);
        i.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer("[" + BIG_ID_RESULT + "," + BIG_ID_RESULT
                + "]", StandardCharsets.UTF_8)), out);
        i.release();
        assertThat(out.body.toString()).doesNotContain("b.write").contains("a.read");
        for (boolean toolsList : new boolean[] {true, false}) {
            McpResponseInterceptor j = interceptor(toolsList);
            Out sse = new Out();
            j.onResponse(head("text/event-stream"), sse);
            j.onResponse(new DefaultHttpContent(Unpooled.copiedBuffer("id: 1\ndata: " + RESULT + "\n\n",
                    StandardCharsets.UTF_8)), sse);
            j.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer("id: 2\ndata: " + BIG_ID_RESULT + "\n\n",
                    StandardCharsets.UTF_8)), sse);
            j.release();
            assertThat(sse.body.toString()).as("tools/list: %s", toolsList).doesNotContain("b.write")
                    .contains("a.read");
            assertThat(sse.failed).isNull();
        }
    }

    @Test
    void aToolsResultBehindAByteOrderMarkABareDataLineOrASpacedContentTypeIsFilteredToo() {
        // an event stream parser skips a leading BOM and reads "data" alone as an empty data line; clients trim the
        // media type: each of these once carried an unfiltered result past the interceptor
        String[][] cases = {
            {"text/event-stream", "\uFEFFdata: " + RESULT + "\n\n"},
            {"text/event-stream", "data\ndata: " + RESULT + "\n\n"},
            {"text/event-stream ;charset=utf-8", "data: " + RESULT + "\n\n"},
        };
        for (String[] c : cases) {
            for (boolean toolsList : new boolean[] {true, false}) {
                McpResponseInterceptor i = interceptor(toolsList);
                Out out = new Out();
                i.onResponse(head(c[0]), out);
                i.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer(c[1], StandardCharsets.UTF_8)), out);
                i.release();
                assertThat(out.failed).as("%s %s", c[0], c[1]).isNull();
                assertThat(out.body.toString()).as("%s %s, tools/list: %s", c[0], c[1], toolsList)
                        .doesNotContain("b.write").contains("a.read");
            }
        }
    }

    @Test
    void aJsonAnswerToAnotherRequestStreamsThroughUnread() {
        // the answer to a tools/call: not parsed, so even broken JSON (or a tools-shaped result) passes untouched,
        // each chunk relayed as it arrives rather than held until the end
        String broken = "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":\"b.write\"}]} trailing {{";
        McpResponseInterceptor i = interceptor(false);
        Out out = new Out();
        i.onResponse(head("application/json"), out);
        assertThat(out.parts).isEqualTo(1);
        i.onResponse(new DefaultHttpContent(Unpooled.copiedBuffer(broken.substring(0, 20), StandardCharsets.UTF_8)),
                out);
        assertThat(out.parts).isEqualTo(2);
        assertThat(out.body.toString()).isEqualTo(broken.substring(0, 20));
        i.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer(broken.substring(20), StandardCharsets.UTF_8)),
                out);
        i.release();
        assertThat(out.body.toString()).isEqualTo(broken);
        assertThat(out.last).isTrue();
        assertThat(out.heads.get(0).status().code()).isEqualTo(200);
        assertThat(metrics.inspectionCount(Direction.EGRESS, InspectionReason.UNFILTERABLE_RESPONSE)).isZero();
    }

    @Test
    void aToolsListAnswerSplitAcrossManyChunksIsStillFiltered() {
        StringBuilder tools = new StringBuilder();
        for (int n = 0; n < 50; n++) {
            tools.append(n == 0 ? "" : ",").append("{\"name\":\"").append(n % 2 == 0 ? "a.read" : "b.write")
                    .append("\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}}");
        }
        String answer = "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[" + tools + "]}}";
        byte[] bytes = answer.getBytes(StandardCharsets.UTF_8);
        for (int size : new int[] {1, 7, 64, 1000}) {
            McpResponseInterceptor i = interceptor(true);
            Out out = new Out();
            i.onResponse(head("application/json"), out);
            for (int at = 0; at < bytes.length; at += size) {
                int len = Math.min(size, bytes.length - at);
                boolean last = at + len == bytes.length;
                io.netty.buffer.ByteBuf chunk = Unpooled.copiedBuffer(bytes, at, len);
                i.onResponse(last ? new DefaultLastHttpContent(chunk) : new DefaultHttpContent(chunk), out);
                if (!last) {
                    assertThat(out.parts).as("held until complete").isZero();
                }
            }
            i.release();
            assertThat(out.body.toString()).as("chunks of %d", size).doesNotContain("b.write").contains("a.read");
            assertThat(out.heads.get(0).headers().getInt("content-length")).isEqualTo(out.body.length());
        }
    }

    @Test
    void theStreamingScanAgreesWithTheTreeFilter() {
        // answers to tools/list that only look harmless, and harmless ones that look suspicious; a rewritten answer
        // is re-serialised (no spaces), an untouched one is relayed byte for byte
        String[][] cases = {
            {"{\"result\":{\"tools\":[{\"name\":\"a.re\\u0061d\"}]}}", "untouched"},
            {"{\"result\":{\"tool\\u0073\":[{\"name\":\"b.write\"}]}}", "filtered"},
            {"{\"result\":{\"tools\":[\"a.read\"]}}", "filtered"},
            {"{\"result\":{\"tools\":[[{\"name\":\"a.read\"}]]}}", "filtered"},
            {"{\"result\":{\"tools\":[{\"name\":5}]}}", "filtered"},
            {"{\"result\":{\"tools\":[{\"title\":\"a.read\"}]}}", "filtered"},
            {"{\"result\":{\"tools\":[{\"name\":\"a.read\",\"meta\":{\"name\":\"b.write\"}}]}}", "untouched"},
            {"{\"params\":{\"result\":{\"tools\":[{\"name\":\"b.write\"}]}}}", "untouched"},
            {"[[{\"result\":{\"tools\":[{\"name\":\"b.write\"}]}}]]", "untouched"},
            {"{\"result\":{\"tools\":{\"name\":\"b.write\"}}}", "untouched"},
            {"{\"result\":{\"tools\":[]}, \"id\":1}", "untouched"},
            {"{\"result\":{\"tools\":[{\"name\":\"a.read\",\"name\":\"b.write\"}]}}", "refused"},
            {"{\"id\":1} {\"id\":2}", "refused"},
            {"{\"result\":{\"tools\":[{\"name\":\"a.read\"}]}", "refused"},
            {"", "refused"},
        };
        for (String[] c : cases) {
            McpResponseInterceptor i = interceptor(true);
            Out out = new Out();
            i.onResponse(head("application/json"), out);
            byte[] b = c[0].getBytes(StandardCharsets.UTF_8);
            int half = b.length / 2;
            i.onResponse(new DefaultHttpContent(Unpooled.copiedBuffer(b, 0, half)), out);
            i.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer(b, half, b.length - half)), out);
            i.release();
            switch (c[1]) {
                case "untouched" -> assertThat(out.body.toString()).as(c[0]).isEqualTo(c[0]);
                case "filtered" -> assertThat(out.body.toString()).as(c[0]).isNotEqualTo(c[0])
                        .doesNotContain("b.write").startsWith("{");
                default -> assertThat(out.heads.get(0).status().code()).as(c[0]).isEqualTo(502);
            }
        }
    }

    @Test
    void anUnreadableEventWhileAToolsListIsPendingCutsTheStream() {
        double before = metrics.inspectionCount(Direction.EGRESS, InspectionReason.UNFILTERABLE_RESPONSE);
        McpResponseInterceptor i = interceptor(true);
        Out out = new Out();
        i.onResponse(head("text/event-stream"), out);
        i.onResponse(new DefaultHttpContent(Unpooled.copiedBuffer("data: {\"jsonrpc\":\"2.0\",\"id\":5,"
                + "\"result\":{\"tools\":[{\"name\":\"b.write\"}]\n\n", StandardCharsets.UTF_8)), out);
        i.onResponse(LastHttpContent.EMPTY_LAST_CONTENT, out);
        i.release();
        assertThat(out.failed).isNotNull();
        assertThat(out.body.toString()).doesNotContain("b.write");
        assertThat(out.last).isFalse();
        assertThat(metrics.inspectionCount(Direction.EGRESS, InspectionReason.UNFILTERABLE_RESPONSE))
                .isEqualTo(before + 1);
        // on another answer (a notification's stream) such an event is not a tools result and passes
        McpResponseInterceptor j = interceptor(false);
        Out other = new Out();
        j.onResponse(head("text/event-stream"), other);
        j.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer("data: not json\n\n", StandardCharsets.UTF_8)),
                other);
        j.release();
        assertThat(other.body.toString()).isEqualTo("data: not json\n\n");
    }

    @Test
    void anAnswerOverTheBoundIsRelayedUnlessItAnswersAToolsList() {
        int max = in.settings.maxBody();
        for (boolean toolsList : new boolean[] {false, true}) {
            McpResponseInterceptor i = interceptor(toolsList);
            Out out = new Out();
            i.onResponse(head("application/json"), out);
            i.onResponse(new DefaultHttpContent(Unpooled.copiedBuffer("x".repeat(max), StandardCharsets.UTF_8)), out);
            i.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer("y", StandardCharsets.UTF_8)), out);
            i.release();
            if (toolsList) {
                assertThat(out.heads.get(0).status().code()).isEqualTo(502);
            } else {
                assertThat(out.heads.get(0).status().code()).isEqualTo(200);
                assertThat(out.body.length()).isEqualTo(max + 1);
                assertThat(out.last).isTrue();
            }
        }
    }

    @Test
    void anotherContentTypeWhileAToolsListIsPendingIsNotRelayed() {
        McpResponseInterceptor i = interceptor(true);
        Out out = new Out();
        i.onResponse(head("text/plain"), out);
        i.onResponse(new DefaultLastHttpContent(Unpooled.copiedBuffer(RESULT, StandardCharsets.UTF_8)), out);
        i.release();
        assertThat(out.heads.get(0).status().code()).isEqualTo(502);
        assertThat(out.body.toString()).contains("unfilterable_response").doesNotContain("b.write");
    }
}
