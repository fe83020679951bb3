package dev.tollgate.webhook;

import static dev.tollgate.webhook.Fixtures.annotations;
import static dev.tollgate.webhook.Fixtures.generatedConfig;
import static dev.tollgate.webhook.Fixtures.named;
import static dev.tollgate.webhook.Fixtures.patched;
import static dev.tollgate.webhook.Fixtures.pod;
import static dev.tollgate.webhook.Fixtures.review;
import static dev.tollgate.webhook.Fixtures.settings;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import dev.tollgate.webhook.SidecarInjector.Admission;
import dev.tollgate.webhook.SidecarInjector.Result;

/** The injector as a pure function: AdmissionReview request in, decision and JSON Patch out. */
class SidecarInjectorTest {
    private final SidecarInjector injector = new SidecarInjector(settings());

    private Admission admit(ObjectNode review) {
        return injector.admit(review.path("request"), Fixtures.TRUST_ANCHOR);
    }

    private JsonNode inject(ObjectNode review) {
        Admission a = admit(review);
        assertThat(a.result()).as(a.message()).isEqualTo(Result.INJECTED);
        return patched(pod(review), a.patch());
    }

    @Test
    void addsANativeSidecarAsTheFirstInitContainerOfAnOptedInPod() {
        JsonNode pod = inject(review("pod-create-agent.json"));

        JsonNode init = pod.at("/spec/initContainers");
        assertThat(init).hasSize(1);
        JsonNode sidecar = init.get(0);
        assertThat(sidecar.path("name").asText()).isEqualTo("tollgate-sidecar");
        assertThat(sidecar.path("restartPolicy").asText()).as("native sidecar").isEqualTo("Always");
        assertThat(sidecar.path("image").asText()).isEqualTo("registry.example.org/platform/tollgate:0.1.0");
        assertThat(sidecar.path("args")).extracting(JsonNode::asText).containsExactly("sidecar", "--config", "/etc/tollgate/sidecar.yaml");
        assertThat(sidecar.at("/startupProbe/httpGet/path").asText()).as("the agent starts once the sidecar is ready").isEqualTo("/readyz");
        assertThat(sidecar.at("/livenessProbe/httpGet/path").asText()).isEqualTo("/healthz");
        assertThat(sidecar.at("/readinessProbe/httpGet/path").asText()).isEqualTo("/readyz");
        assertThat(sidecar.at("/readinessProbe/httpGet/port").asText()).isEqualTo("tg-admin");
        assertThat(sidecar.at("/ports")).extracting(p -> p.path("containerPort").asInt()).containsExactly(15000);
        assertThat(sidecar.at("/securityContext/runAsNonRoot").asBoolean()).isTrue();
        assertThat(sidecar.at("/securityContext/runAsUser").asLong()).isEqualTo(10002);
        assertThat(sidecar.at("/securityContext/readOnlyRootFilesystem").asBoolean()).isTrue();
        assertThat(sidecar.at("/securityContext/allowPrivilegeEscalation").asBoolean()).isFalse();
        assertThat(sidecar.at("/securityContext/capabilities/drop")).extracting(JsonNode::asText).containsExactly("ALL");
        assertThat(sidecar.at("/securityContext/seccompProfile/type").asText()).isEqualTo("RuntimeDefault");
        assertThat(sidecar.at("/resources/limits/memory").asText()).isEqualTo("512Mi");
        assertThat(named(sidecar.path("env"), "TOLLGATE_JAVA_OPTS").path("value").asText()).isEqualTo("-XX:MaxRAMPercentage=75");

        assertThat(pod.at("/spec/containers")).extracting(c -> c.path("name").asText()).containsExactly("agent");
        assertThat(pod.at("/spec/volumes")).extracting(v -> v.path("name").asText())
                .containsExactly("kube-api-access-x7k2p", "tollgate-sidecar-config", "tollgate-sidecar-token", "tollgate-sidecar-tmp");
        assertThat(sidecar.path("volumeMounts")).extracting(m -> m.path("name").asText() + " " + m.path("mountPath").asText())
                .containsExactly("tollgate-sidecar-config /etc/tollgate", "tollgate-sidecar-token /var/run/secrets/tollgate",
                        "tollgate-sidecar-tmp /tmp");
        assertThat(pod.at("/metadata/annotations/sidecar.tollgate.dev~1status").asText()).isEqualTo("injected");
        assertThat(pod.at("/metadata/labels/sidecar.tollgate.dev~1injected").asText()).isEqualTo("true");
        assertThat(pod.at("/metadata/annotations/prometheus.io~1scrape").asText()).isEqualTo("true");
        assertThat(pod.at("/metadata/annotations/prometheus.io~1port").asText()).isEqualTo("15000");
        assertThat(pod.at("/metadata/annotations/prometheus.io~1path").asText()).isEqualTo("/metrics");
        assertThat(pod.at("/metadata/annotations/kubectl.kubernetes.io~1default-container").asText()).isEqualTo("agent");
        assertThat(pod.at("/metadata/labels/app.kubernetes.io~1name").asText()).as("existing labels kept").isEqualTo("research-agent");
    }

