package dev.tollgate.proxy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.X509ExtendedTrustManager;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
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
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
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
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

import dev.tollgate.api.AuditCheckpoints;
import dev.tollgate.api.InvalidSpiffeIdException;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.SpiffeTrustManager;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.token.TaskScope;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.token.TokenKeySet;
import dev.tollgate.api.token.TokenRejection;
import dev.tollgate.api.token.TokenType;
import dev.tollgate.api.token.TokenVerifier;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.token.VerificationResult;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.api.wire.AuditCheckpointView;
import dev.tollgate.api.wire.CheckpointKeySet;
import dev.tollgate.api.wire.CheckpointKeyView;
import dev.tollgate.api.wire.DecisionAggregate;
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

/**
 * A control plane for {@link TrainingRun} only, never for serving: it exists so that the training run's enforcing
 * pair of sidecars starts, and serves its first requests, exactly as an enforcing sidecar joined to a real control
 * plane does, and so loads (and the class-data archive records) the classes that takes: the enrolment (key pair,
 * CSR, the Netty control-plane transport), the watch stream and the credential state it feeds, the task-token
 * verification (nimbus-jose-jwt, Bouncy Castle's ES256 check), the token exchange, the decision log shipping, the
 * wire records and their Jackson (de)serialisers.
 *
 * <p>It answers exactly what such a sidecar asks during start and its first requests, with the real control plane's
 * semantics and wire shapes (the {@code dev.tollgate.api.wire} records through {@link Json#mapper()}, so the shapes
 * cannot drift from the real server's without breaking the training run):
 * <ul>
 * <li>{@code POST /v1/svid/join} (no client certificate): a CSR whose signature verifies (proof of possession) and a
 * one-time join token made by {@link #joinToken}; the request's form is checked first (a refusal leaves the token
 * unspent), then the token is spent and the SVID issued for the SPIFFE ID the token names, never for anything the
 * CSR says; a spent or unknown token is refused 401. As the server's {@code SvidIssuer.join} and
 * {@code JoinTokens}.</li>
 * <li>{@code POST /v1/svid/renew} (the current SVID): a new SVID for the caller's SPIFFE ID, as
 * {@code SvidIssuer.renew}.</li>
 * <li>{@code GET /v1/watch?after=N} (an SVID): newline-delimited {@link WatchEvent}s: the revisions after N
 * ({@code bundle}, {@code signing_keys}, {@code audit_checkpoint_keys}, {@code audit_checkpoint}, the revisions a
 * fresh control plane has), or one {@code resync} when N is not in its history, then the {@code heartbeat} that ends
 * the catch-up (what makes a sidecar's credential state synchronised), then a heartbeat every
 * {@link #HEARTBEAT_INTERVAL}; as the server's {@code WatchHub.attach} and {@code WatchStream}.</li>
 * <li>{@code POST /v1/token/exchange} (an agent's SVID): RFC 8693, the task token verified as the caller's, its task
 * active, the audience a registered tool of the trust domain, the scope narrowed; an exchanged token signed as the
 * server's {@code TokenExchange} and {@code TokenIssuer} sign it; refusals as RFC 6749 errors.</li>
 * <li>{@code POST /v1/audit/decisions} (an SVID): a {@code DecisionBatch} checked as {@code DecisionIngest} checks
 * its form, acknowledged with a {@code DecisionBatchView}; nothing is stored.</li>
 * </ul>
 * Anything else is answered 404 (405 for a known path with another method) as RFC 9457 problem JSON.
 *
 * <p>It binds only 127.0.0.1, presents {@code spiffe://<trust domain>/tollgate/control-plane} signed by the
 * training run's throwaway CA, accepts only the join tokens it made itself, and lives only as long as the training
 * run: no production command path can start one (it is package-private, and only {@link TrainingRun} builds one).
 * Everything is bounded: TLS 1.3 handshakes, idle connections, header and body sizes, connections and watch streams;
 * {@link #close} ends every stream and stops its one event loop within a few seconds. Its handlers run on that event
 * loop, which serves nothing but the training run's two sidecars: they only compute (a CSR check, a signature) and
 * never wait on anything.
 */
final class TrainingControlPlane implements AutoCloseable {
    /** As the real control plane's {@code watch.heartbeat-interval} default (and the sidecar's). */
    static final Duration HEARTBEAT_INTERVAL = ConfigDefaults.WATCH_HEARTBEAT_INTERVAL;
    /** As the real control plane's {@code svid.default-ttl}. */
    static final Duration SVID_TTL = Duration.ofMinutes(5);
    /** As {@code WorkloadRegistry.MIN_TTL}: a requested lifetime below this is refused. */
    static final Duration MIN_SVID_TTL = Duration.ofMinutes(1);
    /** As the real control plane's {@code tokens.exchange-max-ttl}. */
    static final Duration EXCHANGE_MAX_TTL = Duration.ofSeconds(60);
    /** As the real control plane's {@code api.max-body-bytes}. */
    static final int MAX_BODY_BYTES = 64 * 1024;
    static final int MAX_CONNECTIONS = 16;
    static final int MAX_WATCH_STREAMS = 4;
    static final Duration IDLE_TIMEOUT = Duration.ofSeconds(30);
    static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(5);
    /** As {@code JoinTokens.MAX_TOKEN_LENGTH}: a longer token is malformed. */
    static final int MAX_JOIN_TOKEN_LENGTH = 128;
    /** As {@code DecisionIngest.MAX_EVENTS} and {@code MAX_AGGREGATES}. */
    static final int MAX_DECISIONS = 1000;
    /** The bundle's sequence number (one CA for the whole run). */
    static final long BUNDLE_SEQUENCE = 1;

