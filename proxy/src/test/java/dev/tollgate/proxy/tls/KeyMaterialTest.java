package dev.tollgate.proxy.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.util.List;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;

import dev.tollgate.testing.TestPki;

/**
 * One key manager serves every context of an SVID (server and client, BoringSSL and the JDK's TLS), for EC and RSA
 * keys: real handshakes between engines made from such contexts, each side seeing the other's certificate.
 */
class KeyMaterialTest {
    private final TestPki pki = TestPki.create("km.test");

    @ParameterizedTest(name = "{0}, {1} key")
    @CsvSource({"OPENSSL, EC", "OPENSSL, RSA", "JDK, EC", "JDK, RSA"})
    void oneFactoryServesServerAndClientContextsOfOneSvid(SslProvider provider, String keyKind) throws Exception {
        if (provider == SslProvider.OPENSSL) {
            org.junit.jupiter.api.Assumptions.assumeTrue(OpenSsl.isAvailable(), "BoringSSL is not available");
        }
        TestPki.Issued server = issue("tool/km", keyKind);
        TestPki.Issued client = issue("agent/km", keyKind);
        KeyManagerFactory serverKeys = KeyMaterial.factory(server.key(), server.chain(), provider);
        KeyManagerFactory clientKeys = KeyMaterial.factory(client.key(), client.chain(), provider);

        // the same factory for two server contexts, as TlsContextOwner does for ingress and l4
        for (int i = 0; i < 2; i++) {
            SslContext s = SslContextBuilder.forServer(serverKeys).sslProvider(provider).trustManager(pki.caCert)
                    .clientAuth(ClientAuth.REQUIRE).protocols("TLSv1.3").build();
            SslContext c = SslContextBuilder.forClient().sslProvider(provider).keyManager(clientKeys)
                    .trustManager(pki.caCert).endpointIdentificationAlgorithm(null).protocols("TLSv1.3").build();
            SSLEngine se = s.newEngine(ByteBufAllocator.DEFAULT);
            SSLEngine ce = c.newEngine(ByteBufAllocator.DEFAULT);
            try {
                handshake(ce, se);
                assertThat(((X509Certificate) ce.getSession().getPeerCertificates()[0]))
                        .isEqualTo(server.cert());
                assertThat(((X509Certificate) se.getSession().getPeerCertificates()[0]))
                        .isEqualTo(client.cert());
            } finally {
                ReferenceCountUtil.release(se);
                ReferenceCountUtil.release(ce);
                ReferenceCountUtil.release(s);
                ReferenceCountUtil.release(c);
            }
        }
    }

    @Test
    void aKeyWithoutItsChainIsRefusedAsAnSslException() {
        TestPki.Issued svid = issue("tool/km", "EC");
        // the key store refuses a key without a chain; the caller (TlsContextOwner) keeps its previous contexts
        assertThatThrownBy(() -> KeyMaterial.factory(svid.key(), List.of(), SslProvider.JDK))
                .isInstanceOf(SSLException.class).hasMessageContaining("cannot be used for TLS");
    }

    private TestPki.Issued issue(String path, String keyKind) {
        TestPki.Leaf leaf = pki.leaf("spiffe://km.test/" + path);
        if (keyKind.equals("RSA")) {
            try {
                KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
                g.initialize(2048);
                KeyPair kp = g.generateKeyPair();
                leaf.keys(kp);
            } catch (java.security.GeneralSecurityException e) {
                throw new AssertionError(e);
            }
        }
        return leaf.issue();
    }

    /** Runs both engines' handshake to the end in memory; fails after a bounded number of rounds. */
    private static void handshake(SSLEngine client, SSLEngine server) throws SSLException {
        client.setUseClientMode(true);
        server.setUseClientMode(false);
        ByteBuffer toServer = ByteBuffer.allocate(1 << 17);
        ByteBuffer toClient = ByteBuffer.allocate(1 << 17);
        ByteBuffer sink = ByteBuffer.allocate(1 << 17);
        ByteBuffer empty = ByteBuffer.allocate(0);
        client.beginHandshake();
        server.beginHandshake();
        for (int round = 0; round < 200; round++) {
            step(client, empty, toServer, toClient, sink);
            step(server, empty, toClient, toServer, sink);
            if (done(client) && done(server) && toServer.position() == 0 && toClient.position() == 0) {
                return;
            }
        }
        throw new AssertionError("handshake did not finish: client " + client.getHandshakeStatus() + ", server "
                + server.getHandshakeStatus());
    }

    private static boolean done(SSLEngine e) {
        SSLEngineResult.HandshakeStatus s = e.getHandshakeStatus();
        return s == SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING || s == SSLEngineResult.HandshakeStatus.FINISHED;
    }

    /** One engine: unwrap what the peer sent it ({@code in}), run delegated tasks, wrap what it has to send ({@code out}). */
    private static void step(SSLEngine e, ByteBuffer empty, ByteBuffer out, ByteBuffer in, ByteBuffer sink)
            throws SSLException {
        in.flip();
        while (in.hasRemaining()) {
            sink.clear();
            SSLEngineResult r = e.unwrap(in, sink);
            runTasks(e);
            if (r.getStatus() != SSLEngineResult.Status.OK || r.bytesConsumed() == 0) {
                break;
            }
        }
        in.compact();
        while (true) {
            SSLEngineResult r = e.wrap(empty, out);
            runTasks(e);
            if (r.getStatus() != SSLEngineResult.Status.OK || r.bytesProduced() == 0) {
                break;
            }
        }
    }

    private static void runTasks(SSLEngine e) {
        Runnable task;
        while ((task = e.getDelegatedTask()) != null) {
            task.run();
        }
    }
}