    @Test
    void projectsAShortLivedServiceAccountTokenForTheTrustDomainReadableByTheSidecar() {
        JsonNode pod = inject(review("pod-create-agent.json"));

        JsonNode volume = named(pod.at("/spec/volumes"), "tollgate-sidecar-token");
        JsonNode token = volume.at("/projected/sources/0/serviceAccountToken");
        assertThat(token.path("audience").asText()).isEqualTo("tollgate.local");
        assertThat(token.path("expirationSeconds").asLong()).isEqualTo(600);
        assertThat(token.path("path").asText()).isEqualTo("token");
        assertThat(volume.at("/projected/defaultMode").asInt()).as("0444: the sidecar runs as its own user, no fsGroup")
                .isEqualTo(0444);
        assertThat(volume.at("/projected/sources")).hasSize(1);
    }

    @Test
    void tokenAudienceAndLifetimeFollowTheSettings() {
        SidecarInjector custom = new SidecarInjector(settings("sidecar.token-audience", "tollgate-attestation",
                "sidecar.token-expiration", "15m"));
        ObjectNode review = review("pod-create-agent.json");
        JsonNode pod = patched(pod(review), custom.admit(review.path("request"), Fixtures.TRUST_ANCHOR).patch());

        JsonNode token = named(pod.at("/spec/volumes"), "tollgate-sidecar-token").at("/projected/sources/0/serviceAccountToken");
        assertThat(token.path("audience").asText()).isEqualTo("tollgate-attestation");
        assertThat(token.path("expirationSeconds").asLong()).isEqualTo(900);
    }

    @Test
    void generatedConfigPointsTheSidecarAtTheControlPlaneWithTheProjectedToken() {
        JsonNode pod = inject(review("pod-create-agent.json"));

        JsonNode config = generatedConfig(pod);
        assertThat(config.at("/control-plane/url").asText()).isEqualTo("https://tg-tollgate.tollgate.svc:8443");
        assertThat(config.at("/control-plane/trust-anchor").asText()).isEqualTo("/etc/tollgate/ca-bundle.pem");
        assertThat(config.at("/control-plane/k8s-token-file").asText()).isEqualTo("/var/run/secrets/tollgate/token");
        assertThat(config.at("/listeners/egress/address").asText()).isEqualTo("127.0.0.1:15001");
        assertThat(config.at("/listeners/admin/address").asText()).as("reachable by probes and Prometheus").isEqualTo("0.0.0.0:15000");
        assertThat(config.at("/listeners/admin/expose").asBoolean()).isTrue();
        assertThat(config.at("/listeners/ingress").isMissingNode()).as("no app port: no ingress").isTrue();
        assertThat(config.at("/upstreams/crm-tools/address").asText()).isEqualTo("crm-tools.tools.svc:15006");
        assertThat(config.at("/upstreams/crm-tools/inspection").asText()).isEqualTo("mcp");
        assertThat(pod.at("/metadata/annotations").path(Annotations.GENERATED_TRUST_ANCHOR).asText()).isEqualTo(Fixtures.TRUST_ANCHOR);

        JsonNode files = named(pod.at("/spec/volumes"), "tollgate-sidecar-config").at("/downwardAPI/items");
        assertThat(files).extracting(i -> i.path("path").asText() + " <- " + i.at("/fieldRef/fieldPath").asText())
                .containsExactly("sidecar.yaml <- metadata.annotations['sidecar.tollgate.dev/config']",
                        "ca-bundle.pem <- metadata.annotations['sidecar.tollgate.dev/trust-anchor']");
    }

