package dev.tollgate.proxy.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.metrics.RequestOutcome;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/** Latency histograms per direction and upstream, gate time, and a bounded series count. */
class LatencyMetricsTest {
    static final String AGENT = Mesh.id("agent/caller");
    static final String TOOL = Mesh.id("tool/billing");

    @TempDir
    Path dir;
    Mesh mesh;
    Sidecar tool;
    Sidecar agent;

    @BeforeEach
    void start() throws Exception {
        mesh = new Mesh(dir);
        TestApp app = mesh.track(new TestApp());
        tool = mesh.start(new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(AGENT));
        agent = mesh.start(new SidecarYaml().tls(mesh.svidFiles("agent", "agent/caller"), mesh.bundle())
                .ingress(false).egress(true)
                .spiffeUpstream("billing", "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort(), TOOL,
                        "billing.internal"));
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    private static List<String> scrape(Sidecar s, String prefix) {
        return s.registry().scrape().lines().filter(l -> l.startsWith(prefix)).toList();
    }

    @Test
    void recordsRequestDurationByDirectionAndUpstreamWithBoundedBuckets() throws Exception {
        String response = Http.rawPlain(agent.egressAddress().orElseThrow(),
                "GET /echo HTTP/1.1\r\nHost: billing.internal\r\nConnection: close\r\n\r\n");
        assertThat(response).startsWith("HTTP/1.1 200");

        await().until(() -> agent.metrics().requestDurationCount(Direction.EGRESS, "billing") == 1);
        await().until(() -> tool.metrics().requestDurationCount(Direction.INGRESS, "app") == 1);
        assertThat(agent.metrics().gateDurationCount(Direction.EGRESS)).isEqualTo(1);
        assertThat(tool.metrics().gateDurationCount(Direction.INGRESS)).isEqualTo(1);

        List<String> buckets = scrape(agent, "tollgate_proxy_request_duration_seconds_bucket{direction=\"egress\",upstream=\"billing\"");
        assertThat(buckets).as("the SLO buckets and +Inf").hasSize(ProxyMetrics.LATENCY_BUCKETS.length + 1);
        assertThat(buckets).anyMatch(l -> l.contains("le=\"0.001\""))
                .anyMatch(l -> l.contains("le=\"+Inf\"") && l.endsWith(" 1"));
        assertThat(scrape(agent, "tollgate_proxy_gate_duration_seconds_bucket{direction=\"egress\""))
                .hasSize(ProxyMetrics.LATENCY_BUCKETS.length + 1);
    }

    @Test
    void aRequestMatchingNoUpstreamIsTaggedNoneNotWithItsHostHeader() throws Exception {
        String response = Http.rawPlain(agent.egressAddress().orElseThrow(),
                "GET /echo HTTP/1.1\r\nHost: attacker-chosen.example\r\nConnection: close\r\n\r\n");
        assertThat(response).startsWith("HTTP/1.1 403");

        await().until(() -> agent.metrics().requestCount(Direction.EGRESS, RequestOutcome.NO_UPSTREAM) == 1);
        assertThat(agent.metrics().requestDurationCount(Direction.EGRESS, ProxyMetrics.UPSTREAM_NONE)).isEqualTo(1);
        assertThat(agent.registry().scrape()).doesNotContain("attacker-chosen");
    }

    @Test
    void listenersThatNeverDoTlsHaveNoHandshakeSeries() {
        Set<String> listeners = new TreeSet<>();
        for (String line : scrape(agent, "tollgate_proxy_tls_handshakes_total{")) {
            listeners.add(line.replaceFirst(".*listener=\"([^\"]+)\".*", "$1"));
        }

        assertThat(listeners).containsExactlyInAnyOrder("ingress", "l4", "upstream");
    }

    @Test
    void upstreamTagValuesAreCapped() {
        ProxyMetrics metrics = new ProxyMetrics(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), Clock.systemUTC());

        for (int i = 0; i < ProxyMetrics.MAX_UPSTREAM_TAGS + 10; i++) {
            metrics.requestDuration(Direction.EGRESS, "upstream-" + i, 1_000);
        }

        assertThat(metrics.registry().find(ProxyMetrics.REQUEST_DURATION).timers()).hasSize(ProxyMetrics.MAX_UPSTREAM_TAGS + 1);
        assertThat(metrics.requestDurationCount(Direction.EGRESS, ProxyMetrics.UPSTREAM_OTHER)).isEqualTo(10);
    }

    @Test
    void theSidecarsOwnRegistryCarriesJvmAndProcessMeters() {
        String scraped = agent.registry().scrape();

        assertThat(scraped).contains("jvm_memory_used_bytes", "jvm_gc_max_data_size_bytes", "jvm_threads_live_threads",
                "process_cpu_usage", "process_files_open_files", "process_uptime_seconds");
    }
}
