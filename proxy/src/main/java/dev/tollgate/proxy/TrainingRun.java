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
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Date;
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

import dev.tollgate.api.tls.Pem;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.config.SidecarConfig;

/**
 * {@code tollgate sidecar --training-run}: an agent sidecar and a tool sidecar in this process, on loopback ports
 * the system picks, with a throwaway certificate authority and SVIDs made for the run and deleted after it, in front
 * of a small tool that answers JSON-RPC. It sends MCP {@code tools/list} POSTs (inspected on both sides, the answer filtered) and GETs
 * through the pair over mTLS, HTTP/1.1 from the agent and HTTP/2 between the sidecars, then closes everything.
 * Nothing leaves the machine and nothing outside a temporary directory is written.
 *
 * <p>Its purpose is the class-data-sharing archive: run under {@code -XX:ArchiveClassesAtExit}, the JVM records every
 * class a sidecar loads to serve traffic (configuration, TLS, HTTP/1.1 and HTTP/2 codecs, inspection, metrics), so
 * that later sidecars start from the archive instead of loading and verifying those classes one by one. The
 * launcher does this on first use (docs/sidecar.md, "Start-up").
 */
public final class TrainingRun {
    /** The trust domain of the throwaway SVIDs; {@code .invalid} never resolves to anything real. */
    static final String TRUST_DOMAIN = "training.invalid";
    static final String AGENT_ID = "spiffe://" + TRUST_DOMAIN + "/agent/training";
    static final String TOOL_ID = "spiffe://" + TRUST_DOMAIN + "/tool/training";
    private static final byte[] CALL = ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
            + "\"params\":{}}").getBytes(StandardCharsets.UTF_8);
    private static final Duration IO_TIMEOUT = Duration.ofSeconds(10);

    private TrainingRun() {
    }

    /**
     * Runs the pair and sends {@code requests} requests (half MCP {@code tools/list} POSTs, half GETs) on one keep-alive connection.
     *
     * @return the number of requests answered 200
     * @throws IOException when the pair cannot start or a request is not answered 200
     */
    public static int run(int requests) throws IOException {
        Path dir = Files.createTempDirectory("tollgate-training-");
        EventLoopGroup toolLoop = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("training-tool", true),
                NioIoHandler.newFactory());
        Sidecar tool = null;
        Sidecar agent = null;
        try {
            writePki(dir);
            Channel app = startTool(toolLoop);
            int appPort = ((InetSocketAddress) app.localAddress()).getPort();
            tool = Sidecar.builder(config(dir, "tool.yaml", """
                    listeners:
                      ingress: {address: "127.0.0.1:0"}
                    app: "127.0.0.1:%d"
                    tls: {cert: tool.crt, key: tool.key, bundle: bundle.pem}
                    identity:
                      allow: ["%s"]
                    ingress: {inspection: mcp}
                    credentials: {required: false}
                    """.formatted(appPort, AGENT_ID))).build().start();
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
                    """.formatted(ingressPort, TOOL_ID))).build().start();
            int answered = send(agent.egressAddress().orElseThrow(), requests);
            send(agent.adminAddress().orElseThrow(), List.of("GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n"));
            return answered;
        } finally {
            if (agent != null) {
                agent.close();
            }
            if (tool != null) {
                tool.close();
            }
            toolLoop.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).awaitUninterruptibly();
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
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

    private static int send(InetSocketAddress egress, int requests) throws IOException {
        String get = "GET /status HTTP/1.1\r\nHost: tool\r\n\r\n";
        String post = "POST /mcp HTTP/1.1\r\nHost: tool\r\nContent-Type: application/json\r\nAccept: application/json, "
                + "text/event-stream\r\nContent-Length: " + CALL.length + "\r\n\r\n" + new String(CALL, StandardCharsets.UTF_8);
        List<String> all = new java.util.ArrayList<>();
        for (int i = 0; i < requests; i++) {
            all.add(i % 2 == 0 ? post : get);
        }
        return send(egress, all);
    }

    /** Sends the requests one after the other on one keep-alive connection; returns how many were answered 200. */
    private static int send(InetSocketAddress to, List<String> requests) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(to, (int) IO_TIMEOUT.toMillis());
            s.setSoTimeout((int) IO_TIMEOUT.toMillis());
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            int ok = 0;
            for (String request : requests) {
                out.write(request.getBytes(StandardCharsets.UTF_8));
                out.flush();
                String status = readResponse(in);
                if (!status.startsWith("HTTP/1.1 200")) {
                    throw new IOException("training request answered " + status);
                }
                ok++;
            }
            return ok;
        }
    }

    /** Reads one HTTP/1.1 response with a Content-Length or chunked body; returns its status line. */
    private static String readResponse(InputStream in) throws IOException {
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
        if (chunked) {
            for (long size = Long.parseLong(line(in).trim(), 16); size > 0; size = Long.parseLong(line(in).trim(), 16)) {
                in.readNBytes((int) size);
                line(in);
            }
            line(in);
        } else if (length > 0) {
            in.readNBytes((int) length);
        }
        return status;
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

    private static Channel startTool(EventLoopGroup loop) throws IOException {
        var f = new ServerBootstrap().group(loop).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 * 1024),
                                new SimpleChannelInboundHandler<FullHttpRequest>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                                        byte[] body = ("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":"
                                                + "\"training.echo\",\"inputSchema\":{\"type\":\"object\"}}]}}")
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

    private static void writePki(Path dir) throws IOException {
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
