package dev.tollgate.proxy;

import java.io.IOException;
import java.io.StringReader;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ScheduledFuture;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

import dev.tollgate.api.AuditCheckpoints;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.SpiffeTrustManager;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.token.TaskScope;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.token.TokenKeySet;
import dev.tollgate.api.token.TokenType;
import dev.tollgate.api.token.TokenVerifier;
import dev.tollgate.api.token.VerificationResult;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.api.wire.AuditCheckpointView;
import dev.tollgate.api.wire.CheckpointKeySet;
import dev.tollgate.api.wire.CheckpointKeyView;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.DecisionBatchView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.OAuthError;
import dev.tollgate.api.wire.Problem;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.TokenExchangeResponse;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.config.ConfigDefaults;
import dev.tollgate.proxy.listener.JsonResponses;

/**
 * A stand-in control plane that exists only for {@code tollgate sidecar --training-run}: {@link TrainingRun}, the
 * only code that starts one, joins its enforcing pair of sidecars to it so that the sidecars' own control-plane code
 * paths run (and the class-data archive records their classes): the {@code ControlPlaneCertificateSource} join, the
 * {@code WatchClient} and {@code CredentialWatchListener} sync (and the audit checkpoint listener), the
 * {@code ExchangeClient} exchange and the {@code DecisionShipper} shipping.
 *
 * <p>Its answers have the real server's shapes (the {@code dev.tollgate.api.wire} records through
 * {@link Json#mapper()}), but <b>not</b> its refusal rules: it checks only what it needs to answer, and answers
 * anything unexpected with one generic error.
 * <ul>
 * <li>{@code POST /v1/svid/join}: spends a join token made by {@link #joinToken} (one use) and issues an SVID for the
 * SPIFFE ID the token names over the CSR's public key.</li>
 * <li>{@code POST /v1/svid/renew}: a new SVID for the caller's SPIFFE ID.</li>
 * <li>{@code GET /v1/watch?after=N}: the revisions after N (bundle, signing keys, audit checkpoint key set and one
 * checkpoint), or a resync when N is ahead, then the heartbeat that ends the catch-up, then one every
 * {@link #HEARTBEAT_INTERVAL}.</li>
 * <li>{@code POST /v1/token/exchange}: the caller's task token verified with the api's {@link TokenVerifier}, an
 * exchanged token for the requested audience and scope signed as the server's {@code TokenIssuer} signs one.</li>
 * <li>{@code POST /v1/audit/decisions}: a {@code DecisionBatch} counted and acknowledged; nothing is stored.</li>
 * </ul>
 * Anything else is a 404 problem.
 *
 * <p>It is <b>not a security boundary</b>: it binds only 127.0.0.1, uses the training run's throwaway CA of
 * {@code training.invalid}, and lives a few seconds. It is bounded all the same (handshake and idle timeouts, header
 * and body sizes, connections), and {@link #close} stops its one event loop within a few seconds.
 */
final class TrainingControlPlane implements AutoCloseable {
    static final Duration HEARTBEAT_INTERVAL = ConfigDefaults.WATCH_HEARTBEAT_INTERVAL;
    static final Duration SVID_TTL = Duration.ofMinutes(5);
    static final Duration EXCHANGE_MAX_TTL = Duration.ofSeconds(60);
    static final int MAX_BODY_BYTES = 64 * 1024;
    static final int MAX_CONNECTIONS = 16;
    static final Duration IDLE_TIMEOUT = Duration.ofSeconds(30);
    static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(5);
    /** The bundle's sequence number (one CA for the whole run). */
    static final long BUNDLE_SEQUENCE = 1;

    private static final String IDLE = "idle";
    private static final AttributeKey<Boolean> STREAMING = AttributeKey.valueOf("tollgate-training-watch");
    private static final ObjectMapper JSON = Json.mapper();

    /** The payload of a {@code bundle} revision. */
    record BundlePayload(long sequence, String pem) {
    }

    /** A problem answer: status, reason, detail. */
    private static final class Refused extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int status;
        final String reason;

