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
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/** charts/grafana/tollgate-sidecar.json shows every meter the sidecar exports, and only those. */
class SidecarDashboardTest {
    /** From the proxy module's directory, where surefire runs. */
    static final Path DASHBOARD = Path.of("..", "charts", "grafana", "tollgate-sidecar.json");

    /** Every series name the sidecar's registry scrapes: ProxyMetrics and IdentityMetrics register up front. */
    static Set<String> exported() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        // The policy info gauge exists once a policy is loaded, a request-duration series once a request went to an
        // upstream; the dashboard must show them then.
        ProxyMetrics metrics = new ProxyMetrics(registry, Clock.systemUTC());
        metrics.policyLoaded("2026-11-22.1", "sha256:00");
        metrics.requestDuration(Direction.EGRESS, "billing", 1_000_000);
        // Per-exception and per-upstream injection counters exist once a request used them.
        metrics.exceptionRequest("exc-1");
        metrics.injection("legacy");
        // A control-plane call series exists once the sidecar made one.
        metrics.controlPlaneCall(dev.tollgate.proxy.controlplane.ControlPlaneRoute.UPSTREAM_SECRET,
                dev.tollgate.proxy.controlplane.CallOutcome.OK);
        new IdentityMetrics(registry, Clock.systemUTC());
        Set<String> names = new TreeSet<>();
        for (String line : registry.scrape().split("\n")) {
            if (line.startsWith("tollgate_")) {
                names.add(line.split("[{ ]", 2)[0]);
            }
        }
        return names;
    }

    /** The JVM and process series the sidecar's own registry exports (ProxyMetrics.bindJvmAndProcess). */
    static Set<String> jvmAndProcess() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        Set<String> names = new TreeSet<>();
        try (var gc = ProxyMetrics.bindJvmAndProcess(registry)) {
            // A pause timer exists after the first GC; its series are what the dashboard charts.
            names.addAll(List.of("jvm_gc_pause_seconds_count", "jvm_gc_pause_seconds_sum", "jvm_gc_pause_seconds_max"));
            for (String line : registry.scrape().split("\n")) {
                if (line.startsWith("jvm_") || line.startsWith("process_")) {
                    names.add(line.split("[{ ]", 2)[0]);
                }
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
        known.addAll(jvmAndProcess());
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

    @Test
    void everyQueryFiltersByJobNamespaceWorkloadAndPod() throws IOException {
        JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
        List<String> variables = new ArrayList<>();
        dashboard.at("/templating/list").forEach(v -> variables.add(v.path("name").asText()));
        assertThat(variables).contains("job", "namespace", "workload", "pod");
        for (JsonNode target : dashboard.findParents("expr")) {
            String expr = target.path("expr").asText();
            java.util.regex.Matcher selectors = java.util.regex.Pattern.compile("\\{([^}]*)}").matcher(expr);
            int found = 0;
            while (selectors.find()) {
                found++;
                assertThat(selectors.group(1)).as("selector in %s", expr)
                        .contains("namespace=~\"$namespace\"", "workload=~\"$workload\"", "pod=~\"$pod\"");
            }
            assertThat(found).as("selectors in %s", expr).isPositive();
        }
    }

    @Test
    void latencyIsShownAsP50AndP99FromTheHistograms() throws IOException {
        List<String> exprs = expressions();
        for (String histogram : List.of("tollgate_proxy_request_duration_seconds_bucket",
                "tollgate_proxy_gate_duration_seconds_bucket", "tollgate_proxy_inspection_duration_seconds_bucket")) {
            assertThat(exprs).anyMatch(e -> e.startsWith("histogram_quantile(0.99,") && e.contains(histogram));
            assertThat(exprs).anyMatch(e -> e.startsWith("histogram_quantile(0.5,") && e.contains(histogram));
        }
    }

    /** Rates have rate units; gauges (no rate() or increase()) never do; quantiles and averages are seconds. */
    @Test
    void unitsFitWhatEachQueryReturns() throws IOException {
        Set<String> rateUnits = Set.of("reqps", "ops", "cps", "Bps");
        JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
        for (JsonNode panel : dashboard.path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                String unit = panel.at("/fieldConfig/defaults/unit").asText();
                for (JsonNode o : panel.at("/fieldConfig/overrides")) {
                    if (o.at("/matcher/options").asText().equals(target.path("refId").asText())) {
                        unit = o.at("/properties/0/value").asText();
                    }
                }
                String expr = target.path("expr").asText();
                String what = panel.path("title").asText() + ": " + expr;
                if (expr.contains("histogram_quantile") || expr.contains("_seconds_sum") && expr.contains(" / ")) {
                    assertThat(unit).as(what).isEqualTo("s");
                } else if (!expr.contains("rate(") && !expr.contains("increase(")) {
                    assertThat(unit).as("a gauge is not a rate: %s", what).isNotIn(rateUnits);
                } else if (expr.contains("rate(") && expr.contains("_total") && !expr.contains(" / ")) {
                    assertThat(unit).as("a counter's rate: %s", what).isIn(rateUnits);
                }
            }
        }
    }
}
