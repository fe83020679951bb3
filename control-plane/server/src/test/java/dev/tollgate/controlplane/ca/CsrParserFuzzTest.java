package dev.tollgate.controlplane.ca;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.PublicKey;

import com.code_intelligence.jazzer.junit.FuzzTest;

class CsrParserFuzzTest {

    /**
     * Any input either yields a key or a {@link BadCsrException}; nothing else escapes. Runs its seed corpus
     * ({@code CsrParserFuzzTestInputs/parsesOrRefusesWithBadCsr}) as a normal test; {@code JAZZER_FUZZ=1} fuzzes.
     */
    @FuzzTest
    void parsesOrRefusesWithBadCsr(byte[] input) {
        try {
            PublicKey key = CsrParser.publicKey(input);
            assertThat(key.getAlgorithm()).isIn("EC", "ECDSA", "RSA");
        } catch (BadCsrException e) {
            assertThat(e.reason()).isNotNull();
        }
    }
}
