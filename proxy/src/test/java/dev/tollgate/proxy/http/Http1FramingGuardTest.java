package dev.tollgate.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;

import org.junit.jupiter.api.Test;

/**
 * {@link Http1FramingGuard} on its own: the reason it refuses with and the bytes it passes on
 * do not depend on how the input is cut into reads. The guard copies and checks each request-line and header
 * line up to its CR in one pass and steps through everything else byte by byte; every case is fed whole, cut in two
 * at every position, and one byte per read, and each must refuse with the expected reason (or accept).
 */
class Http1FramingGuardTest {
    /** Small limits, so that the cases reach them: a 24-byte request line, 40 bytes of header lines. */
    private static final HttpLimits SMALL = HttpLimits.defaults().toBuilder().maxInitialLineLength(24)
            .maxHeaderSize(40).maxHeaderCount(4).build();

    /**
     * What the guard did with one input: the bytes it passed on and the reasons it refused with. Which bytes of a
     * refused request were already passed on depends on the reads (a head passed on before its body turned out bad),
     * so only the reasons must not depend on them; an accepted input is passed on whole however it is cut.
     */
    private record Outcome(String passed, List<RejectReason> rejected) {
    }

    /** Everything the guard fired and passed on, in order: the reference and the guard must agree on all of it. */
    private record Trace(String passed, List<Object> events) {
    }

    private static Outcome feed(HttpLimits limits, List<byte[]> reads) {
        Trace t = trace(new Http1FramingGuard(limits), reads);
        List<RejectReason> rejected = t.events().stream().filter(e -> e instanceof RequestRejectedEvent)
                .map(e -> ((RequestRejectedEvent) e).reason()).toList();
        return new Outcome(t.passed(), rejected);
    }

