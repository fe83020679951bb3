package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tollgate.proxy.support.MutableClock;

class IdentityAuditTest {
    @Test
    void writesOneJsonObjectPerEventWithEventTimeAndFields() throws Exception {
        IdentityAudit audit = new IdentityAudit(new MutableClock(Instant.parse("2026-01-01T00:00:00Z")));

        String line = audit.event("svid_renewed", "spiffe_id", "spiffe://example.org/agent/a", "serial", "ab\"\n",
                "key_rotated", true);

        assertThat(line).doesNotContain("\n");
        JsonNode n = new ObjectMapper().readTree(line);
        assertThat(n.get("event").asText()).isEqualTo("svid_renewed");
        assertThat(n.get("at").asText()).isEqualTo("2026-01-01T00:00:00Z");
        assertThat(n.get("spiffe_id").asText()).isEqualTo("spiffe://example.org/agent/a");
        assertThat(n.get("serial").asText()).isEqualTo("ab\"\n");
        assertThat(n.get("key_rotated").asText()).isEqualTo("true");
    }
}
