package dev.tollgate.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import dev.tollgate.proxy.config.SidecarConfig.PolicyOrigin;

/** The {@code policy:} block: a file or the control plane, exactly one, and every error reported at once. */
class PolicyConfigTest {
    static final String BASE = CredentialsConfigTest.BASE;
    static final String CONTROL_PLANE = BASE.replace("tls: {cert: svid.crt, key: svid.key, bundle: bundle.pem}\n", """
            control-plane:
              url: "https://cp.example:8443"
              server-id: "spiffe://example.org/tollgate/control-plane"
              trust-anchor: anchor.pem
            """);

    @Test
    void noPolicyWhenTheBlockIsAbsent() throws Exception {
        SidecarConfig.PolicySettings p = ConfigLoader.parse(BASE, null).policy();
        assertThat(p).isEqualTo(SidecarConfig.PolicySettings.none());
        assertThat(p.configured()).isFalse();
    }

    @Test
    void aFileIsResolvedAgainstTheConfigurationDirectory() throws Exception {
        SidecarConfig.PolicySettings p = ConfigLoader.parse(BASE + """
                policy:
                  file: policies/agent.yaml
                  required: false
                  reload-interval: 500ms
                """, Path.of("/etc/tollgate")).policy();
        assertThat(p).isEqualTo(new SidecarConfig.PolicySettings(PolicyOrigin.FILE,
                Optional.of(Path.of("/etc/tollgate/policies/agent.yaml")), false, Duration.ofMillis(500)));
    }

    @Test
    void theControlPlaneSourceIsRequiredByDefault() throws Exception {
        SidecarConfig.PolicySettings p = ConfigLoader.parse(CONTROL_PLANE + "policy: {source: control-plane}\n",
                Path.of("/etc/tollgate")).policy();
        assertThat(p.origin()).isEqualTo(PolicyOrigin.CONTROL_PLANE);
        assertThat(p.required()).isTrue();
        assertThat(p.file()).isEmpty();
    }

    @Test
    void fileAndSourceAreExclusiveAndOneIsNeeded() {
        assertThatThrownBy(() -> ConfigLoader.parse(CONTROL_PLANE
                + "policy: {file: p.yaml, source: control-plane}\n", null))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.errors())
                        .containsExactly("policy: both file and source (expected: exactly one; file: <path> or "
                                + "source: control-plane)"));
        assertThatThrownBy(() -> ConfigLoader.parse(BASE + "policy: {required: true}\n", null))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.errors())
                        .containsExactly("policy: neither file nor source (expected: file: <path> or source: "
                                + "control-plane)"));
    }

    @Test
    void reportsEveryErrorAtOnce() {
        assertThatThrownBy(() -> ConfigLoader.parse(BASE + """
                policy:
                  source: control-plane
                  required: sometimes
                  reload-interval: soon
                  colour: blue
                """, null)).isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.errors())
                .contains("policy.required: sometimes (expected: true or false)",
                        "policy.reload-interval: soon (expected: a duration like 500ms, 10s, 5m or 1h)",
                        "policy.source: control-plane needs the control-plane section (the policy comes over its "
                                + "watch stream)")
                .anySatisfy(m -> assertThat(m).startsWith("policy.colour: unknown option")));
        assertThatThrownBy(() -> ConfigLoader.parse(BASE + "policy: {source: git}\n", null))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.errors())
                        .containsExactly("policy.source: git (expected: control-plane; for a local file use "
                                + "policy.file)"));
    }
}
