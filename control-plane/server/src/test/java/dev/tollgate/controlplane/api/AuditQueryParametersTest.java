package dev.tollgate.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import dev.tollgate.controlplane.store.AuditQuery;

/** The query parameters of GET /v1/audit: every filter parsed, and every unknown or malformed one a 400 naming it. */
class AuditQueryParametersTest {

    private static ApiRequest get(String... pairs) {
        Map<String, List<String>> q = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            q.computeIfAbsent(pairs[i], k -> new java.util.ArrayList<>()).add(pairs[i + 1]);
        }
        return new ApiRequest("GET", "/v1/audit", q, Map.of(), null, new byte[0],
                new Principal.Anonymous("127.0.0.1"), "127.0.0.1");
    }

    private static void assertRefused(String parameter, String reason, String... pairs) {
        assertThatThrownBy(() -> ApiRoutes.auditQuery(get(pairs)))
                .isInstanceOfSatisfying(ApiProblem.class, p -> {
                    assertThat(p.status()).isEqualTo(400);
                    assertThat(p.reason()).isEqualTo(reason);
                    assertThat(p.getMessage()).startsWith(parameter + ":");
                });
    }

    @Test
    void parsesEveryFilter() {
        AuditQuery q = ApiRoutes.auditQuery(get("kind", "decision.denied", "task", "task-1", "identity",
                "spiffe://example.org/agent/a", "outcome", "denied", "since", "2026-12-06T09:00:00Z", "until",
                "2026-12-06T11:00:00+01:00", "after", "5", "limit", "10"));

        assertThat(q).isEqualTo(new AuditQuery(Optional.of("decision.denied"), Optional.of("task-1"),
                Optional.of("spiffe://example.org/agent/a"), Optional.of("denied"),
                Optional.of(Instant.parse("2026-12-06T09:00:00Z")), Optional.of(Instant.parse("2026-12-06T10:00:00Z"))));
        assertThat(ApiRoutes.auditQuery(get())).isEqualTo(AuditQuery.ALL);
    }

    @Test
    void refusesAnUnknownParameterInsteadOfIgnoringIt() {
        assertRefused("actor", "unknown_parameter", "actor", "spiffe://example.org/agent/a");
        assertRefused("spiffeId", "unknown_parameter", "kind", "decision.denied", "spiffeId", "x");
    }

    @Test
    void refusesMalformedValuesNamingTheParameter() {
        assertRefused("since", "invalid_parameter", "since", "1h");
        assertRefused("until", "invalid_parameter", "until", "2026-12-06 09:00");
        assertRefused("until", "invalid_parameter", "since", "2026-12-06T10:00:00Z", "until", "2026-12-06T09:00:00Z");
        assertRefused("identity", "invalid_parameter", "identity", "agent/a");
        assertRefused("kind", "invalid_parameter", "kind", "Decision Denied");
        assertRefused("outcome", "invalid_parameter", "outcome", "'; DROP TABLE audit_event; --");
        assertRefused("task", "invalid_parameter", "task", "t".repeat(129));
        assertRefused("kind", "repeated_parameter", "kind", "a", "kind", "b");
    }
}
