package dev.tollgate.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;

import org.junit.jupiter.api.Test;

/** {@code control-plane.decision-log}: defaults, every option, and every error reported at once. */
class DecisionLogConfigTest {
    static final String BASE = """
            listeners:
              egress: {}
            tls: {spiffe-id: "spiffe://example.org/agent/a"}
            upstreams:
              crm:
                address: "crm.svc:8443"
                spiffe-id: "spiffe://example.org/tool/crm"
                match: {host: crm}
            control-plane:
              url: "https://cp.example.org:8443"
              trust-anchor: anchor.pem
            """;

    @Test
    void defaultsWhenAbsent() throws Exception {
        SidecarConfig.DecisionLog d = ConfigLoader.parse(BASE, null).controlPlane().orElseThrow().decisionLog();
        assertThat(d).isEqualTo(SidecarConfig.DecisionLog.defaults());
        assertThat(d.bufferSize()).isEqualTo(10_000);
        assertThat(d.batchSize()).isEqualTo(500);
        assertThat(d.maxBatchBytes()).isEqualTo(56 * 1024);
        assertThat(d.flushInterval()).isEqualTo(Duration.ofSeconds(1));
        assertThat(d.aggregateKeys()).isEqualTo(1024);
    }

    @Test
    void parsesEveryOption() throws Exception {
        SidecarConfig.DecisionLog d = ConfigLoader.parse(BASE + """
                  decision-log: {buffer-size: 50, batch-size: 10, max-batch-bytes: 8KiB, flush-interval: 250ms,
                                 aggregate-keys: 64}
                """, null).controlPlane().orElseThrow().decisionLog();
        assertThat(d).isEqualTo(new SidecarConfig.DecisionLog(50, 10, 8192, Duration.ofMillis(250), 64));
    }

    @Test
    void reportsEveryErrorAtOnce() {
        assertThatThrownBy(() -> ConfigLoader.parse(BASE + """
                  decision-log: {buffer-size: 0, batch-size: 1001, max-batch-bytes: 1KiB, flush-interval: 2m, x: 1,
                                 aggregate-keys: 0}
                """, null))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.errors()).hasSize(6)
                        .anyMatch(m -> m.startsWith("control-plane.decision-log.aggregate-keys"))
                        .anyMatch(m -> m.startsWith("control-plane.decision-log.buffer-size"))
                        .anyMatch(m -> m.startsWith("control-plane.decision-log.batch-size"))
                        .anyMatch(m -> m.startsWith("control-plane.decision-log.max-batch-bytes"))
                        .anyMatch(m -> m.startsWith("control-plane.decision-log.flush-interval"))
                        .anyMatch(m -> m.startsWith("control-plane.decision-log.x")));
    }
}
