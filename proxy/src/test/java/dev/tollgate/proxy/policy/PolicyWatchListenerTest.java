package dev.tollgate.proxy.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.tollgate.api.policy.Policy;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.TestPolicies;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.config.SidecarConfig.PolicyOrigin;
import dev.tollgate.proxy.metrics.PolicyReloadResult;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/** Watch events of kind {@code policy} and resyncs feed the source; malformed ones keep the policy and count. */
class PolicyWatchListenerTest {
    final ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), Clock.systemUTC());
    final PolicySource source = new PolicySource(new SidecarConfig.PolicySettings(PolicyOrigin.CONTROL_PLANE,
            Optional.empty(), true, Duration.ofSeconds(2)), metrics);
    final PolicyWatchListener listener = new PolicyWatchListener(source);

    @Test
    void appliesAPolicyRevisionAndIgnoresOtherKinds() throws Exception {
        listener.onEvent(event(WatchEvent.REVOCATION, payload(TestPolicies.v1())));
        assertThat(source.current()).isEmpty();
        listener.onEvent(event(WatchEvent.POLICY, payload(TestPolicies.v1())));
        assertThat(source.current()).map(Policy::version).contains("2026-11-22.1");
        listener.onEvent(event(WatchEvent.POLICY, payload(TestPolicies.v1())));
        assertThat(count(PolicyReloadResult.UNCHANGED)).isEqualTo(1);
    }

    @Test
    void aResyncCarriesThePolicyAndANullOneKeepsWhatIsHeld() throws Exception {
        ObjectNode resync = Json.mapper().createObjectNode();
        resync.set(WatchEvent.POLICY, payload(TestPolicies.v2()));
        listener.onResync(event(WatchEvent.RESYNC, resync));
        assertThat(source.current()).map(Policy::version).contains("2026-11-22.2");

        ObjectNode empty = Json.mapper().createObjectNode();
        empty.putNull(WatchEvent.POLICY);
        listener.onResync(event(WatchEvent.RESYNC, empty));
        assertThat(source.current()).map(Policy::version).contains("2026-11-22.2");
    }

    @Test
    void aMalformedOrMismatchedEventKeepsThePolicyAndCounts() throws Exception {
        listener.onEvent(event(WatchEvent.POLICY, payload(TestPolicies.v1())));
        ObjectNode lying = payload(TestPolicies.v2());
        lying.put("digest", "sha256:" + "0".repeat(64));
        listener.onEvent(event(WatchEvent.POLICY, lying));
        listener.onEvent(event(WatchEvent.POLICY, Json.mapper().valueToTree(Map.of("version", 1))));
        assertThat(count(PolicyReloadResult.MALFORMED_EVENT)).isEqualTo(2);

        ObjectNode invalid = payload(TestPolicies.v1());
        invalid.put("yaml", TestPolicies.invalid());
        listener.onEvent(event(WatchEvent.POLICY, invalid));
        assertThat(count(PolicyReloadResult.INVALID)).isEqualTo(1);
        assertThat(source.current()).map(Policy::version).contains("2026-11-22.1");
    }

    private static ObjectNode payload(String yaml) throws Exception {
        Policy p = Policy.parse(yaml);
        ObjectNode n = Json.mapper().createObjectNode();
        n.put("version", p.version());
        n.put("digest", p.digest());
        n.put("yaml", yaml);
        return n;
    }

    private static WatchEvent event(String kind, JsonNode payload) {
        return new WatchEvent(7, kind, Instant.parse("2030-01-01T00:00:00Z"), payload);
    }

    private double count(PolicyReloadResult r) {
        return metrics.policyReloadCount(PolicyOrigin.CONTROL_PLANE, r);
    }
}
