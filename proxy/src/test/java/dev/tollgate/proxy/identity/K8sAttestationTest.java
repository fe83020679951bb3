package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.K8sSelector;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.controlplane.TestK8sCluster;
import dev.tollgate.controlplane.TestK8sCluster.Pod;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.TestApp;

/**
 * End to end without Kubernetes itself: a real control plane configured with a cluster whose issuer (real keys,
 * OIDC documents and TokenReview over HTTPS) is played by {@link TestK8sCluster}; real sidecars whose
 * {@code control-plane.k8s-token-file} holds a kubelet-shaped projected token. A sidecar that is stopped and started
 * again, or replaced by one in a new pod of the same service account, is ready again with no operator action.
 */
class K8sAttestationTest {
    @TempDir
    Path dir;
    TestK8sCluster cluster;
    IdentityMesh mesh;
    TestApp app;

    @BeforeEach
    void start() throws Exception {
        cluster = new TestK8sCluster();
        mesh = new IdentityMesh(dir, Map.of("k8s-attestation.clusters",
                TestK8sCluster.clustersOption("prod", cluster.clusterSettings(dir, true)),
                "k8s-attestation.unknown-key-refetch", "1s", "svid.default-ttl", "1m", "ca.backdate", "0s"));
        app = new TestApp();
        mesh.track(app);
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
        cluster.close();
    }

    /** The control-plane section of a sidecar in a pod: the projected token file instead of a join token. */
    String k8sControlPlane(Path tokenFile) throws IOException {
        return "  url: \"" + mesh.cp.cp.apiUri() + "\"\n"
                + "  server-id: \"" + mesh.cp.cp.serverId() + "\"\n"
                + "  trust-anchor: \"" + mesh.anchor() + "\"\n"
                + "  k8s-token-file: \"" + tokenFile + "\"\n"
                + "  backoff-initial: 100ms\n"
                + "  backoff-max: 300ms\n";
    }

    void select(SpiffeId id, String namespace, String serviceAccount) {
        mesh.cp.admin().updateWorkload(id, new WorkloadSpec(id.toString(), "alice@example.com", "team-tools",
                "runs in Kubernetes", List.of(), null, null,
                List.of(new K8sSelector("prod", namespace, serviceAccount))));
    }

    /** What the kubelet does: writes the pod's projected token to the volume (again before it expires). */
    Path kubelet(Pod pod, Path file) throws IOException {
        Files.writeString(file, cluster.token(pod, TestControlPlane.TRUST_DOMAIN));
        return file;
    }

    static boolean servesEcho(IdentityMesh mesh, Sidecar s) throws Exception {
        return Http.rawTlsGet(mesh.client(IdentityMesh.PROBE), s.ingressAddress().orElseThrow(), "/echo")
                .startsWith("HTTP/1.1 200");
    }

    @Test
    void aRestartedSidecarAndOneInANewPodAttestAgainWithNoOperatorAction() throws Exception {
        select(IdentityMesh.TOOL, "tools", "billing");
        Pod pod = cluster.pod("tools", "billing");
        Path token = kubelet(pod, dir.resolve("token"));
        String body = k8sControlPlane(token);

        Sidecar first = mesh.tool(app, body, Clock.systemUTC());
        await().atMost(Duration.ofSeconds(20)).until(first::ready);
        assertThat(first.tls().current().orElseThrow().snapshot().spiffeId()).isEqualTo(IdentityMesh.TOOL);
        assertThat(servesEcho(mesh, first)).isTrue();
        long operatorActionsBefore = operatorActions();

        first.close();
        kubelet(pod, token); // the kubelet refreshed the token meanwhile
        Sidecar restarted = mesh.tool(app, body, Clock.systemUTC());
        await().atMost(Duration.ofSeconds(20)).until(restarted::ready);
        assertThat(restarted.tls().current().orElseThrow().snapshot().spiffeId()).isEqualTo(IdentityMesh.TOOL);
        assertThat(servesEcho(mesh, restarted)).isTrue();

        restarted.close();
        cluster.delete(pod); // rescheduled: a new pod of the same service account, with its own token
        Pod successor = cluster.pod("tools", "billing");
        Path successorToken = kubelet(successor, dir.resolve("successor-token"));
        Sidecar rescheduled = mesh.tool(app, k8sControlPlane(successorToken), Clock.systemUTC());
        await().atMost(Duration.ofSeconds(20)).until(rescheduled::ready);
        assertThat(servesEcho(mesh, rescheduled)).isTrue();

        assertThat(operatorActions()).as("no operator action between the restarts").isEqualTo(operatorActionsBefore);
        List<AuditEventView> attested = mesh.cp.admin().audit(0, 1000).stream()
                .filter(e -> e.kind().equals("attestation.k8s_psat") && e.result().equals("ok")).toList();
        assertThat(attested).extracting(e -> e.details().get("podUid"))
                .containsExactly(pod.uid(), pod.uid(), successor.uid());
        assertThat(IdentityMesh.source(rescheduled).metrics().state()).isIn(ControlPlaneState.CONNECTED,
                ControlPlaneState.DEGRADED);
    }

