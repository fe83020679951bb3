package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.controlplane.ca.CaKeyException;
import dev.tollgate.controlplane.config.ConfigValues;
import dev.tollgate.controlplane.config.ControlPlaneConfig;
import dev.tollgate.testing.MutableClock;
import dev.tollgate.testing.TestPki;

/** Start-up, restart, the KEK and configuration-driven behaviour of a whole control plane. */
class ControlPlaneLifecycleTest {
    @TempDir
    Path dir;

    @Test
    void expiredJoinTokenIsRefusedWith401AndAudited() {
        MutableClock clock = new MutableClock();
        try (TestControlPlane tcp = TestControlPlane.start(dir, null, clock, Map.of())) {
            SpiffeId id = TestControlPlane.agent("late");
            tcp.register(id);
            String token = tcp.admin().createJoinToken(id, 10L).token();
            clock.advance(Duration.ofSeconds(11));
            assertThatThrownBy(() -> tcp.anonymous().joinSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), token, null)))
                    .isInstanceOfSatisfying(ControlPlaneException.class, e -> {
                        assertThat(e.status()).isEqualTo(401);
                        assertThat(e.reason()).isEqualTo("join_token_expired");
                    });
            assertThat(tcp.admin().audit(0, 1000)).anySatisfy(e -> {
                assertThat(e.kind()).isEqualTo("join_token.refused");
                assertThat(e.result()).isEqualTo("expired");
            });
        }
    }

    @Test
    void bootstrapCredentialIsOwnerOnlyAndSurvivesRestart() throws Exception {
        Path op;
        String firstCert;
        try (TestControlPlane tcp = TestControlPlane.start(dir)) {
            op = tcp.cp.operatorDir();
            firstCert = Files.readString(op.resolve(ControlPlane.ADMIN_CERT_FILE));
            assertThat(Files.getPosixFilePermissions(op.resolve(ControlPlane.ADMIN_KEY_FILE)))
                    .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
            tcp.register(TestControlPlane.agent("kept"));
        }
        try (TestControlPlane again = TestControlPlane.start(dir)) {
            assertThat(Files.readString(op.resolve(ControlPlane.ADMIN_CERT_FILE))).isEqualTo(firstCert);
            assertThat(again.admin().workload(TestControlPlane.agent("kept")).humanOwner()).isEqualTo("alice@example.com");
        }
    }

    @Test
    void aRevokedBootstrapAdminIsNotWrittenAgainEvenAfterItsRevocationCouldLapse() throws Exception {
        try (TestControlPlane tcp = TestControlPlane.start(dir)) {
            Path op = tcp.cp.operatorDir();
            tcp.admin().revoke(new dev.tollgate.api.wire.RevocationRequest("spiffe_id", "spiffe://"
                    + TestControlPlane.TRUST_DOMAIN + "/operator/" + ControlPlane.BOOTSTRAP_ADMIN, "directory leaked"));
            // at once, not when the credential is next due for renewal (the revocation may have lapsed by then)
            assertThat(op.resolve(ControlPlane.BOOTSTRAP_REVOKED_FILE)).exists();
            Files.delete(op.resolve(ControlPlane.BOOTSTRAP_REVOKED_FILE));
            tcp.cp.writeOperatorFiles(); // the credential is young: the upkeep still writes the marker again
            assertThat(op.resolve(ControlPlane.BOOTSTRAP_REVOKED_FILE)).exists();
            Files.delete(op.resolve(ControlPlane.ADMIN_CERT_FILE));

            tcp.cp.writeOperatorFiles();

            assertThat(op.resolve(ControlPlane.ADMIN_CERT_FILE)).doesNotExist();
            assertThat(op.resolve(ControlPlane.BOOTSTRAP_REVOKED_FILE)).exists();
            // the marker outlasts the revocation: with it, nothing is written whatever the revocation says
            tcp.cp.writeOperatorFiles();
            assertThat(op.resolve(ControlPlane.ADMIN_CERT_FILE)).doesNotExist();
            // deleting it is how an operator has one written again (here the revocation still stands: still none)
            Files.delete(op.resolve(ControlPlane.BOOTSTRAP_REVOKED_FILE));
            tcp.cp.writeOperatorFiles();
            assertThat(op.resolve(ControlPlane.ADMIN_CERT_FILE)).doesNotExist();
            assertThat(op.resolve(ControlPlane.BOOTSTRAP_REVOKED_FILE)).exists();
        }
    }

    @Test
    void missingKekIsAClearStartupError() {
        ConfigValues v = ControlPlaneConfig.values();
        v.set("data-dir", dir.toString(), "test");
        v.set("api.listen", "127.0.0.1:0", "test");
        v.set("admin.listen", "127.0.0.1:0", "test");
        ControlPlaneConfig cfg = ControlPlaneConfig.parse(v, Map.of());
        assertThatThrownBy(() -> ControlPlane.start(cfg, Map.of(), Clock.systemUTC()))
                .isInstanceOf(CaKeyException.class).hasMessageContaining("TOLLGATE_KEK");
    }

    @Test
    void wrongKekOnRestartIsAClearStartupError() {
        TestControlPlane.start(dir).close();
        ConfigValues v = ControlPlaneConfig.values();
        v.set("data-dir", dir.toString(), "test");
        v.set("trust-domain", TestControlPlane.TRUST_DOMAIN, "test");
        v.set("api.listen", "127.0.0.1:0", "test");
        v.set("admin.listen", "127.0.0.1:0", "test");
        ControlPlaneConfig cfg = ControlPlaneConfig.parse(v, Map.of());
        assertThatThrownBy(() -> ControlPlane.start(cfg, Map.of("TOLLGATE_KEK", "another-key-0123456789"), Clock.systemUTC()))
                .isInstanceOf(CaKeyException.class).hasMessageContaining("KEK");
    }

    @Test
    void operatorProvidedRootFromConfigurationSignsSvids() throws Exception {
        TestPki root = TestPki.create(TestControlPlane.TRUST_DOMAIN, Duration.ofDays(10));
        Path cert = dir.resolve("ca.crt");
        Path key = dir.resolve("ca.key");
        Files.writeString(cert, root.caPem());
        Files.writeString(key, Pem.encodePrivateKey(root.caKeys.getPrivate()));
        try (TestControlPlane tcp = TestControlPlane.start(dir.resolve("cp"), null, Clock.systemUTC(),
                Map.of("ca.provided-cert", cert.toString(), "ca.provided-key", key.toString()))) {
            assertThat(Pem.certificates(tcp.anonymous().bundlePem())).containsExactly(root.caCert);
            SpiffeId id = TestControlPlane.agent("provided");
            tcp.register(id);
            var leaf = Pem.certificates(tcp.join(id, null).svid().chainPem()).get(0);
            leaf.verify(root.caCert.getPublicKey());
            assertThat(tcp.admin().caStatus().slots()).singleElement()
                    .satisfies(s -> assertThat(s.source()).isEqualTo("provided"));
            assertThatThrownBy(() -> tcp.admin().rotateCa()).isInstanceOfSatisfying(ControlPlaneException.class,
                    e -> assertThat(e.status()).isEqualTo(409));
        }
    }
}
