package dev.tollgate.charts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

import com.fasterxml.jackson.databind.JsonNode;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Helm chart in charts/tollgate, linted and rendered by Helm itself (helm-java embeds it as a native library,
 * so no helm binary is needed), and the example agent chart that adds the sidecar with the chart's helper.
 */
class HelmChartTest {
    private static final String KEK = "kek.existingSecret";

    private static String render(UnaryOperator<Values> values) {
        return new Helm(ChartFiles.chart()).template().withName("tg").withNamespace("tollgate")
                .withValuesFile(values.apply(new Values()).write()).call();
    }

    private static List<JsonNode> renderDocs(UnaryOperator<Values> values) {
        return ChartFiles.documents(render(values));
    }

    private static List<JsonNode> ofKind(List<JsonNode> docs, String kind) {
        List<JsonNode> found = new ArrayList<>();
        for (JsonNode d : docs) {
            if (kind.equals(d.path("kind").asText())) {
                found.add(d);
            }
        }
        return found;
    }

    private static JsonNode only(List<JsonNode> docs, String kind) {
        List<JsonNode> found = ofKind(docs, kind);
        assertThat(found).as("rendered %s objects", kind).hasSize(1);
        return found.get(0);
    }

    private static JsonNode container(JsonNode workload, String name) {
        for (JsonNode c : workload.at("/spec/template/spec/containers")) {
            if (name.equals(c.path("name").asText())) {
                return c;
            }
        }
        throw new AssertionError("no container " + name + " in " + workload.at("/metadata/name"));
    }

    private static JsonNode env(JsonNode container, String name) {
        for (JsonNode e : container.path("env")) {
            if (name.equals(e.path("name").asText())) {
                return e;
            }
        }
        return null;
    }

    private static JsonNode controlPlaneConfig(List<JsonNode> docs) {
        JsonNode cm = only(docs, "ConfigMap");
        return ChartFiles.documents(cm.at("/data/control-plane.yaml").asText()).get(0);
    }

    @Test
    void lintPasses() {
        LintResult result = new Helm(ChartFiles.chart()).lint().call();
        assertThat(result.isFailed()).as("helm lint: %s", result.getMessages()).isFalse();
    }

    @Test
    void strictLintPasses() {
        LintResult result = new Helm(ChartFiles.chart()).lint().strict().call();
        assertThat(result.isFailed()).as("helm lint --strict: %s", result.getMessages()).isFalse();
    }

    @Test
    void rendersControlPlaneWithDefaultsAndAKekSecret() {
        List<JsonNode> docs = renderDocs(t -> t.set(KEK, "tollgate-kek"));

        JsonNode sts = only(docs, "StatefulSet");
        JsonNode cp = container(sts, "control-plane");
        assertThat(cp.path("image").asText()).isEqualTo("tollgate:" + ChartFiles.readYaml(ChartFiles.chart().resolve("Chart.yaml")).path("appVersion").asText());
        assertThat(cp.path("args")).extracting(JsonNode::asText)
                .containsExactly("control-plane", "--config", "/etc/tollgate/control-plane.yaml");
        JsonNode kek = env(cp, "TOLLGATE_KEK");
        assertThat(kek).isNotNull();
        assertThat(kek.at("/valueFrom/secretKeyRef/name").asText()).isEqualTo("tollgate-kek");
        assertThat(kek.at("/valueFrom/secretKeyRef/key").asText()).isEqualTo("kek");
        assertThat(env(cp, "TOLLGATE_DATABASE_PASSWORD")).isNull();

        assertThat(cp.at("/livenessProbe/httpGet/path").asText()).isEqualTo("/healthz");
        assertThat(cp.at("/readinessProbe/httpGet/path").asText()).isEqualTo("/readyz");
        assertThat(cp.at("/readinessProbe/httpGet/port").asText()).isEqualTo("admin");
        assertThat(cp.at("/securityContext/readOnlyRootFilesystem").asBoolean()).isTrue();
        assertThat(cp.at("/securityContext/allowPrivilegeEscalation").asBoolean()).isFalse();
        assertThat(cp.at("/securityContext/capabilities/drop")).extracting(JsonNode::asText).containsExactly("ALL");
        assertThat(sts.at("/spec/template/spec/securityContext/runAsNonRoot").asBoolean()).isTrue();
        assertThat(cp.path("volumeMounts")).extracting(m -> m.path("mountPath").asText())
                .contains("/etc/tollgate", "/var/lib/tollgate", "/tmp");

        JsonNode config = controlPlaneConfig(docs);
        assertThat(config.at("/admin/listen").asText()).as("admin must be reachable by probes and Prometheus")
                .isEqualTo("0.0.0.0:9443");
        assertThat(config.at("/api/listen").asText()).isEqualTo("0.0.0.0:8443");
        assertThat(config.path("trust-domain").asText()).isEqualTo("tollgate.local");

        List<JsonNode> services = ofKind(docs, "Service");
        assertThat(services).extracting(s -> s.at("/spec/ports/0/port").asInt()).containsExactlyInAnyOrder(8443, 9443);
        assertThat(ofKind(docs, "ServiceMonitor")).isEmpty();
        assertThat(ofKind(docs, "PrometheusRule")).isEmpty();
        assertThat(ofKind(docs, "PodDisruptionBudget")).isEmpty();
    }

