package dev.tollgate.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.tollgate.proxy.metrics.Direction;

/** The {@code credentials:} block: defaults, every option, and every error reported at once. */
class CredentialsConfigTest {
    static final String BASE = """
            listeners:
              egress: {}
            tls: {cert: svid.crt, key: svid.key, bundle: bundle.pem}
            upstreams:
              crm:
                address: "crm.svc:8443"
                spiffe-id: "spiffe://example.org/tool/crm"
                match: {host: crm}
            """;

    @Test
    void defaultsWhenTheBlockIsAbsent() throws Exception {
        SidecarConfig.Credentials c = ConfigLoader.parse(BASE, null).credentials();
        assertThat(c).isEqualTo(SidecarConfig.Credentials.defaults());
        assertThat(c.required()).isTrue();
        assertThat(c.maxStaleness()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.clockSkew()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.cacheSize()).isEqualTo(10_000);
        assertThat(c.exempt()).isEmpty();
    }

    @Test
    void parsesEveryOption() throws Exception {
        SidecarConfig.Credentials c = ConfigLoader.parse(BASE + """
                credentials:
                  required: false
                  max-staleness: 10s
                  clock-skew: 5s
                  cache-size: 100
                  exempt: [{path-prefix: /healthz, direction: ingress}, {path-prefix: /public/, direction: egress}]
                  upstream-tools: {crm: [crm.read, crm.search]}
                """, null).credentials();
        assertThat(c.required()).isFalse();
        assertThat(c.maxStaleness()).isEqualTo(Duration.ofSeconds(10));
        assertThat(c.clockSkew()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.cacheSize()).isEqualTo(100);
        assertThat(c.exempt()).containsExactly(new SidecarConfig.Exemption("/healthz", Direction.INGRESS),
                new SidecarConfig.Exemption("/public/", Direction.EGRESS));
        assertThat(c.upstreamTools()).containsEntry("crm", List.of("crm.read", "crm.search"));
    }

    @Test
    void reportsEveryErrorAtOnce() {
        assertThatThrownBy(() -> ConfigLoader.parse(BASE + """
                credentials:
                  required: sometimes
                  max-staleness: 0s
                  clock-skew: 10m
                  cache-size: 0
                  exempt: [{path-prefix: healthz, direction: ingress}, {path-prefix: /a, direction: sideways}]
                  upstream-tools: {nowhere: [x], crm: ["bad tool"]}
                  colour: red
                """, null))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("credentials.required: ")
                .hasMessageContaining("credentials.max-staleness: 0s (expected: > 0)")
                .hasMessageContaining("credentials.clock-skew: 600s (expected: between 0s and 5m)")
                .hasMessageContaining("credentials.cache-size: ")
                .hasMessageContaining("credentials.exempt[0].path-prefix: ")
                .hasMessageContaining("credentials.exempt[1].direction: ")
                .hasMessageContaining("credentials.upstream-tools.nowhere: unknown upstream")
                .hasMessageContaining("credentials.upstream-tools.crm[]: 'bad tool'")
                .hasMessageContaining("credentials.colour: unknown option");
    }
}