    private static Trace trace(Http1FramingGuard guard, List<byte[]> reads) {
        ByteArrayOutputStream passed = new ByteArrayOutputStream();
        List<Object> events = new ArrayList<>();
        EmbeddedChannel ch = new EmbeddedChannel(guard, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf b = (ByteBuf) msg;
                try {
                    byte[] bytes = new byte[b.readableBytes()];
                    b.getBytes(b.readerIndex(), bytes);
                    passed.writeBytes(bytes);
                } finally {
                    b.release();
                }
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                events.add(evt);
            }
        });
        try {
            for (byte[] r : reads) {
                // Each read in a buffer with bytes before and after the readable part, as a pooled buffer may be.
                ByteBuf buf = Unpooled.buffer(r.length + 16);
                buf.writeBytes(new byte[] {'X', '\r', '\n', 'Y'}).writeBytes(r).writeBytes(new byte[] {'\r', 'Z'});
                ch.writeInbound(buf.slice(4, r.length).retain());
                buf.release();
            }
        } finally {
            ch.finishAndReleaseAll();
        }
        return new Trace(passed.toString(StandardCharsets.ISO_8859_1), events);
    }

    /**
     * Feeds {@code raw} whole, cut in two at every position, and one byte per read: the same reasons each time, and
     * only a prefix of the input passed on. Returns the whole outcome.
     */
    private static Outcome assertSameHoweverCut(HttpLimits limits, String raw) {
        byte[] all = raw.getBytes(StandardCharsets.ISO_8859_1);
        Outcome whole = feed(limits, List.of(all));
        List<List<byte[]>> cuts = new ArrayList<>();
        for (int cut = 1; cut < all.length; cut++) {
            cuts.add(List.of(Arrays.copyOfRange(all, 0, cut), Arrays.copyOfRange(all, cut, all.length)));
        }
        List<byte[]> single = new ArrayList<>();
        for (byte x : all) {
            single.add(new byte[] {x});
        }
        cuts.add(single);
        for (List<byte[]> reads : cuts) {
            Outcome o = feed(limits, reads);
            String as = reads.size() + " reads, the first " + reads.get(0).length + " bytes, of " + printable(raw);
            assertThat(o.rejected()).as(as).isEqualTo(whole.rejected());
            assertThat(raw).as(as).startsWith(o.passed());
            assertThat(o.passed()).as(as).startsWith(whole.passed());
            if (whole.rejected().isEmpty()) {
                assertThat(o.passed()).as(as).isEqualTo(raw);
            }
        }
        return whole;
    }

    private static String printable(String raw) {
        return raw.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t").replace("\u0001", "\\x01")
                .replace("\u007f", "\\x7f");
    }

    private static void assertRejected(HttpLimits limits, String raw, RejectReason reason, String passedBefore) {
        Outcome o = assertSameHoweverCut(limits, raw);
        assertThat(o.rejected()).as(printable(raw)).containsExactly(reason);
        assertThat(o.passed()).as(printable(raw)).isEqualTo(passedBefore);
    }

    private static void assertAccepted(HttpLimits limits, String raw) {
        Outcome o = assertSameHoweverCut(limits, raw);
        assertThat(o.rejected()).as(printable(raw)).isEmpty();
        assertThat(o.passed()).isEqualTo(raw);
    }

    @Test
    void passesPipelinedRequestsOnUnchangedHoweverTheyAreCut() {
        String get = "GET /a HTTP/1.1\r\nHost: t\r\nX-A: 1\t2\r\n\r\n";
        String post = "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
        String chunked = "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assertAccepted(HttpLimits.defaults(), get + post + chunked);
    }

    @Test
    void refusesBadBytesInLinesWithTheReasonOfTheFirst() {
        HttpLimits d = HttpLimits.defaults();
        String ok = "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n";
        assertRejected(d, ok + "GET /a\u0001b HTTP/1.1\r\nHost: t\r\n\r\n", RejectReason.INVALID_REQUEST_LINE, ok);
        assertRejected(d, ok + "GET /a\u007fb HTTP/1.1\r\nHost: t\r\n\r\n", RejectReason.INVALID_REQUEST_LINE, ok);
        assertRejected(d, ok + "GET /a\u00e9 HTTP/1.1\r\nHost: t\r\n\r\n", RejectReason.INVALID_REQUEST_LINE, ok);
        assertRejected(d, ok + "GET /a\nb HTTP/1.1\r\nHost: t\r\n\r\n", RejectReason.BARE_LF, ok);
        assertRejected(d, ok + "GET /a\rb HTTP/1.1\r\nHost: t\r\n\r\n", RejectReason.BARE_CR, ok);
        assertRejected(d, ok + "GET /a HTTP/1.1\r\nHost: t\r\nX: a\u0001\nb\r\n\r\n", RejectReason.INVALID_HEADER, ok);
        assertRejected(d, ok + "GET /a HTTP/1.1\r\nHost: t\r\nX: a\nb\u0001\r\n\r\n", RejectReason.BARE_LF, ok);
        assertRejected(d, ok + "GET /a HTTP/1.1\r\nHost: t\r\nX: a\u007f\r\n\r\n", RejectReason.INVALID_HEADER, ok);
        assertRejected(d, ok + "GET /a HTTP/1.1\r\nHost: t\r\nX: a\u00e9\r\n\r\n", RejectReason.INVALID_HEADER, ok);
        assertRejected(d, ok + "GET /a HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n", RejectReason.BARE_CR, ok);
        assertRejected(d, ok + "GET /a HTTP/1.1\r\nHost : t\r\n\r\n", RejectReason.WHITESPACE_BEFORE_COLON, ok);
        assertRejected(d, ok + "GET /a HTTP/1.1\r\nHost: t\r\n x\r\n\r\n", RejectReason.OBS_FOLD, ok);
    }

    @Test
    void aRequestLineReachesItsLimitExactly() {
        // "GET /" + 10 bytes + " HTTP/1.1" is exactly 24 bytes, the limit.
        String atLimit = "GET /" + "a".repeat(10) + " HTTP/1.1";
        assertThat(atLimit).hasSize(24);
        assertAccepted(SMALL, atLimit + "\r\nHost: t\r\n\r\n");
        String longer = "GET /" + "a".repeat(11) + " HTTP/1.1";
        assertRejected(SMALL, longer + "\r\nHost: t\r\n\r\n", RejectReason.REQUEST_LINE_TOO_LONG, "");
        // The byte past the limit is checked for what it is before the limit is: a control byte there is invalid.
        assertRejected(SMALL, atLimit + "\u0001\r\nHost: t\r\n\r\n", RejectReason.INVALID_REQUEST_LINE, "");
        assertRejected(SMALL, atLimit + "\nHost: t\r\n\r\n", RejectReason.BARE_LF, "");
    }

    @Test
    void headerLinesReachTheirLimitExactly() {
        // "Host: t" (7) + a 33-byte line: 40 bytes of header lines, the limit.
        String line33 = "X-Pad: " + "p".repeat(26);
        assertThat(line33).hasSize(33);
        assertAccepted(SMALL, "GET / HTTP/1.1\r\nHost: t\r\n" + line33 + "\r\n\r\n");
        assertRejected(SMALL, "GET / HTTP/1.1\r\nHost: t\r\n" + line33 + "p\r\n\r\n", RejectReason.HEADERS_TOO_LARGE,
                "");
        assertRejected(SMALL, "GET / HTTP/1.1\r\nHost: t\r\n" + line33 + "\u0001\r\n\r\n",
                RejectReason.INVALID_HEADER, "");
        assertRejected(SMALL, "GET / HTTP/1.1\r\nHost: t\r\n" + line33 + "\r\nY: 1\r\n\r\n",
                RejectReason.HEADERS_TOO_LARGE, "");
        // A single line longer than the line buffer's first size grows it, however it arrives.
        HttpLimits roomy = HttpLimits.defaults().toBuilder().maxHeaderSize(4096).build();
        assertAccepted(roomy, "GET / HTTP/1.1\r\nHost: t\r\nX-Long: " + "v".repeat(1500) + "\r\n\r\n");
    }

    @Test
    void checksTheHeadersItReadsInBulk() {
        HttpLimits d = HttpLimits.defaults();
        assertRejected(d, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", RejectReason.DUPLICATE_HOST, "");
        assertRejected(d, "GET / HTTP/1.1\r\n\r\n", RejectReason.MISSING_HOST, "");
        assertRejected(d, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
                RejectReason.DUPLICATE_CONTENT_LENGTH, "");
        assertRejected(d, "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked \r\n\r\n",
                RejectReason.UNSUPPORTED_TRANSFER_ENCODING, "");
        assertRejected(d, "GET  / HTTP/1.1\r\nHost: t\r\n\r\n", RejectReason.INVALID_REQUEST_LINE, "");
        assertRejected(d, "GET / HTTP/1.2\r\nHost: t\r\n\r\n", RejectReason.INVALID_REQUEST_LINE, "");
        assertAccepted(d, "GET / HTTP/1.0\r\n\r\n");
    }

    /**
     * Random requests — valid ones and ones with a bad byte, a wrong line end, a line at or past a limit, a body,
     * chunks — cut into random reads, fed to the guard and to the same guard stepping through every byte: what each
     * passes on and every event each fires must be the same.
     */
    @Test
    void agreesWithStepByStepOnRandomInput() {
        long seed = new java.util.Random().nextLong();
        java.util.Random random = new java.util.Random(seed);
        int rejected = 0;
        int cases = 4000;
        for (int n = 0; n < cases; n++) {
            HttpLimits limits = random.nextBoolean() ? SMALL : HttpLimits.defaults();
            String raw = randomInput(random);
            byte[] all = raw.getBytes(StandardCharsets.ISO_8859_1);
            List<byte[]> reads = new ArrayList<>();
            int at = 0;
            while (at < all.length) {
                int len = 1 + random.nextInt(random.nextBoolean() ? 8 : all.length);
                reads.add(Arrays.copyOfRange(all, at, Math.min(all.length, at + len)));
                at += len;
            }
            Trace reference = trace(new Http1FramingGuard(limits, false), reads);
            Trace runs = trace(new Http1FramingGuard(limits, true), reads);
            assertThat(runs).as("seed %d, case %d: %s in %d reads", seed, n, printable(raw), reads.size())
                    .isEqualTo(reference);
            if (reference.events().stream().anyMatch(e -> e instanceof RequestRejectedEvent)) {
                rejected++;
            }
        }
        // Both kinds must be common, or the comparison says little.
        assertThat(rejected).as("refused of %d", cases).isBetween(cases / 10, cases * 9 / 10);
    }

    private static final String[] LINE_ENDS = {"\r\n", "\r\n", "\r\n", "\r\n", "\r\n", "\r\n", "\n", "\r", "\r\r\n"};
    private static final String[] NAMES = {"Host", "X-A", "Accept", "Content-Length", "Transfer-Encoding",
        "Bad Name", "", " Folded", "X\u00e9"};
    private static final String VALUE_BYTES = "abcXYZ019 /:;,.-\t\u0001\u007f\u00e9\r\n";

    /** One to three requests; about half of the inputs are clean (each line valid, perhaps too long), half noisy. */
    private static String randomInput(java.util.Random r) {
        boolean noisy = r.nextBoolean();
        StringBuilder sb = new StringBuilder();
        int requests = 1 + r.nextInt(3);
        for (int q = 0; q < requests; q++) {
            sb.append(noisy ? pick(r, "GET", "POST", "G T", "GE\u0001T") : pick(r, "GET", "POST")).append(" /")
                    .append(randomText(r, r.nextInt(4) == 0 ? 14 + r.nextInt(6) : r.nextInt(8),
                            noisy ? "abc/%?=\u0001\u00e9 \t" : "abc/%?="))
                    .append(' ').append(noisy ? pick(r, "HTTP/1.1", "HTTP/1.0", "HTTP/1.2") : "HTTP/1.1")
                    .append(lineEnd(r, noisy)).append("Host: t").append(lineEnd(r, noisy));
            int headers = r.nextInt(4);
            String body = "";
            for (int h = 0; h < headers; h++) {
                String name = noisy ? NAMES[r.nextInt(NAMES.length)] : pick(r, "X-A", "Accept", "Content-Length",
                        "Transfer-Encoding");
                String value;
                if (name.equals("Content-Length")) {
                    body = randomText(r, r.nextInt(6), "abc\r\n");
                    value = noisy && r.nextInt(5) == 0 ? randomText(r, 2, "0a1 ,") : Integer.toString(body.length());
                } else if (name.equals("Transfer-Encoding")) {
                    value = noisy ? pick(r, "chunked", "chunked ", "gzip") : "chunked";
                    body = noisy ? pick(r, "3\r\nabc\r\n0\r\n\r\n", "3;x\r\nabc\r\n0\r\n\r\n", "g\r\n",
                            "3\r\nabcd\r\n0\r\n\r\n", "0\r\nX: y\r\n\r\n") : "3\r\nabc\r\n0\r\n\r\n";
                } else {
                    value = randomText(r, r.nextInt(4) == 0 ? 20 + r.nextInt(20) : r.nextInt(10),
                            noisy ? VALUE_BYTES : " \t/:;,.-");
                }
                sb.append(name).append(noisy && r.nextInt(12) == 0 ? " : " : ": ").append(value)
                        .append(lineEnd(r, noisy));
            }
            sb.append(lineEnd(r, noisy)).append(body);
        }
        return sb.toString();
    }

    private static String lineEnd(java.util.Random r, boolean noisy) {
        return noisy ? LINE_ENDS[r.nextInt(LINE_ENDS.length)] : "\r\n";
    }

    private static String pick(java.util.Random r, String... options) {
        return options[r.nextInt(options.length)];
    }

    /** {@code length} characters, each a letter with probability 3/4, else one of {@code odd}. */
    private static String randomText(java.util.Random r, int length, String odd) {
        StringBuilder sb = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            sb.append(r.nextInt(4) > 0 ? (char) ('a' + r.nextInt(26)) : odd.charAt(r.nextInt(odd.length())));
        }
        return sb.toString();
    }
}
