package dev.tollgate.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.HttpMethod;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class PathNormalizerTest {

    private static PathNormalizer.Result get(String target) {
        return PathNormalizer.normalize(HttpMethod.GET, target);
    }

    private static void assertRejected(String target, RejectReason reason) {
        assertThat(get(target)).isEqualTo(new PathNormalizer.Rejected(reason));
    }

    @Test
    void keepsAPlainTargetAsItIs() {
        assertThat(get("/tools/call?x=1&y=a%2Fb")).isEqualTo(new NormalizedTarget("/tools/call", "x=1&y=a%2Fb"));
    }

    @Test
    void distinguishesNoQueryFromAnEmptyQuery() {
        assertThat(get("/a")).isEqualTo(new NormalizedTarget("/a", null));
        assertThat(((NormalizedTarget) get("/a?")).toUri()).isEqualTo("/a?");
    }

    @Test
    void decodesEscapedUnreservedCharactersOnly() {
        assertThat(get("/%7Euser/%41%2d%5F%2E%30/%3a%40%25")).isEqualTo(
                new NormalizedTarget("/~user/A-_.0/%3A%40%25", null));
    }

    @Test
    void keepsATrailingSlash() {
        assertThat(get("/a/")).isEqualTo(new NormalizedTarget("/a/", null));
    }

    @Test
    void acceptsAsteriskForOptionsOnly() {
        assertThat(PathNormalizer.normalize(HttpMethod.OPTIONS, "*")).isEqualTo(new NormalizedTarget("*", null));
        assertRejected("*", RejectReason.ASTERISK_FORM_NOT_ALLOWED);
    }

    @Test
    void refusesConnect() {
        assertThat(PathNormalizer.normalize(HttpMethod.CONNECT, "tool:443"))
                .isEqualTo(new PathNormalizer.Rejected(RejectReason.AUTHORITY_FORM_NOT_ALLOWED));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "/a%2Fb | ENCODED_SLASH",
        "/a%2fb | ENCODED_SLASH",
        "/a%5Cb | ENCODED_BACKSLASH",
        "/a%5cb | ENCODED_BACKSLASH",
        "/a%00b | ENCODED_CONTROL",
        "/a%0Ab | ENCODED_CONTROL",
        "/a%7Fb | ENCODED_CONTROL",
        "/a/../b | DOT_SEGMENT",
        "/a/.. | DOT_SEGMENT",
        "/a/./b | DOT_SEGMENT",
        "/. | DOT_SEGMENT",
        "/a/%2E%2E/b | DOT_SEGMENT",
        "/a/%2e./b | DOT_SEGMENT",
        "/a/%2E/b | DOT_SEGMENT",
        "/a/..;x/b | DOT_SEGMENT",
        "/a/.;/b | DOT_SEGMENT",
        "/a\\b | BACKSLASH",
        "/a//b | EMPTY_SEGMENT",
        "// | EMPTY_SEGMENT",
        "/a% | INVALID_PERCENT_ENCODING",
        "/a%4 | INVALID_PERCENT_ENCODING",
        "/a%zz | INVALID_PERCENT_ENCODING",
        "/a?b=%g0 | INVALID_PERCENT_ENCODING",
        "/a?b=%00 | ENCODED_CONTROL",
        "/a?b=\\ | BACKSLASH",
        "/a#frag | INVALID_TARGET_CHARACTER",
        "/a<b | INVALID_TARGET_CHARACTER",
        "/a\"b | INVALID_TARGET_CHARACTER",
        "/a{b} | INVALID_TARGET_CHARACTER",
        "/a?b=c d | INVALID_TARGET_CHARACTER",
        "http://tool/a | ABSOLUTE_FORM_NOT_ALLOWED",
        "tool:443 | AUTHORITY_FORM_NOT_ALLOWED",
        "a/b | INVALID_TARGET",
    })
    void refusesAmbiguousTargets(String target, RejectReason reason) {
        assertRejected(target, reason);
    }

    @Test
    void refusesSpacesControlBytesAndNonAscii() {
        assertRejected("/a b", RejectReason.INVALID_TARGET_CHARACTER);
        assertRejected("/a\u0000", RejectReason.INVALID_TARGET_CHARACTER);
        assertRejected("/a\u0001", RejectReason.INVALID_TARGET_CHARACTER);
        assertRejected("/a\u007f", RejectReason.INVALID_TARGET_CHARACTER);
        assertRejected("/caf\u00e9", RejectReason.INVALID_TARGET_CHARACTER);
        assertRejected("/a?q=caf\u00e9", RejectReason.INVALID_TARGET_CHARACTER);
        assertRejected("", RejectReason.INVALID_TARGET);
        assertRejected(null, RejectReason.INVALID_TARGET);
    }

    @Test
    void keepsEscapedNonAsciiEscaped() {
        assertThat(get("/caf%c3%a9")).isEqualTo(new NormalizedTarget("/caf%C3%A9", null));
    }

    @Test
    void isIdempotent() {
        NormalizedTarget once = (NormalizedTarget) get("/%7e/a%3a/%41?x=%2f");
        assertThat(get(once.toUri())).isEqualTo(once);
    }
}