    @Test
    void refusesToRenderWithoutTheKekSecret() {
        assertThatThrownBy(() -> render(t -> t))
                .hasMessageContaining("kek.existingSecret: not set");
    }

    @Test
    void sqliteRunsOneReplicaStatefulSetWithAClaim() {
        List<JsonNode> docs = renderDocs(t -> t.set(KEK, "tollgate-kek").set("controlPlane.persistence.size", "5Gi"));

        assertThat(ofKind(docs, "Deployment")).isEmpty();
        JsonNode sts = only(docs, "StatefulSet");
        assertThat(sts.at("/spec/replicas").asInt()).isEqualTo(1);
        JsonNode claim = sts.at("/spec/volumeClaimTemplates/0");
        assertThat(claim.at("/metadata/name").asText()).isEqualTo("data");
        assertThat(claim.at("/spec/resources/requests/storage").asText()).isEqualTo("5Gi");
        assertThat(controlPlaneConfig(docs).at("/database/url").isMissingNode()).as("SQLite file in data-dir").isTrue();
        assertThat(ofKind(docs, "PodDisruptionBudget")).isEmpty();
    }

    @Test
    void sqliteRefusesSeveralReplicas() {
        assertThatThrownBy(() -> render(t -> t.set(KEK, "tollgate-kek").set("controlPlane.replicas", 3)))
                .hasMessageContaining("controlPlane.replicas: 3 (expected: 1 with SQLite");
    }

    @Test
    void postgresqlRunsADeploymentOfNReplicasWithADisruptionBudget() {
        List<JsonNode> docs = renderDocs(t -> t.set(KEK, "tollgate-kek")
                .set("database.url", "jdbc:postgresql://postgres:5432/tollgate")
                .set("database.user", "tollgate")
                .set("database.passwordSecret.name", "tollgate-db")
                .set("controlPlane.replicas", 3));

        assertThat(ofKind(docs, "StatefulSet")).isEmpty();
        JsonNode deployment = only(docs, "Deployment");
        assertThat(deployment.at("/spec/replicas").asInt()).isEqualTo(3);
        assertThat(deployment.at("/spec/volumeClaimTemplates").isMissingNode()).isTrue();
        JsonNode password = env(container(deployment, "control-plane"), "TOLLGATE_DATABASE_PASSWORD");
        assertThat(password).isNotNull();
        assertThat(password.at("/valueFrom/secretKeyRef/name").asText()).isEqualTo("tollgate-db");
        assertThat(password.at("/valueFrom/secretKeyRef/key").asText()).isEqualTo("password");

        JsonNode pdb = only(docs, "PodDisruptionBudget");
        assertThat(pdb.at("/spec/maxUnavailable").asInt()).isEqualTo(1);
        assertThat(pdb.at("/spec/selector/matchLabels")).isEqualTo(deployment.at("/spec/selector/matchLabels"));

        JsonNode config = controlPlaneConfig(docs);
        assertThat(config.at("/database/url").asText()).isEqualTo("jdbc:postgresql://postgres:5432/tollgate");
        assertThat(config.at("/database/user").asText()).isEqualTo("tollgate");
        assertThat(config.at("/database/password").isMissingNode()).as("the password stays in its Secret").isTrue();
    }