        Refused(int status, String reason, String detail) {
            super(detail, null, false, false);
            this.status = status;
            this.reason = reason;
        }
    }

    private final String trustDomain;
    private final SpiffeId serverId;
    private final X509Certificate ca;
    private final PrivateKey caKey;
    private final X500Name caName;
    private final Set<SpiffeId> registered;
    private final Clock clock;
    private final SecureRandom random = new SecureRandom();
    private final Map<String, SpiffeId> joinTokens = new ConcurrentHashMap<>();
    private final ECKey signingKey;
    private final TokenKeySet keySet;
    private final List<WatchEvent> revisions;
    private final AtomicLong auditSeq = new AtomicLong();
    private final AtomicInteger decisionBatches = new AtomicInteger();
    private final AtomicInteger exchanges = new AtomicInteger();
    private final EventLoopGroup loop;
    private final ChannelGroup channels;
    private final SslContext tls;
    private volatile Channel server;

    private TrainingControlPlane(String trustDomain, X509Certificate ca, PrivateKey caKey, Set<SpiffeId> registered,
                                 Clock clock) throws IOException {
        this.trustDomain = SpiffeId.requireTrustDomain(trustDomain);
        this.serverId = SpiffeId.parse(TokenClaims.issuer(trustDomain));
        this.ca = ca;
        this.caKey = caKey;
        this.caName = X500Name.getInstance(ca.getSubjectX500Principal().getEncoded());
        this.registered = Set.copyOf(registered);
        this.clock = clock;
        try {
            // As the server's SigningKeys: ES256 on P-256, kid = RFC 7638 thumbprint, use sig.
            this.signingKey = new ECKeyGenerator(Curve.P_256).keyUse(KeyUse.SIGNATURE).algorithm(JWSAlgorithm.ES256)
                    .keyIDFromThumbprint(true).generate();
        } catch (JOSEException e) {
            throw new IOException("training control plane: cannot make a signing key: " + e.getMessage(), e);
        }
        this.keySet = TokenKeySet.of(List.of(signingKey.toPublicJWK()));
        this.tls = serverContext();
        this.revisions = initialRevisions();
        this.loop = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("training-control-plane", true),
                NioIoHandler.newFactory());
        this.channels = new DefaultChannelGroup("training-control-plane", loop.next());
    }

    /**
     * Starts one on 127.0.0.1 on a port the system picks.
     *
     * @param ca         the training run's throwaway CA (the sidecars' trust anchor)
     * @param caKey      its private key: this control plane signs SVIDs and its own certificate with it
     * @param registered the workloads join tokens can be made for
     * @throws IOException when it cannot listen or set up TLS
     */
    static TrainingControlPlane start(String trustDomain, X509Certificate ca, PrivateKey caKey,
                                      Set<SpiffeId> registered, Clock clock) throws IOException {
        TrainingControlPlane cp = new TrainingControlPlane(trustDomain, ca, caKey, registered, clock);
        try {
            var f = new ServerBootstrap().group(cp.loop).channel(NioServerSocketChannel.class)
                    .childHandler(cp.new Init()).bind("127.0.0.1", 0).awaitUninterruptibly();
            if (!f.isSuccess()) {
                throw new IOException("training control plane: cannot listen on 127.0.0.1: " + f.cause(), f.cause());
            }
            cp.server = f.channel();
            cp.channels.add(cp.server);
        } catch (IOException | RuntimeException e) {
            cp.close();
            throw e;
        }
        return cp;
    }

    /** {@code https://127.0.0.1:<port>}. */
    URI url() {
        return URI.create("https://127.0.0.1:" + ((InetSocketAddress) server.localAddress()).getPort());
    }

    /** The SPIFFE ID its certificate carries (a sidecar's {@code control-plane.server-id}). */
    SpiffeId serverId() {
        return serverId;
    }

    /** Decision batches acknowledged so far. */
    int decisionBatches() {
        return decisionBatches.get();
    }

    /** Token exchanges answered with a token so far. */
    int exchanges() {
        return exchanges.get();
    }

    /** A one-time join token for a registered workload: the SVID of the join that spends it is for {@code id}. */
    String joinToken(SpiffeId id) {
        if (!registered.contains(id)) {
            throw new IllegalArgumentException("join token for " + id + " (expected one of " + registered + ")");
        }
        byte[] raw = new byte[32];
        random.nextBytes(raw);
        String token = "tgjt_" + Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        joinTokens.put(token, id);
        return token;
    }

    /** A task token for {@code agent} with {@code scope}, valid for {@code ttl}. */
    String taskToken(SpiffeId agent, TaskScope scope, Duration ttl) {
        scope.validate();
        Instant now = clock.instant();
        return sign(TokenType.TASK, UUID.randomUUID().toString(), agent, agent.toString(), scope, now, now.plus(ttl));
    }

    /**
     * As the server's {@code TokenIssuer.sign}: ES256 with the signing key, {@code typ} of the token type, issuer
     * the control plane, whole-second times, a fresh {@code jti}, the task id and scope claims.
     */
    private String sign(TokenType type, String taskId, SpiffeId subject, String audience, TaskScope scope,
                        Instant issuedAt, Instant expiresAt) {
        Date iat = Date.from(issuedAt.truncatedTo(ChronoUnit.SECONDS));
        JWTClaimsSet claims = new JWTClaimsSet.Builder().issuer(serverId.toString())
                .subject(subject.toString()).audience(audience).jwtID(UUID.randomUUID().toString())
                .issueTime(iat).notBeforeTime(iat).expirationTime(Date.from(expiresAt.truncatedTo(ChronoUnit.SECONDS)))
                .claim(TokenClaims.TASK_ID, taskId).claim(TokenClaims.SCOPE, scope.toClaim()).build();
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256)
                .type(new JOSEObjectType(type.typ())).keyID(signingKey.getKeyID()).build(), claims);
        try {
            jwt.sign(new ECDSASigner(signingKey));
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot sign a training token: " + e.getMessage(), e);
        }
        return jwt.serialize();
    }

    /**
     * The revisions a fresh control plane has when its first sidecar joins: the trust bundle, the token signing keys,
     * the audit checkpoint key set and one signed checkpoint (so the sidecar's checkpoint listener runs as on start
     * against a real control plane).
     */
    private List<WatchEvent> initialRevisions() {
        Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
        KeyPair checkpointKey = Csrs.newP256();
        String keyId = AuditCheckpoints.keyId(checkpointKey.getPublic());
        String publicPem = AuditCheckpoints.publicKeyPem(checkpointKey.getPublic());
        String head = Svids.sha256Hex(("tollgate training run " + now).getBytes(StandardCharsets.UTF_8));
        String signature = AuditCheckpoints.sign(checkpointKey.getPrivate(),
                AuditCheckpoints.signedText(trustDomain, 1, head, now.toEpochMilli(), keyId));
        List<Object> payloads = List.of(
                new BundlePayload(BUNDLE_SEQUENCE, Pem.encodeCertificates(List.of(ca))),
                new JWKSet(signingKey.toPublicJWK()).toJSONObject(true),
                new CheckpointKeySet(List.of(new CheckpointKeyView(keyId, "ES256", "active", publicPem, now, now))),
                new AuditCheckpointView(AuditCheckpoints.FORMAT, trustDomain, 1, head, now, keyId, signature,
                        publicPem));
        List<String> kinds = List.of(WatchEvent.BUNDLE, WatchEvent.SIGNING_KEYS, WatchEvent.AUDIT_CHECKPOINT_KEYS,
                WatchEvent.AUDIT_CHECKPOINT);
        List<WatchEvent> out = new ArrayList<>();
        for (int i = 0; i < kinds.size(); i++) {
            out.add(new WatchEvent(i + 1, kinds.get(i), now, JSON.valueToTree(payloads.get(i))));
        }
        return List.copyOf(out);
    }

    /**
     * Its serving certificate for {@link #serverId}, signed by the training CA; TLS 1.3; a client certificate is
     * optional (a join has none) and, when presented, must be an SVID of the trust domain.
     */
    private SslContext serverContext() throws IOException {
        try {
            KeyPair kp = Csrs.newP256();
            X509Certificate leaf = TrainingRun.sign(random, kp.getPublic(), new X500Name("O=Tollgate"), caKey, caName,
                    false, Duration.ofHours(1), new GeneralName(GeneralName.uniformResourceIdentifier,
                            serverId.toString()));
            return SslContextBuilder.forServer(kp.getPrivate(), leaf, ca)
                    .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                    .protocols("TLSv1.3").clientAuth(ClientAuth.OPTIONAL)
                    .trustManager(new SpiffeTrustManager(() -> List.of(ca), id -> id.memberOf(trustDomain)))
                    .build();
        } catch (GeneralSecurityException | SSLException e) {
            throw new IOException("training control plane: TLS setup failed: " + e.getMessage(), e);
        }
    }

    /** One connection's pipeline: TLS, idle close, HTTP/1.1 with header and body caps, the API. */
    private final class Init extends ChannelInitializer<SocketChannel> {
        @Override
        protected void initChannel(SocketChannel ch) {
            if (channels.size() > MAX_CONNECTIONS) { // (the group holds the listening channel too)
                ch.close();
                return;
            }
            channels.add(ch);
            SslHandler ssl = tls.newHandler(ch.alloc());
            ssl.setHandshakeTimeoutMillis(HANDSHAKE_TIMEOUT.toMillis());
            ch.pipeline().addLast(ssl)
                    .addLast(IDLE, new IdleStateHandler(0, 0, IDLE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS) {
                        @Override
                        protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent evt) {
                            ctx.close();
                        }
                    })
                    .addLast(new HttpServerCodec(new HttpDecoderConfig().setMaxInitialLineLength(4096)
                            .setMaxHeaderSize(8192)))
                    .addLast(new HttpObjectAggregator(MAX_BODY_BYTES, true))
                    .addLast(new Api());
        }
    }

    /** One request at a time per connection; a watch stream keeps its connection. */
    private final class Api extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (Boolean.TRUE.equals(ctx.channel().attr(STREAMING).get())) {
                ctx.close(); // a client sends nothing on a watch connection
                return;
            }
            boolean keepAlive = HttpUtil.isKeepAlive(req) && req.decoderResult().isSuccess();
            QueryStringDecoder qs = new QueryStringDecoder(req.uri());
            byte[] body = ByteBufUtil.getBytes(req.content());
            try {
                if (!req.decoderResult().isSuccess()) {
                    throw new Refused(400, "bad_request", "the request could not be parsed");
                }
                switch (req.method().name() + " " + qs.path()) {
                    case "POST /v1/svid/join" -> {
                        SvidRequest r = read(body, SvidRequest.class);
                        SpiffeId id = r.joinToken() == null ? null : joinTokens.remove(r.joinToken());
                        if (id == null) {
                            throw new Refused(401, "join_token_invalid", "join token unknown or already used");
                        }
                        json(ctx, 200, issue(id, csrKey(r.csr())), keepAlive);
                    }
                    case "POST /v1/svid/renew" ->
                            json(ctx, 200, issue(caller(ctx), csrKey(read(body, SvidRequest.class).csr())), keepAlive);
                    case "GET /v1/watch" -> {
                        caller(ctx);
                        List<String> after = qs.parameters().getOrDefault("after", List.of("0"));
                        watch(ctx, Long.parseLong(after.get(0)));
                    }
                    case "POST /v1/token/exchange" -> exchange(ctx, caller(ctx), body, keepAlive);
                    case "POST /v1/audit/decisions" -> {
                        caller(ctx);
                        DecisionBatch batch = read(body, DecisionBatch.class);
                        int n = batch.events().size() + batch.aggregates().size();
                        long last = auditSeq.addAndGet(n);
                        decisionBatches.incrementAndGet();
                        json(ctx, 200, n == 0 ? new DecisionBatchView(0, 0, 0)
                                : new DecisionBatchView(n, last - n + 1, last), keepAlive);
                    }
                    default -> throw new Refused(404, "not_found", "no route " + req.method() + " " + qs.path());
                }
            } catch (Refused r) {
                problem(ctx, r.status, r.reason, r.getMessage(), keepAlive);
            } catch (RuntimeException e) {
                problem(ctx, 400, "bad_request", "the training control plane cannot answer this: " + e, false);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** The caller's SPIFFE ID, from the client certificate the handshake verified. */
    private static SpiffeId caller(ChannelHandlerContext ctx) {
        try {
            var certs = ctx.pipeline().get(SslHandler.class).engine().getSession().getPeerCertificates();
            return Svids.spiffeId((X509Certificate) certs[0]);
        } catch (SSLPeerUnverifiedException e) {
            throw new Refused(401, "no_client_certificate", "this route needs the caller's SVID");
        }
    }

    private static <T> T read(byte[] body, Class<T> type) {
        try {
            return JSON.readValue(body, type);
        } catch (IOException e) {
            throw new Refused(400, "bad_request", "request body: " + e.getMessage());
        }
    }

    /** The public key of a PEM PKCS#10 CSR; its signature is not checked (nothing here is a security boundary). */
    private static PublicKey csrKey(String pem) {
        try (PEMParser p = new PEMParser(new StringReader(pem))) {
            return new JcaPKCS10CertificationRequest((PKCS10CertificationRequest) p.readObject()).getPublicKey();
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            throw new Refused(400, "bad_csr", "csr: not a PKCS#10 request in PEM (" + e + ")");
        }
    }

    /** An X.509-SVID for {@code id} over {@code key}: one URI SAN, a leaf, signed by the training CA. */
    private SvidResponse issue(SpiffeId id, PublicKey key) {
        X509Certificate leaf;
        try {
            leaf = TrainingRun.sign(random, key, new X500Name("O=Tollgate"), caKey, caName, false, SVID_TTL,
                    new GeneralName(GeneralName.uniformResourceIdentifier, id.toString()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign an SVID: " + e.getMessage(), e);
        }
        return new SvidResponse(id.toString(), Svids.serialHex(leaf), Pem.encodeCertificates(List.of(leaf)),
                leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant(), Pem.encodeCertificates(List.of(ca)),
                BUNDLE_SEQUENCE);
    }

    /**
     * The revisions after {@code after}, or a resync with every kind's state when {@code after} is ahead of this
     * history, then the heartbeat that ends the catch-up, then one heartbeat per interval.
     */
    private void watch(ChannelHandlerContext ctx, long after) {
        Channel ch = ctx.channel();
        ch.attr(STREAMING).set(true);
        ch.pipeline().remove(IDLE); // the stream writes a heartbeat per interval; it ends with the run
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/x-ndjson")
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        HttpUtil.setTransferEncodingChunked(head, true);
        ctx.write(head);
        if (after > revisions.size()) {
            ObjectNode state = JSON.createObjectNode();
            revisions.forEach(e -> state.set(e.kind(), e.payload()));
            state.set(WatchEvent.REVOCATION, JSON.createArrayNode());
            state.set(WatchEvent.EXCEPTION, JSON.createArrayNode());
            ctx.write(line(new WatchEvent(revisions.size(), WatchEvent.RESYNC, clock.instant(), state)));
        } else {
            revisions.subList((int) after, revisions.size()).forEach(e -> ctx.write(line(e)));
        }
        ctx.writeAndFlush(line(heartbeat()));
        long every = HEARTBEAT_INTERVAL.toMillis();
        ScheduledFuture<?> beats = ctx.executor().scheduleAtFixedRate(() -> {
            if (ch.isActive() && ch.isWritable()) {
                ch.writeAndFlush(line(heartbeat()));
            }
        }, every, every, TimeUnit.MILLISECONDS);
        ch.closeFuture().addListener(f -> beats.cancel(false));
    }

    private WatchEvent heartbeat() {
        return new WatchEvent(revisions.size(), WatchEvent.HEARTBEAT, clock.instant(), null);
    }

    /** One line of the stream: the event's JSON and a newline. */
    private static DefaultHttpContent line(WatchEvent e) {
        return new DefaultHttpContent(Unpooled.copiedBuffer(toJson(e) + "\n", StandardCharsets.UTF_8));
    }

    /**
     * RFC 8693 for the caller: its task token verified with the api's {@link TokenVerifier}, then an exchanged token
     * for the one {@code audience}, its scope narrowed to the requested tools. No refusal rules of the server's: an
     * out-of-scope tool is {@code invalid_scope} (the sidecar reports it as such), anything else one generic
     * {@code invalid_grant}.
     */
    private void exchange(ChannelHandlerContext ctx, SpiffeId caller, byte[] body, boolean keepAlive) {
        try {
            Object answer = exchange(caller, body);
            exchanges.incrementAndGet(); // before the answer: a caller that got its token sees it counted
            json(ctx, 200, answer, keepAlive);
        } catch (Refused r) {
            json(ctx, r.status, new OAuthError(r.reason, r.getMessage()), keepAlive);
        } catch (RuntimeException e) {
            json(ctx, 400, new OAuthError("invalid_grant", String.valueOf(e.getMessage())), keepAlive);
        }
    }

    private TokenExchangeResponse exchange(SpiffeId caller, byte[] body) {
        Map<String, List<String>> form = new QueryStringDecoder(new String(body, StandardCharsets.UTF_8), false)
                .parameters();
        VerificationResult vr = TokenVerifier.builder(serverId.toString(), TokenType.TASK,
                caller.toString(), () -> keySet).clock(clock).build()
                .verify(form.getOrDefault("subject_token", List.of("")).get(0), caller);
        String audience = form.getOrDefault("audience", List.of()).stream().findFirst().orElse(null);
        if (!(vr instanceof VerifiedToken subject) || audience == null) {
            throw new IllegalArgumentException("subject_token or audience: not acceptable (" + vr + ")");
        }
        TaskScope scope = subject.scope();
        String requested = form.getOrDefault("scope", List.of()).stream().findFirst().orElse(null);
        if (requested != null) {
            Set<String> names = new LinkedHashSet<>(List.of(requested.trim().split(" +")));
            if (!names.stream().allMatch(scope::allows)) {
                throw new Refused(400, "invalid_scope", requested + " is not in the task's scope");
            }
            scope = scope.narrowTo(names);
        }
        Instant now = clock.instant();
        Instant end = now.plus(EXCHANGE_MAX_TTL);
        end = subject.expiresAt().isBefore(end) ? subject.expiresAt() : end;
        String token = sign(TokenType.EXCHANGED, subject.taskId(), caller, SpiffeId.parse(audience).toString(), scope,
                now, end);
        return new TokenExchangeResponse(token, TokenExchangeResponse.JWT_TOKEN_TYPE,
                TokenExchangeResponse.NOT_APPLICABLE, end.getEpochSecond() - now.getEpochSecond(),
                String.join(" ", scope.toolNames()));
    }

    private static void problem(ChannelHandlerContext ctx, int status, String reason, String detail,
                                boolean keepAlive) {
        write(ctx, status, Problem.MEDIA_TYPE, Problem.of(status, reason,
                HttpResponseStatus.valueOf(status).reasonPhrase(), detail), keepAlive);
    }

    private static void json(ChannelHandlerContext ctx, int status, Object value, boolean keepAlive) {
        write(ctx, status, null, value, keepAlive);
    }

    private static String toJson(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("answer cannot be serialised: " + e.getOriginalMessage(), e);
        }
    }

    /** The sidecar's own JSON answer ({@link JsonResponses#json}), as {@code contentType} when not null. */
    private static void write(ChannelHandlerContext ctx, int status, String contentType, Object value,
                              boolean keepAlive) {
        FullHttpResponse resp = JsonResponses.json(ctx.alloc(), status, toJson(value), keepAlive);
        if (contentType != null) {
            resp.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        }
        var f = ctx.writeAndFlush(resp);
        if (!keepAlive) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
    }

    /**
     * Ends every watch stream (its last chunk), closes every connection and stops the event loop; bounded, at most
     * about {@code 2 + 2 + 5} seconds.
     */
    @Override
    public void close() {
        Channel s = server;
        if (s != null) {
            s.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
        for (Channel ch : channels) {
            if (Boolean.TRUE.equals(ch.attr(STREAMING).get()) && ch.isActive()) {
                ch.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(ChannelFutureListener.CLOSE);
            } else {
                ch.close();
            }
        }
        channels.newCloseFuture().awaitUninterruptibly(2, TimeUnit.SECONDS);
        if (!loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS)) {
            org.slf4j.LoggerFactory.getLogger(TrainingControlPlane.class)
                    .warn("the training control plane's event loop did not stop within 5 s");
        }
    }
}