    @Test
    void aTokenReplayedFromAGonePodLeavesTheSidecarNotReady() throws Exception {
        select(IdentityMesh.TOOL, "tools", "billing");
        Pod pod = cluster.pod("tools", "billing");
        Path stolen = kubelet(pod, dir.resolve("stolen-token"));
        cluster.delete(pod);

        Sidecar thief = mesh.tool(app, k8sControlPlane(stolen), Clock.systemUTC());

        IdentityMetrics m = IdentityMesh.source(thief).metrics();
        await().atMost(Duration.ofSeconds(20)).until(() -> m.renewalCount(RenewalResult.REFUSED) >= 2);
        assertThat(thief.ready()).isFalse();
        assertThat(m.state()).isEqualTo(ControlPlaneState.ATTESTATION_REFUSED);
        assertThat(Http.rawPlain(thief.adminAddress().orElseThrow(), "GET /readyz HTTP/1.1\r\nHost: a\r\n"
                + "Connection: close\r\n\r\n")).startsWith("HTTP/1.1 503").contains("attestation_refused");
        assertThat(mesh.cp.admin().audit(0, 1000)).anyMatch(e -> e.kind().equals("attestation.k8s_psat")
                && e.result().equals("token_review_refused") && pod.uid().equals(e.details().get("podUid")));
    }

    @Test
    void aPodWithoutRegistrationBecomesReadyByItselfOnceItsServiceAccountIsRegistered() throws Exception {
        Pod pod = cluster.pod("tools", "billing");
        Path token = kubelet(pod, dir.resolve("token"));
        Sidecar tool = mesh.tool(app, k8sControlPlane(token), Clock.systemUTC());
        IdentityMetrics m = IdentityMesh.source(tool).metrics();
        await().atMost(Duration.ofSeconds(20)).until(() -> m.renewalCount(RenewalResult.REFUSED) >= 1);
        assertThat(tool.ready()).isFalse();

        select(IdentityMesh.TOOL, "tools", "billing");

        await().atMost(Duration.ofSeconds(20)).until(tool::ready);
        assertThat(servesEcho(mesh, tool)).isTrue();
    }

    @Test
    void aSidecarWaitsForTheKubeletToWriteTheTokenAndRefusesAnOversizedOne() throws Exception {
        select(IdentityMesh.TOOL, "tools", "billing");
        Path token = dir.resolve("not-yet-written");
        Sidecar tool = mesh.tool(app, k8sControlPlane(token), Clock.systemUTC());
        IdentityMetrics m = IdentityMesh.source(tool).metrics();
        assertThat(tool.ready()).isFalse();
        assertThat(m.renewalCount(RenewalResult.NO_JOIN_TOKEN)).isGreaterThanOrEqualTo(1);

        Files.writeString(token, "x".repeat(20_000));
        await().atMost(Duration.ofSeconds(20)).until(() -> mesh.cp.admin().audit(0, 1000).stream()
                .anyMatch(e -> e.result().equals("token_too_large")));
        assertThat(tool.ready()).isFalse();

        kubelet(cluster.pod("tools", "billing"), token);
        await().atMost(Duration.ofSeconds(20)).until(tool::ready);
    }

