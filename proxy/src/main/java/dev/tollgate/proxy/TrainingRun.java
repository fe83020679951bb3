package dev.tollgate.proxy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.DefaultThreadFactory;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.token.TaskScope;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.config.SidecarConfig;

/**
 * {@code tollgate sidecar --training-run}: two pairs of an agent sidecar and a tool sidecar in this process, one pair
 * after the other, on loopback ports the system picks, with a throwaway certificate authority and SVIDs made for the
 * run and deleted after it, in front of a small tool that answers JSON-RPC. Nothing leaves the machine and nothing
 * outside a temporary directory is written.
 * <ol>
 * <li>The <b>pass-through</b> pair: SVIDs from files, {@code credentials: {required: false}}, MCP inspection on both
 * sides. It sends MCP {@code tools/list} POSTs (inspected on both sides, the answer filtered) and GETs through the
 * pair over mTLS, HTTP/1.1 from the agent and HTTP/2 between the sidecars.</li>
 * <li>The <b>enforcing</b> pair, joined to an in-process {@link TrainingControlPlane} (HTTPS on loopback, the same
 * throwaway CA): each sidecar enrols with a one-time join token (key pair, CSR, SVID), follows the watch stream until
 * its credential state is synchronised (bundle, token signing keys, audit checkpoint keys and a checkpoint), and
 * requires task credentials; MCP inspection on both sides and a policy file on the agent side, as the bench's
 * inspecting pair. A task token for the agent, signed with the training signing key as the control plane's
 * {@code TokenIssuer} signs one, goes with every request ({@code tollgate-token}): at most
 * {@link #ENFORCING_REQUESTS} MCP {@code tools/list} and {@code tools/call} POSTs and GETs, each verified on egress,
 * exchanged for the tool ({@code POST /v1/token/exchange}), verified again on ingress, scoped and evaluated by the
 * policy; the decisions are shipped ({@code POST /v1/audit/decisions}).</li>
 * </ol>
 * Every request must be answered 200: a denial fails the training run, naming the status and the sidecar's reason;
 * so does an enforcing pair that exchanged no token or shipped no decision. The pass-through agent's and both
 * enforcing sidecars' {@code /metrics} are scraped once. The run is bounded: every connect, socket read, start and close
 * waits a bounded time, and the run gives up once past {@link #DEADLINE} (checked before each step; socket timeouts
 * shrink to what is left of it).
 *
 * <p>Its purpose is the class-data-sharing archive: run under {@code -XX:ArchiveClassesAtExit}, the JVM records every
 * class a sidecar loads to serve traffic (configuration, TLS, HTTP/1.1 and HTTP/2 codecs, inspection, metrics), so
 * that later sidecars start from the archive instead of loading and verifying those classes one by one. The enforcing
 * pair is there for the classes only an enforcing sidecar loads, about 900 to 990 of them, which otherwise come from the
 * jars at every start of one: nimbus-jose-jwt (token parsing), Bouncy Castle (the enrolment's CSR, the ES256 check),
 * jackson-databind and its JSR-310 module for the control plane's wire records, and Tollgate's own control-plane
 * client, watch, credential, exchange and decision-shipping classes. The launcher does this on first use
 * (docs/sidecar.md, "Memory and start-up").
 */
