package dev.tollgate.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RequestHardeningHandlerTest {
    private static final String POST = "POST /tools/call HTTP/1.1\r\nHost: tool\r\n";
    private static final String GET = "GET /x HTTP/1.1\r\nHost: tool\r\n";

    private final HardenedPipeline pipeline = new HardenedPipeline();

    @AfterEach
    void close() {
        pipeline.close();
    }

    private void assertRejected(String raw, RejectReason reason) {
        assertRejected(raw, reason, 400);
    }

    private void assertRejected(String raw, RejectReason reason, int status) {
        pipeline.write(raw);
        String response = pipeline.response();
        assertThat(response).startsWith("HTTP/1.1 " + status + " ")
                .contains("connection: close")
                .endsWith("\r\n\r\n{\"error\":\"bad_request\",\"reason\":\"" + reason.tag() + "\"}");
        assertThat(pipeline.rejections).containsExactly(reason);
        assertThat(pipeline.passed).isEmpty();
        assertThat(pipeline.channel.isOpen()).isFalse();
    }

    // --- framing: Content-Length and Transfer-Encoding ---

    @Test
    void rejectsContentLengthWithTransferEncoding() {
        assertRejected(POST + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                RejectReason.CONTENT_LENGTH_WITH_TRANSFER_ENCODING);
    }

    @Test
    void rejectsTransferEncodingWithContentLength() {
        assertRejected(POST + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
                RejectReason.CONTENT_LENGTH_WITH_TRANSFER_ENCODING);
    }

    @Test
    void rejectsDuplicateContentLengthEvenWithEqualValues() {
        assertRejected(POST + "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx",
                RejectReason.DUPLICATE_CONTENT_LENGTH);
    }

    @Test
    void rejectsContentLengthList() {
        assertRejected(POST + "Content-Length: 1,1\r\n\r\nx", RejectReason.DUPLICATE_CONTENT_LENGTH);
    }

    @Test
    void rejectsEmptyContentLength() {
        assertRejected(POST + "Content-Length: \r\n\r\n", RejectReason.INVALID_CONTENT_LENGTH);
    }

    @Test
    void rejectsNonNumericContentLength() {
        assertRejected(POST + "Content-Length: 1a\r\n\r\nx", RejectReason.INVALID_CONTENT_LENGTH);
    }

    @Test
    void rejectsSignedContentLength() {
        assertRejected(POST + "Content-Length: +1\r\n\r\nx", RejectReason.INVALID_CONTENT_LENGTH);
    }

    @Test
    void rejectsContentLengthWithLeadingZero() {
        assertRejected(POST + "Content-Length: 01\r\n\r\nx", RejectReason.INVALID_CONTENT_LENGTH);
    }

    @Test
    void rejectsContentLengthTooLargeForALong() {
        assertRejected(POST + "Content-Length: 99999999999999999999\r\n\r\nx", RejectReason.INVALID_CONTENT_LENGTH);
    }

    @Test
    void rejectsTransferEncodingChunkedThenIdentity() {
        assertRejected(POST + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
                RejectReason.UNSUPPORTED_TRANSFER_ENCODING);
    }

    @Test
    void rejectsTransferEncodingIdentityThenChunked() {
        assertRejected(POST + "Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
                RejectReason.UNSUPPORTED_TRANSFER_ENCODING);
    }

    @Test
    void rejectsTransferEncodingXchunked() {
        assertRejected(POST + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
                RejectReason.UNSUPPORTED_TRANSFER_ENCODING);
    }

    @Test
    void rejectsTransferEncodingWithOtherCaseAndTrailingSpace() {
        assertRejected(POST + "Transfer-Encoding: Chunked \r\n\r\n0\r\n\r\n",
                RejectReason.UNSUPPORTED_TRANSFER_ENCODING);
    }

    @Test
    void rejectsTransferEncodingWithTrailingTab() {
        assertRejected(POST + "Transfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n",
                RejectReason.UNSUPPORTED_TRANSFER_ENCODING);
    }

    @Test
    void rejectsTwoTransferEncodingHeaders() {
        assertRejected(POST + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                RejectReason.UNSUPPORTED_TRANSFER_ENCODING);
    }

    @Test
    void rejectsTransferEncodingOnHttp10() {
        assertRejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                RejectReason.UNSUPPORTED_TRANSFER_ENCODING);
    }

    // --- chunked bodies ---

    @Test
    void rejectsNonHexChunkSize() {
        assertRejected(POST + "Transfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n", RejectReason.INVALID_CHUNK_SIZE);
    }

    @Test
    void rejectsChunkSizeWithHexPrefix() {
        assertRejected(POST + "Transfer-Encoding: chunked\r\n\r\n0x1\r\nx\r\n0\r\n\r\n", RejectReason.INVALID_CHUNK_SIZE);
    }

    @Test
    void rejectsChunkSizeWithTrailingWhitespace() {
        assertRejected(POST + "Transfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n", RejectReason.INVALID_CHUNK_SIZE);
    }

    @Test
    void rejectsEmptyChunkSize() {
        assertRejected(POST + "Transfer-Encoding: chunked\r\n\r\n\r\nx\r\n0\r\n\r\n", RejectReason.INVALID_CHUNK_SIZE);
    }

    @Test
    void rejectsChunkSizeOverflowingAnInt() {
        assertRejected(POST + "Transfer-Encoding: chunked\r\n\r\n80000000\r\nx", RejectReason.INVALID_CHUNK_SIZE);
    }

    @Test
    void rejectsChunkExtension() {
        assertRejected(POST + "Transfer-Encoding: chunked\r\n\r\n1;a=b\r\nx\r\n0\r\n\r\n", RejectReason.CHUNK_EXTENSION);
    }

    @Test
    void rejectsChunkDataNotFollowedByCrlf() {
        assertRejected(POST + "Transfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n",
                RejectReason.INVALID_CHUNK_FRAMING);
    }

    @Test
    void rejectsBareLfAfterChunkSize() {
        assertRejected(POST + "Transfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n", RejectReason.BARE_LF);
    }

    @Test
    void rejectsTrailerFields() {
        assertRejected(POST + "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-Smuggled: 1\r\n\r\n",
                RejectReason.TRAILERS_NOT_ALLOWED);
    }

    @Test
    void rejectsBadChunkArrivingAfterTheHeadWasPassedOnWithoutEverCompletingTheRequest() {
        pipeline.write(POST + "Transfer-Encoding: chunked\r\n\r\n");
        pipeline.write("zz\r\nx\r\n0\r\n\r\n");
        assertThat(pipeline.response()).startsWith("HTTP/1.1 400 ").contains("invalid_chunk_size");
        assertThat(pipeline.passed).hasSize(1).allMatch(m -> m.startsWith("REQ POST /tools/call"));
        assertThat(pipeline.channel.isOpen()).isFalse();
    }

    // --- head syntax ---

    @Test
    void rejectsObsFold() {
        assertRejected(GET + "X-A: b\r\n c\r\n\r\n", RejectReason.OBS_FOLD);
    }

    @Test
    void rejectsWhitespaceBeforeFirstHeader() {
        assertRejected("GET /x HTTP/1.1\r\n Host: tool\r\n\r\n", RejectReason.OBS_FOLD);
    }

    @Test
    void rejectsSpaceBeforeColon() {
        assertRejected(GET + "X-A : b\r\n\r\n", RejectReason.WHITESPACE_BEFORE_COLON);
    }

    @Test
    void rejectsTabBeforeColon() {
        assertRejected(GET + "Content-Length\t: 0\r\n\r\n", RejectReason.WHITESPACE_BEFORE_COLON);
    }

    @Test
    void rejectsBareCrInHeaderLine() {
        assertRejected(GET + "X-A: b\rX-B: c\r\n\r\n", RejectReason.BARE_CR);
    }

    @Test
    void rejectsBareCrInRequestLine() {
        assertRejected("GET /x HTTP/1.1\rHost: tool\r\n\r\n", RejectReason.BARE_CR);
    }

    @Test
    void rejectsBareLfInHeaderLine() {
        assertRejected(GET + "X-A: b\nX-B: c\r\n\r\n", RejectReason.BARE_LF);
    }

    @Test
    void rejectsBareLfAfterRequestLine() {
        assertRejected("GET /x HTTP/1.1\nHost: tool\r\n\r\n", RejectReason.BARE_LF);
    }

    @Test
    void rejectsBareLfEndingTheHead() {
        assertRejected(GET + "\n", RejectReason.BARE_LF);
    }

    @Test
    void rejectsEmptyLinesBeforeRequestLine() {
        assertRejected("\r\n" + GET + "\r\n", RejectReason.LEADING_CONTROL_BYTES);
    }

    @Test
    void rejectsControlBytesBeforeRequestLine() {
        assertRejected("\u0001\u0002" + GET + "\r\n", RejectReason.LEADING_CONTROL_BYTES);
    }

    @Test
    void rejectsSpaceBeforeRequestLine() {
        assertRejected(" " + GET + "\r\n", RejectReason.LEADING_CONTROL_BYTES);
    }

    @Test
    void rejectsNulInHeaderValue() {
        assertRejected(GET + "X-A: b\u0000c\r\n\r\n", RejectReason.INVALID_HEADER);
    }

    @Test
    void rejectsNonAsciiInHeaderValue() {
        assertRejected(GET + "X-A: caf\u00e9\r\n\r\n", RejectReason.INVALID_HEADER);
    }

    @Test
    void rejectsHeaderWithoutColon() {
        assertRejected(GET + "X-A\r\n\r\n", RejectReason.INVALID_HEADER);
    }

    @Test
    void rejectsNonTokenHeaderName() {
        assertRejected(GET + "X(A): b\r\n\r\n", RejectReason.INVALID_HEADER);
    }

    @Test
    void rejectsTwoSpacesInRequestLine() {
        assertRejected("GET  /x HTTP/1.1\r\nHost: tool\r\n\r\n", RejectReason.INVALID_REQUEST_LINE);
    }

    @Test
    void rejectsTabInRequestLine() {
        assertRejected("GET\t/x HTTP/1.1\r\nHost: tool\r\n\r\n", RejectReason.INVALID_REQUEST_LINE);
    }

    @Test
    void rejectsUnknownHttpVersion() {
        assertRejected("GET /x HTTP/1.2\r\nHost: tool\r\n\r\n", RejectReason.INVALID_REQUEST_LINE);
    }

    @Test
    void rejectsControlByteInRequestTarget() {
        assertRejected("GET /x\u0001 HTTP/1.1\r\nHost: tool\r\n\r\n", RejectReason.INVALID_REQUEST_LINE);
    }

    @Test
    void rejectsNonAsciiInRequestTarget() {
        assertRejected("GET /caf\u00e9 HTTP/1.1\r\nHost: tool\r\n\r\n", RejectReason.INVALID_REQUEST_LINE);
    }

    @Test
    void rejectsHttp11RequestWithoutHost() {
        assertRejected("GET /x HTTP/1.1\r\n\r\n", RejectReason.MISSING_HOST);
    }

    @Test
    void rejectsTwoHostHeaders() {
        assertRejected(GET + "Host: other\r\n\r\n", RejectReason.DUPLICATE_HOST);
    }

    // --- limits ---

    @Test
    void rejectsMoreHeadersThanTheLimitWith431() {
        StringBuilder raw = new StringBuilder(GET);
        for (int i = 0; i < 100; i++) {
            raw.append("X-H").append(i).append(": v\r\n");
        }
        assertRejected(raw.append("\r\n").toString(), RejectReason.TOO_MANY_HEADERS, 431);
    }

    @Test
    void rejectsHeadersLargerThanTheLimitWith431() {
        assertRejected(GET + "X-Big: " + "a".repeat(16 * 1024) + "\r\n\r\n", RejectReason.HEADERS_TOO_LARGE, 431);
    }

    @Test
    void rejectsRequestLineLongerThanTheLimitWith414() {
        assertRejected("GET /" + "a".repeat(8 * 1024) + " HTTP/1.1\r\nHost: tool\r\n\r\n",
                RejectReason.REQUEST_LINE_TOO_LONG, 414);
    }

    // --- request target ---

    @Test
    void rejectsEncodedSlashInTarget() {
        assertRejected("GET /a%2Fb HTTP/1.1\r\nHost: tool\r\n\r\n", RejectReason.ENCODED_SLASH);
    }

    @Test
    void rejectsEncodedDotDotInTarget() {
        assertRejected("GET /a/%2E%2E/admin HTTP/1.1\r\nHost: tool\r\n\r\n", RejectReason.DOT_SEGMENT);
    }

    @Test
    void rejectsAbsoluteFormTarget() {
        assertRejected("GET http://tool/x HTTP/1.1\r\nHost: tool\r\n\r\n", RejectReason.ABSOLUTE_FORM_NOT_ALLOWED);
    }

    @Test
    void rejectsConnect() {
        assertRejected("CONNECT tool:443 HTTP/1.1\r\nHost: tool:443\r\n\r\n",
                RejectReason.AUTHORITY_FORM_NOT_ALLOWED);
    }

    // --- what passes ---

    @Test
    void passesAGoodRequestUnchanged() {
        pipeline.write(POST + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
        assertThat(pipeline.passed).containsExactly(
                "REQ POST /tools/call HTTP/1.1 [Host=tool, Content-Type=application/json, Content-Length=2]",
                "LAST {}");
        assertThat(pipeline.response()).isEmpty();
        assertThat(pipeline.rejections).isEmpty();
        assertThat(pipeline.channel.isOpen()).isTrue();
    }

    @Test
    void passesAChunkedRequest() {
        pipeline.write(POST + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
        assertThat(pipeline.passed).containsExactly(
                "REQ POST /tools/call HTTP/1.1 [Host=tool, Transfer-Encoding=chunked]", "CONTENT {}", "LAST ");
        assertThat(pipeline.channel.isOpen()).isTrue();
    }

    @Test
    void passesTwoPipelinedRequestsOnAKeepAliveConnection() {
        pipeline.write(POST + "Content-Length: 3\r\n\r\nabc" + GET + "\r\n");
        assertThat(pipeline.passed).containsExactly(
                "REQ POST /tools/call HTTP/1.1 [Host=tool, Content-Length=3]", "LAST abc",
                "REQ GET /x HTTP/1.1 [Host=tool]", "LAST ");
        assertThat(pipeline.rejections).isEmpty();
        assertThat(pipeline.channel.isOpen()).isTrue();
    }

    @Test
    void passesPipelinedRequestsArrivingOneByteAtATime() {
        String raw = POST + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                + POST + "Content-Length: 2\r\n\r\n{}" + GET + "\r\n";
        for (int i = 0; i < raw.length(); i++) {
            pipeline.write(raw.substring(i, i + 1));
        }
        assertThat(pipeline.passed).containsExactly(
                "REQ POST /tools/call HTTP/1.1 [Host=tool, Transfer-Encoding=chunked]",
                "CONTENT a", "CONTENT b", "CONTENT c", "LAST ",
                "REQ POST /tools/call HTTP/1.1 [Host=tool, Content-Length=2]", "CONTENT {", "LAST }",
                "REQ GET /x HTTP/1.1 [Host=tool]", "LAST ");
        assertThat(pipeline.rejections).isEmpty();
    }

    @Test
    void passesTheNormalisedTargetOn() {
        pipeline.write("GET /%7euser/a%3a?q=%2F HTTP/1.1\r\nHost: tool\r\n\r\n");
        assertThat(pipeline.passed).containsExactly("REQ GET /~user/a%3A?q=%2F HTTP/1.1 [Host=tool]", "LAST ");
    }

    @Test
    void answersAPipelinedRefusedRequestOnlyAfterTheEarlierResponse() {
        pipeline.write(GET + "\r\n" + GET + "X-A : b\r\n\r\n");
        assertThat(pipeline.passed).containsExactly("REQ GET /x HTTP/1.1 [Host=tool]", "LAST ");
        assertThat(pipeline.response()).isEmpty();
        assertThat(pipeline.rejections).containsExactly(RejectReason.WHITESPACE_BEFORE_COLON);
        assertThat(pipeline.channel.isOpen()).isTrue();

        DefaultFullHttpResponse ok = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        ok.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        pipeline.channel.writeOutbound(ok);
        assertThat(pipeline.response()).startsWith("HTTP/1.1 200 OK").contains("HTTP/1.1 400 Bad Request")
                .endsWith("whitespace_before_colon\"}");
        assertThat(pipeline.channel.isOpen()).isFalse();
        assertThat(pipeline.passed).hasSize(2);
    }

    @Test
    void closesWithoutAnswerWhenARequestBodyFailsWhileAnEarlierResponseIsPending() {
        pipeline.write(GET + "\r\n" + POST + "Transfer-Encoding: chunked\r\n\r\n");
        pipeline.write("zz\r\n");
        assertThat(pipeline.rejections).containsExactly(RejectReason.INVALID_CHUNK_SIZE);
        assertThat(pipeline.response()).isEmpty();
        assertThat(pipeline.channel.isOpen()).isFalse();
    }

    @Test
    void answersARefusedRequestOnceTheEarlierResponseWasWritten() {
        pipeline.write(GET + "\r\n");
        DefaultFullHttpResponse ok = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        ok.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        pipeline.channel.writeOutbound(ok);
        pipeline.write(GET + "X-A : b\r\n\r\n");
        assertThat(pipeline.response()).startsWith("HTTP/1.1 200 OK").contains("HTTP/1.1 400 Bad Request")
                .endsWith("whitespace_before_colon\"}");
        assertThat(pipeline.channel.isOpen()).isFalse();
    }

    // --- requests the decoder already failed (no framing guard in front) ---

    @Test
    void rejectsARequestWhoseDecoderResultFailed() {
        List<RejectReason> rejections = new ArrayList<>();
        List<Object> passed = new ArrayList<>();
        EmbeddedChannel ch = new EmbeddedChannel(new HttpServerCodec(HttpDecoding.decoderConfig(HttpLimits.defaults())),
                new RequestHardeningHandler(HttpLimits.defaults(), rejections::add),
                new io.netty.channel.ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                        passed.add(HardenedPipeline.describe(msg));
                        ReferenceCountUtil.release(msg);
                    }
                });
        try {
            ch.writeInbound(HardenedPipeline.bytes(POST + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "0\r\n\r\n"));
            io.netty.buffer.ByteBuf out = ch.readOutbound();
            try {
                assertThat(out.toString(java.nio.charset.StandardCharsets.US_ASCII))
                        .startsWith("HTTP/1.1 400 ").endsWith("content_length_with_transfer_encoding\"}");
            } finally {
                out.release();
            }
            assertThat(rejections).containsExactly(RejectReason.CONTENT_LENGTH_WITH_TRANSFER_ENCODING);
            assertThat(passed).isEmpty();
            assertThat(ch.isOpen()).isFalse();
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void mapsDecoderFailuresToReasons() {
        assertThat(RequestHardeningHandler.reasonOf(
                new io.netty.handler.codec.http.TooLongHttpHeaderException("x")))
                .isEqualTo(RejectReason.HEADERS_TOO_LARGE);
        assertThat(RequestHardeningHandler.reasonOf(new io.netty.handler.codec.http.TooLongHttpLineException("x")))
                .isEqualTo(RejectReason.REQUEST_LINE_TOO_LONG);
        assertThat(RequestHardeningHandler.reasonOf(new IllegalArgumentException("x")))
                .isEqualTo(RejectReason.MALFORMED_REQUEST);
    }
}
