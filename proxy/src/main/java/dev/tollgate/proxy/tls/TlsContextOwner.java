package dev.tollgate.proxy.tls;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSessionContext;
import javax.net.ssl.TrustManagerFactory;

import com.github.benmanes.caffeine.cache.Cache;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.proxy.Caches;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.config.TlsVersion;
import dev.tollgate.proxy.metrics.HandshakeResult;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.metrics.ReloadResult;

/**
 * The one owner of every {@link SslContext} of the sidecar. New certificate material arrives as a validated
 * {@link CertificateSnapshot} (on the certificate source's thread, never an event loop); the owner validates it again,
 * builds every context it needs from it, and only when all of them were built swaps them in atomically. Any failure
 * keeps the previous state. Connections keep the context they were created with; new handshakes take the current
 * one. TLS 1.3 is the default; 1.2 only when configured and then only ECDHE with AEAD suites. The session caches are
 * off on both sides, so the sidecar never resumes as a client; as a server BoringSSL may still issue TLS 1.3 tickets,
 * so every completed server handshake, resumed or not, goes through {@link #verifyClient} before the connection
 * carries data: a chain the current client trust manager verified during this connection's own full handshake is
 * taken as verified (its leaf's validity checked again against the clock), any other (a resumed session, a
 * certificate change in between) is verified in full.
 */
