package dev.tollgate.proxy.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.HandshakeResult;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/** TLS 1.3 only by default; TLS 1.2 when configured, and then only ECDHE with AEAD suites. */
class TlsVersionTest {
    @TempDir
    Path dir;
    Mesh mesh;
    TestApp app;

    @BeforeEach
    void setUp() throws Exception {
        mesh = new Mesh(dir);
        app = mesh.track(new TestApp());
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    private Sidecar sidecar(String minVersion) throws Exception {
        SidecarYaml y = new SidecarYaml().tls(mesh.svidFiles("t", "tool/billing"), mesh.bundle()).app(app.address())
                .allow(Mesh.id("agent/caller"));
        if (minVersion != null) {
            y.minVersion(minVersion);
        }
        return mesh.start(y);
    }

    private SSLContext tls12(String... suites) throws Exception {
        SSLContext base = mesh.clientContext(mesh.pki.svid("agent/caller"), "TLSv1.2");
        if (suites.length == 0) {
            return base;
        }
        return new FixedSuites(base, suites);
    }

    @Test
    void refusesTls12ByDefault() throws Exception {
        Sidecar s = sidecar(null);

        assertThat(Http.rawTlsGet(tls12(), s.ingressAddress().orElseThrow(), "/echo")).startsWith("failed");
        await().until(() -> s.metrics().handshakeCount(Listener.INGRESS, HandshakeResult.PROTOCOL_VERSION) == 1);
    }

    @Test
    void acceptsTls12WhenConfigured() throws Exception {
        Sidecar s = sidecar("1.2");

        assertThat(Http.rawTlsGet(tls12(), s.ingressAddress().orElseThrow(), "/echo")).isEqualTo("HTTP/1.1 200 OK");
        assertThat(s.metrics().registry().get("tollgate.proxy.tls.handshakes").tag("listener", "ingress")
                .tag("result", "ok").tag("tls_version", "tls_1_2").counter().count()).isEqualTo(1);
    }

    @Test
    void refusesCbcSuitesEvenWithTls12() throws Exception {
        Sidecar s = sidecar("1.2");

        assertThat(Http.rawTlsGet(tls12("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"), s.ingressAddress().orElseThrow(),
                "/echo")).startsWith("failed");
        await().until(() -> s.metrics().handshakeCount(Listener.INGRESS, HandshakeResult.OK) == 0
                && s.metrics().registry().get("tollgate.proxy.tls.handshakes").tag("listener", "ingress").counters()
                .stream().mapToDouble(c -> c.count()).sum() == 1);
    }

    /** An SSLContext whose sockets offer only the given suites. */
    static final class FixedSuites extends SSLContext {
        FixedSuites(SSLContext base, String[] suites) {
            super(new javax.net.ssl.SSLContextSpi() {
                @Override
                protected void engineInit(javax.net.ssl.KeyManager[] km, javax.net.ssl.TrustManager[] tm,
                                          java.security.SecureRandom sr) {
                }

                @Override
                protected javax.net.ssl.SSLSocketFactory engineGetSocketFactory() {
                    javax.net.ssl.SSLSocketFactory f = base.getSocketFactory();
                    return new javax.net.ssl.SSLSocketFactory() {
                        private java.net.Socket limit(java.net.Socket s) {
                            SSLParameters p = ((javax.net.ssl.SSLSocket) s).getSSLParameters();
                            p.setCipherSuites(suites);
                            ((javax.net.ssl.SSLSocket) s).setSSLParameters(p);
                            return s;
                        }

                        @Override
                        public String[] getDefaultCipherSuites() {
                            return suites;
                        }

                        @Override
                        public String[] getSupportedCipherSuites() {
                            return suites;
                        }

                        @Override
                        public java.net.Socket createSocket(java.net.Socket s, String h, int p, boolean a)
                                throws java.io.IOException {
                            return limit(f.createSocket(s, h, p, a));
                        }

                        @Override
                        public java.net.Socket createSocket(String h, int p) throws java.io.IOException {
                            return limit(f.createSocket(h, p));
                        }

                        @Override
                        public java.net.Socket createSocket(String h, int p, java.net.InetAddress l, int lp)
                                throws java.io.IOException {
                            return limit(f.createSocket(h, p, l, lp));
                        }

                        @Override
                        public java.net.Socket createSocket(java.net.InetAddress h, int p) throws java.io.IOException {
                            return limit(f.createSocket(h, p));
                        }

                        @Override
                        public java.net.Socket createSocket(java.net.InetAddress h, int p, java.net.InetAddress l,
                                                            int lp) throws java.io.IOException {
                            return limit(f.createSocket(h, p, l, lp));
                        }
                    };
                }

                @Override
                protected javax.net.ssl.SSLServerSocketFactory engineGetServerSocketFactory() {
                    return base.getServerSocketFactory();
                }

                @Override
                protected javax.net.ssl.SSLEngine engineCreateSSLEngine() {
                    return base.createSSLEngine();
                }

                @Override
                protected javax.net.ssl.SSLEngine engineCreateSSLEngine(String host, int port) {
                    return base.createSSLEngine(host, port);
                }

                @Override
                protected javax.net.ssl.SSLSessionContext engineGetServerSessionContext() {
                    return base.getServerSessionContext();
                }

                @Override
                protected javax.net.ssl.SSLSessionContext engineGetClientSessionContext() {
                    return base.getClientSessionContext();
                }
            }, base.getProvider(), base.getProtocol());
        }
    }
}