    @Test
    void configMapHoldsOnlyOptionsOfTheReferenceConfiguration() {
        Set<String> reference = referenceKeys();
        List<JsonNode> docs = renderDocs(t -> t.set(KEK, "tollgate-kek")
                .set("database.url", "jdbc:postgresql://postgres:5432/tollgate")
                .set("database.user", "tollgate")
                .set("controlPlane.replicas", 2)
                .set("controlPlane.config.trust-domain", "agents.example.org")
                .set("controlPlane.config.api.max-connections", 2048)
                .set("controlPlane.config.ca.ttl", "90d")
                .set("controlPlane.config.ca.prepare-at", 0.4)
                .set("controlPlane.config.svid.default-ttl", "2m")
                .set("controlPlane.config.join-token.ttl", "5m")
                .set("controlPlane.config.operators.max-ttl", "1d"));

        TreeSet<String> rendered = ChartFiles.dottedKeys(controlPlaneConfig(docs));
        assertThat(rendered).contains("trust-domain", "data-dir", "api.listen", "admin.listen", "database.url",
                "api.max-connections", "ca.ttl", "ca.prepare-at", "svid.default-ttl", "join-token.ttl", "operators.max-ttl");
        assertThat(reference).as("keys of config/control-plane.yaml").containsAll(rendered);
    }

    @Test
    void schemaOffersOnlyOptionsOfTheReferenceConfiguration() {
        JsonNode schema = ChartFiles.readJson(ChartFiles.chart().resolve("values.schema.json"));
        TreeSet<String> offered = new TreeSet<>();
        schemaLeaves("", schema.at("/properties/controlPlane/properties/config"), offered);
        assertThat(offered).hasSizeGreaterThan(20);
        assertThat(referenceKeys()).containsAll(offered);
    }

    private static void schemaLeaves(String prefix, JsonNode schema, Set<String> out) {
        schema.path("properties").fields().forEachRemaining(e -> {
            String key = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            if ("object".equals(e.getValue().path("type").asText())) {
                schemaLeaves(key, e.getValue(), out);
            } else {
                out.add(key);
            }
        });
    }

    private static Set<String> referenceKeys() {
        Path reference = ChartFiles.repoRoot().resolve("config/control-plane.yaml");
        TreeSet<String> keys = ChartFiles.dottedKeys(ChartFiles.readYaml(reference));
        assertThat(keys).as("options in %s", reference).hasSizeGreaterThan(20);
        return keys;
    }

    @Test
    void schemaRejectsABadDuration() {
        assertThatThrownBy(() -> render(t -> t.set(KEK, "tollgate-kek").set("controlPlane.config.svid.default-ttl", "five minutes")))
                .hasMessageContaining("schema")
                .hasMessageContaining("default-ttl");
    }

    @Test
    void schemaRejectsAnOptionTheChartOwns() {
        assertThatThrownBy(() -> render(t -> t.set(KEK, "tollgate-kek").set("controlPlane.config.admin.listen", "127.0.0.1:9443")))
                .hasMessageContaining("schema")
                .hasMessageContaining("admin");
    }

    @Test
    void schemaRejectsAnUnknownDatabaseScheme() {
        assertThatThrownBy(() -> render(t -> t.set(KEK, "tollgate-kek").set("database.url", "jdbc:mysql://db/tollgate")))
                .hasMessageContaining("schema")
                .hasMessageContaining("url");
    }

    @Test
    void monitoringObjectsCarryTheRulesAndTheDashboard() {
        List<JsonNode> docs = renderDocs(t -> t.set(KEK, "tollgate-kek")
                .set("monitoring.serviceMonitor.enabled", true)
                .set("monitoring.prometheusRule.enabled", true)
                .set("monitoring.grafanaDashboard.enabled", true));

        JsonNode monitor = only(docs, "ServiceMonitor");
        assertThat(monitor.at("/spec/endpoints/0/port").asText()).isEqualTo("admin");
        assertThat(monitor.at("/spec/endpoints/0/path").asText()).isEqualTo("/metrics");
        assertThat(monitor.at("/spec/jobLabel").asText()).isEqualTo("tollgate.dev/job");
        JsonNode adminService = ofKind(docs, "Service").stream()
                .filter(s -> s.at("/spec/ports/0/name").asText().equals("admin")).findFirst().orElseThrow();
        assertThat(adminService.at("/metadata/labels/tollgate.dev~1job").asText()).isEqualTo("tollgate-control-plane");
        monitor.at("/spec/selector/matchLabels").fields().forEachRemaining(l ->
                assertThat(adminService.at("/metadata/labels").path(l.getKey()).asText()).isEqualTo(l.getValue().asText()));

        JsonNode rule = only(docs, "PrometheusRule");
        JsonNode alerts = ChartFiles.readYaml(ChartFiles.repoRoot().resolve("charts/prometheus/tollgate-alerts.yaml"));
        assertThat(rule.at("/spec/groups")).isEqualTo(alerts.path("groups"));

        JsonNode dashboardMap = ofKind(docs, "ConfigMap").stream()
                .filter(c -> c.at("/metadata/labels/grafana_dashboard").asText().equals("1")).findFirst().orElseThrow();
        JsonNode dashboard = ChartFiles.readJson(ChartFiles.repoRoot().resolve("charts/grafana/tollgate-control-plane.json"));
        assertThat(ChartFiles.documents(dashboardMap.at("/data/tollgate-control-plane.json").asText()).get(0))
                .isEqualTo(dashboard);
        assertThat(ChartFiles.documents(dashboardMap.at("/data/tollgate-sidecar.json").asText()).get(0))
                .isEqualTo(ChartFiles.readJson(ChartFiles.repoRoot().resolve("charts/grafana/tollgate-sidecar.json")));
    }

