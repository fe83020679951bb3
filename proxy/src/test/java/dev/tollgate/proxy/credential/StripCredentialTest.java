package dev.tollgate.proxy.credential;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Optional;
import java.util.function.Function;

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
                .add("x-trace", v.apply("abc"))
                .add("x-prefix", v.apply(TOKEN.substring(0, TOKEN.length() - 1)))
                .add("x-long", v.apply("z".repeat(TOKEN.length() * 2)));
        List<HeaderEdit> edits = CredentialGate.stripCredential(context(r), TOKEN);
        assertThat(edits).containsExactly(HeaderEdit.remove(TokenClaims.HEADER),
                HeaderEdit.removeValuesContaining("authorization", TOKEN),
                HeaderEdit.removeValuesContaining("cookie", TOKEN));
    }

    @ParameterizedTest
    @ValueSource(strings = {"String", "AsciiString"})
    void theTokenHeaderInAnySpellingIsRemovedWholeNotValueByValue(String kind) {
        Function<String, CharSequence> v = kind.equals("String") ? s -> s : AsciiString::of;
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
        r.headers().add("TOLLGATE-TOKEN", v.apply(TOKEN));
        assertThat(CredentialGate.stripCredential(context(r), TOKEN)).containsExactly(HeaderEdit.remove(TokenClaims.HEADER));
    }

    private static RequestContext context(HttpRequest r) {
        return new RequestContext(Direction.EGRESS, r, Optional.empty(), Optional.empty(), Optional.empty());
    }
}
