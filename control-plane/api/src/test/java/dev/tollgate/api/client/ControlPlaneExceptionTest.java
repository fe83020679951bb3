package dev.tollgate.api.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.wire.Json;

/** One reading of the control plane's error answers for every client: problem, OAuth error, anything else. */
class ControlPlaneExceptionTest {
    static ControlPlaneException answer(int status, String body) {
        return ControlPlaneException.fromAnswer(status, body.getBytes(StandardCharsets.UTF_8), Json.mapper());
    }

    @Test
    void aProblemDocumentKeepsItsReasonAndDetail() {
        ControlPlaneException e = answer(400, "{\"type\":\"about:blank\",\"title\":\"Bad request\",\"status\":400,"
                + "\"reason\":\"invalid_event\",\"detail\":\"events[0].outcome: missing\"}");
        assertThat(e.status()).isEqualTo(400);
        assertThat(e.reason()).isEqualTo("invalid_event");
        assertThat(e.problem().detail()).isEqualTo("events[0].outcome: missing");
    }

    @Test
    void anOAuthErrorBecomesAProblemWhoseReasonIsItsErrorCode() {
        ControlPlaneException e = answer(400, "{\"error\":\"invalid_scope\",\"error_description\":\"crm.write\"}");
        assertThat(e.reason()).isEqualTo("invalid_scope");
        assertThat(e.problem().detail()).isEqualTo("crm.write");
    }

    @Test
    void anyOtherBodyIsKeptAsTextUnderTheStatus() {
        ControlPlaneException e = answer(502, "<html>bad gateway</html>");
        assertThat(e.reason()).isEqualTo("http_502");
        assertThat(e.problem().detail()).isEqualTo("<html>bad gateway</html>");
        assertThat(answer(503, "").reason()).isEqualTo("http_503");
    }
}
