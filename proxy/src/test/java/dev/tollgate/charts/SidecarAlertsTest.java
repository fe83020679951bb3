package dev.tollgate.charts;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import org.junit.jupiter.api.Test;

/** The sidecar alert rules of charts/prometheus/tollgate-alerts.yaml speak only of what a sidecar exports. */
class SidecarAlertsTest {
    static final Path ALERTS = Path.of("..", "charts", "prometheus", "tollgate-alerts.yaml");

    @Test
    void sidecarAlertRulesUseOnlyExportedMetricsOfTheSidecarJob() throws IOException {
        Set<String> known = new TreeSet<>(SidecarDashboardTest.exported());
        known.add("up");
        List<JsonNode> rules = new ArrayList<>();
        new YAMLMapper().readTree(ALERTS.toFile()).path("groups").forEach(g -> {
            if ("tollgate-sidecar".equals(g.path("name").asText())) {
                g.path("rules").forEach(rules::add);
            }
        });
        assertThat(rules).hasSizeGreaterThanOrEqualTo(6);
        for (JsonNode rule : rules) {
            String expr = rule.path("expr").asText();
            Set<String> names = MonitoringTest.metricNames(expr);
            assertThat(names).as("metrics of %s", rule.path("alert").asText()).isNotEmpty();
            assertThat(known).as("metrics of %s", rule.path("alert").asText()).containsAll(names);
            assertThat(expr).as("%s selects the sidecars' job", rule.path("alert").asText())
                    .contains("job=\"tollgate-sidecar\"");
        }
    }
}
