package dev.tollgate.charts;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;

/** charts/prometheus/tollgate-alerts.yaml and charts/grafana/tollgate-control-plane.json speak only of real metrics. */
class MonitoringTest {
    /** What the control plane exports (Micrometer names in Prometheus form), plus Prometheus' own up. */
    static final Set<String> EXPORTED = Set.of(
            "tollgate_cp_svid_issuances_total",
            "tollgate_cp_join_tokens_total",
            "tollgate_cp_task_quota_refusals_total",
            "tollgate_cp_agent_rate_refusals_total",
            "tollgate_cp_ca_expiry_seconds",
            "tollgate_cp_bundle_sequence",
            "tollgate_cp_api_requests_seconds_count",
            "tollgate_cp_api_requests_seconds_sum",
            "tollgate_cp_api_requests_seconds_max",
            "tollgate_cp_api_connections_refused_total",
            "tollgate_cp_audit_write_failures_total",
            "tollgate_cp_watch_streams_open",
            "tollgate_cp_watch_streams_closed_total",
            "tollgate_cp_watch_streams_refused_total",
            "tollgate_cp_watch_revisions_published_total",
            "tollgate_cp_watch_resyncs_total",
            "tollgate_cp_watch_revision_latest",
            "tollgate_cp_audit_decisions_total",
            "tollgate_cp_decisions_denied_total",
            "tollgate_cp_posture_findings",
            "tollgate_cp_attestations_total",
            "tollgate_cp_attestation_audit_suppressed_total",
            "tollgate_cp_attestation_key_fetches_total",
            "tollgate_cp_attestation_token_reviews_total",
            "tollgate_cp_posture_score",
            "tollgate_cp_posture_evaluations_total",
            "tollgate_cp_audit_checkpoints_total",
            "tollgate_cp_audit_checkpoint_seq",
            "tollgate_cp_api_unauthenticated_refusals_total",
            "tollgate_cp_audit_refusal_rows_total",
            "tollgate_cp_exception_actions_total",
            "tollgate_cp_exceptions_active",
            "tollgate_cp_exceptions_expiring",
            "tollgate_cp_exceptions_used_after_review",
            "tollgate_cp_exception_uses_unmatched_total",
            "tollgate_cp_upstream_secrets",
            "tollgate_cp_upstream_secret_fetches_total",
            "up");

    private static final Set<String> PROMQL_WORDS = Set.of("by", "without", "on", "ignoring", "group_left",
            "group_right", "and", "or", "unless", "offset", "bool", "inf", "nan");
    private static final Pattern IDENTIFIER = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");

    private static Path alertsFile() {
        return ChartFiles.repoRoot().resolve("charts/prometheus/tollgate-alerts.yaml");
    }

    private static Path dashboardFile() {
        return ChartFiles.repoRoot().resolve("charts/grafana/tollgate-control-plane.json");
    }

    /**
     * Metric names in a PromQL expression: what is left after strings, label matchers, ranges, grouping clauses,
     * Grafana variables, function calls, keywords and numbers are taken out.
     */
    static Set<String> metricNames(String expr) {
        String e = expr.replaceAll("\"(\\\\.|[^\"\\\\])*\"", " ")
                .replaceAll("\\$\\{[^}]*}|\\$\\w+", " ")
                .replaceAll("\\{[^}]*}", " ")
                .replaceAll("\\[[^]]*]", " ")
                .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ");
        Set<String> names = new TreeSet<>();
        Matcher m = IDENTIFIER.matcher(e);
        while (m.find()) {
            String word = m.group();
            boolean call = e.substring(m.end()).stripLeading().startsWith("(");
            boolean number = m.start() > 0 && Character.isDigit(e.charAt(m.start() - 1));
            if (!call && !number && !PROMQL_WORDS.contains(word.toLowerCase(Locale.ROOT))) {
                names.add(word);
            }
        }
        return names;
    }

