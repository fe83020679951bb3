package dev.tollgate.proxy.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.metrics.HandshakeResult;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.MutableClock;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;
import dev.tollgate.testing.TestPki;

/**
 * The client chain of a server handshake is verified once: by the trust manager during a full handshake, whose
 * verification {@link TlsContextOwner#verifyClient} then takes, or by {@code verifyClient} in full whenever there is
 * no such verification of exactly this chain by the current trust manager on this connection.
 */
class ClientVerificationTest {
    static final String CALLER = "spiffe://example.org/agent/caller";

    final MutableClock clock = new MutableClock(Instant.now());
    final TestPki pki = TestPki.create("example.org");
    TlsContextOwner owner;

    @BeforeEach
    void start() throws Exception {
        owner = new TlsContextOwner(ConfigLoader.parse("listeners: {admin: {}}\ntls: {cert: a, key: b, bundle: c}\n",
                null), new ProxyMetrics(new SimpleMeterRegistry(), clock), clock);
        assertThat(owner.apply(snapshot(pki))).isTrue();
    }

    private CertificateSnapshot snapshot(TestPki p) throws Exception {
        TestPki.Issued own = p.svid("tool/billing");
        return new SvidValidator(clock, Optional.empty()).validate(own.chain(), own.key(), List.of(p.caCert));
    }

    private static X509Certificate[] chain(TestPki.Issued i) {
        return i.chain().toArray(new X509Certificate[0]);
    }

    /** What the TLS stack does during a full handshake on {@code engine}. */
    private void trustManagerAccepts(SSLEngine engine, X509Certificate[] chain) throws Exception {
        owner.current().orElseThrow().clientVerifier().checkClientTrusted(chain, "UNKNOWN", engine);
    }

    private static SSLEngine engine() throws Exception {
        return SSLContext.getDefault().createSSLEngine();
    }

    @Test
    void takesTheTrustManagersVerificationOfThisHandshakeOnce() throws Exception {
        SSLEngine engine = engine();
        X509Certificate[] chain = chain(pki.svid("agent/caller"));
        trustManagerAccepts(engine, chain);

        assertThat(owner.verifyClient(engine, chain)).isEqualTo(SpiffeId.parse(CALLER));
        assertThat(owner.fullClientVerifications()).isZero();

        assertThat(owner.verifyClient(engine, chain)).isEqualTo(SpiffeId.parse(CALLER));
        assertThat(owner.fullClientVerifications()).isEqualTo(1);
    }

    @Test
    void verifiesInFullWithoutAHandshakeVerificationOfThatChain() throws Exception {
        X509Certificate[] caller = chain(pki.svid("agent/caller"));
        X509Certificate[] other = chain(pki.svid("agent/other"));
        SSLEngine engine = engine();
        trustManagerAccepts(engine, caller);

        // Resumed session: the trust manager did not run for this engine.
        assertThat(owner.verifyClient(engine(), caller)).isEqualTo(SpiffeId.parse(CALLER));
        // Another chain than the one the trust manager saw.
        assertThat(owner.verifyClient(engine, other)).isEqualTo(SpiffeId.parse("spiffe://example.org/agent/other"));
        assertThat(owner.fullClientVerifications()).isEqualTo(2);
    }

    @Test
    void verifiesAgainstTheNewBundleWhenTheMaterialChangedDuringTheHandshake() throws Exception {
        SSLEngine engine = engine();
        X509Certificate[] chain = chain(pki.svid("agent/caller"));
        trustManagerAccepts(engine, chain);

        assertThat(owner.apply(snapshot(TestPki.create("example.org")))).isTrue();

        assertThatThrownBy(() -> owner.verifyClient(engine, chain)).isInstanceOfSatisfying(
                PeerCertificateException.class, e -> assertThat(e.result()).isEqualTo(HandshakeResult.UNTRUSTED_CHAIN));
    }

    @Test
    void refusesALeafThatExpiredSinceTheHandshakeVerifiedIt() throws Exception {
        SSLEngine engine = engine();
        X509Certificate[] chain = chain(pki.leaf(CALLER)
                .validity(clock.instant().minusSeconds(60), clock.instant().plusSeconds(60)).issue());
        trustManagerAccepts(engine, chain);

        clock.advance(Duration.ofSeconds(61));

        assertThatThrownBy(() -> owner.verifyClient(engine, chain)).isInstanceOfSatisfying(
                PeerCertificateException.class, e -> assertThat(e.result()).isEqualTo(HandshakeResult.EXPIRED));
    }

    @Test
    void fullHandshakesOnIngressVerifyEachClientChainOnce(@TempDir Path dir) throws Exception {
        try (Mesh mesh = new Mesh(dir)) {
            TestApp app = mesh.track(new TestApp());
            Sidecar sidecar = mesh.start(new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                    .app(app.address()).allow(Mesh.id("agent/caller")));
            TestPki.Issued caller = mesh.pki.svid("agent/caller");

            for (int i = 0; i < 3; i++) {
                // A new client context each time: no session to resume, a full handshake.
                assertThat(Http.rawTlsGet(mesh.clientContext(caller), sidecar.ingressAddress().orElseThrow(), "/echo"))
                        .startsWith("HTTP/1.1 200");
            }

            await().until(() -> sidecar.metrics().handshakeCount(Listener.INGRESS, HandshakeResult.OK) == 3);
            assertThat(sidecar.tls().fullClientVerifications()).isZero();
        }
    }

    @Test
    void buildsServerContextsOnlyForTheListenersConfigured() throws Exception {
        // This owner's sidecar has an admin listener only: no ingress or L4 context is built at all.
        assertThat(owner.current().orElseThrow().ingress()).isNull();
        assertThat(owner.current().orElseThrow().l4()).isNull();
        assertThatThrownBy(() -> owner.newIngressHandler(io.netty.buffer.ByteBufAllocator.DEFAULT))
                .isInstanceOf(IllegalStateException.class).hasMessage("no ingress listener is configured");

        TlsContextOwner both = new TlsContextOwner(ConfigLoader.parse("listeners: {ingress: {}, l4: {address: "
                + "\"127.0.0.1:0\", target: \"127.0.0.1:9\"}}\napp: \"127.0.0.1:8080\"\n"
                + "tls: {cert: a, key: b, bundle: c}\nidentity: {allow: [\"" + CALLER + "\"]}\n", null),
                new ProxyMetrics(new SimpleMeterRegistry(), clock), clock);
        assertThat(both.apply(snapshot(pki))).isTrue();
        assertThat(both.current().orElseThrow().ingress()).isNotNull();
        assertThat(both.current().orElseThrow().l4()).isNotNull();
        io.netty.util.ReferenceCountUtil.release(both.newL4Handler(io.netty.buffer.ByteBufAllocator.DEFAULT).engine());
    }
}
