package dev.tollgate.proxy.credential;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.token.TokenVerifier;

/**
 * The exchanged token is set on the upstream request as the bytes it was answered with, so the sidecar takes only a
 * token of the compact JWS form (three base64url parts, two dots, within the verifier's length limit): anything else
 * is refused before it could reach a header, instead of being mangled into one.
 */
class ExchangedTokenTest {
    private static final String JWS = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.MEUCIQDx-_9";

    @Test
    void takesACompactJwsAndKeepsItsBytesForTheHeader() {
        var x = new ExchangeClient.ExchangedToken(JWS, Instant.EPOCH);
        assertThat(x.token()).isEqualTo(JWS);
        assertThat(x.headerValue().toString()).isEqualTo(JWS);
        assertThat(x.headerValue().length()).isEqualTo(JWS.length());
        assertThat(x.toString()).doesNotContain(JWS);
    }

    @Test
    void aRateLimitedOrFailingControlPlaneIsUnavailableNotARefusedCredential() {
        java.util.function.BiFunction<Integer, String, DenyReason> reason = (status, error) ->
                ExchangeClient.reasonOf(new dev.tollgate.api.client.ControlPlaneException(status,
                        dev.tollgate.api.wire.Problem.of(status, error, "t", "d")));
        assertThat(reason.apply(429, "rate_limited")).isEqualTo(DenyReason.EXCHANGE_UNAVAILABLE);
        assertThat(reason.apply(503, "overloaded")).isEqualTo(DenyReason.EXCHANGE_UNAVAILABLE);
        assertThat(reason.apply(400, "invalid_grant")).isEqualTo(DenyReason.EXCHANGE_REFUSED);
        assertThat(reason.apply(400, "invalid_scope")).isEqualTo(DenyReason.TOOL_NOT_IN_SCOPE);
    }

    @Test
    void refusesWhatIsNotACompactJws() {
        String tooLong = "a".repeat(TokenVerifier.DEFAULT_MAX_TOKEN_LENGTH - 3) + ".b.c";
        for (String bad : new String[] {"", "a.b", "a.b.c.d", ".b.c", "a..c", "a.b.", "a.b.c ", "a b.c.d",
            "a+b.c.d", "a/b.c.d", "a=.b.c", "a.b.c\r\nx-evil: 1", "a.\u00e9.c", "a.\u0101.c", tooLong}) {
            assertThat(TokenVerifier.isCompactJws(bad)).as(bad).isFalse();
            assertThatThrownBy(() -> new ExchangeClient.ExchangedToken(bad, Instant.EPOCH))
                    .as(bad).isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(TokenVerifier.isCompactJws(tooLong.substring(1))).isTrue();
        assertThat(TokenVerifier.isCompactJws("a.b.c")).isTrue();
        assertThat(TokenVerifier.isCompactJws(JWS)).isTrue();
    }
}
