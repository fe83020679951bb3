package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import io.netty.handler.codec.http.HttpHeaderNames;

import dev.tollgate.proxy.config.ConfigException;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.http.RejectReason;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/**
 * Every smuggling, limit and path case, as raw bytes through real running sidecars: ingress over mTLS (an
 * SSLSocket presenting the caller's SVID) and egress over plain TCP to an mTLS upstream that is itself a sidecar in
 * front of a recording application. Each case must be answered with its status and JSON reason, the connection
 * closed, counted with its reason tag on {@code /metrics}, and nothing may reach the application or, on egress, even
 * open a connection to the upstream.
 */
class RequestHardeningSidecarTest {
    private static final String CALLER = Mesh.id("agent/caller");
    private static final String TOOL = Mesh.id("tool/billing");
    private static final String UPSTREAM_HOST = "billing.internal";
    private static final String[] LIMITS = {"max-initial-line: 512", "max-header-size: 2KiB", "max-header-count: 20"};

    @TempDir
    static Path dir;
    static Mesh mesh;
    static TestApp toolApp;
    static Sidecar tool;
    static Sidecar agent;
    static SSLContext callerTls;
    static final List<String> INGRESS_GATE_SAW = new CopyOnWriteArrayList<>();
    static final List<String> EGRESS_GATE_SAW = new CopyOnWriteArrayList<>();

    enum Via { INGRESS, EGRESS }

    /** One bad request: its bytes after the request line's method and target, the status and reason expected. */
    record Case(String name, String raw, int status, RejectReason reason) {
        @Override
        public String toString() {
            return name;
        }
    }

    @BeforeAll
    static void start() throws Exception {
        mesh = new Mesh(dir);
        toolApp = mesh.track(new TestApp());
        SidecarYaml toolYaml = new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(toolApp.address()).allow(CALLER);
        SidecarYaml agentYaml = new SidecarYaml().tls(mesh.svidFiles("agent", "agent/caller"), mesh.bundle())
                .ingress(false).egress(true);
        for (String l : LIMITS) {
            toolYaml.limit(l);
            agentYaml.limit(l);
        }
        tool = mesh.start(Sidecar.builder(load(toolYaml, "tool.yaml")).ingressGate(recording(INGRESS_GATE_SAW)));
        agentYaml.spiffeUpstream("billing", "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort(), TOOL,
                UPSTREAM_HOST);
        agent = mesh.start(Sidecar.builder(load(agentYaml, "agent.yaml")).egressGate(recording(EGRESS_GATE_SAW)));
        callerTls = mesh.clientContext(mesh.pki.svid("agent/caller"));
    }

    private static SidecarConfig load(SidecarYaml yaml, String name) throws ConfigException {
        Path file = dir.resolve(name);
        Mesh.write(file, yaml.toString());
        return ConfigLoader.load(file);
    }

    /** A gate that allows everything and records the Host and target it was asked about. */
    private static RequestGate recording(List<String> saw) {
        return r -> {
            saw.add(r.header(HttpHeaderNames.HOST) + " " + r.uri());
            return GateDecision.allow();
        };
    }

    @BeforeEach
    void clearGates() {
        INGRESS_GATE_SAW.clear();
        EGRESS_GATE_SAW.clear();
    }

    @AfterAll
    static void stop() throws Exception {
        mesh.close();
    }