public final class TrainingRun {
    /** The trust domain of the throwaway SVIDs; {@code .invalid} never resolves to anything real. */
    static final String TRUST_DOMAIN = "training.invalid";
    static final String AGENT_ID = "spiffe://" + TRUST_DOMAIN + "/agent/training";
    static final String TOOL_ID = "spiffe://" + TRUST_DOMAIN + "/tool/training";
    /** The training tool's one tool: served by the tool service {@code training} (its SPIFFE ID's last segment). */
    static final String TOOL_NAME = "training.echo";
    /** The agent side's policy: the tool is a sensitive read; nothing after it may post; its argument is bounded. */
    static final String POLICY = """
            version: "training-1"
            tools:
              %s:
                labels: [sensitive-read]
              web.post:
                labels: [external-egress]
            rules:
              - id: no-exfiltration
                transition:
                  after: {label: sensitive-read}
                  then: {label: external-egress}
                  within: ever
              - id: echo-training-text
                arguments:
                  select: {tool: %s}
                  constraints:
                    - {pointer: /text, prefix: "training"}
            """.formatted(TOOL_NAME, TOOL_NAME);
    /**
     * Most requests sent through the enforcing pair: ten of each kind. Its classes load with the first few requests
     * (the first of each kind verifies and exchanges, the next ones take the caches' hits); more requests would add
     * only time, and the pass-through pair's volume already loads what traffic volume loads (HTTP/2 window updates).
     */
    static final int ENFORCING_REQUESTS = 30;
    /** How long the enforcing pair's task lives: longer than any run. */
    static final Duration TASK_TTL = Duration.ofMinutes(15);
    /** The whole run gives up after this, plus {@link #DEADLINE_PER_REQUEST} for each pass-through request. */
    static final Duration DEADLINE = Duration.ofSeconds(90);
    /** What each pass-through request adds to the deadline (up to 100,000 of them: 200 s more). */
    static final Duration DEADLINE_PER_REQUEST = Duration.ofMillis(2);
    /** Fewest requests through the enforcing pair: one of each kind, whatever the pass-through count. */
    static final int MIN_ENFORCING_REQUESTS = 3;
    private static final byte[] LIST = ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
            + "\"params\":{}}").getBytes(StandardCharsets.UTF_8);
    private static final byte[] CALL = ("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
            + "\"params\":{\"name\":\"" + TOOL_NAME + "\",\"arguments\":{\"text\":\"training run\"}}}")
            .getBytes(StandardCharsets.UTF_8);
    private static final Duration IO_TIMEOUT = Duration.ofSeconds(10);
    /**
     * The enforcing sidecars' control-plane.request-timeout: the first join of a JVM loads and verifies its classes
     * cold, on a busy machine slowly; readiness is then awaited until the run's deadline.
     */
    private static final Duration CONTROL_PLANE_TIMEOUT = Duration.ofSeconds(20);
    /** How often a starting enforcing sidecar is asked whether it is ready. */
    private static final Duration READY_POLL = Duration.ofMillis(50);
    /** Most of an answer's body kept for the message of a failed request. */
    private static final int MAX_KEPT_BODY = 1024;
    /** Largest answer body read. */
    private static final int MAX_BODY = 1 << 20;

    private TrainingRun() {
    }

    /**
     * What a training run did.
     *
     * @param passThrough requests the pass-through pair answered 200
     * @param enforcing   requests the enforcing pair answered 200
     */
    public record Result(int passThrough, int enforcing) {
    }

    /** The throwaway CA: its certificate (the bundle, the trust anchor) and its key. */
    private record Pki(X509Certificate ca, PrivateKey caKey) {
    }

    /** One request of a pair, as sent, and what to call it in a failure. */
    private record Request(String name, String text) {
    }

    /**
     * Runs the pass-through pair, then the enforcing pair, each request on one keep-alive connection: {@code requests}
     * requests through the pass-through pair, half MCP {@code tools/list} POSTs, half GETs; then at most
     * {@link #ENFORCING_REQUESTS} through the enforcing pair, {@code tools/list} POSTs, {@code tools/call} POSTs and
     * GETs in turn, each with the task token.
     *
     * @return the number of requests each pair answered 200 (all it was sent)
     * @throws IOException when a pair cannot start, a request is not answered 200, or the run passes its deadline
     */
    public static Result run(int requests) throws IOException {
        return run(requests, TOOL_NAME);
    }

    /**
     * As {@link #run(int)}, the enforcing pair's task scope granting {@code grantedTool} (a test names another tool
     * to see the run fail on the denial).
     */
    static Result run(int requests, String grantedTool) throws IOException {
        long deadline = System.nanoTime() + DEADLINE.toNanos() + DEADLINE_PER_REQUEST.toNanos() * requests;
        Path dir = Files.createTempDirectory("tollgate-training-");
        EventLoopGroup toolLoop = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("training-tool", true),
                NioIoHandler.newFactory());
        Sidecar tool = null;
        Sidecar agent = null;
        TrainingControlPlane cp = null;
        Sidecar enforcingTool = null;
        Sidecar enforcingAgent = null;
        try {
            Pki pki = writePki(dir);
            Channel app = startTool(toolLoop);
            int appPort = ((InetSocketAddress) app.localAddress()).getPort();
            // Each sidecar is assigned before it starts, so that one whose start fails is still closed.
            tool = Sidecar.builder(config(dir, "tool.yaml", """
                    listeners:
                      ingress: {address: "127.0.0.1:0"}
                    app: "127.0.0.1:%d"
                    tls: {cert: tool.crt, key: tool.key, bundle: bundle.pem}
                    identity:
                      allow: ["%s"]
                    ingress: {inspection: mcp}
                    credentials: {required: false}
                    """.formatted(appPort, AGENT_ID))).build();
            tool.start();
            int ingressPort = tool.ingressAddress().orElseThrow().getPort();
            agent = Sidecar.builder(config(dir, "agent.yaml", """
                    listeners:
                      egress: {address: "127.0.0.1:0"}
                      admin: {address: "127.0.0.1:0"}
                    tls: {cert: agent.crt, key: agent.key, bundle: bundle.pem}
                    upstreams:
                      tool:
                        address: "127.0.0.1:%d"
                        spiffe-id: "%s"
                        match: {path-prefix: /}
                        pool-size: 1
                        inspection: mcp
                    credentials: {required: false}
                    """.formatted(ingressPort, TOOL_ID))).build();
            agent.start();
            Request list = post("tools/list", LIST, null);
            Request status = get(null);
            List<Request> plain = new ArrayList<>(requests);
            for (int i = 0; i < requests; i++) {
                plain.add(i % 2 == 0 ? list : status);
            }
            int passThrough = send("pass-through pair", agent.egressAddress().orElseThrow(), plain, deadline);
            send("pass-through agent's admin", agent.adminAddress().orElseThrow(), List.of(metrics()), deadline);
            agent.close();
            agent = null;
            tool.close();
            tool = null;

            timeoutMillis(deadline, "starting the training control plane");
            SpiffeId agentId = SpiffeId.parse(AGENT_ID);
            SpiffeId toolId = SpiffeId.parse(TOOL_ID);
            cp = TrainingControlPlane.start(TRUST_DOMAIN, pki.ca(), pki.caKey(), Set.of(agentId, toolId),
                    Clock.systemUTC());
            Files.writeString(dir.resolve("tool.token"), cp.joinToken(toolId));
            Files.writeString(dir.resolve("agent.token"), cp.joinToken(agentId));
            Files.writeString(dir.resolve("policy.yaml"), POLICY);
            String controlPlane = """
                    control-plane:
                      url: "%s"
                      server-id: "%s"
                      trust-anchor: bundle.pem
                      join-token-file: %%s
                      request-timeout: %ds
                    """.formatted(cp.url(), cp.serverId(), CONTROL_PLANE_TIMEOUT.toSeconds());
            enforcingTool = Sidecar.builder(config(dir, "enforcing-tool.yaml", """
                    listeners:
                      ingress: {address: "127.0.0.1:0"}
                      admin: {address: "127.0.0.1:0"}
                    app: "127.0.0.1:%d"
                    %s
                    tls: {spiffe-id: "%s"}
                    identity:
                      allow: ["%s"]
                    ingress: {inspection: mcp}
                    credentials: {required: true}
                    """.formatted(appPort, controlPlane.formatted("tool.token").strip(), TOOL_ID, AGENT_ID)))
                    .build();
            enforcingTool.start();
            awaitReady("enforcing tool sidecar", enforcingTool, deadline);
            timeoutMillis(deadline, "starting the enforcing agent sidecar");
            enforcingAgent = Sidecar.builder(config(dir, "enforcing-agent.yaml", """
                    listeners:
                      egress: {address: "127.0.0.1:0"}
                      admin: {address: "127.0.0.1:0"}
                    %s
                    tls: {spiffe-id: "%s"}
                    upstreams:
                      tool:
                        address: "127.0.0.1:%d"
                        spiffe-id: "%s"
                        match: {path-prefix: /}
                        pool-size: 1
                        inspection: mcp
                    policy:
                      file: policy.yaml
                    credentials: {required: true}
                    """.formatted(controlPlane.formatted("agent.token").strip(), AGENT_ID,
                    enforcingTool.ingressAddress().orElseThrow().getPort(), TOOL_ID))).build();
            enforcingAgent.start();
            awaitReady("enforcing agent sidecar", enforcingAgent, deadline);
            String token = cp.taskToken(agentId, new TaskScope(List.of(ToolGrant.of(grantedTool))), TASK_TTL);
            List<Request> credentialed = new ArrayList<>();
            int enforcingRequests = Math.max(MIN_ENFORCING_REQUESTS, Math.min(requests, ENFORCING_REQUESTS));
            for (int i = 0; i < enforcingRequests; i++) {
                credentialed.add(switch (i % 3) {
                    case 0 -> post("tools/list", LIST, token);
                    case 1 -> post("tools/call", CALL, token);
                    default -> get(token);
                });
            }
            int enforcing = send("enforcing pair", enforcingAgent.egressAddress().orElseThrow(), credentialed,
                    deadline);
            send("enforcing agent's admin", enforcingAgent.adminAddress().orElseThrow(), List.of(metrics()), deadline);
            send("enforcing tool's admin", enforcingTool.adminAddress().orElseThrow(), List.of(metrics()), deadline);
            // Every answer was a 200 from sidecars that require credentials; the agent's must have come through the
            // exchange, and closing the agent ships its last decisions (before the control plane closes).
            if (cp.exchanges() < 1) {
                throw new IOException("enforcing pair: answered without a token exchange");
            }
            Sidecar closing = enforcingAgent;
            enforcingAgent = null;
            closing.close();
            if (cp.decisionBatches() < 1) {
                throw new IOException("enforcing pair: the agent shipped no decisions");
            }
            return new Result(passThrough, enforcing);
        } finally {
            // The sidecars before the control plane: an agent's last decision batch still goes there as it closes.
            // Each closes on its own, so that one that fails to close leaves nothing else running or on disk.
            List<AutoCloseable> open = new ArrayList<>();
            for (Sidecar s : new Sidecar[] {enforcingAgent, enforcingTool, agent, tool}) {
                if (s != null) {
                    open.add(s::close);
                }
            }
            if (cp != null) {
                open.add(cp::close);
            }
            open.add(() -> toolLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS)
                    .awaitUninterruptibly(5, TimeUnit.SECONDS));
            open.add(() -> deleteTree(dir));
            closeAll(open);
        }
    }

    /**
     * Closes each in order, every one even when one before it fails; a failure is reported (to standard error: the
     * run's own outcome, success or the first failure, stays what the caller sees).
     */
    private static void closeAll(List<AutoCloseable> open) {
        for (AutoCloseable c : open) {
            try {
                c.close();
            } catch (Exception | LinkageError e) {
                System.err.println("training run: cleaning up: " + e);
            }
        }
    }

    /** Deletes the run's temporary directory (its throwaway keys and join tokens): every file it can. */
    private static void deleteTree(Path dir) throws IOException {
        List<Path> left = new ArrayList<>();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    left.add(p);
                }
            });
        }
        if (!left.isEmpty()) {
            throw new IOException("could not delete " + left);
        }
    }

    /**
     * Waits until a started sidecar joined to the training control plane holds an SVID and a synchronised credential
     * state (its own join and watch are bounded by its control-plane request timeout); fails at the run's deadline
     * with the sidecar's reason.
     */
    private static void awaitReady(String name, Sidecar s, long deadline) throws IOException {
        for (String why = s.notReadyReason(); why != null; why = s.notReadyReason()) {
            if (System.nanoTime() - deadline > 0) {
                throw new IOException(name + " is not ready by the training run's deadline: " + why);
            }
            try {
                Thread.sleep(READY_POLL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(name + ": interrupted while waiting for it to be ready", e);
            }
        }
    }

    /** Fails once past the deadline; else the time left for {@code step}, at most {@link #IO_TIMEOUT} (ms). */
    private static int timeoutMillis(long deadline, String step) throws IOException {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
            throw new IOException("over the training run's deadline before " + step);
        }
        return (int) Math.min(IO_TIMEOUT.toMillis(), left);
    }

    private static Request post(String method, byte[] body, String token) {
        return new Request("POST " + method, "POST /mcp HTTP/1.1\r\nHost: tool\r\nContent-Type: application/json\r\n"
                + "Accept: application/json, text/event-stream\r\n" + tokenHeader(token) + "Content-Length: "
                + body.length + "\r\n\r\n" + new String(body, StandardCharsets.UTF_8));
    }

    private static Request get(String token) {
        return new Request("GET /status", "GET /status HTTP/1.1\r\nHost: tool\r\n" + tokenHeader(token) + "\r\n");
    }

    private static Request metrics() {
        return new Request("GET /metrics", "GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n");
    }

    private static String tokenHeader(String token) {
        return token == null ? "" : TokenClaims.HEADER + ": " + token + "\r\n";
    }

    private static SidecarConfig config(Path dir, String name, String yaml) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, yaml);
        try {
            return ConfigLoader.load(file);
        } catch (dev.tollgate.proxy.config.ConfigException e) {
            throw new IOException("training configuration " + name + ": " + e.getMessage(), e);
        }
    }

    /**
     * Sends the requests one after the other on one keep-alive connection; returns how many were answered 200 (all of
     * them: the first other answer fails the run with its status and the start of its body, the sidecar's reason).
     */
    private static int send(String what, InetSocketAddress to, List<Request> requests, long deadline)
            throws IOException {
        try (Socket s = new Socket()) {
            s.connect(to, timeoutMillis(deadline, "sending through the " + what));
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            int ok = 0;
            for (Request request : requests) {
                s.setSoTimeout(timeoutMillis(deadline, "reading from the " + what));
                out.write(request.text().getBytes(StandardCharsets.UTF_8));
                out.flush();
                Answer a = readResponse(in);
                if (!a.status().startsWith("HTTP/1.1 200")) {
                    throw new IOException(what + ": request " + (ok + 1) + " (" + request.name() + ") answered "
                            + a.status() + (a.body().isEmpty() ? "" : ": " + a.body()));
                }
                ok++;
            }
            return ok;
        }
    }

    /** An answer's status line and the start of its body (at most {@link #MAX_KEPT_BODY} characters). */
    private record Answer(String status, String body) {
    }

    /** Reads one HTTP/1.1 response with a Content-Length or chunked body. */
    private static Answer readResponse(InputStream in) throws IOException {
        String status = line(in);
        long length = -1;
        boolean chunked = false;
        for (String h = line(in); !h.isEmpty(); h = line(in)) {
            String lower = h.toLowerCase(java.util.Locale.ROOT);
            if (lower.startsWith("content-length:")) {
                length = Long.parseLong(h.substring(15).trim());
            } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                chunked = true;
            }
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        if (chunked) {
            for (long size = Long.parseLong(line(in).trim(), 16); size > 0; size = Long.parseLong(line(in).trim(), 16)) {
                keep(body, readExactly(in, size));
                line(in);
            }
            line(in);
        } else if (length > 0) {
            keep(body, readExactly(in, length));
        }
        String text = body.toString(StandardCharsets.UTF_8);
        return new Answer(status, text.length() > MAX_KEPT_BODY ? text.substring(0, MAX_KEPT_BODY) + "…" : text);
    }

    private static byte[] readExactly(InputStream in, long n) throws IOException {
        if (n > MAX_BODY) {
            throw new IOException("an answer of " + n + " bytes (expected: at most " + MAX_BODY + ")");
        }
        byte[] b = in.readNBytes((int) n);
        if (b.length < n) {
            throw new IOException("connection closed by the training pair in the middle of an answer");
        }
        return b;
    }

    private static void keep(ByteArrayOutputStream body, byte[] b) {
        body.write(b, 0, Math.min(b.length, Math.max(0, MAX_KEPT_BODY + 1 - body.size())));
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new IOException("connection closed by the training pair");
            }
            if (c != '\r') {
                b.write(c);
            }
        }
        return b.toString(StandardCharsets.US_ASCII);
    }

    private static final String TOOLS_LIST_RESULT = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\""
            + TOOL_NAME + "\",\"inputSchema\":{\"type\":\"object\"}}]}}";
    private static final String TOOL_CALL_RESULT = "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":[{\"type\":"
            + "\"text\",\"text\":\"training run\"}]}}";

    /** The tool behind both pairs: the answer to a {@code tools/call} for a call, else the {@code tools/list} one. */
    private static Channel startTool(EventLoopGroup loop) throws IOException {
        var f = new ServerBootstrap().group(loop).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 * 1024),
                                new SimpleChannelInboundHandler<FullHttpRequest>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                                        boolean call = req.content().toString(StandardCharsets.UTF_8)
                                                .contains("\"tools/call\"");
                                        byte[] body = (call ? TOOL_CALL_RESULT : TOOLS_LIST_RESULT)
                                                .getBytes(StandardCharsets.UTF_8);
                                        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                                HttpResponseStatus.OK, Unpooled.wrappedBuffer(body));
                                        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json")
                                                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
                                        boolean keepAlive = HttpUtil.isKeepAlive(req);
                                        var w = ctx.writeAndFlush(r);
                                        if (!keepAlive) {
                                            w.addListener(ChannelFutureListener.CLOSE);
                                        }
                                    }
                                });
                    }
                }).bind("127.0.0.1", 0).awaitUninterruptibly();
        if (!f.isSuccess()) {
            throw new IOException("training tool: " + f.cause().getMessage(), f.cause());
        }
        return f.channel();
    }

    /** Writes the CA (bundle.pem) and the pass-through pair's SVIDs and keys; returns the CA and its key. */
    private static Pki writePki(Path dir) throws IOException {
        try {
            SecureRandom random = new SecureRandom();
            KeyPair caKeys = ecKeys(random);
            X500Name caName = new X500Name("CN=Tollgate training CA (throwaway)");
            X509Certificate ca = sign(random, caKeys.getPublic(), caName, caKeys.getPrivate(), caName, true,
                    Duration.ofHours(1), uri("spiffe://" + TRUST_DOMAIN));
            Files.writeString(dir.resolve("bundle.pem"), Pem.encodeCertificates(List.of(ca)));
            for (String[] leaf : new String[][] {{"agent", AGENT_ID}, {"tool", TOOL_ID}}) {
                KeyPair k = ecKeys(random);
                X509Certificate c = sign(random, k.getPublic(), new X500Name("CN=" + leaf[0]), caKeys.getPrivate(),
                        caName, false, Duration.ofHours(1), uri(leaf[1]));
                Files.writeString(dir.resolve(leaf[0] + ".crt"), Pem.encodeCertificates(List.of(c)));
                Files.writeString(dir.resolve(leaf[0] + ".key"), Pem.encodePrivateKey(k.getPrivate()));
            }
            return new Pki(ca, caKeys.getPrivate());
        } catch (GeneralSecurityException e) {
            throw new IOException("training PKI: " + e.getMessage(), e);
        }
    }

    /** A P-256 key pair for a throwaway certificate (the training run's, the demo's legacy API's). */
    public static KeyPair ecKeys(SecureRandom random) throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"), random);
        return g.generateKeyPair();
    }

    /**
     * A throwaway certificate signed with SHA256withECDSA, valid from a minute ago for {@code lifetime}: a CA
     * (keyCertSign, cRLSign) or a leaf (digitalSignature; server and client authentication), with the given subject
     * alternative names (none: no such extension). For the training run's PKI and the demo's legacy API only.
     */
    public static X509Certificate sign(SecureRandom random, PublicKey subjectKey, X500Name subject,
                                       PrivateKey issuerKey, X500Name issuer, boolean ca, Duration lifetime,
                                       GeneralName... sans) throws GeneralSecurityException {
        Instant now = Instant.now();
        try {
            var b = new JcaX509v3CertificateBuilder(issuer, new BigInteger(96, random).add(BigInteger.ONE),
                    Date.from(now.minusSeconds(60)), Date.from(now.plus(lifetime)), subject, subjectKey);
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(ca ? KeyUsage.keyCertSign | KeyUsage.cRLSign
                    : KeyUsage.digitalSignature));
            if (!ca) {
                b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                        new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            }
            if (sans.length > 0) {
                b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans));
            }
            return new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey)));
        } catch (org.bouncycastle.operator.OperatorCreationException | org.bouncycastle.cert.CertIOException e) {
            throw new GeneralSecurityException(e.getMessage(), e);
        }
    }

    private static GeneralName uri(String uri) {
        return new GeneralName(GeneralName.uniformResourceIdentifier, uri);
    }
}
