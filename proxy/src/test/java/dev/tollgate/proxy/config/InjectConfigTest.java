package dev.tollgate.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Optional;

import org.junit.jupiter.api.Test;

/** {@code upstreams.<name>.inject}: defaults, both forms, and every error reported at once at start-up. */
class InjectConfigTest {
    static final String CP = """
            listeners:
              egress: {}
            tls: {spiffe-id: "spiffe://example.org/agent/batch"}
            control-plane:
              url: "https://cp.example:8443"
              trust-anchor: anchor.pem
            """;

    static String upstreams(String body) {
        return "upstreams:\n" + body;
    }

    @Test
    void aHeaderByDefaultAndBasicWithAUserName() throws Exception {
        SidecarConfig c = ConfigLoader.parse(CP + upstreams("""
                  reports:
                    address: "reports.example:443"
                    tls: external
                    match: {host: reports}
                    inject: {secret: reports-key}
                  files:
                    address: "files.example:443"
                    tls: external
                    match: {host: files}
                    inject: {secret: files.login, as: basic, username: batch}
                  bearer:
                    address: "bearer.example:443"
                    tls: external
                    match: {host: bearer}
                    inject: {secret: bearer_key, header: Authorization, prefix: "Bearer "}
                """), null);
        assertThat(c.upstreams().get("reports").inject()).contains(new SidecarConfig.Inject("reports-key",
                SidecarConfig.InjectAs.HEADER, "X-Api-Key", "", Optional.empty()));
        assertThat(c.upstreams().get("files").inject()).contains(new SidecarConfig.Inject("files.login",
                SidecarConfig.InjectAs.BASIC, "X-Api-Key", "", Optional.of("batch")));
        assertThat(c.upstreams().get("bearer").inject().orElseThrow().prefix()).isEqualTo("Bearer ");
    }

    @Test
    void everyMistakeIsReportedAtOnce() {
        assertThatThrownBy(() -> ConfigLoader.parse(CP + upstreams("""
                  tool:
                    address: "tool.svc:8443"
                    spiffe-id: "spiffe://example.org/tool/x"
                    match: {host: tool}
                    inject: {secret: tool-key}
                  a:
                    address: "a.example:443"
                    tls: external
                    match: {host: a}
                    inject: {secret: "Bad Name", as: digest, extra: 1}
                  b:
                    address: "b.example:443"
                    tls: external
                    match: {host: b}
                    inject: {secret: shared, header: Host}
                  c:
                    address: "c.example:443"
                    tls: external
                    match: {host: c}
                    inject: {secret: shared, as: basic, header: X-Key}
                  d:
                    address: "d.example:443"
                    tls: external
                    match: {host: d}
                    inject: {username: me}
                """), null)).isInstanceOf(ConfigException.class).satisfies(e -> assertThat(
                ((ConfigException) e).errors()).anySatisfy(m -> assertThat(m).startsWith("upstreams.tool.inject: set "
                        + "on a SPIFFE upstream"))
                .contains("upstreams.a.inject.secret: Bad Name (expected: 1-64 of lowercase letters, digits, '.', "
                        + "'-', '_')")
                .contains("upstreams.a.inject.as: digest (expected: header or basic)")
                .anySatisfy(m -> assertThat(m).startsWith("upstreams.a.inject.extra: unknown option"))
                .anySatisfy(m -> assertThat(m).startsWith("upstreams.b.inject.header: Host (expected: a header name "
                        + "other than"))
                .contains("upstreams.c.inject: header or prefix set (expected: neither with as: basic; it sets "
                        + "Authorization)")
                .contains("upstreams.c.inject.username: missing (expected: the user name, required by as: basic)")
                .contains("upstreams.d.inject.secret: missing (expected: the name of an upstream secret in the "
                        + "control plane)")
                .contains("upstreams.d.inject.username: set (expected: only with as: basic)"));
    }

    @Test
    void aSecretIsBoundToOneUpstreamAndInjectionNeedsTheControlPlane() {
        String two = upstreams("""
                  a:
                    address: "a.example:443"
                    tls: external
                    match: {host: a}
                    inject: {secret: shared}
                  b:
                    address: "b.example:443"
                    tls: external
                    match: {host: b}
                    inject: {secret: shared}
                """);
        assertThatThrownBy(() -> ConfigLoader.parse(CP + two, null)).satisfies(e -> assertThat(
                ((ConfigException) e).errors()).contains("upstreams.b.inject.secret: shared (expected: unique; "
                        + "already used by upstreams.a; a secret is bound to one upstream)"));
        assertThatThrownBy(() -> ConfigLoader.parse("""
                listeners:
                  egress: {}
                tls: {cert: svid.crt, key: svid.key, bundle: bundle.pem}
                """ + two, null)).satisfies(e -> assertThat(((ConfigException) e).errors()).anySatisfy(m ->
                assertThat(m).startsWith("upstreams.a.inject: set without control-plane")));
    }
}