    /** Operator actions and join tokens for the tool (the probe client of the test gets join tokens of its own). */
    @Test
    void aSidecarWhoseSvidExpiredAttestsAgainByItself() throws Exception {
        select(IdentityMesh.TOOL, "tools", "billing");
        Pod pod = cluster.pod("tools", "billing");
        Path token = kubelet(pod, dir.resolve("token"));
        // the SVID lives one minute and the first renewal is not tried before 70 s: it expires first
        Sidecar tool = mesh.tool(app, k8sControlPlane(token) + "  renewal-min-delay: 70s\n", Clock.systemUTC());
        await().atMost(Duration.ofSeconds(20)).until(tool::ready);
        IdentityMetrics m = IdentityMesh.source(tool).metrics();
        String firstSerial = tool.tls().current().orElseThrow().snapshot().leaf().getSerialNumber().toString(16);

        // Expired, then attested again at once with the kubelet's token: the EXPIRED state may last only
        // milliseconds, so the expiry is read from its counter, not by catching the state.
        await().atMost(Duration.ofSeconds(90)).until(() -> m.expiredCount() >= 1);
        kubelet(pod, token);

        await().atMost(Duration.ofSeconds(60)).until(tool::ready);
        assertThat(tool.tls().current().orElseThrow().snapshot().leaf().getSerialNumber().toString(16))
                .isNotEqualTo(firstSerial);
        assertThat(mesh.cp.admin().audit(0, 1000).stream().filter(e -> e.kind().equals("attestation.k8s_psat")
                && e.result().equals("ok")).count()).isEqualTo(2);
    }

    @Test
    void aSidecarWhoseWorkloadWasRegisteredAgainAttestsTheNewRegistrationAtItsNextRenewal() throws Exception {
        select(IdentityMesh.TOOL, "tools", "billing");
        Pod pod = cluster.pod("tools", "billing");
        Path token = kubelet(pod, dir.resolve("token"));
        Sidecar tool = mesh.tool(app, k8sControlPlane(token), Clock.systemUTC());
        await().atMost(Duration.ofSeconds(20)).until(tool::ready);
        String firstSerial = tool.tls().current().orElseThrow().snapshot().leaf().getSerialNumber().toString(16);

        // deleted and registered again under the same ID (later than the second of clock leeway the control plane
        // allows): the old SVID renews nothing (svid_predates_registration), so the sidecar attests the new
        // registration instead of waiting for its SVID to expire
        await().pollDelay(Duration.ofMillis(1100)).until(() -> true);
        mesh.cp.admin().deleteWorkload(IdentityMesh.TOOL);
        mesh.cp.admin().registerWorkload(new WorkloadSpec(IdentityMesh.TOOL.toString(), "alice@example.com",
                "team-tools", "runs in Kubernetes", List.of(), null, null,
                List.of(new K8sSelector("prod", "tools", "billing"))));
        kubelet(pod, token);

        await().atMost(Duration.ofSeconds(90)).until(() -> mesh.cp.admin().audit(0, 1000).stream()
                .filter(e -> e.kind().equals("attestation.k8s_psat") && e.result().equals("ok")).count() == 2);
        await().atMost(Duration.ofSeconds(20)).until(() -> !tool.tls().current().orElseThrow().snapshot().leaf()
                .getSerialNumber().toString(16).equals(firstSerial));
        assertThat(mesh.cp.admin().audit(0, 1000)).anyMatch(e -> e.kind().equals("svid.refused")
                && "svid_predates_registration".equals(e.details().get("reason")));
        assertThat(tool.ready()).isTrue();
        assertThat(servesEcho(mesh, tool)).isTrue();
    }

    long operatorActions() {
        return mesh.cp.admin().audit(0, 1000).stream()
                .filter(e -> e.kind().equals("operator.action") || e.kind().equals("join_token.created")
                        && e.subject().equals(IdentityMesh.TOOL.toString())).count();
    }
}