    static List<Case> cases() {
        String h = "Host: " + UPSTREAM_HOST + "\r\n";
        String get = "GET /echo HTTP/1.1\r\n" + h;
        String post = "POST /echo HTTP/1.1\r\n" + h;
        StringBuilder manyHeaders = new StringBuilder();
        for (int i = 0; i < 25; i++) {
            manyHeaders.append("x-h").append(i).append(": v\r\n");
        }
        List<Case> c = new ArrayList<>();
        c.add(new Case("content-length with transfer-encoding",
                post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                400, RejectReason.CONTENT_LENGTH_WITH_TRANSFER_ENCODING));
        c.add(new Case("duplicate content-length", post + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
                400, RejectReason.DUPLICATE_CONTENT_LENGTH));
        c.add(new Case("content-length list", post + "Content-Length: 3, 3\r\n\r\nabc",
                400, RejectReason.DUPLICATE_CONTENT_LENGTH));
        c.add(new Case("empty content-length", post + "Content-Length: \r\n\r\n",
                400, RejectReason.INVALID_CONTENT_LENGTH));
        c.add(new Case("transfer-encoding gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                400, RejectReason.UNSUPPORTED_TRANSFER_ENCODING));
        c.add(new Case("transfer-encoding xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
                400, RejectReason.UNSUPPORTED_TRANSFER_ENCODING));
        c.add(new Case("transfer-encoding Chunked", post + "Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
                400, RejectReason.UNSUPPORTED_TRANSFER_ENCODING));
        c.add(new Case("non-hex chunk size", post + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
                400, RejectReason.INVALID_CHUNK_SIZE));
        c.add(new Case("overflowing chunk size",
                post + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\nhello\r\n0\r\n\r\n",
                400, RejectReason.INVALID_CHUNK_SIZE));
        c.add(new Case("chunk extension", post + "Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n",
                400, RejectReason.CHUNK_EXTENSION));
        c.add(new Case("obs-fold", get + "X-Tollgate-Peer-Id: a\r\n spiffe://example.org/agent/admin\r\n\r\n",
                400, RejectReason.OBS_FOLD));
        c.add(new Case("whitespace before colon", get + "X-A : b\r\n\r\n", 400, RejectReason.WHITESPACE_BEFORE_COLON));
        c.add(new Case("bare CR in a header", get + "X-A: a\rb\r\n\r\n", 400, RejectReason.BARE_CR));
        c.add(new Case("bare LF after the request line", "GET /echo HTTP/1.1\n" + h + "\r\n",
                400, RejectReason.BARE_LF));
        c.add(new Case("bare LF after a header", get + "X-A: b\n\r\n", 400, RejectReason.BARE_LF));
        c.add(new Case("leading empty line", "\r\n" + get + "\r\n", 400, RejectReason.LEADING_CONTROL_BYTES));
        c.add(new Case("leading control byte", "\u0001" + get + "\r\n", 400, RejectReason.LEADING_CONTROL_BYTES));
        c.add(new Case("oversized request line", "GET /" + "a".repeat(600) + " HTTP/1.1\r\n" + h + "\r\n",
                414, RejectReason.REQUEST_LINE_TOO_LONG));
        c.add(new Case("oversized headers", get + "x-big: " + "b".repeat(3000) + "\r\n\r\n",
                431, RejectReason.HEADERS_TOO_LARGE));
        c.add(new Case("too many headers", get + manyHeaders + "\r\n", 431, RejectReason.TOO_MANY_HEADERS));
        c.add(new Case("encoded slash %2F", "GET /echo/a%2Fb HTTP/1.1\r\n" + h + "\r\n",
                400, RejectReason.ENCODED_SLASH));
        c.add(new Case("encoded backslash %5C", "GET /echo/a%5cb HTTP/1.1\r\n" + h + "\r\n",
                400, RejectReason.ENCODED_BACKSLASH));
        c.add(new Case("encoded NUL %00", "GET /echo/a%00b HTTP/1.1\r\n" + h + "\r\n",
                400, RejectReason.ENCODED_CONTROL));
        c.add(new Case("dot-dot segment", "GET /echo/../admin HTTP/1.1\r\n" + h + "\r\n",
                400, RejectReason.DOT_SEGMENT));
        c.add(new Case("encoded dot-dot %2E%2E", "GET /echo/%2E%2E/admin HTTP/1.1\r\n" + h + "\r\n",
                400, RejectReason.DOT_SEGMENT));
        return c;
    }

    static Stream<Arguments> casesOverBothListeners() {
        return cases().stream().flatMap(c -> Stream.of(Arguments.of(c, Via.INGRESS), Arguments.of(c, Via.EGRESS)));
    }

    @ParameterizedTest(name = "{0} over {1}")
    @MethodSource("casesOverBothListeners")
    void refusesAnswersClosesAndCountsWithoutForwarding(Case c, Via via) throws Exception {
        Sidecar s = via == Via.INGRESS ? tool : agent;
        double rejectedBefore = scrapeRejected(s, c.reason());
        int appBefore = toolApp.requests();
        double upstreamConnectionsBefore = upstreamConnections();

        String response = via == Via.INGRESS ? overMtls(c.raw()) : overPlain(c.raw());

        assertThat(response).startsWith("HTTP/1.1 " + c.status() + " ")
                .contains("connection: close")
                .endsWith("{\"error\":\"bad_request\",\"reason\":\"" + c.reason().tag() + "\"}");
        assertThat(scrapeRejected(s, c.reason())).isEqualTo(rejectedBefore + 1);
        assertThat(toolApp.requests()).isEqualTo(appBefore);
        if (via == Via.EGRESS) {
            assertThat(upstreamConnections()).isEqualTo(upstreamConnectionsBefore);
        }
    }

    @Test
    void forwardsAWellFormedRequestOverBothListeners() throws Exception {
        int appBefore = toolApp.requests();
        String viaIngress = overMtls("GET /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        String viaEgress = overPlain("GET /echo HTTP/1.1\r\nHost: " + UPSTREAM_HOST + "\r\nConnection: close\r\n\r\n");

        assertThat(viaIngress).startsWith("HTTP/1.1 200 ").contains("peer=" + CALLER + "\n");
        assertThat(viaEgress).startsWith("HTTP/1.1 200 ").contains("peer=" + CALLER + "\n");
        assertThat(toolApp.requests()).isEqualTo(appBefore + 2);
    }

    @Test
    void refusesAnAmbiguousPathOnAnHttp2StreamAndCountsIt() throws Exception {
        HttpClient client = Http.client(callerTls, HttpClient.Version.HTTP_2);
        double before = scrapeRejected(tool, RejectReason.ENCODED_SLASH);
        int appBefore = toolApp.requests();
        double connectionsBefore = upstreamConnections();

        HttpResponse<String> r = Http.get(client, Http.https(tool.ingressAddress().orElseThrow(), "/echo/a%2Fb"));

        assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).isEqualTo("{\"error\":\"bad_request\",\"reason\":\"encoded_slash\"}");
        assertThat(scrapeRejected(tool, RejectReason.ENCODED_SLASH)).isEqualTo(before + 1);
        assertThat(toolApp.requests()).isEqualTo(appBefore);
        // The stream was refused, not the connection: the next request on it goes through.
        assertThat(Http.get(client, Http.https(tool.ingressAddress().orElseThrow(), "/echo")).statusCode())
                .isEqualTo(200);
        assertThat(upstreamConnections()).isEqualTo(connectionsBefore + 1);
    }

    @Test
    void ingressGateAndApplicationSeeTheSameNormalisedTarget() throws Exception {
        String response = overMtls("GET /echo/%7euser/a%3a?q=%2F HTTP/1.1\r\nHost: tool\r\nConnection: close\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 200 ").contains("\npath=/echo/~user/a%3A?q=%2F\n");
        assertThat(INGRESS_GATE_SAW).containsExactly("tool /echo/~user/a%3A?q=%2F");
    }

    @Test
    void egressGateUpstreamGateAndApplicationSeeTheSameNormalisedTargetOfAnAbsoluteFormRequest() throws Exception {
        String response = overPlain("GET http://" + UPSTREAM_HOST + "/echo/%7Ex?y=%2f HTTP/1.1\r\nHost: other\r\n"
                + "Connection: close\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 200 ").contains("\npath=/echo/~x?y=%2f\n")
                .contains("\nhost=" + UPSTREAM_HOST + "\n");
        assertThat(EGRESS_GATE_SAW).containsExactly(UPSTREAM_HOST + " /echo/~x?y=%2f");
        assertThat(INGRESS_GATE_SAW).containsExactly(UPSTREAM_HOST + " /echo/~x?y=%2f");
    }

    /** Sends over mTLS as the allowed caller; returns everything received until the sidecar closed. */
    private static String overMtls(String raw) throws IOException {
        try (SSLSocket s = (SSLSocket) callerTls.getSocketFactory().createSocket("127.0.0.1",
                tool.ingressAddress().orElseThrow().getPort())) {
            return exchange(s, raw);
        }
    }

    private static String overPlain(String raw) throws IOException {
        try (Socket s = new Socket("127.0.0.1", agent.egressAddress().orElseThrow().getPort())) {
            return exchange(s, raw);
        }
    }

    /** Reads until end of stream: it only returns when the sidecar closed the connection (or the read times out). */
    private static String exchange(Socket s, String raw) throws IOException {
        s.setSoTimeout(10_000);
        s.getOutputStream().write(raw.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
    }

    /**
     * The tool sidecar's accepted ingress connections: on egress, a refused request must not even connect to the
     * upstream.
     */
    private static double upstreamConnections() {
        return tool.metrics().registry().get(ProxyMetrics.CONNECTIONS_ACCEPTED).tag(ProxyMetrics.TAG_LISTENER, "ingress")
                .counter().count();
    }

    /** The rejection counter with this reason tag, scraped from the sidecar's admin {@code /metrics}. */
    static double scrapeRejected(Sidecar s, RejectReason reason) throws IOException {
        InetSocketAddress admin = s.adminAddress().orElseThrow();
        String text = Http.rawPlain(admin, "GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n");
        Matcher m = Pattern.compile("(?m)^tollgate_proxy_requests_rejected_total\\{reason=\"" + reason.tag()
                + "\",?} ([0-9.E+-]+)$").matcher(text);
        assertThat(m.find()).as("rejected counter for %s in /metrics", reason.tag()).isTrue();
        return Double.parseDouble(m.group(1));
    }
}