public final class TlsContextOwner implements CertificateSource.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(TlsContextOwner.class);

    static final List<String> TLS13_SUITES = List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256");
    static final List<String> TLS12_SUITES = List.of(
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

    private static final ApplicationProtocolConfig HTTP_ALPN = new ApplicationProtocolConfig(
            ApplicationProtocolConfig.Protocol.ALPN,
            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
            ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1);

    /** The contexts built from one snapshot; {@code ingress} and {@code l4} null when that listener is not configured. */
    public record State(CertificateSnapshot snapshot, SslContext ingress, SslContext l4,
                        Map<String, SslContext> upstreams, PeerTrustManager clientVerifier) {
    }

    /** A client chain accepted by {@code verifier} during a full handshake. */
    private record VerifiedChain(PeerTrustManager verifier, X509Certificate[] chain, SpiffeId id) {
    }

    private final SidecarConfig config;
    private final ProxyMetrics metrics;
    private final Clock clock;
    private final SvidValidator validator;
    private final SslProvider provider;
    private final Map<String, SslContext> externalContexts;
    private final AtomicReference<State> state = new AtomicReference<>();
    private final Object buildLock = new Object();
    /**
     * Client chains verified by the trust manager during a full handshake, by the handshake's engine, until the
     * handshake handler takes them; an engine whose connection failed before that is dropped with it (weak keys).
     */
    private final Cache<SSLEngine, VerifiedChain> verifiedInHandshake = Caches.builder().weakKeys().build();
    private final AtomicLong fullClientVerifications = new AtomicLong();

    /**
     * @throws SSLException when an external upstream's configured roots cannot be loaded
     */
    public TlsContextOwner(SidecarConfig config, ProxyMetrics metrics, Clock clock) throws SSLException {
        this.config = config;
        this.metrics = metrics;
        this.clock = clock;
        this.validator = new SvidValidator(clock, config.tls().spiffeId());
        if (OpenSsl.isAvailable()) {
            provider = SslProvider.OPENSSL;
            LOG.info("TLS provider: {} via netty-tcnative", OpenSsl.versionString());
        } else {
            provider = SslProvider.JDK;
            System.setProperty("jdk.tls.rejectClientInitiatedRenegotiation", "true");
            System.setProperty("jdk.tls.server.enableSessionTicketExtension", "false");
            System.setProperty("jdk.tls.client.enableSessionTicketExtension", "false");
            LOG.warn("TLS provider: JDK (netty-tcnative BoringSSL is not available: {})",
                    String.valueOf(OpenSsl.unavailabilityCause()));
        }
        Map<String, SslContext> external = new LinkedHashMap<>();
        for (SidecarConfig.Upstream u : config.upstreamsInOrder()) {
            if (u.tls() instanceof SidecarConfig.ExternalTls ext) {
                external.put(u.name(), externalContext(u, ext));
            }
        }
        this.externalContexts = Map.copyOf(external);
    }

    public SslProvider provider() {
        return provider;
    }

    /** The current state, or empty until a valid certificate has been loaded. */
    public Optional<State> current() {
        return Optional.ofNullable(state.get());
    }

    /** Ready when a certificate is loaded and still valid now: fail closed at expiry. */
    public boolean ready() {
        State s = state.get();
        return s != null && clock.instant().isBefore(s.snapshot().notAfter());
    }

    @Override
    public void onSnapshot(CertificateSnapshot snapshot) {
        apply(snapshot);
    }

    /** Validates, builds and swaps; returns whether the new snapshot is now current. Never throws. */
    public boolean apply(CertificateSnapshot snapshot) {
        synchronized (buildLock) {
            try {
                CertificateSnapshot checked = validator.validate(snapshot.chain(), snapshot.key(), snapshot.bundle());
                State next = build(checked);
                State previous = state.getAndSet(next);
                metrics.certificateNotAfter(checked.notAfter());
                LOG.info("TLS contexts now use {} (previously {})", checked,
                        previous == null ? "none" : previous.snapshot());
                return true;
            } catch (SnapshotRejectedException e) {
                metrics.certificateReload(e.result());
                LOG.warn("certificate refused ({}), keeping the previous state: {}", e.result().tag(), e.getMessage());
                return false;
            } catch (SSLException | RuntimeException e) {
                metrics.certificateReload(ReloadResult.CONTEXT_BUILD_FAILED);
                LOG.warn("TLS contexts could not be built, keeping the previous state", e);
                return false;
            }
        }
    }

    private State build(CertificateSnapshot s) throws SSLException {
        List<X509Certificate> bundle = s.bundle();
        PeerTrustManager clientVerifier = new PeerTrustManager(bundle, id -> true, HandshakeResult.PEER_NOT_ALLOWED,
                clock, (verifier, engine, chain, id) -> verifiedInHandshake.put(engine,
                        new VerifiedChain(verifier, chain, id)));
        // One key manager for every context of this SVID (KeyMaterial says why); a context only for a listener that
        // is configured.
        KeyManagerFactory keys = KeyMaterial.factory(s.key(), s.chain(), provider);
        SidecarConfig.Listeners listeners = config.listeners();
        SslContext ingress = listeners.ingress().isPresent() ? serverContext(keys, clientVerifier, HTTP_ALPN) : null;
        SslContext l4 = listeners.l4().isPresent() ? serverContext(keys, clientVerifier, null) : null;
        Map<String, SslContext> upstreams = new LinkedHashMap<>();
        for (SidecarConfig.Upstream u : config.upstreamsInOrder()) {
            if (u.tls() instanceof SidecarConfig.SpiffeTls spiffe) {
                SpiffeId expected = spiffe.expectedId();
                Predicate<SpiffeId> exactly = expected::equals;
                upstreams.put(u.name(), spiffeClientContext(keys,
                        new PeerTrustManager(bundle, exactly, HandshakeResult.UNEXPECTED_SPIFFE_ID, clock)));
            }
        }
        return new State(s, ingress, l4, Map.copyOf(upstreams), clientVerifier);
    }

    private SslContext serverContext(KeyManagerFactory keys, PeerTrustManager verifier, ApplicationProtocolConfig alpn)
            throws SSLException {
        SslContextBuilder b = SslContextBuilder.forServer(keys)
                .sslProvider(provider)
                .trustManager(verifier)
                .clientAuth(ClientAuth.REQUIRE);
        policy(b);
        if (alpn != null) {
            b.applicationProtocolConfig(alpn);
        }
        return noResumption(b.build());
    }

    private SslContext spiffeClientContext(KeyManagerFactory keys, PeerTrustManager verifier) throws SSLException {
        // SVIDs carry no DNS name: host name verification is off and the SPIFFE ID is verified by the trust manager.
        SslContextBuilder b = SslContextBuilder.forClient()
                .sslProvider(provider)
                .keyManager(keys)
                .trustManager(verifier)
                .endpointIdentificationAlgorithm(null)
                .applicationProtocolConfig(HTTP_ALPN);
        policy(b);
        return noResumption(b.build());
    }

    private SslContext externalContext(SidecarConfig.Upstream u, SidecarConfig.ExternalTls ext) throws SSLException {
        SslContextBuilder b = SslContextBuilder.forClient()
                .sslProvider(provider)
                .endpointIdentificationAlgorithm("HTTPS")
                .applicationProtocolConfig(HTTP_ALPN);
        if (ext.roots().isPresent()) {
            b.trustManager(readRoots(u, ext.roots().get()));
        } else {
            try {
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init((KeyStore) null);
                b.trustManager(tmf);
            } catch (java.security.GeneralSecurityException e) {
                throw new SSLException("system trust roots cannot be loaded", e);
            }
        }
        // External servers may still speak TLS 1.2; the suites stay restricted to ECDHE with AEAD.
        b.protocols(TlsVersion.TLS_1_3.protocol(), TlsVersion.TLS_1_2.protocol());
        List<String> suites = new ArrayList<>(TLS13_SUITES);
        suites.addAll(TLS12_SUITES);
        b.ciphers(suites, SupportedCipherSuiteFilter.INSTANCE);
        return noResumption(b.build());
    }

    private static List<X509Certificate> readRoots(SidecarConfig.Upstream u, Path path) throws SSLException {
        try {
            return Pem.certificates(Files.readString(path));
        } catch (IOException | IllegalArgumentException e) {
            throw new SSLException("upstreams." + u.name() + ".roots: " + path + " cannot be loaded ("
                    + e.getMessage() + ")", e);
        }
    }

    private void policy(SslContextBuilder b) {
        List<String> suites = new ArrayList<>(TLS13_SUITES);
        if (config.tls().minVersion() == TlsVersion.TLS_1_2) {
            b.protocols(TlsVersion.TLS_1_3.protocol(), TlsVersion.TLS_1_2.protocol());
            suites.addAll(TLS12_SUITES);
        } else {
            b.protocols(TlsVersion.TLS_1_3.protocol());
        }
        b.ciphers(suites, SupportedCipherSuiteFilter.INSTANCE);
    }

    private static SslContext noResumption(SslContext ctx) {
        SSLSessionContext sessions = ctx.sessionContext();
        if (sessions instanceof OpenSslSessionContext openssl) {
            openssl.setSessionCacheEnabled(false);
        }
        if (!(sessions instanceof OpenSslSessionContext) && sessions != null) {
            sessions.setSessionCacheSize(1);
            sessions.setSessionTimeout(1);
        }
        return ctx;
    }

    /**
     * Verifies a client's certificate chain against the current bundle and clock, as the trust manager does during a
     * full handshake. Run after every server handshake so that a resumed session never skips the checks. When the
     * current client trust manager verified exactly this chain during {@code engine}'s own handshake (a full one),
     * that verification stands and only the leaf's validity is checked again; otherwise (resumed session, no engine,
     * certificate material swapped since) the whole chain is verified.
     */
    public SpiffeId verifyClient(SSLEngine engine, X509Certificate[] chain) throws PeerCertificateException {
        State s = state.get();
        if (s == null) {
            throw new PeerCertificateException(HandshakeResult.UNTRUSTED_CHAIN, "no trust bundle loaded");
        }
        VerifiedChain v = engine == null ? null : verifiedInHandshake.asMap().remove(engine);
        if (v != null && v.verifier() == s.clientVerifier() && Arrays.equals(v.chain(), chain)) {
            PeerTrustManager.checkValidity(chain[0], clock);
            return v.id();
        }
        fullClientVerifications.incrementAndGet();
        return s.clientVerifier().verify(chain, PeerTrustManager.EKU_CLIENT_AUTH);
    }

    /** Client chains {@link #verifyClient} verified in full (resumed sessions, or nothing to reuse). */
    long fullClientVerifications() {
        return fullClientVerifications.get();
    }

    /** A server-side handler for the ingress listener (ALPN h2 and http/1.1). */
    public SslHandler newIngressHandler(ByteBufAllocator alloc) {
        return configure(listenerContext(requireState().ingress(), "ingress").newHandler(alloc));
    }

    /** A server-side handler for the L4 listener (no ALPN). */
    public SslHandler newL4Handler(ByteBufAllocator alloc) {
        return configure(listenerContext(requireState().l4(), "l4").newHandler(alloc));
    }

    private static SslContext listenerContext(SslContext ctx, String listener) {
        if (ctx == null) {
            throw new IllegalStateException("no " + listener + " listener is configured");
        }
        return ctx;
    }

    /** A client-side handler for an upstream, with SNI set to its host. */
    public SslHandler newUpstreamHandler(SidecarConfig.Upstream u, ByteBufAllocator alloc) {
        SslContext ctx = externalContexts.get(u.name());
        if (ctx == null) {
            ctx = requireState().upstreams().get(u.name());
        }
        if (ctx == null) {
            throw new IllegalStateException("no TLS context for upstream " + u.name());
        }
        return configure(ctx.newHandler(alloc, u.address().host(), u.address().port()));
    }

    private SslHandler configure(SslHandler h) {
        h.setHandshakeTimeoutMillis(config.tls().handshakeTimeout().toMillis());
        h.setCloseNotifyFlushTimeout(1, TimeUnit.SECONDS);
        return h;
    }

    private State requireState() {
        State s = state.get();
        if (s == null) {
            throw new IllegalStateException("no certificate loaded");
        }
        return s;
    }
}