    @Test
    void metricNameExtractionSkipsFunctionsLabelsAndVariables() {
        assertThat(metricNames("sum without (kind, result) (rate(tollgate_cp_svid_issuances_total{result=\"error\", job=~\"$job\"}[5m]))"
                + " / on (job) group_left sum by (job) (rate(foo_total[$__rate_interval])) > 0.5 and up == 1"))
                .containsExactlyInAnyOrder("tollgate_cp_svid_issuances_total", "foo_total", "up");
        assertThat(metricNames("tollgate_cp_ca_expiry_seconds < 7 * 86400")).containsExactly("tollgate_cp_ca_expiry_seconds");
        assertThat(metricNames("absent(up{job=\"tollgate-control-plane\"})")).containsExactly("up");
    }

    @Test
    void exportedNamesAreWhatTheControlPlaneRegistryScrapes() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        ControlPlaneMetrics metrics = new ControlPlaneMetrics(registry);
        metrics.issuance(ControlPlaneMetrics.IssuanceKind.JOIN, ControlPlaneMetrics.IssuanceResult.OK);
        metrics.joinToken(ControlPlaneMetrics.JoinTokenOutcome.CREATED);
        metrics.connectionRefused();
        metrics.auditWriteFailure();
        metrics.watchStreamsGauge(() -> 2);
        metrics.latestRevisionGauge(() -> 42);
        metrics.watchStreamClosed(ControlPlaneMetrics.StreamCloseReason.values()[0]);
        metrics.watchStreamRefused(ControlPlaneMetrics.StreamLimit.values()[0]);
        metrics.revisionPublished(ControlPlaneMetrics.RevisionKind.values()[0]);
        metrics.resyncServed();
        metrics.decisionsIngested(ControlPlaneMetrics.DecisionKind.DENIED, 3);
        metrics.apiRequest("GET", "/v1/bundle", 200, TimeUnit.MILLISECONDS.toNanos(3));
        metrics.caExpiryGauge(() -> Instant.parse("2030-01-01T00:00:00Z"), Clock.fixed(Instant.parse("2029-12-01T00:00:00Z"), ZoneOffset.UTC));
        metrics.bundleSequenceGauge(() -> 7L);
        metrics.postureGauges(java.util.Map.of("weak-key", "high"), rule -> 0, () -> 90);
        metrics.registerAuditCounters();
        metrics.checkpointSeqGauge(() -> 12);
        metrics.exceptionGauges(() -> new dev.tollgate.controlplane.governance.Exceptions.Summary(2, 1, 0));
        metrics.upstreamSecretsGauge(() -> 0);

