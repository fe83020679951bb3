package dev.tollgate.api.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Fuzzes the policy loader: any input is a {@link Policy} or a {@link PolicyException} with bounded problems, never
 * another exception; a policy that loads can be evaluated. Without JAZZER_FUZZ=1 the seed inputs in
 * {@code PolicyLoaderFuzzTestInputs/} run as a regular test.
 */
class PolicyLoaderFuzzTest {
    static final Instant NOW = Instant.parse("2026-11-22T10:00:00Z");

    @FuzzTest(maxDuration = "60s")
    void parsesIntoAPolicyOrAPolicyException(byte[] data) {
        String yaml = new String(data, StandardCharsets.UTF_8);
        Policy policy;
        try {
            policy = Policy.parse(yaml);
        } catch (PolicyException e) {
            assertThat(e.problems()).isNotEmpty().allSatisfy(p -> assertThat(p).isNotBlank().hasSizeLessThan(1024));
            return;
        }
        assertThat(policy.version()).matches("[A-Za-z0-9._:-]{1,64}");
        assertThat(policy.digest()).startsWith("sha256:");
        assertThat(PolicyDiff.between(policy, policy).isEmpty()).isTrue();
        TaskHistory history = new TaskHistory("fuzz", 8);
        ObjectNode args = JsonNodeFactory.instance.objectNode().put("amount", "12").put("currency", "EUR");
        int n = 0;
        for (String tool : policy.tools()) {
            if (n++ == 16) {
                break;
            }
            Decision d = policy.admit(history, List.of(new ToolCall(tool, args, NOW), ToolCall.of(tool)), NOW);
            assertThat(d.dryRun()).allSatisfy(h -> DenialReason.fromWire(h.reason()));
            if (d instanceof Decision.Denied denied) {
                assertThat(denied.denialReason()).isNotNull();
            }
        }
        assertThat(policy.admit(history, List.of(ToolCall.of("not a listed tool")), NOW).allowed()).isFalse();
    }
}
