package dev.tollgate.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SpiffeIdTest {

    @ParameterizedTest
    @ValueSource(strings = {"spiffe://example.org", "spiffe://example.org/agent/research-bot",
            "spiffe://a-b_c.9/tool/x.Y_z-1", "spiffe://td/operator/alice"})
    void acceptsValidIds(String s) {
        assertThat(SpiffeId.parse(s).toString()).isEqualTo(s);
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "''|empty",
            "http://example.org/agent/a|scheme",
            "SPIFFE://example.org/agent/a|scheme",
            "Spiffe://example.org/agent/a|scheme",
            "spiffe:///agent/a|trust_domain_empty",
            "spiffe://|trust_domain_empty",
            "spiffe://Example.org/agent/a|trust_domain_case",
            "spiffe://example.org:8443/agent/a|port",
            "spiffe://user@example.org/agent/a|userinfo",
            "spiffe://example.org/agent/a?x=1|query",
            "spiffe://example.org/agent/a#frag|fragment",
            "spiffe://example.org/agent//a|empty_segment",
            "spiffe://example.org/agent/a/|trailing_slash",
            "spiffe://example.org/|trailing_slash",
            "spiffe://example.org/agent/./a|dot_segment",
            "spiffe://example.org/agent/../a|dot_segment",
            "spiffe://example.org/agent/%61|percent_encoding",
            "spiffe://exa mple.org/agent/a|trust_domain_char",
            "spiffe://example.org/agent/a b|path_char",
            "spiffe://example.org/agent/é|path_char",
    })
    void rejectsEachRuleByName(String input, String rule) {
        assertThatThrownBy(() -> SpiffeId.parse(input))
                .isInstanceOfSatisfying(InvalidSpiffeIdException.class, e -> assertThat(e.rule()).isEqualTo(rule));
    }

    @Test
    void rejectsIdsLongerThanTheLimit() {
        String longId = "spiffe://example.org/" + "a".repeat(SpiffeId.MAX_LENGTH);
        assertThatThrownBy(() -> SpiffeId.parse(longId))
                .isInstanceOfSatisfying(InvalidSpiffeIdException.class, e -> assertThat(e.rule()).isEqualTo("too_long"));
    }

    @Test
    void rejectsTrustDomainsLongerThan255() {
        String td = "a".repeat(256);
        assertThatThrownBy(() -> SpiffeId.parse("spiffe://" + td + "/agent/a"))
                .isInstanceOfSatisfying(InvalidSpiffeIdException.class,
                        e -> assertThat(e.rule()).isEqualTo("trust_domain_too_long"));
    }

    @Test
    void comparesByteForByte() {
        assertThat(SpiffeId.parse("spiffe://td/agent/A")).isNotEqualTo(SpiffeId.parse("spiffe://td/agent/a"));
        assertThat(SpiffeId.parse("spiffe://td/agent/a")).isEqualTo(SpiffeId.parse("spiffe://td/agent/a"));
    }

    @Test
    void namesKindAndName() {
        SpiffeId id = SpiffeId.of("example.org", SpiffeId.Kind.AGENT, "research-bot");
        assertThat(id.toString()).isEqualTo("spiffe://example.org/agent/research-bot");
        assertThat(id.kind()).isEqualTo(SpiffeId.Kind.AGENT);
        assertThat(id.name()).isEqualTo("research-bot");
        assertThat(id.trustDomain()).isEqualTo("example.org");
        assertThat(SpiffeId.parse("spiffe://td/operator/alice").kind()).isEqualTo(SpiffeId.Kind.OPERATOR);
        assertThat(SpiffeId.parse("spiffe://td/agentx/a").kind()).isEqualTo(SpiffeId.Kind.OTHER);
    }
}