    @Test
    void baseConfigOfTheSettingsIsKeptUnderWhatTheWebhookSets() {
        SidecarInjector custom = new SidecarInjector(settings("sidecar.config",
                "{\"credentials\":{\"max-staleness\":\"20s\"},\"control-plane\":{\"renewal-fraction\":0.4,\"url\":\"https://elsewhere:1\"}}"));
        ObjectNode review = review("pod-create-agent.json");
        JsonNode config = generatedConfig(patched(pod(review), custom.admit(review.path("request"), Fixtures.TRUST_ANCHOR).patch()));

        assertThat(config.at("/credentials/max-staleness").asText()).isEqualTo("20s");
        assertThat(config.at("/control-plane/renewal-fraction").asDouble()).isEqualTo(0.4);
        assertThat(config.at("/control-plane/url").asText()).as("the webhook's own").isEqualTo("https://tg-tollgate.tollgate.svc:8443");
    }

    @Test
    void toolPodGetsIngressInFrontOfItsAppAndKeepsItsOwnScrapeAnnotations() {
        JsonNode pod = inject(review("pod-create-tool.json"));

        assertThat(pod.at("/spec/initContainers")).extracting(c -> c.path("name").asText())
                .containsExactly("tollgate-sidecar", "migrate");
        JsonNode sidecar = pod.at("/spec/initContainers/0");
        assertThat(sidecar.path("ports")).extracting(p -> p.path("name").asText() + ":" + p.path("containerPort").asInt())
                .containsExactly("tg-admin:15000", "tg-ingress:15006");
        assertThat(pod.at("/metadata/annotations/prometheus.io~1port").asText()).as("the pod's own scrape target").isEqualTo("9090");

        JsonNode config = generatedConfig(pod);
        assertThat(config.at("/listeners/ingress/address").asText()).isEqualTo("0.0.0.0:15006");
        assertThat(config.path("app").asText()).isEqualTo("127.0.0.1:8080");
        assertThat(config.at("/ingress/inspection").asText()).isEqualTo("mcp");
        assertThat(config.at("/identity/allow/0").asText()).isEqualTo("spiffe://tollgate.local/agent/research-bot");
        assertThat(config.at("/identity/allow/1/trust-domain").asText()).isEqualTo("partner.example");
        assertThat(pod.at("/spec/volumes")).as("the pod had no volumes: the list is created").hasSize(3);
    }

    @Test
    void fallbackAddsARegularContainerForClustersWithoutNativeSidecars() {
        SidecarInjector legacy = new SidecarInjector(settings("sidecar.native", "false"));
        ObjectNode review = review("pod-create-agent.json");
        JsonNode pod = patched(pod(review), legacy.admit(review.path("request"), Fixtures.TRUST_ANCHOR).patch());

        assertThat(pod.at("/spec/initContainers").isMissingNode()).isTrue();
        assertThat(pod.at("/spec/containers")).extracting(c -> c.path("name").asText()).containsExactly("agent", "tollgate-sidecar");
        assertThat(pod.at("/spec/containers/1/restartPolicy").isMissingNode()).as("regular containers take no restartPolicy").isTrue();
    }

    @Test
    void podAnnotationChoosesTheFallbackForOnePod() {
        ObjectNode review = review("pod-create-agent.json");
        annotations(review).put(Annotations.NATIVE, "false");

        JsonNode pod = inject(review);

        assertThat(pod.at("/spec/containers")).extracting(c -> c.path("name").asText()).containsExactly("agent", "tollgate-sidecar");
    }

