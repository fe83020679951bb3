package dev.tollgate.proxy.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.AuditCheckpointView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.support.ControlPlaneSidecars;
import dev.tollgate.proxy.support.SidecarYaml;

/**
 * Signed audit checkpoints reach a real sidecar joined to a real control plane over its watch stream: it keeps the
 * latest, serves it on its admin port and exports its sequence number as a metric; one signed after a key rotation
 * is kept too, and a sidecar that connects later gets the latest at once.
 */
class AuditCheckpointDistributionTest {
    static final SpiffeId AGENT = TestControlPlane.agent("auditor-bot");

    @TempDir
    Path dir;

    TestControlPlane cp;
    Sidecar agent;
    Sidecar late;

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {late, agent, cp}) {
            if (c != null) {
                c.close();
            }
        }
    }

    @Test
    void theSidecarKeepsServesAndCountsTheLatestSignedCheckpoint() throws Exception {
        cp = TestControlPlane.start(dir.resolve("cp"), null, Clock.systemUTC(), Map.of());
        cp.register(AGENT);
        agent = ControlPlaneSidecars.start(cp, dir, "agent", AGENT, new SidecarYaml().app("127.0.0.1:9").allow(AGENT.toString())
                .credentialsRequired(false));
        await().atMost(Duration.ofSeconds(30)).until(agent::ready);

        AuditCheckpointView first = cp.admin().checkpointAudit();
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                assertThat(agent.auditCheckpoint()).map(AuditCheckpointView::seq).contains(first.seq()));
        assertThat(agent.registry().get(ProxyMetrics.AUDIT_CHECKPOINT_SEQ).gauge().value()).isEqualTo(first.seq());

        HttpResponse<String> served = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + agent.adminAddress().orElseThrow().getPort() + "/audit/checkpoint")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(served.statusCode()).isEqualTo(200);
        AuditCheckpointView fromAdmin = Json.mapper().readValue(served.body(), AuditCheckpointView.class);
        assertThat(fromAdmin.headHash()).isEqualTo(first.headHash());

        cp.admin().rotateCheckpointKey();
        AuditCheckpointView afterRotation = cp.admin().latestAuditCheckpoint();
        assertThat(afterRotation.keyId()).isNotEqualTo(first.keyId());
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                assertThat(agent.auditCheckpoint()).map(AuditCheckpointView::keyId).contains(afterRotation.keyId()));

        late = ControlPlaneSidecars.start(cp, dir, "late", AGENT, new SidecarYaml().app("127.0.0.1:9").allow(AGENT.toString())
                .credentialsRequired(false));
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                assertThat(late.auditCheckpoint()).map(AuditCheckpointView::seq)
                        .hasValueSatisfying(seq -> assertThat(seq).isGreaterThanOrEqualTo(afterRotation.seq())));
    }
}
