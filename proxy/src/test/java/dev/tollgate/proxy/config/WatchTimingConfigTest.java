package dev.tollgate.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;

import org.junit.jupiter.api.Test;

/**
 * The watch stream's timing is checked against the staleness bound it serves (docs/rotation.md, "Watch stream and
 * staleness"), and the join timeout is read with its default.
 */
class WatchTimingConfigTest {
    static String yaml(String controlPlane, String credentials) {
        return "listeners:\n  egress: {}\ncontrol-plane:\n  url: \"https://cp.example:8443\"\n"
                + "  server-id: \"spiffe://example.org/tollgate/control-plane\"\n  trust-anchor: anchor.pem\n"
                + controlPlane + "upstreams:\n  crm:\n    address: \"crm.svc:8443\"\n"
                + "    spiffe-id: \"spiffe://example.org/tool/crm\"\n    match: {host: crm}\n" + credentials;
    }

    @Test
    void theDefaultsLeaveASilentStreamTimeToBeReplacedWithinTheStalenessBound() throws Exception {
        SidecarConfig c = ConfigLoader.parse(yaml("", ""), null);
        SidecarConfig.ControlPlane cp = c.controlPlane().orElseThrow();
        assertThat(cp.heartbeatInterval()).isEqualTo(Duration.ofSeconds(5));
        assertThat(cp.heartbeatInterval().multipliedBy(3).plus(cp.backoffInitial()))
                .isLessThan(c.credentials().maxStaleness());
        assertThat(c.watchReconnectMax()).contains(Duration.ofSeconds(3));
        assertThat(cp.joinTimeout()).isEqualTo(Duration.ofMinutes(5));
    }

    @Test
    void refusesAHeartbeatIntervalWhoseThreeMissesDoNotFitTheStalenessBound() {
        assertThatThrownBy(() -> ConfigLoader.parse(yaml("  heartbeat-interval: 15s\n", ""), null))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("credentials.max-staleness: 30000ms (expected: more than 3 x "
                        + "control-plane.heartbeat-interval + control-plane.backoff-initial = 46000ms");
        assertThatThrownBy(() -> ConfigLoader.parse(yaml("", "credentials: {max-staleness: 16s}\n"), null))
                .isInstanceOf(ConfigException.class).hasMessageContaining("= 16000ms");
    }

    @Test
    void theWatchReconnectsAtMostATenthOfTheStalenessBoundApartButNotFasterThanTheFirstRetry() throws Exception {
        assertThat(ConfigLoader.parse(yaml("", "credentials: {max-staleness: 60s}\n"), null).watchReconnectMax())
                .contains(Duration.ofSeconds(6));
        assertThat(ConfigLoader.parse(yaml("  backoff-max: 2s\n", ""), null).watchReconnectMax())
                .as("never longer than backoff-max").contains(Duration.ofSeconds(2));
        assertThat(ConfigLoader.parse(yaml("  heartbeat-interval: 100ms\n  backoff-initial: 500ms\n",
                "credentials: {max-staleness: 2s}\n"), null).watchReconnectMax())
                .as("never shorter than backoff-initial").contains(Duration.ofMillis(500));
    }

    @Test
    void aJoinTimeoutOfZeroWaitsForever() throws Exception {
        assertThat(ConfigLoader.parse(yaml("  join-timeout: 0s\n", ""), null).controlPlane().orElseThrow()
                .joinTimeout()).isZero();
        assertThat(ConfigLoader.parse(yaml("  join-timeout: 90s\n", ""), null).controlPlane().orElseThrow()
                .joinTimeout()).isEqualTo(Duration.ofSeconds(90));
        assertThatThrownBy(() -> ConfigLoader.parse(yaml("  join-timeout: soon\n", ""), null))
                .hasMessageContaining("control-plane.join-timeout: soon (expected: a duration");
    }
}
