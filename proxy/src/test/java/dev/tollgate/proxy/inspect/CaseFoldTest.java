package dev.tollgate.proxy.inspect;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.ObjectMapper;

class CaseFoldTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void foldsAsGoMatchesKeys() {
        assertThat(CaseFold.fold("amount")).isSameAs("amount").isEqualTo("amount");
        assertThat(CaseFold.fold("AmOUNT")).isEqualTo("amount");
        assertThat(CaseFold.fold("\u212Aey")).isEqualTo("key");
        assertThat(CaseFold.fold("\u017Fum")).isEqualTo("sum");
        assertThat(CaseFold.fold("\u03A3\u03C2\u03C3")).isEqualTo("\u03C3\u03C3\u03C3");
        assertThat(CaseFold.fold("\u00C9t\u00E9")).isEqualTo("\u00E9t\u00E9");
        assertThat(CaseFold.fold("a_b-c")).isEqualTo("a_b-c");
    }

    @Test
    void aLookalikeIsAMemberInAnotherCaseNeverTheMemberItself() {
        assertThat(CaseFold.lookalikeOf("method", "jsonrpc", "method")).isNull();
        assertThat(CaseFold.lookalikeOf("METHOD", "jsonrpc", "method")).isEqualTo("method");
        assertThat(CaseFold.lookalikeOf("J\u017FONRPC", "jsonrpc", "method")).isEqualTo("jsonrpc");
        assertThat(CaseFold.lookalikeOf("methods", "jsonrpc", "method")).isNull();
    }

    @Test
    void findsTwoKeysOfOneObjectEqualUnderFoldingAtAnyDepth() throws Exception {
        assertThat(CaseFold.collision(JSON.readTree("{\"a\":1,\"A\":2}"))).isEqualTo("\"a\" and \"A\"");
        assertThat(CaseFold.collision(JSON.readTree("[1,{\"x\":[{\"k\":1,\"\u212A\":2}]}]")))
                .isEqualTo("\"k\" and \"\u212A\"");
        assertThat(CaseFold.collision(JSON.readTree("{\"a\":{\"b\":1},\"b\":{\"a\":1},\"B2\":[{\"b2\":1}]}"))).isNull();
        assertThat(CaseFold.collision(JSON.readTree("\"A\""))).isNull();
        assertThat(CaseFold.collision(null)).isNull();
    }
}
