package dev.tollgate.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.SpiffeId;

class ConfigLoaderTest {
    static final String MINIMAL = """
            listeners:
              ingress: {address: "0.0.0.0:8443"}
              egress: {address: "127.0.0.1:15001"}
              admin: {address: "127.0.0.1:15000"}
            app: "127.0.0.1:8080"
            tls: {cert: svid.crt, key: svid.key, bundle: bundle.pem}
            identity:
              allow: ["spiffe://example.org/agent/caller", {trust-domain: partner.org}]
            upstreams:
              billing:
                address: "billing.svc:8443"
                spiffe-id: "spiffe://example.org/tool/billing"
                match: {host: billing.internal}
              search:
                address: "api.search.example:443"
                tls: external
                match: {path-prefix: /search}
            """;

    @Test
    void parsesMinimalFileWithExplicitDefaults() throws Exception {
        SidecarConfig c = ConfigLoader.parse(MINIMAL, Path.of("/etc/tollgate"));

        assertThat(c.tls().cert()).isEqualTo(Path.of("/etc/tollgate/svid.crt"));
        assertThat(c.tls().minVersion()).isEqualTo(TlsVersion.TLS_1_3);
        assertThat(c.tls().handshakeTimeout()).isEqualTo(ConfigDefaults.TLS_HANDSHAKE_TIMEOUT);
        assertThat(c.limits()).isEqualTo(SidecarConfig.Limits.defaults());
        assertThat(c.drainTimeout()).isEqualTo(ConfigDefaults.DRAIN_TIMEOUT);
        assertThat(c.identity().allows(SpiffeId.parse("spiffe://example.org/agent/caller"))).isTrue();
        assertThat(c.identity().allows(SpiffeId.parse("spiffe://example.org/agent/other"))).isFalse();
        assertThat(c.identity().allows(SpiffeId.parse("spiffe://partner.org/agent/any"))).isTrue();
        assertThat(c.upstreamsInOrder()).extracting(SidecarConfig.Upstream::name).containsExactly("billing", "search");
        SidecarConfig.Upstream billing = c.upstreams().get("billing");
        assertThat(billing.tls()).isEqualTo(new SidecarConfig.SpiffeTls(
                SpiffeId.parse("spiffe://example.org/tool/billing")));
        assertThat(billing.poolSize()).isEqualTo(ConfigDefaults.UPSTREAM_POOL_SIZE);
        assertThat(c.upstreams().get("search").tls()).isInstanceOf(SidecarConfig.ExternalTls.class);
    }