    static final String HANDLER_TLS = "tls";
    static final String HANDLER_IDLE = "idle";
    static final String HANDLER_HTTP = "http";
    static final String HANDLER_AGGREGATOR = "aggregator";
    static final String HANDLER_API = "api";

    private static final AttributeKey<Boolean> STREAMING = AttributeKey.valueOf("tollgate-training-watch");
    private static final ObjectMapper JSON = Json.mapper();

    /** An active task: whose it is, what it may do, until when. */
    private record Task(SpiffeId agent, TaskScope scope, Instant expiresAt) {
    }

    /** The payload of a {@code bundle} revision, as the server's {@code BundleRevisions} publishes it. */
    record BundlePayload(long sequence, String pem) {
    }

    /** The routes; a path is known when some route has it (for 405 rather than 404). */
    private enum Route {
        JOIN("POST", "/v1/svid/join", false),
        RENEW("POST", "/v1/svid/renew", true),
        WATCH("GET", "/v1/watch", true),
        EXCHANGE("POST", "/v1/token/exchange", true),
        DECISIONS("POST", "/v1/audit/decisions", true);

        final String method;
        final String path;
        final boolean workload;

        Route(String method, String path, boolean workload) {
            this.method = method;
            this.path = path;
            this.workload = workload;
        }
    }

    /** An RFC 9457 refusal: status, reason, detail (the title follows the status, as {@code ApiProblem}'s). */
    private static final class Refusal extends Exception {
        private static final long serialVersionUID = 1L;
        final int status;
        final String reason;

        Refusal(int status, String reason, String detail) {
            super(detail, null, false, false);
            this.status = status;
            this.reason = reason;
        }

        Problem problem() {
            String title = switch (status) {
                case 400 -> "Bad request";
                case 401 -> "Unauthorized";
                case 403 -> "Forbidden";
                case 404 -> "Not found";
                case 405 -> "Method not allowed";
                case 413 -> "Content too large";
                case 415 -> "Unsupported media type";
                case 429 -> "Too many requests";
                case 500 -> "Internal error";
                default -> "Error";
            };
            return Problem.of(status, reason, title, getMessage());
        }
    }

    /** An RFC 6749 error of the token endpoint, answered 400 as the server's {@code TokenExchange.Refusal}. */
    private static final class OAuthRefusal extends Exception {
        private static final long serialVersionUID = 1L;
        final String error;

        OAuthRefusal(String error, String description) {
            super(description, null, false, false);
            this.error = error;
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
    private final SpiffeTrustManager clientTrust;
    private final Map<String, SpiffeId> joinTokens = new ConcurrentHashMap<>();
    private final Set<String> spentJoinTokens = ConcurrentHashMap.newKeySet();
    private final Map<String, Task> tasks = new ConcurrentHashMap<>();
    private final ECKey signingKey;
    private final ECDSASigner signer;
    private final TokenKeySet keySet;
    private final List<WatchEvent> revisions;
    private final Map<String, JsonNode> snapshot;
    private final AtomicLong auditSeq = new AtomicLong();
    private final AtomicInteger decisionsReceived = new AtomicInteger();
    private final AtomicInteger exchanges = new AtomicInteger();
    private final AtomicInteger watchStreams = new AtomicInteger();
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
        this.clientTrust = new SpiffeTrustManager(() -> List.of(ca), id -> id.memberOf(trustDomain));
        try {
            // As the server's SigningKeys: ES256 on P-256, kid = RFC 7638 thumbprint, use sig.
            this.signingKey = new ECKeyGenerator(Curve.P_256).keyUse(KeyUse.SIGNATURE).algorithm(JWSAlgorithm.ES256)
                    .keyIDFromThumbprint(true).generate();
            this.signer = new ECDSASigner(signingKey);
        } catch (JOSEException e) {
            throw new IOException("training control plane: cannot make a signing key: " + e.getMessage(), e);
        }
        List<JWK> published = List.of(signingKey.toPublicJWK());
        this.keySet = TokenKeySet.of(published);
        this.tls = serverContext();
        this.revisions = initialRevisions(new JWKSet(published).toJSONObject(true));
        this.snapshot = snapshotOf(revisions);
        this.loop = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("training-control-plane", true),
                NioIoHandler.newFactory());
        this.channels = new DefaultChannelGroup("training-control-plane", loop.next());
    }

    /**
     * Starts one on 127.0.0.1 on a port the system picks.
     *
     * @param ca         the training run's throwaway CA (the sidecars' trust anchor)
     * @param caKey      its private key: this control plane signs SVIDs and its own certificate with it
     * @param registered the workloads it knows (join tokens, exchange audiences, renewals are for these only)
     * @throws IOException when it cannot listen or set up TLS
     */
    static TrainingControlPlane start(String trustDomain, X509Certificate ca, PrivateKey caKey,
                                      Set<SpiffeId> registered, Clock clock) throws IOException {
        TrainingControlPlane cp = new TrainingControlPlane(trustDomain, ca, caKey, registered, clock);
        try {
            cp.bind();
        } catch (IOException | RuntimeException e) {
            cp.close();
            throw e;
        }
        return cp;
    }

