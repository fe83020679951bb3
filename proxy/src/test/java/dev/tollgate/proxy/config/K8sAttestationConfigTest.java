package dev.tollgate.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Optional;

import org.junit.jupiter.api.Test;

/** {@code control-plane.k8s-token-file} and {@code k8s-cluster}: parsed, optional, exclusive with the join token. */
class K8sAttestationConfigTest {
    static final String BASE = DecisionLogConfigTest.BASE;

    @Test
    void absentOrEmptyMeansJoinToken() throws Exception {
        assertThat(ConfigLoader.parse(BASE, null).controlPlane().orElseThrow().k8sAttestation()).isEmpty();
        assertThat(ConfigLoader.parse(BASE + """
                  k8s-token-file: ""
                  k8s-cluster: ""
                """, null).controlPlane().orElseThrow().k8sAttestation()).isEmpty();
    }

    @Test
    void parsesTheTokenFileAndTheCluster() throws Exception {
        SidecarConfig.K8sAttestation k = ConfigLoader.parse(BASE + """
                  k8s-token-file: /var/run/secrets/tollgate/token
                  k8s-cluster: prod
                """, null).controlPlane().orElseThrow().k8sAttestation().orElseThrow();

        assertThat(k.tokenFile()).isEqualTo(Path.of("/var/run/secrets/tollgate/token"));
        assertThat(k.cluster()).isEqualTo(Optional.of("prod"));
    }

    @Test
    void refusesAJoinTokenBesideTheServiceAccountTokenAndAClusterWithoutIt() {
        assertThatThrownBy(() -> ConfigLoader.parse(BASE + """
                  join-token-file: join-token
                  k8s-token-file: /var/run/secrets/tollgate/token
                  k8s-cluster: Prod
                """, null))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.errors()).hasSize(2)
                        .anyMatch(m -> m.startsWith("control-plane.k8s-token-file: set together with join-token-file"))
                        .anyMatch(m -> m.startsWith("control-plane.k8s-cluster: 'Prod'")));
        assertThatThrownBy(() -> ConfigLoader.parse(BASE + """
                  k8s-cluster: prod
                """, null))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.errors())
                        .containsExactly("control-plane.k8s-cluster: set without k8s-token-file"));
    }
}