    private static UnaryOperator<Values> withWebhook(UnaryOperator<Values> more) {
        return t -> more.apply(t.set(KEK, "tollgate-kek").set("webhook.enabled", true)
                .set("webhook.trustAnchor.configMap", "tollgate-trust-anchor"));
    }

    private static JsonNode named(List<JsonNode> docs, String kind, String name) {
        return ofKind(docs, kind).stream().filter(d -> name.equals(d.at("/metadata/name").asText())).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " " + name));
    }

    @Test
    void webhookAndPodMonitorAreOffByDefault() {
        List<JsonNode> docs = renderDocs(t -> t.set(KEK, "tollgate-kek"));

        assertThat(ofKind(docs, "MutatingWebhookConfiguration")).isEmpty();
        assertThat(ofKind(docs, "PodMonitor")).isEmpty();
        assertThat(ofKind(docs, "Deployment")).isEmpty();
    }

    @Test
    void webhookRendersItsDeploymentServiceAndMutatingWebhookConfiguration() throws Exception {
        List<JsonNode> docs = renderDocs(withWebhook(t -> t));

        JsonNode deployment = named(docs, "Deployment", "tg-tollgate-webhook");
        assertThat(deployment.at("/spec/replicas").asInt()).isEqualTo(2);
        JsonNode webhook = container(deployment, "webhook");
        assertThat(webhook.path("args")).extracting(JsonNode::asText).containsExactly("webhook", "--config", "/etc/tollgate/webhook.yaml");
        assertThat(webhook.at("/securityContext/readOnlyRootFilesystem").asBoolean()).isTrue();
        assertThat(webhook.at("/readinessProbe/httpGet/path").asText()).isEqualTo("/readyz");
        assertThat(deployment.at("/spec/template/spec/automountServiceAccountToken").asBoolean(true)).isFalse();
        JsonNode service = named(docs, "Service", "tg-tollgate-webhook");
        assertThat(service.at("/spec/ports/0/port").asInt()).isEqualTo(443);
        assertThat(service.at("/spec/selector")).isEqualTo(deployment.at("/spec/selector/matchLabels"));
        assertThat(named(docs, "PodDisruptionBudget", "tg-tollgate-webhook").at("/spec/minAvailable").asInt()).isEqualTo(1);

        JsonNode mwc = only(docs, "MutatingWebhookConfiguration");
        assertThat(mwc.path("webhooks")).extracting(w -> w.path("name").asText())
                .containsExactly("namespace.sidecar.tollgate.dev", "pod.sidecar.tollgate.dev");
        for (JsonNode w : mwc.path("webhooks")) {
            assertThat(w.path("failurePolicy").asText()).isEqualTo("Fail");
            assertThat(w.path("sideEffects").asText()).isEqualTo("None");
            assertThat(w.path("admissionReviewVersions")).extracting(JsonNode::asText).containsExactly("v1");
            assertThat(w.at("/clientConfig/service/name").asText()).isEqualTo("tg-tollgate-webhook");
            assertThat(w.at("/clientConfig/service/namespace").asText()).isEqualTo("tollgate");
            assertThat(w.at("/clientConfig/service/path").asText()).isEqualTo(dev.tollgate.webhook.WebhookServer.PATH);
            assertThat(w.at("/rules/0/resources")).extracting(JsonNode::asText).containsExactly("pods");
            assertThat(w.at("/rules/0/operations")).extracting(JsonNode::asText).containsExactly("CREATE");
            JsonNode excluded = w.at("/namespaceSelector/matchExpressions/1");
            assertThat(excluded.path("key").asText()).isEqualTo("kubernetes.io/metadata.name");
            assertThat(excluded.path("operator").asText()).isEqualTo("NotIn");
            assertThat(excluded.path("values")).extracting(JsonNode::asText).containsExactly("tollgate", "kube-system");
        }
        JsonNode byNamespace = mwc.at("/webhooks/0");
        assertThat(byNamespace.at("/namespaceSelector/matchExpressions/0/key").asText()).isEqualTo(dev.tollgate.webhook.Annotations.NAMESPACE_LABEL);
        assertThat(byNamespace.at("/namespaceSelector/matchExpressions/0/values/0").asText()).isEqualTo(dev.tollgate.webhook.Annotations.NAMESPACE_LABEL_VALUE);
        assertThat(byNamespace.at("/objectSelector/matchExpressions/0/key").asText()).isEqualTo(dev.tollgate.webhook.Annotations.INJECT);
        assertThat(mwc.at("/webhooks/1/objectSelector/matchLabels").path(dev.tollgate.webhook.Annotations.INJECT).asText()).isEqualTo("true");
        assertThat(mwc.at("/webhooks/1/namespaceSelector/matchExpressions/0/operator").asText()).isEqualTo("DoesNotExist");

        // cert-manager issues the serving certificate into the Secret the Deployment mounts, and fills caBundle.
        JsonNode cert = named(docs, "Certificate", "tg-tollgate-webhook-tls");
        assertThat(cert.at("/spec/dnsNames")).extracting(JsonNode::asText).contains("tg-tollgate-webhook.tollgate.svc");
        JsonNode tls = deployment.at("/spec/template/spec/volumes").findParent("secret");
        assertThat(tls.at("/secret/secretName").asText()).isEqualTo(cert.at("/spec/secretName").asText());
        assertThat(webhook.path("volumeMounts")).anyMatch(m -> m.path("name").asText().equals(tls.path("name").asText())
                && !m.has("subPath"));
        assertThat(mwc.at("/metadata/annotations/cert-manager.io~1inject-ca-from").asText()).isEqualTo("tollgate/tg-tollgate-webhook-tls");

        // The rendered webhook.yaml is a valid configuration of ./tollgate webhook, injecting this chart's sidecar.
        java.nio.file.Path file = java.nio.file.Files.createTempFile("webhook-", ".yaml");
        dev.tollgate.webhook.WebhookConfig cfg;
        try {
            java.nio.file.Files.writeString(file, named(docs, "ConfigMap", "tg-tollgate-webhook").at("/data/webhook.yaml").asText());
            cfg = dev.tollgate.webhook.WebhookConfig.parse(dev.tollgate.webhook.WebhookConfig.values().loadYaml(file));
        } finally {
            java.nio.file.Files.deleteIfExists(file);
        }
        String appVersion = ChartFiles.readYaml(ChartFiles.chart().resolve("Chart.yaml")).path("appVersion").asText();
        assertThat(cfg.injection().image()).isEqualTo("tollgate:" + appVersion);
        assertThat(cfg.injection().controlPlaneUrl()).isEqualTo("https://tg-tollgate.tollgate.svc:8443");
        assertThat(cfg.injection().tokenAudience()).isEqualTo("tollgate.local");
        assertThat(cfg.injection().tokenExpirationSeconds()).isEqualTo(600);
        assertThat(cfg.injection().runAsUser()).isEqualTo(10002);
        assertThat(cfg.injection().adminPort()).isEqualTo(15000);
        assertThat(cfg.trustAnchorFile().toString()).isEqualTo("/etc/tollgate/trust-anchor/ca.pem");
        assertThat(cfg.certFile().getParent().toString()).isEqualTo(webhook.path("volumeMounts").findParents("mountPath").stream()
                .filter(m -> m.path("name").asText().equals(tls.path("name").asText())).findFirst().orElseThrow()
                .path("mountPath").asText());
    }

    @Test
    void webhookWithoutCertManagerTakesAnExistingSecretAndItsCa() {
        assertThatThrownBy(() -> render(withWebhook(t -> t.set("webhook.tls.certManager.enabled", false))))
                .hasMessageContaining("webhook.tls.existingSecret: not set");
        assertThatThrownBy(() -> render(withWebhook(t -> t.set("webhook.tls.certManager.enabled", false)
                .set("webhook.tls.existingSecret", "webhook-tls"))))
                .hasMessageContaining("webhook.tls.caBundle: not set");

        List<JsonNode> docs = renderDocs(withWebhook(t -> t.set("webhook.tls.certManager.enabled", false)
                .set("webhook.tls.existingSecret", "webhook-tls").set("webhook.tls.caBundle", "LS0tLS1CRUdJTg==")
                .set("webhook.failurePolicy", "Ignore").set("webhook.excludeNamespaces", List.of("batch-jobs"))));

        assertThat(ofKind(docs, "Certificate")).isEmpty();
        JsonNode mwc = only(docs, "MutatingWebhookConfiguration");
        assertThat(mwc.at("/webhooks/0/clientConfig/caBundle").asText()).isEqualTo("LS0tLS1CRUdJTg==");
        assertThat(mwc.at("/webhooks/0/failurePolicy").asText()).isEqualTo("Ignore");
        assertThat(mwc.at("/webhooks/0/namespaceSelector/matchExpressions/1/values")).extracting(JsonNode::asText)
                .containsExactly("tollgate", "kube-system", "batch-jobs");
        JsonNode tls = named(docs, "Deployment", "tg-tollgate-webhook").at("/spec/template/spec/volumes").findParent("secret");
        assertThat(tls.at("/secret/secretName").asText()).isEqualTo("webhook-tls");
    }

    @Test
    void webhookRefusesToRenderWithoutTheTrustAnchor() {
        assertThatThrownBy(() -> render(t -> t.set(KEK, "tollgate-kek").set("webhook.enabled", true)))
                .hasMessageContaining("webhook.trustAnchor.configMap: not set");
    }

    @Test
    void schemaRefusesAFailurePolicyOtherThanFailOrIgnoreAndAShortToken() {
        assertThatThrownBy(() -> render(withWebhook(t -> t.set("webhook.failurePolicy", "Retry"))))
                .hasMessageContaining("schema").hasMessageContaining("failurePolicy");
        assertThatThrownBy(() -> render(withWebhook(t -> t.set("webhook.tokenExpirationSeconds", 60))))
                .hasMessageContaining("schema").hasMessageContaining("tokenExpirationSeconds");
    }

    @Test
    void podMonitorSelectsInjectedSidecarsOnTheirAdminPort() {
        List<JsonNode> docs = renderDocs(t -> t.set(KEK, "tollgate-kek").set("monitoring.podMonitor.enabled", true));

        JsonNode monitor = only(docs, "PodMonitor");
        assertThat(monitor.at("/spec/namespaceSelector/any").asBoolean()).isTrue();
        assertThat(monitor.at("/spec/selector/matchLabels").path(dev.tollgate.webhook.Annotations.INJECTED_LABEL).asText()).isEqualTo("true");
        JsonNode endpoint = monitor.at("/spec/podMetricsEndpoints/0");
        assertThat(endpoint.path("port").asText()).isEqualTo("tg-admin");
        assertThat(endpoint.path("path").asText()).isEqualTo("/metrics");
        assertThat(endpoint.path("relabelings")).anyMatch(r -> r.path("targetLabel").asText().equals("job")
                && r.path("replacement").asText().equals("tollgate-sidecar"));
        assertThat(endpoint.path("relabelings")).anyMatch(r -> r.path("targetLabel").asText().equals("workload"));
    }

    @Test
    void renderedObjectsValidateAgainstTheKubernetesSchemas() {
        dev.tollgate.testing.KubernetesSchemas.assumeAvailable();
        List<JsonNode> docs = new ArrayList<>(renderDocs(withWebhook(t -> t
                .set("monitoring.serviceMonitor.enabled", true).set("monitoring.podMonitor.enabled", true)
                .set("monitoring.prometheusRule.enabled", true).set("monitoring.grafanaDashboard.enabled", true))));
        docs.addAll(renderDocs(withWebhook(t -> t.set("database.url", "jdbc:postgresql://postgres:5432/tollgate")
                .set("controlPlane.replicas", 2).set("webhook.tls.certManager.enabled", false)
                .set("webhook.tls.existingSecret", "webhook-tls").set("webhook.tls.caBundle", "LS0tLS1CRUdJTg=="))));

        List<String> unknown = dev.tollgate.testing.KubernetesSchemas.assertValid(docs);

        assertThat(new TreeSet<>(unknown)).as("only custom resources are not checked")
                .isSubsetOf("ServiceMonitor", "PodMonitor", "PrometheusRule", "Issuer", "Certificate");
        assertThat(docs.size() - unknown.size()).isGreaterThanOrEqualTo(15);
    }

    @Test
    void exampleAgentDeploymentRendersWithTheSidecar(@TempDir Path dir) {
        ChartFiles.copyTree(ChartFiles.repoRoot().resolve("charts/tollgate"), dir.resolve("tollgate"));
        ChartFiles.copyTree(ChartFiles.repoRoot().resolve("charts/examples/agent"), dir.resolve("examples/agent"));
        Path agentChart = dir.resolve("examples/agent");
        new Helm(agentChart).dependency().update().call();

        List<JsonNode> docs = ChartFiles.documents(new Helm(agentChart).template().withName("research-agent")
                .withNamespace("agents")
                .withValuesFile(new Values()
                        .set("agent.image", "registry.example.org/agents/research:1.0")
                        .set("tollgate.sidecar.configMap", "research-agent-sidecar")
                        .set("tollgate.sidecar.joinToken.secretName", "research-agent-join-token")
                        .write())
                .call());

        assertThat(ofKind(docs, "StatefulSet")).as("no control plane in an agent release").isEmpty();
        JsonNode deployment = only(docs, "Deployment");
        assertThat(deployment.at("/spec/template/spec/containers")).extracting(c -> c.path("name").asText())
                .containsExactly("agent", "tollgate-sidecar");
        JsonNode sidecar = container(deployment, "tollgate-sidecar");
        assertThat(sidecar.path("args")).extracting(JsonNode::asText)
                .containsExactly("sidecar", "--config", "/etc/tollgate/sidecar.yaml");
        assertThat(sidecar.path("ports")).extracting(p -> p.path("containerPort").asInt()).containsExactly(15006, 15000);
        assertThat(sidecar.at("/readinessProbe/httpGet/path").asText()).isEqualTo("/readyz");
        assertThat(sidecar.at("/readinessProbe/httpGet/port").asText()).isEqualTo("tg-admin");
        assertThat(sidecar.at("/securityContext/readOnlyRootFilesystem").asBoolean()).isTrue();
        assertThat(sidecar.at("/securityContext/capabilities/drop")).extracting(JsonNode::asText).containsExactly("ALL");

        JsonNode volumes = deployment.at("/spec/template/spec/volumes");
        assertThat(volumes).extracting(v -> v.at("/configMap/name").asText()).contains("research-agent-sidecar");
        assertThat(volumes).extracting(v -> v.at("/secret/secretName").asText()).contains("research-agent-join-token");
        Set<String> volumeNames = new TreeSet<>();
        volumes.forEach(v -> volumeNames.add(v.path("name").asText()));
        assertThat(sidecar.path("volumeMounts")).extracting(m -> m.path("name").asText())
                .allSatisfy(name -> assertThat(volumeNames).contains(name));
    }

    /**
     * The acceptance path without a cluster: the example agent chart in webhook mode renders a Deployment; the pod its
     * ReplicaSet would create goes through the injector configured exactly as the tollgate chart configures it; the
     * patched pod has the sidecar the example's Service points at, and validates against the Kubernetes schemas.
     */
    @Test
    void exampleAgentInWebhookModeBecomesAnInjectedPodThatValidates(@TempDir Path dir) throws Exception {
        ChartFiles.copyTree(ChartFiles.repoRoot().resolve("charts/tollgate"), dir.resolve("tollgate"));
        ChartFiles.copyTree(ChartFiles.repoRoot().resolve("charts/examples/agent"), dir.resolve("examples/agent"));
        Path agentChart = dir.resolve("examples/agent");
        new Helm(agentChart).dependency().update().call();
        java.util.Map<String, Object> crm = new java.util.LinkedHashMap<>();
        crm.put("address", "crm-tools.tools.svc:15006");
        crm.put("spiffe-id", "spiffe://tollgate.local/tool/crm-tools");
        crm.put("match", java.util.Map.of("path-prefix", "/mcp"));
        List<JsonNode> agentDocs = ChartFiles.documents(new Helm(agentChart).template().withName("research-agent")
                .withNamespace("agents")
                .withValuesFile(new Values()
                        .set("agent.image", "registry.example.org/agents/research:1.0")
                        .set("injection.mode", "webhook")
                        .set("replicas", 3)
                        .set("injection.upstreams", java.util.Map.of("crm-tools", crm))
                        .set("injection.allow", List.of("spiffe://tollgate.local/agent/planner"))
                        .write())
                .call());
        JsonNode deployment = only(agentDocs, "Deployment");
        assertThat(deployment.at("/spec/replicas").asInt()).isEqualTo(3);
        assertThat(deployment.at("/spec/template/spec/containers")).extracting(c -> c.path("name").asText()).containsExactly("agent");
        assertThat(only(agentDocs, "ServiceAccount").at("/metadata/name").asText())
                .isEqualTo(deployment.at("/spec/template/spec/serviceAccountName").asText());

        JsonNode webhookYaml = null;
        for (JsonNode cm : ofKind(renderDocs(withWebhook(t -> t)), "ConfigMap")) {
            if (cm.at("/data/webhook.yaml").isTextual()) {
                webhookYaml = cm.at("/data/webhook.yaml");
            }
        }
        Path cfgFile = dir.resolve("webhook.yaml");
        java.nio.file.Files.writeString(cfgFile, webhookYaml.asText());
        dev.tollgate.webhook.WebhookConfig cfg = dev.tollgate.webhook.WebhookConfig.parse(
                dev.tollgate.webhook.WebhookConfig.values().loadYaml(cfgFile));

        com.fasterxml.jackson.databind.node.ObjectNode pod = ChartFiles.JSON.createObjectNode();
        pod.put("apiVersion", "v1").put("kind", "Pod");
        com.fasterxml.jackson.databind.node.ObjectNode metadata = deployment.at("/spec/template/metadata").deepCopy();
        metadata.put("generateName", "research-agent-5d8f7c9b6-").put("namespace", "agents");
        pod.set("metadata", metadata);
        pod.set("spec", deployment.at("/spec/template/spec").deepCopy());
        com.fasterxml.jackson.databind.node.ObjectNode request = ChartFiles.JSON.createObjectNode();
        request.put("uid", "0b7e3c1a-2d4f-4e6a-8b9c-1d2e3f4a5b6c").put("operation", "CREATE").put("namespace", "agents");
        request.putObject("kind").put("group", "").put("version", "v1").put("kind", "Pod");
        request.set("object", pod);

        dev.tollgate.webhook.SidecarInjector.Admission admission = new dev.tollgate.webhook.SidecarInjector(cfg.injection())
                .admit(request, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");

        assertThat(admission.result()).as(admission.message()).isEqualTo(dev.tollgate.webhook.SidecarInjector.Result.INJECTED);
        JsonNode injected = dev.tollgate.testing.JsonPatch.apply(pod, admission.patch());
        JsonNode sidecar = injected.at("/spec/initContainers/0");
        assertThat(sidecar.path("name").asText()).isEqualTo("tollgate-sidecar");
        String targetPort = only(agentDocs, "Service").at("/spec/ports/0/targetPort").asText();
        assertThat(sidecar.path("ports")).as("the Service's targetPort %s", targetPort)
                .anyMatch(p -> p.path("name").asText().equals(targetPort));
        JsonNode generated = ChartFiles.documents(injected.at("/metadata/annotations").path("sidecar.tollgate.dev/config").asText()).get(0);
        assertThat(generated.at("/upstreams/crm-tools/address").asText()).isEqualTo("crm-tools.tools.svc:15006");
        assertThat(generated.path("app").asText()).isEqualTo("127.0.0.1:8080");
        assertThat(generated.at("/identity/allow/0").asText()).isEqualTo("spiffe://tollgate.local/agent/planner");

        dev.tollgate.testing.KubernetesSchemas.assumeAvailable();
        assertThat(dev.tollgate.testing.KubernetesSchemas.assertValid(List.of(injected))).isEmpty();
    }

    @Test
    void sidecarHelperRefusesToRenderWithoutItsConfigMap(@TempDir Path dir) {
        ChartFiles.copyTree(ChartFiles.repoRoot().resolve("charts/tollgate"), dir.resolve("tollgate"));
        ChartFiles.copyTree(ChartFiles.repoRoot().resolve("charts/examples/agent"), dir.resolve("examples/agent"));
        Path agentChart = dir.resolve("examples/agent");
        new Helm(agentChart).dependency().update().call();

        assertThatThrownBy(() -> new Helm(agentChart).template().withName("research-agent")
                .withValuesFile(new Values().set("agent.image", "registry.example.org/agents/research:1.0").write())
                .call())
                .hasMessageContaining("sidecar.configMap: not set");
    }
}
