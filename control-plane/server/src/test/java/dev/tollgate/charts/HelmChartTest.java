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