    private void bind() throws IOException {
        var f = new ServerBootstrap().group(loop).channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 64)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (channels.size() > MAX_CONNECTIONS) { // (the group holds the listening channel too)
                            ch.close();
                            return;
                        }
                        channels.add(ch);
                        SslHandler ssl = tls.newHandler(ch.alloc());
                        ssl.setHandshakeTimeoutMillis(HANDSHAKE_TIMEOUT.toMillis());
                        ch.pipeline()
                                .addLast(HANDLER_TLS, ssl)
                                .addLast(HANDLER_IDLE, new IdleClose(IDLE_TIMEOUT))
                                .addLast(HANDLER_HTTP, new HttpServerCodec(new HttpDecoderConfig()
                                        .setMaxInitialLineLength(4096).setMaxHeaderSize(8192)
                                        .setStrictLineParsing(true).setAllowDuplicateContentLengths(false)))
                                .addLast(HANDLER_AGGREGATOR, new HttpObjectAggregator(MAX_BODY_BYTES, true))
                                .addLast(HANDLER_API, new Api());
                    }
                })
                .bind("127.0.0.1", 0).awaitUninterruptibly();
        if (!f.isSuccess()) {
            throw new IOException("training control plane: cannot listen on 127.0.0.1: " + f.cause().getMessage(),
                    f.cause());
        }
        server = f.channel();
        channels.add(server);
    }

    /** {@code https://127.0.0.1:<port>}. */
    URI url() {
        InetSocketAddress a = (InetSocketAddress) server.localAddress();
        return URI.create("https://127.0.0.1:" + a.getPort());
    }

    /** The SPIFFE ID its certificate carries (a sidecar's {@code control-plane.server-id}). */
    SpiffeId serverId() {
        return serverId;
    }

    /** Decision batches acknowledged so far. */
    int decisionBatches() {
        return decisionsReceived.get();
    }

    /** Token exchanges answered with a token so far. */
    int exchanges() {
        return exchanges.get();
    }

    /**
     * A one-time join token for a registered workload, as an operator's {@code join-token create}: the SVID of the
     * join that spends it is for {@code id}.
     */
    String joinToken(SpiffeId id) {
        if (!registered.contains(id)) {
            throw new IllegalArgumentException("join token for " + id + " (expected: a registered workload, one of "
                    + registered + ")");
        }
        byte[] raw = new byte[32];
        random.nextBytes(raw);
        String token = "tgjt_" + Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        joinTokens.put(token, id);
        return token;
    }

    /**
     * Creates an active task for {@code agent} and returns its task token, signed as the server's
     * {@code TokenIssuer.sign} signs one: ES256 with the active key, {@code typ} tollgate-task+jwt, {@code sub} and
     * {@code aud} the agent, whole-second times, the task id and scope claims.
     */
    String taskToken(SpiffeId agent, TaskScope scope, Duration ttl) {
        if (!registered.contains(agent) || agent.kind() != SpiffeId.Kind.AGENT) {
            throw new IllegalArgumentException("task for " + agent + " (expected: a registered agent)");
        }
        scope.validate();
        Instant now = clock.instant();
        Instant exp = now.plus(ttl);
        String taskId = UUID.randomUUID().toString();
        tasks.put(taskId, new Task(agent, scope, Instant.ofEpochSecond(exp.getEpochSecond())));
        return sign(TokenType.TASK, taskId, agent, agent.toString(), scope, now, exp);
    }

    private String sign(TokenType type, String taskId, SpiffeId subject, String audience, TaskScope scope,
                        Instant issuedAt, Instant expiresAt) {
        Instant iat = Instant.ofEpochSecond(issuedAt.getEpochSecond());
        Instant exp = Instant.ofEpochSecond(expiresAt.getEpochSecond());
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .issuer(TokenClaims.issuer(trustDomain))
                .subject(subject.toString())
                .audience(audience)
                .jwtID(UUID.randomUUID().toString())
                .issueTime(java.util.Date.from(iat))
                .notBeforeTime(java.util.Date.from(iat))
                .expirationTime(java.util.Date.from(exp))
                .claim(TokenClaims.TASK_ID, taskId)
                .claim(TokenClaims.SCOPE, scope.toClaim())
                .build();
        JWSHeader header = new JWSHeader.Builder(JWSAlgorithm.ES256).type(new JOSEObjectType(type.typ()))
                .keyID(signingKey.getKeyID()).build();
        SignedJWT jwt = new SignedJWT(header, claims);
        try {
            jwt.sign(signer);
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot sign a training token: " + e.getMessage(), e);
        }
        return jwt.serialize();
    }

    // ---- what a fresh control plane has published -------------------------------------------------------------

    /**
     * The revisions a fresh control plane has logged when its first sidecar joins: the trust bundle, the token
     * signing keys, the audit checkpoint key set, and one signed checkpoint of the audit chain (the periodic
     * checkpointer publishes one as soon as the chain has events).
     */
    private List<WatchEvent> initialRevisions(Map<String, Object> jwks) throws IOException {
        Instant now = clock.instant();
        KeyPair checkpointKey;
        try {
            checkpointKey = TrainingRun.ecKeys(random);
        } catch (GeneralSecurityException e) {
            throw new IOException("training control plane: cannot make an audit checkpoint key: " + e.getMessage(), e);
        }
        String keyId = AuditCheckpoints.keyId(checkpointKey.getPublic());
        String publicPem = AuditCheckpoints.publicKeyPem(checkpointKey.getPublic());
        Instant at = now.truncatedTo(ChronoUnit.MILLIS);
        String head = HexFormat.of().formatHex(sha256(("tollgate training run " + at)
                .getBytes(StandardCharsets.UTF_8)));
        String signature = AuditCheckpoints.sign(checkpointKey.getPrivate(),
                AuditCheckpoints.signedText(trustDomain, 1, head, at.toEpochMilli(), keyId));
        List<WatchEvent> out = new ArrayList<>();
        out.add(revision(out, WatchEvent.BUNDLE, new BundlePayload(BUNDLE_SEQUENCE,
                Pem.encodeCertificates(List.of(ca))), now));
        out.add(revision(out, WatchEvent.SIGNING_KEYS, jwks, now));
        out.add(revision(out, WatchEvent.AUDIT_CHECKPOINT_KEYS, new CheckpointKeySet(List.of(new CheckpointKeyView(
                keyId, "ES256", "active", publicPem, now, now))), now));
        out.add(revision(out, WatchEvent.AUDIT_CHECKPOINT, new AuditCheckpointView(AuditCheckpoints.FORMAT,
                trustDomain, 1, head, at, keyId, signature, publicPem), now));
        return List.copyOf(out);
    }

    private static WatchEvent revision(List<WatchEvent> log, String kind, Object payload, Instant at) {
        return new WatchEvent(log.size() + 1, kind, at, JSON.valueToTree(payload));
    }

    /** The full state of every kind, as the server's snapshot sources give it for a resync. */
    private static Map<String, JsonNode> snapshotOf(List<WatchEvent> log) {
        Map<String, JsonNode> s = new LinkedHashMap<>();
        for (WatchEvent e : log) {
            s.put(e.kind(), e.payload());
        }
        s.put(WatchEvent.REVOCATION, JSON.createArrayNode()); // this control plane revokes nothing
        s.put(WatchEvent.EXCEPTION, JSON.createArrayNode());
        return s;
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- TLS ------------------------------------------------------------------------------------------------------

    /**
     * Its serving certificate for {@link #serverId}, signed by the training CA; TLS 1.3; client certificates optional
     * at the handshake and verified per request (as the server's {@code ServerTls} and {@code Authenticator}).
     */
    private SslContext serverContext() throws IOException {
        try {
            KeyPair kp = TrainingRun.ecKeys(random);
            X509Certificate leaf = TrainingRun.sign(random, kp.getPublic(), new X500Name("O=Tollgate"), caKey, caName,
                    false, Duration.ofHours(1), new GeneralName(GeneralName.uniformResourceIdentifier,
                            serverId.toString()));
            return SslContextBuilder.forServer(kp.getPrivate(), leaf, ca)
                    .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                    .protocols("TLSv1.3")
                    .clientAuth(ClientAuth.OPTIONAL)
                    .trustManager(new DeferredClientTrust(ca))
                    .build();
        } catch (GeneralSecurityException | SSLException e) {
            throw new IOException("training control plane: TLS setup failed: " + e.getMessage(), e);
        }
    }

    /** Accepts any client chain at the handshake (each request's route decides); advertises the CA. */
    private static final class DeferredClientTrust extends X509ExtendedTrustManager {
        private final X509Certificate ca;

        DeferredClientTrust(X509Certificate ca) {
            this.ca = ca;
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, java.net.Socket socket) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, java.net.Socket socket)
                throws CertificateException {
            throw new CertificateException("this trust manager only checks clients");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("this trust manager only checks clients");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("this trust manager only checks clients");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[] {ca};
        }
    }

    /** Closes a connection idle for longer than the idle timeout (a watch stream's connection has none). */
    private static final class IdleClose extends IdleStateHandler {
        IdleClose(Duration idle) {
            super(0, 0, idle.toMillis(), TimeUnit.MILLISECONDS);
        }

        @Override
        protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent evt) {
            ctx.close();
        }
    }

    // ---- the API --------------------------------------------------------------------------------------------------

    /** One request at a time per connection, answered in order; a watch stream keeps its connection. */
    private final class Api extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (Boolean.TRUE.equals(ctx.channel().attr(STREAMING).get())) {
                ctx.close(); // a client sends nothing on a watch connection (as the server's WatchStream.Inbound)
                return;
            }
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            if (!req.decoderResult().isSuccess()) {
                problem(ctx, new Refusal(400, "malformed_request", "the request could not be parsed"), false);
                return;
            }
            QueryStringDecoder qs = QueryStringDecoder.builder().maxParams(32).build(req.uri());
            String path = qs.rawPath();
            String method = req.method().name();
            Route route = null;
            boolean pathKnown = false;
            for (Route r : Route.values()) {
                if (r.path.equals(path)) {
                    pathKnown = true;
                    if (r.method.equals(method)) {
                        route = r;
                    }
                }
            }
            try {
                if (route == null) {
                    throw pathKnown ? new Refusal(405, "method_not_allowed", method + " " + path)
                            : new Refusal(404, "no_such_route", "no route " + path);
                }
                SpiffeId caller = route.workload ? workload(ctx) : null;
                byte[] body = ByteBufUtil.getBytes(req.content());
                String contentType = req.headers().get(HttpHeaderNames.CONTENT_TYPE);
                switch (route) {
                    case JOIN -> json(ctx, 200, join(readJson(body, contentType, SvidRequest.class)), keepAlive);
                    case RENEW -> json(ctx, 200, renew(caller, readJson(body, contentType, SvidRequest.class)),
                            keepAlive);
                    case WATCH -> watch(ctx, caller, after(qs));
                    case EXCHANGE -> exchange(ctx, caller, contentType, body, keepAlive);
                    case DECISIONS -> json(ctx, 200, decisions(readJson(body, contentType, DecisionBatch.class)),
                            keepAlive);
                    default -> throw new IllegalStateException(route.name());
                }
            } catch (Refusal r) {
                problem(ctx, r, keepAlive);
            } catch (RuntimeException e) {
                problem(ctx, new Refusal(500, "internal_error", "the training control plane failed: " + e), false);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** The caller's SPIFFE ID from its verified client certificate, as the server's {@code Authenticator}. */
    private SpiffeId workload(ChannelHandlerContext ctx) throws Refusal {
        SslHandler ssl = ctx.pipeline().get(SslHandler.class);
        Certificate[] certs;
        try {
            certs = ssl.engine().getSession().getPeerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            certs = null;
        }
        if (certs == null || certs.length == 0) {
            throw new Refusal(401, "no_client_certificate",
                    "this route needs a client certificate (an operator credential or a workload SVID)");
        }
        X509Certificate[] chain = new X509Certificate[certs.length];
        for (int i = 0; i < certs.length; i++) {
            chain[i] = (X509Certificate) certs[i];
        }
        SpiffeId id;
        try {
            id = clientTrust.verify(chain);
        } catch (CertificateException e) {
            throw new Refusal(401, "untrusted_client_certificate", e.getMessage());
        }
        if (id.kind() == SpiffeId.Kind.OPERATOR) {
            throw new Refusal(403, "not_a_workload", "this route is for workloads presenting their SVID");
        }
        return id;
    }

    /** A JSON body as the server's {@code ApiRequest.json} reads it. */
    private static <T> T readJson(byte[] body, String contentType, Class<T> type) throws Refusal {
        if (body.length == 0) {
            throw new Refusal(400, "missing_body", "request body: empty (expected: a JSON object)");
        }
        if (contentType == null || !contentType.toLowerCase(java.util.Locale.ROOT).startsWith("application/json")) {
            throw new Refusal(415, "unsupported_media_type", "content-type: '" + contentType
                    + "' (expected: application/json)");
        }
        try {
            return JSON.readValue(body, type);
        } catch (UnrecognizedPropertyException e) {
            throw new Refusal(400, "unknown_field", "unknown field '" + e.getPropertyName() + "'");
        } catch (JsonProcessingException e) {
            throw new Refusal(400, "malformed_json", "request body: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new Refusal(400, "malformed_json", "request body: " + e.getMessage());
        }
    }

    private static long after(QueryStringDecoder qs) throws Refusal {
        List<String> v = qs.parameters().get("after");
        if (v == null || v.isEmpty()) {
            return 0;
        }
        try {
            long n = Long.parseLong(v.get(0));
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new Refusal(400, "invalid_parameter", "after: '" + v.get(0) + "' (expected: a whole number between 0 "
                    + "and " + Long.MAX_VALUE + ")");
        }
    }

    // ---- SVIDs ----------------------------------------------------------------------------------------------------

    /** As {@code SvidIssuer.join}: the request's form first, then the token is spent, then the SVID is issued. */
    private SvidResponse join(SvidRequest request) throws Refusal {
        PublicKey key = csrKey(request);
        checkTtl(request.ttlSeconds());
        String token = request.joinToken();
        if (token == null || token.isEmpty() || token.length() > MAX_JOIN_TOKEN_LENGTH) {
            throw new Refusal(401, "join_token_invalid", "joinToken: missing or malformed");
        }
        SpiffeId id = joinTokens.remove(token);
        if (id == null) {
            throw spentJoinTokens.contains(token)
                    ? new Refusal(401, "join_token_used", "join token was already used (they are single use; create "
                            + "a new one)")
                    : new Refusal(401, "join_token_invalid", "join token is not known");
        }
        spentJoinTokens.add(token);
        return issue(id, key, request.ttlSeconds());
    }

    /** As {@code SvidIssuer.renew}: the caller is the workload its current SVID names. */
    private SvidResponse renew(SpiffeId caller, SvidRequest request) throws Refusal {
        PublicKey key = csrKey(request);
        if (request.joinToken() != null) {
            throw new Refusal(400, "unexpected_join_token",
                    "joinToken: renewals authenticate with the current SVID; leave it out");
        }
        checkTtl(request.ttlSeconds());
        if (!registered.contains(caller)) {
            throw new Refusal(403, "workload_not_registered", "workload " + caller + " is not registered (deleted?)");
        }
        return issue(caller, key, request.ttlSeconds());
    }

    /** The public key of a self-signed PKCS#10 CSR (proof of possession checked); nothing else of it is used. */
    private static PublicKey csrKey(SvidRequest request) throws Refusal {
        if (request == null || request.csr() == null) {
            throw new Refusal(400, "missing_field", "csr: missing (expected: a PKCS#10 CSR in PEM)");
        }
        String pem = request.csr();
        if (pem.length() > 16 * 1024) {
            throw new Refusal(400, "bad_csr:too_large", "csr: " + pem.length() + " characters (expected: <= 16384)");
        }
        String b64 = pem.replace("-----BEGIN CERTIFICATE REQUEST-----", "")
                .replace("-----END CERTIFICATE REQUEST-----", "").replaceAll("\\s", "");
        try {
            JcaPKCS10CertificationRequest csr = new JcaPKCS10CertificationRequest(Base64.getDecoder().decode(b64));
            PublicKey key = csr.getPublicKey();
            if (!csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(key))) {
                throw new Refusal(400, "bad_csr:bad_signature", "csr: the signature does not verify with its own "
                        + "public key (expected: signed by the private key of the requested certificate)");
            }
            return key;
        } catch (IOException | GeneralSecurityException | OperatorCreationException | PKCSException
                 | IllegalArgumentException | IllegalStateException | ClassCastException e) {
            throw new Refusal(400, "bad_csr:malformed", "csr: not a PKCS#10 request (" + e.getMessage() + ")");
        }
    }

    private static void checkTtl(Long requestedSeconds) throws Refusal {
        if (requestedSeconds != null && requestedSeconds < MIN_SVID_TTL.toSeconds()) {
            throw new Refusal(400, "ttl_out_of_range", "ttlSeconds: " + requestedSeconds + " (expected: >= "
                    + MIN_SVID_TTL.toSeconds() + ")");
        }
    }

    /**
     * An X.509-SVID for {@code id} over {@code key}: one URI SAN, a leaf, signed by the training CA, for the requested
     * lifetime or {@link #SVID_TTL}, whichever is shorter (the server caps by the registration's and the CA's most).
     */
    private SvidResponse issue(SpiffeId id, PublicKey key, Long ttlSeconds) {
        Duration ttl = ttlSeconds == null || ttlSeconds > SVID_TTL.toSeconds() ? SVID_TTL
                : Duration.ofSeconds(ttlSeconds);
        X509Certificate leaf;
        try {
            leaf = TrainingRun.sign(random, key, new X500Name("O=Tollgate"), caKey, caName, false, ttl,
                    new GeneralName(GeneralName.uniformResourceIdentifier, id.toString()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign an SVID: " + e.getMessage(), e);
        }
        return new SvidResponse(id.toString(), Svids.serialHex(leaf), Pem.encodeCertificates(List.of(leaf)),
                leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant(), Pem.encodeCertificates(List.of(ca)),
                BUNDLE_SEQUENCE);
    }

    // ---- the watch stream -----------------------------------------------------------------------------------------

    /**
     * As the server's {@code WatchHub.attach} and {@code WatchStream}: the revisions after {@code after}, or a resync
     * when that revision is not in this history (ahead of the head), then the heartbeat that ends the catch-up, then
     * one heartbeat per interval while the connection is writable.
     */
    private void watch(ChannelHandlerContext ctx, SpiffeId caller, long after) throws Refusal {
        if (watchStreams.incrementAndGet() > MAX_WATCH_STREAMS) {
            watchStreams.decrementAndGet();
            throw new Refusal(429, "too_many_streams", "this control plane has " + MAX_WATCH_STREAMS
                    + " watch streams open; retry later");
        }
        Channel ch = ctx.channel();
        ch.attr(STREAMING).set(true);
        ch.closeFuture().addListener(f -> watchStreams.decrementAndGet());
        if (ch.pipeline().get(HANDLER_IDLE) != null) {
            ch.pipeline().remove(HANDLER_IDLE); // the stream writes a heartbeat per interval; closed with the run
        }
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/x-ndjson")
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store").set("x-content-type-options", "nosniff");
        HttpUtil.setTransferEncodingChunked(head, true);
        ctx.write(head);
        long at = revisions.size();
        if (after > at) {
            ObjectNode payload = JSON.createObjectNode();
            snapshot.forEach(payload::set);
            ctx.write(line(new WatchEvent(at, WatchEvent.RESYNC, clock.instant(), payload)));
        } else {
            for (WatchEvent e : revisions.subList((int) after, (int) at)) {
                ctx.write(line(e));
            }
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

    /** One line of the stream: the event's JSON and a newline, as the server's {@code WatchHub.entry}. */
    private static DefaultHttpContent line(WatchEvent e) {
        try {
            byte[] json = JSON.writeValueAsBytes(e);
            byte[] line = java.util.Arrays.copyOf(json, json.length + 1);
            line[json.length] = '\n';
            return new DefaultHttpContent(Unpooled.wrappedBuffer(line));
        } catch (JsonProcessingException ex) {
            throw new IllegalStateException("watch event cannot be serialised: " + ex.getOriginalMessage(), ex);
        }
    }

    // ---- token exchange -------------------------------------------------------------------------------------------

    private void exchange(ChannelHandlerContext ctx, SpiffeId caller, String contentType, byte[] body,
                          boolean keepAlive) {
        try {
            json(ctx, 200, exchangeOrRefuse(caller, contentType, body), keepAlive);
            exchanges.incrementAndGet();
        } catch (OAuthRefusal e) {
            json(ctx, 400, new OAuthError(e.error, e.getMessage()), keepAlive);
        }
    }

    /** As the server's {@code TokenExchange.exchangeOrRefuse}, against this control plane's tasks and keys. */
    private TokenExchangeResponse exchangeOrRefuse(SpiffeId caller, String contentType, byte[] body)
            throws OAuthRefusal {
        if (contentType == null || !contentType.toLowerCase(java.util.Locale.ROOT)
                .startsWith(TokenExchangeResponse.FORM_CONTENT_TYPE)) {
            throw new OAuthRefusal("invalid_request", "content-type: '" + contentType + "' (expected: "
                    + TokenExchangeResponse.FORM_CONTENT_TYPE + ")");
        }
        Map<String, List<String>> form = parseForm(body);
        String grantType = single(form, "grant_type", true);
        if (!TokenExchangeResponse.GRANT_TYPE.equals(grantType)) {
            throw new OAuthRefusal("unsupported_grant_type", "grant_type: '" + grantType + "' (expected: "
                    + TokenExchangeResponse.GRANT_TYPE + ")");
        }
        String subjectToken = single(form, "subject_token", true);
        String subjectTokenType = single(form, "subject_token_type", true);
        if (!TokenExchangeResponse.JWT_TOKEN_TYPE.equals(subjectTokenType)) {
            throw new OAuthRefusal("invalid_request", "subject_token_type: '" + subjectTokenType + "' (expected: "
                    + TokenExchangeResponse.JWT_TOKEN_TYPE + ")");
        }
        String requested = single(form, "requested_token_type", false);
        if (requested != null && !TokenExchangeResponse.JWT_TOKEN_TYPE.equals(requested)) {
            throw new OAuthRefusal("invalid_request", "requested_token_type: '" + requested + "' (expected: "
                    + TokenExchangeResponse.JWT_TOKEN_TYPE + " or absent)");
        }
        if (form.containsKey("actor_token") || form.containsKey("actor_token_type")) {
            throw new OAuthRefusal("invalid_request", "actor_token: delegation is not supported; the caller is the "
                    + "subject");
        }
        if (form.containsKey("resource")) {
            throw new OAuthRefusal("invalid_target",
                    "resource: not supported (expected: audience, a tool's SPIFFE ID)");
        }
        List<String> audiences = form.getOrDefault("audience", List.of());
        if (audiences.size() != 1) {
            throw new OAuthRefusal(audiences.isEmpty() ? "invalid_request" : "invalid_target", "audience: given "
                    + audiences.size() + " times (expected: exactly one tool SPIFFE ID)");
        }
        SpiffeId audience;
        try {
            audience = SpiffeId.parse(audiences.get(0));
        } catch (InvalidSpiffeIdException e) {
            throw new OAuthRefusal("invalid_target", "audience: not a SPIFFE ID (" + e.getMessage() + ")");
        }
        if (!audience.memberOf(trustDomain) || audience.kind() != SpiffeId.Kind.TOOL) {
            throw new OAuthRefusal("invalid_target", "audience: " + audience + " (expected: spiffe://" + trustDomain
                    + "/tool/<name>)");
        }
        if (!registered.contains(audience)) {
            throw new OAuthRefusal("invalid_target", "audience: " + audience + " is not a registered workload");
        }
        if (caller.kind() != SpiffeId.Kind.AGENT) {
            throw new OAuthRefusal("unauthorized_client", "only agents exchange task tokens; " + caller
                    + " is not an agent");
        }
        VerificationResult vr = TokenVerifier.builder(TokenClaims.issuer(trustDomain), TokenType.TASK,
                caller.toString(), () -> keySet).clock(clock).build().verify(subjectToken, caller);
        if (vr instanceof TokenRejection rej) {
            throw new OAuthRefusal("invalid_grant", rej.reason() == TokenRejection.Reason.WRONG_AUDIENCE
                    || rej.reason() == TokenRejection.Reason.WRONG_SUBJECT
                    ? "subject_token was issued to another agent than the caller " + caller
                    : "subject_token: " + rej.reason().wireName());
        }
        VerifiedToken subject = (VerifiedToken) vr;
        // (this control plane revokes nothing: no revocation to check)
        Task task = tasks.get(subject.taskId());
        if (task == null) {
            throw new OAuthRefusal("invalid_grant", "subject_token names no known task");
        }
        Instant now = clock.instant();
        if (!now.isBefore(task.expiresAt())) {
            throw new OAuthRefusal("invalid_grant", "task " + subject.taskId() + " is no longer active");
        }
        TaskScope scope = narrow(subject.scope(), single(form, "scope", false));
        Instant end = min(min(task.expiresAt(), subject.expiresAt()), now.plus(EXCHANGE_MAX_TTL));
        Instant exp = Instant.ofEpochSecond(end.getEpochSecond());
        Instant iat = Instant.ofEpochSecond(now.getEpochSecond());
        if (!exp.isAfter(iat)) {
            throw new OAuthRefusal("invalid_grant", "task " + subject.taskId() + " has less than a second left");
        }
        String token = sign(TokenType.EXCHANGED, subject.taskId(), caller, audience.toString(), scope, iat, exp);
        return new TokenExchangeResponse(token, TokenExchangeResponse.JWT_TOKEN_TYPE,
                TokenExchangeResponse.NOT_APPLICABLE, Duration.between(iat, exp).toSeconds(),
                String.join(" ", scope.toolNames()));
    }

    private static TaskScope narrow(TaskScope taskScope, String requested) throws OAuthRefusal {
        if (requested == null) {
            return taskScope;
        }
        Set<String> names = new LinkedHashSet<>();
        for (String s : requested.split(" ")) {
            if (s.isEmpty()) {
                continue;
            }
            if (!ToolGrant.TOOL_NAME.matcher(s).matches() || !taskScope.allows(s)) {
                throw new OAuthRefusal("invalid_scope", "scope: '" + (s.length() > 128 ? s.substring(0, 128) : s)
                        + "' is not in the task's scope");
            }
            names.add(s);
        }
        if (names.isEmpty() || names.size() > TaskScope.MAX_TOOLS) {
            throw new OAuthRefusal("invalid_scope", "scope: " + names.size() + " tools (expected: 1 to "
                    + TaskScope.MAX_TOOLS + ")");
        }
        return taskScope.narrowTo(names);
    }

    private static String single(Map<String, List<String>> form, String name, boolean required)
            throws OAuthRefusal {
        List<String> v = form.get(name);
        if (v == null || v.isEmpty()) {
            if (required) {
                throw new OAuthRefusal("invalid_request", name + ": missing");
            }
            return null;
        }
        if (v.size() > 1) {
            throw new OAuthRefusal("invalid_request", name + ": given " + v.size() + " times (expected: once)");
        }
        return v.get(0);
    }

    /** application/x-www-form-urlencoded, UTF-8; at most 32 parameters (as the server's). */
    private static Map<String, List<String>> parseForm(byte[] body) throws OAuthRefusal {
        Map<String, List<String>> out = new LinkedHashMap<>();
        String s = new String(body, StandardCharsets.UTF_8);
        if (s.isEmpty()) {
            throw new OAuthRefusal("invalid_request", "request body: empty (expected: form parameters)");
        }
        String[] pairs = s.split("&", -1);
        if (pairs.length > 32) {
            throw new OAuthRefusal("invalid_request", "request body: " + pairs.length + " parameters (expected: "
                    + "<= 32)");
        }
        for (String pair : pairs) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            try {
                String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                out.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
            } catch (IllegalArgumentException e) {
                throw new OAuthRefusal("invalid_request", "request body: malformed percent-encoding");
            }
        }
        return out;
    }

    private static Instant min(Instant a, Instant b) {
        return a.isBefore(b) ? a : b;
    }

    // ---- decisions ------------------------------------------------------------------------------------------------

    /**
     * As the server's {@code DecisionIngest.ingest}, its form only: events, aggregates or upstream TLS observations,
     * each event with an {@code outcome}, each aggregate counting at least one decision; acknowledged with the
     * sequence numbers they would have in the audit chain. Nothing is kept.
     */
    private DecisionBatchView decisions(DecisionBatch batch) throws Refusal {
        List<Map<String, Object>> events = batch.events();
        List<DecisionAggregate> aggregates = batch.aggregates();
        if (events.isEmpty() && aggregates.isEmpty() && batch.upstreamTls().isEmpty()) {
            throw new Refusal(400, "missing_events", "events: missing or empty (expected: 1 to " + MAX_DECISIONS
                    + " decision events, or 1 to " + MAX_DECISIONS + " aggregates, or upstreamTls observations)");
        }
        if (events.size() > MAX_DECISIONS || aggregates.size() > MAX_DECISIONS) {
            throw new Refusal(400, "too_many_events", "events: " + events.size() + ", aggregates: "
                    + aggregates.size() + " (expected: at most " + MAX_DECISIONS + " of each per batch)");
        }
        for (int i = 0; i < events.size(); i++) {
            Map<String, Object> e = events.get(i);
            if (e == null || !(e.get("outcome") instanceof String)) {
                throw new Refusal(400, "invalid_event", "events[" + i + "].outcome: missing (expected: a string)");
            }
        }
        for (int i = 0; i < aggregates.size(); i++) {
            DecisionAggregate a = aggregates.get(i);
            if (a == null || a.count() < 1) {
                throw new Refusal(400, "invalid_event", "aggregates[" + i + "].count: expected >= 1");
            }
        }
        decisionsReceived.incrementAndGet();
        int n = events.size() + aggregates.size();
        if (n == 0) {
            return new DecisionBatchView(0, 0, 0);
        }
        long last = auditSeq.addAndGet(n);
        return new DecisionBatchView(n, last - n + 1, last);
    }

    // ---- answers --------------------------------------------------------------------------------------------------

    private static void problem(ChannelHandlerContext ctx, Refusal r, boolean keepAlive) {
        write(ctx, r.status, Problem.MEDIA_TYPE, toJson(r.problem()), keepAlive);
    }

    private static void json(ChannelHandlerContext ctx, int status, Object value, boolean keepAlive) {
        write(ctx, status, "application/json", toJson(value), keepAlive);
    }

    private static byte[] toJson(Object value) {
        try {
            return JSON.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("answer cannot be serialised: " + e.getOriginalMessage(), e);
        }
    }

    /** As the server's {@code ApiHandler.write}. */
    private static void write(ChannelHandlerContext ctx, int status, String contentType, byte[] body,
                              boolean keepAlive) {
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status),
                Unpooled.wrappedBuffer(body));
        resp.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store")
                .set("x-content-type-options", "nosniff");
        if (!keepAlive) {
            resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        var f = ctx.writeAndFlush(resp);
        if (!keepAlive) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
    }

    /**
     * Ends every watch stream (its last chunk, as the server's shutdown does), closes every connection and stops the
     * event loop; bounded, at most about {@code 2 + 5} seconds.
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
