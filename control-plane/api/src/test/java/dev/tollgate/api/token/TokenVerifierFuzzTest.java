package dev.tollgate.api.token;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

import com.code_intelligence.jazzer.junit.FuzzTest;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.testing.MutableClock;

/**
 * Fuzzes the verifier's parse path. Without JAZZER_FUZZ=1 the seed corpus in src/test/resources runs as a normal
 * test. Whatever the input, the verifier answers a result and never throws; nothing unsigned by the key set passes.
 */
class TokenVerifierFuzzTest {
    private static final TestTokens TOKENS = new TestTokens();
    private static final TokenKeySet KEYS = TOKENS.keySet();
    private static final TokenVerifier VERIFIER = TokenVerifier.builder(TestTokens.ISSUER, TokenType.TASK,
            TestTokens.AGENT, () -> KEYS).clock(new MutableClock(Instant.parse("2030-01-01T00:00:00Z"))).build();
    private static final SpiffeId AGENT = SpiffeId.parse(TestTokens.AGENT);

    @FuzzTest(maxDuration = "30s")
    void verifyAnswersAResultForAnyInput(byte[] data) {
        String input = new String(data, StandardCharsets.UTF_8);
        VerificationResult r = VERIFIER.verify(input, AGENT);
        assertThat(r).isNotNull();
        if (r instanceof TokenRejection rej) {
            assertThat(rej.reason()).isNotNull();
            assertThat(rej.detail()).isNotNull();
        } else {
            // only a token signed by the test key can verify; the corpus holds none that is still valid in 2030
            assertThat(((VerifiedToken) r).kid()).isEqualTo(TOKENS.key.getKeyID());
        }
    }
}