    @Test
    void parsesDurationsSizesAndHttp2Limits() throws Exception {
        SidecarConfig c = ConfigLoader.parse(MINIMAL + """
                limits:
                  max-header-size: 32KiB
                  header-read-timeout: 500ms
                  http2: {max-concurrent-streams: 50, rst-window: 1m}
                drain-timeout: 2m
                """, null);

        assertThat(c.limits().maxHeaderSize()).isEqualTo(32 * 1024);
        assertThat(c.limits().headerReadTimeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(c.limits().h2MaxConcurrentStreams()).isEqualTo(50);
        assertThat(c.limits().h2RstWindowSeconds()).isEqualTo(60);
        assertThat(c.drainTimeout()).isEqualTo(Duration.ofMinutes(2));
    }

    @Test
    void reportsEveryErrorAtOnceWithItsPath() {
        String yaml = """
                listeners:
                  egress: {address: "0.0.0.0:15001"}
                tls: {cert: a, key: b, bundle: c, min-version: "1.1"}
                upstreams:
                  billing:
                    address: "billing:8443"
                    spiffe-id: "spiffe://Example.org/tool/billing"
                    pool-size: 0
                    connect-timeout: soon
                  search: {address: "x:1", tls: plain}
                limits: {max-connections: -1, surprise: 1}
                """;

        assertThatThrownBy(() -> ConfigLoader.parse(yaml, null))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.errors()).containsExactlyInAnyOrder(
                        "listeners.egress.address: 0.0.0.0:15001 (expected: a loopback address)",
                        "tls.min-version: 1.1 (expected: 1.2 or 1.3)",
                        "upstreams.billing.spiffe-id: spiffe://Example.org/tool/billing (expected: a SPIFFE ID; "
                                + "trust domain has an invalid character 'E' at 0 (rule: trust_domain_case))",
                        "upstreams.billing.pool-size: 0 (expected: > 0)",
                        "upstreams.billing.connect-timeout: soon (expected: a duration like 500ms, 10s, 5m or 1h)",
                        "upstreams.search.tls: plain (expected: external, or omit it and set spiffe-id)",
                        "limits.surprise: unknown option (expected one of: buffered-bodies, header-read-timeout, http2, idle-timeout, "
                                + "max-buffered-body, max-chunk-size, max-connections, max-connections-per-peer, "
                                + "max-header-count, max-header-size, max-initial-line, send-timeout)",
                        "limits.max-connections: -1 (expected: > 0)"));
    }

    @Test
    void requiresAppAndAllowListForIngress() {
        assertThatThrownBy(() -> ConfigLoader.parse("""
                listeners: {ingress: {address: "0.0.0.0:8443"}}
                tls: {cert: a, key: b, bundle: c}
                """, null)).isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.errors())
                .containsExactly(
                        "app: missing (expected: host:port of the local application, required by listeners.ingress)",
                        "identity.allow: empty (expected: at least one SPIFFE ID or trust domain; nobody could call)"));
    }

    @Test
    void adminListenerLeavesLoopbackOnlyWhenExposed() throws Exception {
        String loopback = MINIMAL.replace("admin: {address: \"127.0.0.1:15000\"}", "admin: {address: \"0.0.0.0:15000\"}");
        String exposed = MINIMAL.replace("admin: {address: \"127.0.0.1:15000\"}", "admin: {address: \"0.0.0.0:15000\", expose: true}");
        String bad = MINIMAL.replace("admin: {address: \"127.0.0.1:15000\"}", "admin: {address: \"127.0.0.1:15000\", expose: yes-please}");

        assertThatThrownBy(() -> ConfigLoader.parse(loopback, Path.of("/etc/tollgate")))
                .hasMessageContaining("listeners.admin.address: 0.0.0.0:15000 (expected: a loopback address; or expose: true");
        assertThat(ConfigLoader.parse(exposed, Path.of("/etc/tollgate")).listeners().admin().orElseThrow().toString())
                .isEqualTo("0.0.0.0:15000");
        assertThatThrownBy(() -> ConfigLoader.parse(bad, Path.of("/etc/tollgate")))
                .hasMessageContaining("listeners.admin.expose: ");
    }

    @Test
    void refusesDuplicateKeysAndNonYaml() {
        assertThatThrownBy(() -> ConfigLoader.parse("drain-timeout: 1s\ndrain-timeout: 2s\n", null))
                .isInstanceOf(ConfigException.class).hasMessageContaining("Duplicate field 'drain-timeout'");
        assertThatThrownBy(() -> ConfigLoader.parse("- just\n- a list\n", null))
                .isInstanceOf(ConfigException.class).hasMessageContaining("configuration: a list (expected: a mapping)");
        assertThatThrownBy(() -> ConfigLoader.parse("a: [", null))
                .isInstanceOf(ConfigException.class).hasMessageContaining("not valid YAML");
    }

    @Test
    void refusesDuplicateUpstreamMatches() {
        assertThatThrownBy(() -> ConfigLoader.parse(MINIMAL + """
                  billing-copy:
                    address: "b:1"
                    spiffe-id: "spiffe://example.org/tool/billing"
                    match: {host: billing.internal}
                """, null)).isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.errors()).containsExactly(
                "upstreams.billing-copy.match.host: billing.internal (expected: unique; already used by upstreams.billing)"));
    }

    /** Seed corpus of malformed configurations: each must end in a ConfigException, never another exception. */
    @Test
    void malformedInputsOnlyEverProduceConfigErrors() {
        String[] corpus = {"", "~", "listeners: 3", "listeners: {ingress: 3}", "tls: []", "upstreams: {a: []}",
            "upstreams: {\"A B\": {address: \"x:1\", spiffe-id: \"spiffe://a/b\"}}", "limits: {http2: 1}",
            "identity: {allow: [3]}", "identity: {allow: [{trust-domain: \"UP\"}]}", "worker-threads: 1e99",
            "drain-timeout: 99999999999h", "app: \"[::1\"", "listeners: {l4: {address: \"x\"}}",
            "a: " + "[".repeat(100) + "]".repeat(100), "limits: {max-header-size: 9999999999KiB}"};
        for (String yaml : corpus) {
            assertThatThrownBy(() -> ConfigLoader.parse(yaml, null)).as(yaml).isInstanceOf(ConfigException.class);
        }
    }

    @Test
    void controlPlaneExampleParsesAndStatesTheDefaults() throws Exception {
        String yaml = java.nio.file.Files.readString(ReferenceConfigTest.CONTROL_PLANE_EXAMPLE);

        SidecarConfig c = ConfigLoader.parse(yaml, Path.of("/etc/tollgate"));

        SidecarConfig.ControlPlane cp = c.controlPlane().orElseThrow();
        assertThat(cp.url()).isEqualTo(java.net.URI.create("https://control-plane.tollgate.svc:8443"));
        assertThat(cp.trustAnchor()).isEqualTo(Path.of("/etc/tollgate/ca-bundle.pem"));
        assertThat(cp.joinTokenFile()).contains(Path.of("/etc/tollgate/join-token"));
        assertThat(cp.renewalFraction()).isEqualTo(ConfigDefaults.RENEWAL_FRACTION);
        assertThat(cp.renewalMinDelay()).isEqualTo(ConfigDefaults.RENEWAL_MIN_DELAY);
        assertThat(cp.renewalMaxDelay()).isEqualTo(ConfigDefaults.RENEWAL_MAX_DELAY);
        assertThat(cp.rotateKey()).isEqualTo(ConfigDefaults.ROTATE_KEY);
        assertThat(cp.requestTimeout()).isEqualTo(ConfigDefaults.CONTROL_PLANE_REQUEST_TIMEOUT);
        assertThat(cp.backoffInitial()).isEqualTo(ConfigDefaults.CONTROL_PLANE_BACKOFF_INITIAL);
        assertThat(cp.backoffMax()).isEqualTo(ConfigDefaults.CONTROL_PLANE_BACKOFF_MAX);
        assertThat(cp.heartbeatInterval()).isEqualTo(ConfigDefaults.WATCH_HEARTBEAT_INTERVAL);
        assertThat(cp.serverId()).isEqualTo(SpiffeId.parse("spiffe://example.org/tollgate/control-plane"));
        assertThat(c.tls().cert()).isNull();
    }

    @Test
    void controlPlaneServerIdDefaultsToTheTrustDomainOfTheExpectedSpiffeId() throws Exception {
        SidecarConfig c = ConfigLoader.parse("""
                listeners: {admin: {}}
                control-plane: {url: "https://cp:8443", trust-anchor: anchor.pem}
                tls: {spiffe-id: "spiffe://corp.example/agent/a"}
                """, null);

        assertThat(c.controlPlane().orElseThrow().serverId())
                .isEqualTo(SpiffeId.parse("spiffe://corp.example/tollgate/control-plane"));
        assertThat(c.controlPlane().orElseThrow().joinTokenFile()).isEmpty();
    }

    @Test
    void reportsEveryControlPlaneErrorAtOnce() {
        assertThatThrownBy(() -> ConfigLoader.parse("""
                listeners: {admin: {}}
                control-plane:
                  url: "http://cp:8443"
                  renewal-fraction: 0.95
                  renewal-min-delay: 2h
                  rotate-key: "no"
                  backoff-initial: 1m
                  backoff-max: 1s
                  retries: 3
                tls: {cert: a.crt, key: a.key, bundle: b.pem}
                """, null))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("control-plane.url: http://cp:8443 (expected: an https:// URL with a host)")
                .hasMessageContaining("control-plane.server-id: missing")
                .hasMessageContaining("control-plane.trust-anchor: missing (expected: a file path)")
                .hasMessageContaining("control-plane.renewal-fraction: 0.95 (expected: a number in [0.1, 0.9])")
                .hasMessageContaining("control-plane.renewal-max-delay: 3600000ms (expected: >= renewal-min-delay "
                        + "7200000ms)")
                .hasMessageContaining("control-plane.rotate-key: ")
                .hasMessageContaining("control-plane.backoff-max: 1000ms (expected: >= backoff-initial 60000ms)")
                .hasMessageContaining("control-plane.retries: unknown option")
                .hasMessageContaining("tls.cert: ")
                .hasMessageContaining("expected: absent when control-plane is configured");
    }

    @Test
    void emptyListenerEntryTakesTheDefaultAddress() throws Exception {
        SidecarConfig c = ConfigLoader.parse("""
                listeners: {admin: {}, egress: }
                tls: {cert: a, key: b, bundle: c}
                upstreams: {x: {address: "x:1", tls: external}}
                """, null);

        assertThat(c.listeners().admin()).contains(HostPort.parse("127.0.0.1:15000"));
        assertThat(c.listeners().egress()).contains(HostPort.parse("127.0.0.1:15001"));
        assertThat(c.listeners().ingress()).isEmpty();
    }

    @Test
    void egressHttp2PriorKnowledgeIsOnByDefaultAndCanBeTurnedOff() throws Exception {
        String rest = """
                tls: {cert: a, key: b, bundle: c}
                upstreams: {x: {address: "x:1", tls: external}}
                """;

        assertThat(ConfigLoader.parse("listeners: {egress: {}}\n" + rest, null).listeners()
                .egressHttp2PriorKnowledge()).isTrue();
        assertThat(ConfigLoader.parse("listeners: {egress: {http2-prior-knowledge: false}}\n" + rest, null)
                .listeners().egressHttp2PriorKnowledge()).isFalse();
        assertThatThrownBy(() -> ConfigLoader.parse("listeners: {egress: {http2-prior-knowledge: \"no\"}}\n" + rest,
                null)).isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.errors()).containsExactly(
                        "listeners.egress.http2-prior-knowledge: no (expected: true or false)"));
        assertThatThrownBy(() -> ConfigLoader.parse("listeners: {admin: {http2-prior-knowledge: true}}\n" + rest,
                null)).isInstanceOf(ConfigException.class).hasMessageContaining("listeners.admin.http2-prior-knowledge");
    }
}