        Set<String> scraped = new TreeSet<>();
        for (String line : registry.scrape().split("\n")) {
            if (!line.isBlank() && !line.startsWith("#") && line.startsWith("tollgate_")) {
                scraped.add(line.split("[{ ]", 2)[0]);
            }
        }
        Set<String> expected = new TreeSet<>(EXPORTED);
        expected.remove("up");
        assertThat(scraped).isEqualTo(expected);
    }

    @Test
    void alertRulesUseOnlyExportedMetrics() {
        List<JsonNode> rules = alertRules("tollgate-control-plane");
        assertThat(rules).hasSizeGreaterThanOrEqualTo(8);
        for (JsonNode rule : rules) {
            Set<String> names = metricNames(rule.path("expr").asText());
            assertThat(names).as("metrics of %s", rule.path("alert").asText()).isNotEmpty();
            assertThat(EXPORTED).as("metrics of %s", rule.path("alert").asText()).containsAll(names);
        }
    }

    /** What the sidecar injector exports (WebhookMetrics), plus up. The sidecar group is checked in the proxy module. */
    static Set<String> webhookExported() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new dev.tollgate.webhook.WebhookMetrics(registry, Clock.systemUTC());
        Set<String> names = new TreeSet<>(Set.of("up"));
        for (String line : registry.scrape().split("\n")) {
            if (line.startsWith("tollgate_")) {
                names.add(line.split("[{ ]", 2)[0]);
            }
        }
        return names;
    }

    @Test
    void webhookAlertRulesUseOnlyWhatTheWebhookExports() {
        Set<String> exported = webhookExported();
        assertThat(exported).contains("tollgate_webhook_admissions_total", "tollgate_webhook_certificate_expiry_seconds");
        List<JsonNode> rules = alertRules("tollgate-webhook");
        assertThat(rules).hasSizeGreaterThanOrEqualTo(3);
        for (JsonNode rule : rules) {
            Set<String> names = metricNames(rule.path("expr").asText());
            assertThat(names).as("metrics of %s", rule.path("alert").asText()).isNotEmpty();
            assertThat(exported).as("metrics of %s", rule.path("alert").asText()).containsAll(names);
            assertThat(rule.path("expr").asText()).as("%s selects the webhook's job", rule.path("alert").asText())
                    .contains("job=\"tollgate-webhook\"");
        }
    }

    @Test
    void alertRulesCoverTheSidecarAndInjectorFailureModes() {
        Set<String> alerts = new TreeSet<>();
        alertRules().forEach(r -> alerts.add(r.path("alert").asText()));
        assertThat(alerts).contains("TollgateSidecarNotReady", "TollgateSidecarFailingClosedOnStaleState",
                "TollgateSidecarIdentityExpiring", "TollgateWorkloadDenialSpike", "TollgateSidecarUpstreamErrors",
                "TollgateSidecarDecisionsDropped", "TollgateWebhookDown", "TollgateWebhookRefusingPods",
                "TollgateWebhookCertificateExpiring");
    }

    @Test
    void everyAlertHasAPromtoolTestCase() {
        JsonNode tests = ChartFiles.readYaml(alertsFile().resolveSibling("tollgate-alerts.test.yaml")).path("tests");
        Set<String> tested = new TreeSet<>();
        tests.forEach(t -> t.path("alert_rule_test").forEach(a -> {
            if (a.path("exp_alerts").size() > 0) {
                tested.add(a.path("alertname").asText());
            }
        }));
        Set<String> sidecarAndWebhook = new TreeSet<>();
        alertRules("tollgate-sidecar").forEach(r -> sidecarAndWebhook.add(r.path("alert").asText()));
        alertRules("tollgate-webhook").forEach(r -> sidecarAndWebhook.add(r.path("alert").asText()));
        assertThat(tested).as("alerts with a promtool case in which they fire").containsAll(sidecarAndWebhook);
    }

    @Test
    void everyAlertHasSummaryDescriptionSeverityAndARunbookSection() throws IOException {
        Set<String> anchors = markdownAnchors(ChartFiles.repoRoot().resolve("docs/troubleshooting.md"));
        for (JsonNode rule : alertRules()) {
            String alert = rule.path("alert").asText();
            assertThat(rule.at("/annotations/summary").asText()).as("%s summary", alert).isNotBlank();
            assertThat(rule.at("/annotations/description").asText()).as("%s description", alert).isNotBlank();
            assertThat(rule.at("/labels/severity").asText()).as("%s severity", alert).isIn("warning", "critical");
            String runbook = rule.at("/annotations/runbook_url").asText();
            assertThat(runbook).as("%s runbook", alert).startsWith("docs/troubleshooting.md#");
            assertThat(anchors).as("sections of docs/troubleshooting.md").contains(runbook.substring(runbook.indexOf('#') + 1));
        }
    }

    @Test
    void alertRulesCoverTheControlPlaneFailureModes() {
        Set<String> alerts = new TreeSet<>();
        alertRules().forEach(r -> alerts.add(r.path("alert").asText()));
        assertThat(alerts).contains("TollgateControlPlaneDown", "TollgateCAExpiringSoon", "TollgateCAExpiryCritical",
                "TollgateSvidIssuanceErrors", "TollgateJoinTokenRefusals", "TollgateApiServerErrors", "TollgateApiSlow",
                "TollgateApiConnectionLimit", "TollgateAuditChainBroken", "TollgateDenialSpike");
    }

    @Test
    void promtoolAcceptsTheAlertRules() throws Exception {
        String out = promtool("check", "rules", alertsFile().toString());
        assertThat(out).contains("SUCCESS");
    }

    @Test
    void promtoolRuleTestsPass() throws Exception {
        String out = promtool("test", "rules", alertsFile().resolveSibling("tollgate-alerts.test.yaml").toString());
        assertThat(out).contains("SUCCESS");
    }

    /** Runs promtool, skipping the test when it is not installed; fails on a non-zero exit status. */
    private static String promtool(String... args) throws Exception {
        Optional<Path> promtool = onPath("promtool");
        Assumptions.assumeTrue(promtool.isPresent(),
                "promtool is not on PATH (Debian: apt-get install prometheus); skipping `promtool " + String.join(" ", args) + "`");
        List<String> command = new ArrayList<>();
        command.add(promtool.get().toString());
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("promtool finished").isTrue();
        assertThat(p.exitValue()).as("promtool %s:%n%s", String.join(" ", args), out).isZero();
        return out;
    }

    @Test
    void dashboardQueriesUseOnlyExportedMetrics() {
        JsonNode dashboard = ChartFiles.readJson(dashboardFile());
        List<String> exprs = new ArrayList<>();
        dashboard.findParents("expr").forEach(t -> exprs.add(t.path("expr").asText()));
        dashboard.at("/templating/list").forEach(v -> {
            if (v.has("definition")) {
                exprs.add(v.path("definition").asText().replaceFirst("^label_values\\((.*),[^,]*\\)$", "$1"));
            }
        });
        assertThat(exprs).hasSizeGreaterThanOrEqualTo(10);
        Set<String> used = new TreeSet<>();
        for (String expr : exprs) {
            Set<String> names = metricNames(expr);
            assertThat(names).as("metrics of %s", expr).isNotEmpty();
            used.addAll(names);
        }
        Set<String> known = new TreeSet<>(EXPORTED);
        known.addAll(JVM_CHARTED);
        assertThat(known).containsAll(used);
        assertThat(used).as("the dashboard shows every control-plane metric").containsAll(EXPORTED);
        assertThat(used).as("and the JVM and process row").containsAll(JVM_CHARTED);
    }

    /** The JVM and process series the control-plane dashboard charts (ControlPlaneMetrics.bindJvmAndProcess). */
    static final Set<String> JVM_CHARTED = Set.of("jvm_memory_used_bytes", "jvm_memory_max_bytes",
            "jvm_gc_pause_seconds_sum", "jvm_gc_pause_seconds_max", "jvm_threads_live_threads", "process_cpu_usage",
            "process_files_open_files");

    @Test
    void chartedJvmSeriesAreWhatTheControlPlaneBinds() throws Exception {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        Set<String> scraped = new TreeSet<>();
        try (var gc = ControlPlaneMetrics.bindJvmAndProcess(registry)) {
            // The pause timer appears with the first collection; its series are known by name.
            scraped.addAll(Set.of("jvm_gc_pause_seconds_sum", "jvm_gc_pause_seconds_max", "jvm_gc_pause_seconds_count"));
            for (String line : registry.scrape().split("\n")) {
                if (!line.startsWith("#") && !line.isBlank()) {
                    scraped.add(line.split("[{ ]", 2)[0]);
                }
            }
        }
        assertThat(scraped).containsAll(JVM_CHARTED).contains("jvm_gc_max_data_size_bytes", "process_uptime_seconds");
    }

    @Test
    void dashboardFiltersEveryQueryByNamespaceAndPod() {
        JsonNode dashboard = ChartFiles.readJson(dashboardFile());
        List<String> variables = new ArrayList<>();
        dashboard.at("/templating/list").forEach(v -> variables.add(v.path("name").asText()));
        assertThat(variables).contains("job", "namespace", "pod");
        for (JsonNode target : dashboard.findParents("expr")) {
            String expr = target.path("expr").asText();
            Matcher selectors = Pattern.compile("\\{([^}]*)}").matcher(expr);
            int found = 0;
            while (selectors.find()) {
                found++;
                assertThat(selectors.group(1)).as("selector in %s", expr)
                        .contains("job=~\"$job\"", "namespace=~\"$namespace\"", "pod=~\"$pod\"");
            }
            assertThat(found).as("selectors in %s", expr).isPositive();
        }
    }

    @Test
    void everyMeterNamedInControlPlaneMetricsIsListedAsExported() throws IllegalAccessException {
        Set<String> bases = new TreeSet<>();
        for (java.lang.reflect.Field f : ControlPlaneMetrics.class.getFields()) {
            if (java.lang.reflect.Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
                String v = (String) f.get(null);
                if (v.startsWith("tollgate.")) {
                    bases.add(v.replace('.', '_'));
                }
            }
        }
        assertThat(bases).hasSizeGreaterThanOrEqualTo(7);
        for (String base : bases) {
            assertThat(EXPORTED).as("%s is exported, charted and known to the alerts' check", base)
                    .anyMatch(e -> e.equals(base) || e.startsWith(base + "_"));
        }
    }

    @Test
    void dashboardUsesTheDatasourceVariableOnly() {
        JsonNode dashboard = ChartFiles.readJson(dashboardFile());
        assertThat(dashboard.path("schemaVersion").asInt()).isGreaterThanOrEqualTo(36);
        JsonNode variable = null;
        for (JsonNode v : dashboard.at("/templating/list")) {
            if ("datasource".equals(v.path("name").asText())) {
                variable = v;
            }
        }
        assertThat(variable).as("a datasource variable").isNotNull();
        assertThat(variable.path("type").asText()).isEqualTo("datasource");
        assertThat(variable.path("query").asText()).isEqualTo("prometheus");
        List<JsonNode> refs = dashboard.findValues("datasource");
        assertThat(refs).hasSizeGreaterThan(10);
        for (JsonNode ref : refs) {
            if (ref.isObject()) {
                assertThat(ref.path("uid").asText()).isEqualTo("${datasource}");
            }
        }
    }

    private static List<JsonNode> alertRules() {
        List<JsonNode> rules = new ArrayList<>();
        JsonNode groups = ChartFiles.readYaml(alertsFile()).path("groups");
        assertThat(groups.size()).isPositive();
        groups.forEach(g -> g.path("rules").forEach(rules::add));
        return rules;
    }

    private static List<JsonNode> alertRules(String group) {
        List<JsonNode> rules = new ArrayList<>();
        ChartFiles.readYaml(alertsFile()).path("groups").forEach(g -> {
            if (group.equals(g.path("name").asText())) {
                g.path("rules").forEach(rules::add);
            }
        });
        assertThat(rules).as("rules of group %s", group).isNotEmpty();
        return rules;
    }

    /** GitHub's heading anchors: lower case, punctuation other than - and _ dropped, spaces to -. */
    private static Set<String> markdownAnchors(Path file) throws IOException {
        Set<String> anchors = new TreeSet<>();
        for (String line : Files.readAllLines(file)) {
            if (line.startsWith("#")) {
                String text = line.replaceFirst("^#+\\s*", "").strip().toLowerCase(Locale.ROOT);
                anchors.add(text.replaceAll("[^a-z0-9 _-]", "").replace(' ', '-'));
            }
        }
        return anchors;
    }

    private static Optional<Path> onPath(String command) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            Path candidate = Path.of(dir, command);
            if (Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }
}
