package dev.tollgate.proxy.credential;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Optional;
import java.util.function.Function;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;

import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.request.HeaderEdit;
import dev.tollgate.proxy.request.RequestContext;

/**
 * Which header edits keep the task token from going upstream, with header values as the HTTP/1.1 decoder gives them
 * (String) and as the HTTP/2 codec gives them (AsciiString): the same edits either way.
 */
class StripCredentialTest {
    static final String TOKEN = "eyJhbGciOiJFUzI1NiJ9." + "x".repeat(300) + ".sig-" + "y".repeat(80);

    @ParameterizedTest
    @ValueSource(strings = {"String", "AsciiString"})
    void everyOtherHeaderHoldingTheTokenLosesThatValueAndNothingElseIsTouched(String kind) {
        Function<String, CharSequence> v = kind.equals("String") ? s -> s : AsciiString::of;
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/mcp");
        r.headers().add("Tollgate-Token", v.apply(TOKEN))
                .add("authorization", v.apply("Token " + TOKEN))
                .add("cookie", v.apply("a=1; t=" + TOKEN + "; b=2"))
                .add("x-copy-one", v.apply("e" + TOKEN))
                .add("x-copy-prefix", v.apply("eyJhbG" + TOKEN))
                .add("x-trace", v.apply("abc"))
                .add("x-prefix", v.apply(TOKEN.substring(0, TOKEN.length() - 1)))
                .add("x-long", v.apply("z".repeat(TOKEN.length() * 2)));
        List<HeaderEdit> edits = CredentialGate.stripCredential(context(r), TOKEN);
        assertThat(edits).containsExactly(HeaderEdit.remove(TokenClaims.HEADER),
                HeaderEdit.removeValuesContaining("authorization", TOKEN),
                HeaderEdit.removeValuesContaining("cookie", TOKEN),
                HeaderEdit.removeValuesContaining("x-copy-one", TOKEN),
                HeaderEdit.removeValuesContaining("x-copy-prefix", TOKEN));
    }

    @ParameterizedTest
    @ValueSource(strings = {"String", "AsciiString"})
    void theTokenHeaderInAnySpellingIsRemovedWholeNotValueByValue(String kind) {
        Function<String, CharSequence> v = kind.equals("String") ? s -> s : AsciiString::of;
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
        r.headers().add("TOLLGATE-TOKEN", v.apply(TOKEN));
        assertThat(CredentialGate.stripCredential(context(r), TOKEN)).containsExactly(HeaderEdit.remove(TokenClaims.HEADER));
    }

    @Test
    void theSearchFindsWhatStringContainsFindsInEveryKindOfValue() {
        java.util.Random random = new java.util.Random(14);
        String alphabet = "eyJab.\u00e9";
        for (int n = 0; n < 20_000; n++) {
            String token = word(random, alphabet, 1 + random.nextInt(6));
            String value = word(random, alphabet, random.nextInt(14));
            if (random.nextInt(4) == 0) {
                int at = random.nextInt(value.length() + 1);
                value = value.substring(0, at) + token + value.substring(at);
            }
            boolean expected = value.contains(token);
            assertThat(CredentialGate.contains(value, token)).as("%s in %s", token, value).isEqualTo(expected);
            assertThat(CredentialGate.contains(new AsciiString(value), token)).as("%s in %s", token, value)
                    .isEqualTo(expected);
            assertThat(CredentialGate.contains(new AsciiString("__" + value + "_").subSequence(2, value.length() + 2,
                    false), token)).as("%s in %s, a slice", token, value).isEqualTo(expected);
            assertThat(CredentialGate.contains(new StringBuilder(value), token)).isEqualTo(expected);
        }
    }

    private static String word(java.util.Random random, String alphabet, int length) {
        StringBuilder b = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            b.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return b.toString();
    }

    private static RequestContext context(HttpRequest r) {
        return new RequestContext(Direction.EGRESS, r, Optional.empty(), Optional.empty(), Optional.empty());
    }
}