    @Test
    void leavesAPodOptedOutByAnnotationOrLabelAlone() {
        ObjectNode byAnnotation = review("pod-create-agent.json");
        annotations(byAnnotation).put(Annotations.INJECT, "false");
        ObjectNode byLabel = review("pod-create-agent.json");
        ((ObjectNode) byLabel.at("/request/object/metadata/labels")).put(Annotations.INJECT, "false");

        for (ObjectNode r : new ObjectNode[] {byAnnotation, byLabel}) {
            Admission a = admit(r);
            assertThat(a.result()).isEqualTo(Result.OPTED_OUT);
            assertThat(a.allowed()).isTrue();
            assertThat(a.patch()).isNull();
        }
    }

    @Test
    void leavesAnAlreadyInjectedPodAlone() {
        ObjectNode review = review("pod-create-agent.json");
        JsonNode once = inject(review);
        review.with("request").set("object", once);

        Admission again = admit(review);

        assertThat(again.result()).isEqualTo(Result.ALREADY_INJECTED);
        assertThat(again.patch()).isNull();
    }

    @Test
    void aPodWithASidecarContainerButNoStatusIsAlsoLeftAlone() {
        ObjectNode review = review("pod-create-agent.json");
        JsonNode once = inject(review);
        ((ObjectNode) once.at("/metadata/annotations")).remove(Annotations.STATUS);
        review.with("request").set("object", once);

        assertThat(admit(review).result()).isEqualTo(Result.ALREADY_INJECTED);
    }

    @Test
    void configMapAnnotationMountsThatConfigMapInsteadOfGeneratingOne() {
        ObjectNode review = review("pod-create-agent.json");
        annotations(review).remove(Annotations.UPSTREAMS);
        annotations(review).put(Annotations.CONFIG_MAP, "research-agent-sidecar");

        JsonNode pod = inject(review);

        assertThat(named(pod.at("/spec/volumes"), "tollgate-sidecar-config").at("/configMap/name").asText())
                .isEqualTo("research-agent-sidecar");
        assertThat(pod.at("/metadata/annotations").has(Annotations.GENERATED_CONFIG)).isFalse();
    }

    @Test
    void refusesMalformedAnnotationsNamingEveryProblem() {
        ObjectNode review = review("pod-create-agent.json");
        annotations(review).put(Annotations.APP_PORT, "http");
        annotations(review).put(Annotations.INSPECTION, "grpc");
        annotations(review).put(Annotations.UPSTREAMS, "[1, 2]");
        annotations(review).put(Annotations.NATIVE, "yes");
        annotations(review).put(Annotations.ALLOW, "research-bot");

        Admission a = admit(review);

        assertThat(a.result()).isEqualTo(Result.REFUSED);
        assertThat(a.allowed()).isFalse();
        assertThat(a.patch()).isNull();
        assertThat(a.message()).contains("sidecar.tollgate.dev/app-port: 'http' (expected: a port number, 1..65535)",
                "sidecar.tollgate.dev/inspection: 'grpc' (expected: none, mcp or rest)",
                "sidecar.tollgate.dev/upstreams: not a mapping",
                "sidecar.tollgate.dev/native: 'yes' (expected: true or false)",
                "sidecar.tollgate.dev/allow: 'research-bot'");
    }

    @Test
    void refusesUpstreamsThatAreNotYamlOrLackAnAddress() {
        ObjectNode bad = review("pod-create-agent.json");
        annotations(bad).put(Annotations.UPSTREAMS, "crm: {address: [unclosed");
        ObjectNode noAddress = review("pod-create-agent.json");
        annotations(noAddress).put(Annotations.UPSTREAMS, "crm: {match: {path-prefix: /mcp}}");
        ObjectNode duplicate = review("pod-create-agent.json");
        annotations(duplicate).put(Annotations.UPSTREAMS, "crm: {address: a:1}\ncrm: {address: b:1}\n");

        assertThat(admit(bad).message()).contains("sidecar.tollgate.dev/upstreams:").contains("expected: a YAML or JSON mapping");
        assertThat(admit(noAddress).message()).contains("sidecar.tollgate.dev/upstreams.crm: (expected: a mapping with at least address: host:port)");
        assertThat(admit(duplicate).message()).contains("sidecar.tollgate.dev/upstreams:").contains("Duplicate");
    }

