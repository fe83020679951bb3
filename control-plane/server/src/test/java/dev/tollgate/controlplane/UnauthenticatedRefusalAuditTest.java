package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;

/**
 * The outside finding: two connections without a client certificate wrote one durable audit row per refused
 * request (29,066 rows in 15 s). A bounded flood over loopback of refused operator calls without a certificate, bad
 * join tokens and failed TLS handshakes now leaves one audit row per (source, reason) in the interval, while the
 * refusal metric counts every one.
 */
class UnauthenticatedRefusalAuditTest {
    static final int REQUESTS = 300;
    static final int JOINS = 100;
    static final int HANDSHAKES = 60;

    @TempDir
    Path dir;

    TestControlPlane tcp;

    @BeforeEach
    void start() {
        tcp = TestControlPlane.start(dir, null, Clock.systemUTC(), Map.of("audit.refusals.interval", "1h"));
    }

    @AfterEach
    void stop() {
        tcp.close();
    }

    @Test
    void aFloodOfUnauthenticatedRefusalsAddsOneAuditRowPerSourceAndReasonAndCountsEveryRefusal() throws Exception {
        ControlPlaneClient anonymous = tcp.anonymous();
        long before = tcp.cp.store().auditHead().seq();
        WorkloadSpec spec = new WorkloadSpec("spiffe://test.tollgate/agent/intruder", "a", "b", "c", List.of(),
                null, null);
        for (int i = 0; i < REQUESTS; i++) {
            assertThatThrownBy(() -> anonymous.registerWorkload(spec)).isInstanceOfSatisfying(
                    ControlPlaneException.class, e -> assertThat(e.status()).isEqualTo(401));
        }
        String csr = Csrs.csrPem(Csrs.newP256());
        for (int i = 0; i < JOINS; i++) {
            String guess = "tgjt_guess" + i;
            assertThatThrownBy(() -> anonymous.joinSvid(new SvidRequest(csr, guess, null)))
                    .isInstanceOfSatisfying(ControlPlaneException.class, e -> assertThat(e.status()).isEqualTo(401));
        }
        int port = tcp.cp.apiUri().getPort();
        for (int i = 0; i < HANDSHAKES; i++) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                OutputStream out = s.getOutputStream();
                out.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                s.getInputStream().read(); // the server answers with an alert or closes
            } catch (java.io.IOException ignored) {
                // a reset is a refusal too
            }
        }

        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            assertThat(refusals("no_client_certificate")).isEqualTo(REQUESTS);
            assertThat(refusals("join_token_invalid")).isEqualTo(JOINS);
            assertThat(refusals("handshake_failed")).isGreaterThanOrEqualTo(HANDSHAKES);
        });
        List<AuditEventView> added = tcp.admin().audit(before, 1000).stream()
                .filter(e -> e.actor().startsWith("anonymous@") || e.actor().startsWith("unverified@")).toList();
        assertThat(added).as("one row per (source, reason), not one per refusal: %s", added).hasSize(3);
        assertThat(added).allSatisfy(e -> {
            assertThat(e.actor()).isEqualTo("anonymous@127.0.0.1");
            assertThat(((Number) e.details().get("count")).longValue()).isEqualTo(1);
            assertThat(e.details()).containsEntry("sampled", true);
        });
        assertThat(added).extracting(AuditEventView::kind)
                .containsExactlyInAnyOrder("api.refused", "join_token.refused", "api.refused");
        assertThat(tcp.cp.store().auditHead().seq() - before).as("nothing else was written per refusal")
                .isLessThan(10);
        assertThat(tcp.admin().verifyAudit().intact()).isTrue();
    }

    private double refusals(String reason) {
        return tcp.cp.registry().get(ControlPlaneMetrics.API_REFUSALS).tag("reason", reason).counter().count();
    }
}
