package dev.tollgate.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes the SPIFFE ID parser. Without JAZZER_FUZZ=1 the seed corpus in src/test/resources runs as a normal test.
 */
class SpiffeIdFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void parseNeverThrowsAnythingButInvalidSpiffeId(byte[] data) {
        String input = new String(data, java.nio.charset.StandardCharsets.UTF_8);
        SpiffeId id;
        try {
            id = SpiffeId.parse(input);
        } catch (InvalidSpiffeIdException e) {
            assertThat(e.rule()).isNotBlank();
            return;
        }
        // Whatever parses is canonical: it re-parses to itself, and has no forbidden parts.
        assertThat(SpiffeId.parse(id.toString())).isEqualTo(id);
        assertThat(id.toString()).startsWith("spiffe://").doesNotContain("?", "#", "%", "@", "//" + id.trustDomain() + ":");
        assertThat(id.path()).doesNotContain("//", "/./", "/../").doesNotEndWith("/");
        assertThat(id.trustDomain()).isLowerCase();
    }
}