    @Test
    void refusesHostNetworkPodsAndPortsTheSidecarNeeds() {
        ObjectNode host = review("pod-create-agent.json");
        pod(host).with("spec").put("hostNetwork", true);
        ObjectNode clash = review("pod-create-tool.json");
        annotations(clash).put(Annotations.APP_PORT, "15001");

        Admission h = admit(host);
        Admission c = admit(clash);

        assertThat(h.result()).isEqualTo(Result.REFUSED);
        assertThat(h.message()).contains("spec.hostNetwork: true");
        assertThat(c.result()).isEqualTo(Result.REFUSED);
        assertThat(c.message()).contains("sidecar.tollgate.dev/app-port: 15001 (expected: not a port of the sidecar");
    }

    @Test
    void refusesPodsWhoseOtherContainersWouldReachIntoTheSidecar() {
        ObjectNode mounts = review("pod-create-agent.json");
        ((ObjectNode) pod(mounts).with("spec").withArray("containers").get(0)).withArray("volumeMounts").addObject().put("name", "tollgate-sidecar-token")
                .put("mountPath", "/stolen");
        ObjectNode shared = review("pod-create-agent.json");
        pod(shared).with("spec").put("shareProcessNamespace", true);
        ObjectNode sameUser = review("pod-create-agent.json");
        ((ObjectNode) pod(sameUser).with("spec").withArray("containers").get(0)).with("securityContext")
                .put("runAsUser", 10002);
        ObjectNode podUser = review("pod-create-agent.json");
        pod(podUser).with("spec").with("securityContext").put("runAsUser", 10002);
        ObjectNode dotted = review("pod-create-agent.json");
        annotations(dotted).put(Annotations.UPSTREAMS, "crm.v2: {address: crm:8443}");

        assertThat(admit(mounts).message()).contains("container 'agent' mounts volume 'tollgate-sidecar-token'");
        assertThat(admit(shared).message()).contains("spec.shareProcessNamespace: true");
        assertThat(admit(sameUser).message()).contains("container 'agent' runs as user 10002");
        assertThat(admit(podUser).message()).contains("spec.securityContext.runAsUser: 10002");
        // a name the sidecar would refuse at start (and crash-loop on) is refused here
        assertThat(admit(dotted).result()).isEqualTo(Result.REFUSED);
        for (ObjectNode r : List.of(mounts, shared, sameUser, podUser)) {
            assertThat(admit(r).result()).isEqualTo(Result.REFUSED);
        }
    }

    @Test
    void refusesAPodWithoutContainers() {
        ObjectNode review = review("pod-create-agent.json");
        pod(review).with("spec").remove("containers");

        Admission a = admit(review);

        assertThat(a.result()).isEqualTo(Result.REFUSED);
        assertThat(a.message()).contains("request.object: not a Pod with spec.containers");
    }

    @Test
    void leavesUpdatesAndOtherResourcesAlone() {
        ObjectNode update = review("pod-create-agent.json");
        update.with("request").put("operation", "UPDATE");
        ObjectNode deployment = review("pod-create-agent.json");
        deployment.with("request").with("kind").put("group", "apps").put("kind", "Deployment");
        ObjectNode ephemeral = review("pod-create-agent.json");
        ephemeral.with("request").put("subResource", "ephemeralcontainers");

        for (ObjectNode r : new ObjectNode[] {update, deployment, ephemeral}) {
            Admission a = admit(r);
            assertThat(a.result()).isEqualTo(Result.NOT_A_POD_CREATE);
            assertThat(a.allowed()).isTrue();
            assertThat(a.patch()).isNull();
        }
    }

    @Test
    void podWithoutLabelsOrAnnotationsGetsBothMaps() {
        ObjectNode review = review("pod-create-agent.json");
        ObjectNode metadata = (ObjectNode) review.at("/request/object/metadata");
        metadata.remove("labels");
        metadata.remove("annotations");

        JsonNode pod = inject(review);

        assertThat(pod.at("/metadata/labels/sidecar.tollgate.dev~1injected").asText()).isEqualTo("true");
        assertThat(pod.at("/metadata/annotations/sidecar.tollgate.dev~1status").asText()).isEqualTo("injected");
    }
}
