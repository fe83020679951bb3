package dev.tollgate.charts;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;

import dev.tollgate.proxy.identity.IdentityMetrics;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/** charts/grafana/tollgate-sidecar.json shows every meter the sidecar exports, and only those. */
class SidecarDashboardTest {
    /** From the proxy module's directory, where surefire runs. */
    static final Path DASHBOARD = Path.of("..", "charts", "grafana", "tollgate-sidecar.json");

    /** Every series name the sidecar's registry scrapes: ProxyMetrics and IdentityMetrics register up front. */
    static Set<String> exported() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        // The policy info gauge exists once a policy is loaded; the dashboard must show it then.
        new ProxyMetrics(registry, Clock.systemUTC()).policyLoaded("2026-11-22.1", "sha256:00");
        new IdentityMetrics(registry, Clock.systemUTC());
        Set<String> names = new TreeSet<>();
        for (String line : registry.scrape().split("\n")) {
            if (line.startsWith("tollgate_")) {
                names.add(line.split("[{ ]", 2)[0]);
            }
        }
        return names;
    }

    static List<String> expressions() throws IOException {
        JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
        List<String> exprs = new ArrayList<>();
        dashboard.findParents("expr").forEach(t -> exprs.add(t.path("expr").asText()));
        dashboard.at("/templating/list").forEach(v -> {
            if (v.has("definition")) {
                exprs.add(v.path("definition").asText().replaceFirst("^label_values\\((.*),[^,]*\\)$", "$1"));
            }
        });
        return exprs;
    }

    @Test
    void everyMeterOfTheSidecarIsOnTheDashboard() throws IOException {
        Set<String> exported = exported();
        assertThat(exported).as("meters named in ProxyMetrics").hasSizeGreaterThanOrEqualTo(30)
                .contains("tollgate_proxy_decisions_dropped_total", "tollgate_proxy_svid_renewals_total",
                        "tollgate_proxy_credentials_decisions_total");
        Set<String> used = new TreeSet<>();
        for (String expr : expressions()) {
            used.addAll(MonitoringTest.metricNames(expr));
        }
        assertThat(used).as("the dashboard shows every sidecar metric").containsAll(exported);
        Set<String> known = new TreeSet<>(exported);
        known.add("up");
        assertThat(known).as("the dashboard uses only metrics the sidecar exports").containsAll(used);
    }

    @Test
    void everyMeterNameConstantIsExported() throws IllegalAccessException {
        Set<String> exported = exported();
        for (java.lang.reflect.Field f : ProxyMetrics.class.getFields()) {
            if (java.lang.reflect.Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
                String v = (String) f.get(null);
                if (v.startsWith("tollgate.")) {
                    String base = v.replace('.', '_');
                    assertThat(exported).as("%s is registered and so charted", v)
                            .anyMatch(e -> e.equals(base) || e.startsWith(base + "_"));
                }
            }
        }
    }

    @Test
    void panelsUseTheDatasourceVariableAndHaveUniqueIds() throws IOException {
        JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
        assertThat(dashboard.path("uid").asText()).isEqualTo("tollgate-sidecar");
        Set<Integer> ids = new TreeSet<>();
        for (JsonNode p : dashboard.path("panels")) {
            assertThat(ids.add(p.path("id").asInt())).as("panel id %s", p.path("id")).isTrue();
        }
        for (JsonNode ref : dashboard.findValues("datasource")) {
            if (ref.isObject()) {
                assertThat(ref.path("uid").asText()).isEqualTo("${datasource}");
            }
        }
    }
}
